// What the console holds, shared by its modules: the officer logged in, the contacts she
// holds (each with its own signaling side), which one is on screen, and the voice call.

import { api } from "./api.js";
import { iceServers } from "./peer.js";

export const session = { officer: null, skew: 0 };
/** For the parts that read who is logged in (and tests). */
window.safecallConsole = session;

/**
 * Every contact she holds, by session id (= task id), in the order they came:
 * {id, info, channel, signal, messages: [{who, text}], unread, ended, endedAt, handed,
 *  seen (listed in her tasks by the server at least once), callback}.
 */
export const held = new Map();
export const view = { selected: null };

/**
 * The voice contact (one at a time: a voice contact takes her whole capacity) and its
 * media; tests read its peer connection and statistics here.
 */
export const call = {
  taskId: null, pc: null, local: null, media: null, restarts: 0, watch: null, early: null,
  settled: Promise.resolve(), settle: () => {}, health: "connecting", connectedAt: null,
  offer: null, tone: null, feed: null, callback: null,
};
window.safecallCall = call;

/** The voice contact's signaling side, or the contact on screen's. */
function sideOf() {
  const voice = call.taskId && held.get(call.taskId);
  const shown = view.selected && held.get(view.selected);
  return (voice && voice.signal) || (shown && shown.signal) || null;
}
Object.defineProperty(call, "signal", { get: sideOf });
Object.defineProperty(call, "ws", { get: () => sideOf() && sideOf().ws });
Object.defineProperty(call, "resumes", { get: () => (sideOf() ? sideOf().resumes : 0) });
Object.defineProperty(call, "taskIds", { get: () => [...held.keys()] });

/** TURN credentials, asked when she logs in and when she accepts; renewed at half life. */
export const servers = iceServers(() => api("GET", "/api/ice-servers"));

export const VOICE = ["browser_video", "browser_audio", "phone"];
export const isVoice = (channel) => VOICE.includes(channel);

/** By its id: a callback task (`…~callback`) has nobody on the line yet. */
export function isCallbackTask(taskId) {
  return /~callback$/.test(String(taskId || ""));
}

/** By its id: a warm transfer's task (`…~warm`): a colleague asks her to join a contact. */
export function isWarmTask(taskId) {
  return /~warm$/.test(String(taskId || ""));
}
