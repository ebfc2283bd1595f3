// Her live location, for the citizen page (which adopts it): only when she chose to share
// it, the place her phone reports is sent during the contact (POST
// /api/contacts/{id}/location with her contact's token), at most every `everyMs`, and
// stops when she says so or the contact ends. Nothing is kept in the browser.
//
//   const sharing = shareLocation({ sessionId, token });
//   sharing.stop();

import { api } from "./api.js";

export const EVERY_MS = 5000;

/**
 * Watches her position and sends each new place (the latest one waits when places come
 * faster than `everyMs`). `onSent(result)` hears each answer; a refusal other than a
 * throttle (the contact ended, her token no longer holds) stops the sharing.
 */
export function shareLocation({ sessionId, token, geolocation = globalThis.navigator && navigator.geolocation,
                                everyMs = EVERY_MS, send = api, onSent = () => {}, now = () => Date.now() }) {
  const state = { watch: null, lastSent: -Infinity, waiting: null, timer: null, stopped: false, sent: 0 };
  if (!geolocation) return { stop() {}, state };

  async function post(place) {
    state.lastSent = now();
    const result = await send("POST", "/api/contacts/" + encodeURIComponent(sessionId) + "/location",
                              place, { token });
    if (result.status === 200) state.sent += 1;
    onSent(result);
    if (result.status !== 200 && result.status !== 429 && result.status !== 0) stop();
  }

  function offer(position) {
    if (state.stopped) return;
    const c = position.coords;
    const place = { latitude: c.latitude, longitude: c.longitude };
    if (typeof c.accuracy === "number") place.accuracy = Math.min(c.accuracy, 100000);
    const wait = state.lastSent + everyMs - now();
    if (wait <= 0) {
      post(place);
      return;
    }
    state.waiting = place;
    if (!state.timer) {
      state.timer = setTimeout(() => {
        state.timer = null;
        const next = state.waiting;
        state.waiting = null;
        if (next && !state.stopped) post(next);
      }, wait);
    }
  }

  function stop() {
    state.stopped = true;
    clearTimeout(state.timer);
    if (state.watch !== null) geolocation.clearWatch(state.watch);
    state.watch = null;
  }

  state.watch = geolocation.watchPosition(offer, () => {}, { enableHighAccuracy: true, maximumAge: 10000 });
  return { stop, state };
}
