// Her status, the live feed and the offers that ring. The server's word is shown as it
// is: her presence (the pressed button) and what she is doing (the status line). An offer
// rings whatever she holds (a second chat during a chat; the server offers only what
// fits her capacity), and is accepted beside the contacts she has.

import { api, refusal, tryAgain } from "./api.js";
import { localMedia, stopStream } from "./console-call.js";
import * as contacts from "./console-contacts.js";
import { $, announce, show, words } from "./console-dom.js";
import { call, held, isCallbackTask, isVoice, isWarmTask, servers, session } from "./console-state.js";

const STATES = { available: "Available for contacts", break: "On a break",
                 offline: "Not taking contacts", busy: "In a contact", wrap_up: "Wrap-up",
                 offered: "A contact is ringing" };

let loginEnded = () => {};
/** What to do when a request finds the login over (console.js shows the login again). */
export function onLoginEnded(handler) { loginEnded = handler; }

const feed = { source: null, fallback: null, down: false, reopened: false };
call.feed = feed;

/** Her state as the server has it: the status line and the pressed button. */
function showState(me) {
  const state = me.offer ? "offered" : me.state;
  $("status-text").textContent = STATES[state] || words(state);
  $("status-dot").className = "dot " + state;
  for (const presence of ["available", "break", "offline"]) {
    $("status-" + presence).setAttribute("aria-pressed", String(me.presence === presence));
  }
  askToConfirm(Boolean(me.confirm));
}

/**
 * After the queues were rebuilt (Redis restarted empty) she is offline until she says she
 * is still there: a prompt with one button, put back as she was (available or on break).
 */
function askToConfirm(asked) {
  const box = $("presence-confirm");
  if (box.hidden === !asked) return;
  box.hidden = !asked;
  show($("presence-confirm-said"), "");
  if (asked) {
    notify("safecall: are you still available?", "The queues were restarted.", "safecall-confirm");
    $("presence-confirm-yes").focus();
  }
}

async function confirmPresence() {
  const button = $("presence-confirm-yes");
  button.disabled = true;
  const result = await api("POST", "/api/queues/me/confirm");
  button.disabled = false;
  if (result.status === 401) return loginEnded();
  if (result.status !== 200) {
    // 503 while the queues are still being rebuilt: say so; she presses again.
    show($("presence-confirm-said"), refusal(result, "That did not work yet; try again."));
    return;
  }
  whereSheStands(result.data);  // an offer waiting for her rings at once
}

export async function setState(state) {
  const result = await api("POST", "/api/queues/me/state", { state });
  if (result.status === 401) return loginEnded();
  if (result.status !== 200) {
    show($("status-note"), refusal(result, "Your status could not be changed; try again."));
    return;
  }
  show($("status-note"), "");
  whereSheStands(result.data);  // an offer waiting for her rings at once
}

$("status-available").addEventListener("click", () => setState("available"));
$("status-break").addEventListener("click", () => setState("break"));
$("status-offline").addEventListener("click", () => setState("offline"));
$("presence-confirm-yes").addEventListener("click", confirmPresence);

// Where she stands (her offer included) and the queue figures are pushed to the console
// (Server-Sent Events, /api/console/events): an offer rings the moment it is made.
// Only while the push is down does the console ask, slowly (every 15 s).
export function follow() {
  unfollow();
  feed.reopened = false;
  if (!session.officer) return;
  const source = new EventSource("/api/console/events");
  feed.source = source;
  const on = (name, handler) => source.addEventListener(name, (event) => {
    feedUp();
    let data;
    try { data = JSON.parse(event.data); } catch { return; }
    handler(data);
  });
  source.onopen = feedUp;
  on("me", whereSheStands);
  on("figures", showFigures);
  on("children", (data) => announce("children", data));
  on("page", (data) => {
    show($("status-note"), data.message);
    notify("safecall: you are asked to come to the queue", data.message, "safecall-page");
  });
  on("logout", () => loginEnded());
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused: the login has ended, or the server is away. Ask, then try again.
      feedDown();
      setTimeout(async () => {
        if (feed.source !== source) return;
        const me = await api("GET", "/api/me");
        if (me.status === 401) loginEnded();
        else if (feed.source === source) follow();
      }, 3000);
    } else {
      feedDown();  // EventSource reconnects by itself; a fresh snapshot comes first
    }
  };
}

export function unfollow() {
  if (feed.source) feed.source.close();
  feed.source = null;
  clearInterval(feed.fallback);
  feed.fallback = null;
  feed.down = false;
}

function feedUp() {
  if (!feed.down) return;
  feed.down = false;
  clearInterval(feed.fallback);
  feed.fallback = null;
}

function feedDown() {
  if (feed.down) return;
  feed.down = true;
  clearInterval(feed.fallback);
  feed.fallback = setInterval(askOnce, 15000);
  askOnce();
}

/** The slow fallback while the push is down. */
async function askOnce() {
  if (!session.officer) return;
  const result = await api("GET", "/api/queues/me");
  if (result.status === 401) return loginEnded();
  if (result.status === 200) {
    const serverNow = Date.parse(result.date || "");
    whereSheStands({ ...result.data, server_time: isNaN(serverNow) ? null : serverNow / 1000 });
  }
  const figures = await api("GET", "/api/queues/stats");
  if (figures.status === 200 && figures.data) showFigures(figures.data);
}

