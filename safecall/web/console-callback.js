// Callbacks: ringing her back. A callback task (`…~callback`) has nobody on the line: the
// officer who accepted it presses "Ring her back"; the ring is a phone call on a new
// session of the same case. When it ends unanswered the server frees her (wrap-up) and
// decides what comes next: the console asks GET /api/phone/callbacks/{task} and says it.

import { api, refusal } from "./api.js";
import * as contacts from "./console-contacts.js";
import { $, hear, show } from "./console-dom.js";
import { setState } from "./console-offer.js";
import { call, held } from "./console-state.js";

const SAID = {
  none: () => "She has not been rung yet.",
  ringing: () => "Her phone is ringing.",
  missed: () => "No answer.",
  retry_scheduled: (r) => "No answer. She will be rung again at " + clockTime(r.next_ring_at) +
    " by the next free officer (ring " + (r.rings + 1) + " of " + r.attempts + ").",
  retry_in_line: (r) => "No answer. She is back in line for the next free officer (ring " +
    (r.rings + 1) + " of " + r.attempts + ").",
  unreachable: (r) => "Not reached after " + r.rings + " rings; a note is on her case.",
};

/** "14:05" in this computer's time zone (the server gives an absolute time). */
function clockTime(value) {
  const date = new Date(value);
  return isNaN(date) ? "a later time"
    : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** The callback task she holds (`about`: the offer's line and language, when known). */
export async function showCallback(taskId, about) {
  call.callback = { taskId, attempt: 0, attempts: 0, ...(about || {}) };
  $("callback-what").textContent = "";
  show($("callback-note"), "");
  $("ring-back").disabled = false;
  $("callback").hidden = false;
  const rings = await api("GET", "/api/phone/callbacks/" + encodeURIComponent(taskId));
  if (rings.status === 200 && call.callback && call.callback.taskId === taskId) {
    const r = rings.data;
    $("callback-what").textContent = (r.rings ? "Rung " + r.rings +
      (r.rings === 1 ? " time" : " times") + " so far, not answered. " : "") + "This will be ring " +
      Math.min(r.rings + 1, r.attempts) + " of " + r.attempts + ".";
  }
}
hear("callback", ({ taskId, line, language }) => showCallback(taskId, { line, language }));

$("ring-back").addEventListener("click", async () => {
  const callback = call.callback;
  if (!callback || call.taskId) return;
  $("ring-back").disabled = true;
  show($("callback-note"), "Placing the call…");
  const result = await api("POST", "/api/phone/callbacks/" + encodeURIComponent(callback.taskId) + "/call");
  if (result.status !== 201) {
    $("ring-back").disabled = false;
    show($("callback-note"), refusal(result, "The call could not be placed; try again."));
    return;
  }
  const placed = result.data;
  Object.assign(callback, { attempt: placed.attempt, attempts: placed.attempt + placed.attempts_left });
  $("callback").hidden = true;
  contacts.open({ session_id: placed.session_id, token: placed.token, channel: "phone",
                                  service_line: callback.line, language: callback.language,
                                  callback_safe: true, callback_times: placed.callback_times },
                                { callback });
});

$("callback-done").addEventListener("click", async () => {
  const callback = call.callback;
  if (!callback || call.taskId) return;
  const result = await api("POST", "/api/queues/tasks/" + encodeURIComponent(callback.taskId) + "/complete");
  if (result.status !== 200 && result.status !== 204) {
    show($("callback-note"), refusal(result, "The callback could not be completed; try again."));
    return;
  }
  call.callback = null;
  $("callback").hidden = true;
  await setState("available");
});

// The ring ended: say what became of it (asked a few times while the server decides).
hear("ended", async (contact) => {
  const callback = contact.callback;
  if (!callback) return;
  const out = $("callback-outcome");
  for (let asked = 0; asked < 8; asked += 1) {
    if (!held.has(contact.id)) return;  // she moved on meanwhile
    const result = await api("GET", "/api/phone/callbacks/" + encodeURIComponent(callback.taskId));
    if (!held.has(contact.id)) return;
    const r = result.status === 200 ? result.data : null;
    if (r && r.outcome === "answered") { show(out, ""); return; }
    if (r && SAID[r.outcome] && r.outcome !== "missed" && r.outcome !== "ringing") {
      out.dataset.outcome = r.outcome;
      show(out, SAID[r.outcome](r));
      return;
    }
    if (result.status !== 200 && result.status !== 0) {
      show(out, refusal(result, "What became of the ring could not be read."));
      return;
    }
    out.dataset.outcome = r ? r.outcome : "";
    show(out, "No answer. Checking what happens next…");
    await new Promise((done) => setTimeout(done, 750));
  }
  show(out, "No answer. What happens next is not known yet; her case will show it.");
});

hear("finished", (contact) => {
  if (contact.callback) call.callback = null;
  show($("callback-outcome"), "");
});