function whereSheStands(me) {
  const tasks = Array.isArray(me.tasks) ? me.tasks : [];
  // The first word after login says which contacts she still holds (a reload mid-call).
  if (!feed.reopened) {
    feed.reopened = true;
    for (const taskId of tasks) if (!held.has(taskId)) announce("reopen", taskId);
  }
  contacts.reconcile(tasks);
  showState(me);
  // The offer's expiry is in the server's time: correct for this computer's clock.
  if (typeof me.server_time === "number") session.skew = me.server_time * 1000 - Date.now();
  const offer = me.offer;
  if (offer && (!call.offer || call.offer.task_id !== offer.task_id)) ringing(offer);
  if (!offer && call.offer) stopRinging();
}

function showFigures(figures) {
  if (!figures || !Array.isArray(figures.lines)) return;
  $("queue-figures").textContent = figures.lines
    .map((line) => words(line.line) + ": " + line.waiting + " waiting").join(" · ");
}

function ringing(offer) {
  call.offer = offer;
  const asked = isWarmTask(offer.task_id) ? "Transfer: a colleague asks you to join · " : "";
  const what = [offer.emergency ? "EMERGENCY (SOS)" : "",
    isCallbackTask(offer.task_id) ? "Callback: ring her back" : asked + words(offer.channel),
    words(offer.line), offer.language ? words(offer.language) : "",
    offer.category ? words(offer.category) : ""].filter(Boolean).join(" · ");
  $("offer-what").textContent = what;
  $("offer").hidden = false;
  $("offer").dataset.emergency = String(Boolean(offer.emergency));
  $("accept").disabled = false;
  $("decline").disabled = false;
  const left = () => Math.max(0, Math.round(offer.expires - (Date.now() + (session.skew || 0)) / 1000));
  const tick = () => { $("offer-countdown").textContent = String(left()); };
  tick();
  clearInterval(call.ring);
  call.ring = setInterval(tick, 1000);
  // The ring is scheduled on the audio clock for the whole offer: a background tab's
  // timers are slowed down, its sound is not.
  ringTone(left());
  call.notice = notify("safecall: a contact is ringing", what, "safecall-offer");
  call.title = call.title || document.title;
  document.title = "Ringing: " + what;
}

/** A system notification (shown even when the console tab is in the background). */
function notify(title, body, tag) {
  if (!window.Notification || Notification.permission !== "granted") return null;
  try {
    const notice = new Notification(title, { body, tag, renotify: true, requireInteraction: true });
    notice.onclick = () => { window.focus(); notice.close(); };
    return notice;
  } catch { return null; /* no notifications */ }
}

let audio = null;
// Browsers let a page make sound only after a click or a key: take the first one, so
// that an offer arriving later (the tab in the background) can ring.
function unlockAudio() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch { /* no sound */ }
}
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

function ringTone(seconds) {
  stopTone();
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const out = audio.createGain();
    out.gain.value = 0.08;
    out.connect(audio.destination);
    const start = audio.currentTime + 0.05;
    for (let i = 0; i < Math.max(1, seconds); i += 1) {
      for (const [at, pitch] of [[0, 880], [0.3, 660]]) {
        const osc = audio.createOscillator();
        osc.frequency.value = pitch;
        osc.connect(out);
        osc.start(start + i + at);
        osc.stop(start + i + at + 0.22);
      }
    }
    call.tone = out;
  } catch { /* no sound */ }
}

function stopTone() {
  if (call.tone) call.tone.disconnect();
  call.tone = null;
}

function stopRinging() {
  clearInterval(call.ring);
  stopTone();
  if (call.notice) call.notice.close();
  call.notice = null;
  if (call.title) document.title = call.title;
  call.title = null;
  call.offer = null;
  $("offer").hidden = true;
}

export async function decline() {
  if (!call.offer) return;
  const taskId = call.offer.task_id;
  $("decline").disabled = true;
  stopRinging();
  await api("POST", "/api/queues/offers/" + encodeURIComponent(taskId) + "/decline");
}
$("decline").addEventListener("click", decline);

export async function accept() {
  if (!call.offer || $("accept").disabled) return;
  const offer = call.offer;
  const taskId = offer.task_id;
  const isCallback = isCallbackTask(taskId);
  $("accept").disabled = true;
  $("decline").disabled = true;
  // The camera and microphone start while the server takes the accept (she is waiting:
  // every step done side by side is time she does not wait); let go if it is refused.
  const media = isCallback || !isVoice(offer.channel) ? null : localMedia(offer.channel);
  const socket = isCallback ? null : window.SafecallSignal.warm();  // joins once answered
  if (!isCallback) servers();  // fresh in memory for the offer
  const drop = () => {
    if (media) media.then((got) => stopStream(got.stream));
    if (socket) socket.close();
  };
  // A request cut on its way (the network, a process stopping: 503) is asked again with
  // growing waits until the server answers; she is told meanwhile.
  const waiting = () => show($("status-note"), "The server did not answer; trying again…");
  const accepted = await tryAgain(
    () => api("POST", "/api/queues/offers/" + encodeURIComponent(taskId) + "/accept"), { waiting });
  stopRinging();
  // An accept cut after the server took it is refused when asked again (it is hers already):
  // her answer says whether it is.
  const taken = accepted.status === 200 || (accepted.tries > 1 && accepted.status === 409);
  if (!taken) {
    drop();
    show($("status-note"), refusal(accepted, "The contact could not be accepted."));
    return;
  }
  show($("status-note"), "");
  if (isCallback) {  // nobody is on the line yet: she rings her back when ready
    announce("callback", { taskId, line: offer.line, language: offer.language });
    return;
  }
  const answered = await tryAgain(
    () => api("POST", "/api/contacts/" + encodeURIComponent(taskId) + "/answer"), { waiting });
  if (answered.status !== 200) {
    drop();
    show($("status-note"), refusal(answered, "The contact could not be joined."));
    return;
  }
  show($("status-note"), "");
  contacts.open(answered.data, { media, socket });
}
$("accept").addEventListener("click", accept);
