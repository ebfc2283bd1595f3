// The voice contact's media: camera and microphone, the peer connection, ICE restarts,
// the honest call state (connected only when media arrives), quality, recording, mute.
// The console makes every offer of a browser call; on a phone call the bridge offers and
// the console answers (docs/signaling.md, "Negotiation").

import { clock, $, show } from "./console-dom.js";
import { call, isVoice, servers } from "./console-state.js";
import { icePolicy, newPeer, watchCall } from "./peer.js";

const policy = icePolicy(window.location.search);

const SAID = {
  connecting: "Connecting…",
  retrying: "Not connected yet: trying another path…",
  connected: "Connected",
  failed: "The call could not connect.",
};
const FALLBACK = "No sound or video gets through between your browsers. Go on in the chat " +
  "below (she can still write), or ask her to call 15. The call keeps trying.";

/**
 * The officer's camera and microphone for a contact on `channel`: {stream, note}, where
 * note says what is missing (a video call goes on with sound when the camera is refused).
 */
export async function localMedia(channel) {
  if (!isVoice(channel)) return { stream: null, note: "" };  // chat, SMS, WhatsApp: no media
  const video = channel === "browser_video";
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video }), note: "" };
  } catch { /* below */ }
  if (video) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio: true }),
               note: "No camera: the call goes on with sound only." };
    } catch { /* below */ }
  }
  return { stream: null, note: "No camera or microphone: chat only." };
}

export function stopStream(stream) {
  if (stream) stream.getTracks().forEach((track) => track.stop());
}

let contact = null;  // the voice contact (held.get(call.taskId))

function say(text, state) {
  $("call-state").textContent = text;
  if (state) $("call-state").dataset.state = state;
}

/** The voice contact begins: media on its way (`media` from the accept, if any). */
export function begin(voiceContact, media) {
  contact = voiceContact;
  Object.assign(call, { taskId: contact.id, pc: null, local: null, restarts: 0, early: null,
                        health: "connecting", connectedAt: null });
  call.settled = new Promise((done) => { call.settle = done; });
  if (contact.channel === "phone" || contact.info.ended_at) call.settle();
  // A ring-back says it rings until her phone answers (a note, over the call's state).
  contact.said = contact.callback ? "Ringing her phone (ring " + contact.callback.attempt + " of " +
    contact.callback.attempts + ")…" : "";
  say(contact.said || SAID.connecting, "connecting");
  call.media = (media || localMedia(contact.channel)).then((got) => {
    if (call.taskId !== contact.id || contact.ended) {  // over before they came
      stopStream(got.stream);
      return null;
    }
    call.local = got.stream;
    if (got.note && !contact.callback) {
      contact.said = got.note;
      say(got.note);
    }
    $("self-video").srcObject = call.local;
    return call.local;
  });
  // A browser call's offer is made while the socket joins; it goes out once joined.
  if (contact.channel !== "phone" && !contact.info.ended_at) {
    call.early = offer(true).then(() => true, (err) => {
      console.error("safecall: the early offer failed; offering on joined", err);
      return false;
    });
  }
}

/** Signaling handlers for the voice contact (console-contacts.js calls them). */
export const handlers = {
  async joined(message, resumed) {
    if (contact.channel === "phone") return;  // phone calls: the bridge offers
    const early = call.early;
    call.early = null;
    const offered = early ? await early : false;
    if (message.peer !== "connected") return;
    if (offered) return;
    if (resumed && call.pc) await restartIce();
    else await offer(false);
  },
  async peerJoined(message) {
    if (contact.channel === "phone") return;  // the bridge sends a new offer itself
    // She resumed (her network changed): restart ICE; she started afresh: a new connection.
    if (message.resumed && call.pc) await restartIce();
    else await offer(false);
  },
  async offer(message) {
    if (contact.channel === "phone") await answerBridge(message.sdp);
  },
  async answer(message) {
    // (an answer to an offer this page never made is a stale repeat)
    if (call.pc && call.pc.signalingState === "have-local-offer") {
      await call.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
    }
  },
  async candidate(message) {
    if (!call.pc) return;
    try { await call.pc.addIceCandidate(message.candidate || null); } catch { /* late */ }
  },
};

function relay(message) {
  if (contact && contact.signal) contact.signal.send(message);
}

function watch(pc, video) {
  if (call.watch) call.watch.stop();
  call.watch = watchCall(pc, {
    video,
    onRestart: video === null ? null : () => restartIce(),
    onState: (state) => health(pc, state),
    onQuality: (q) => {
      if (pc !== call.pc) return;
      $("call-quality").textContent = q.kbps + " kbit/s in · " + q.loss + "% lost" +
        (video ? " · " + q.fps + " frames/s" : "");
      const audioOnly = Boolean(q.audioOnly);
      if (audioOnly !== ($("remote-video").dataset.audioOnly === "true")) {
        $("remote-video").dataset.audioOnly = String(audioOnly);
        say(audioOnly ? "Connected: no video is getting through; the call goes on with sound only."
          : SAID.connected);
      }
    },
  });
}

/** The call's state in words again (after a note of the contact's, or another tab). */
export function showState() {
  if (!contact || contact.ended) return;
  const audioOnly = $("remote-video").dataset.audioOnly === "true";
  say(call.health === "connected" && audioOnly
    ? "Connected: no video is getting through; the call goes on with sound only."
    : SAID[call.health] || SAID.connecting, call.health);
}

function health(pc, state) {
  if (pc !== call.pc || !contact || contact.ended) return;
  call.health = state;
  if (state === "connected") {
    contact.said = "";
    call.settle();
    if (!call.connectedAt) call.connectedAt = Date.now();
  }
  say(state === "connected" && $("remote-video").dataset.audioOnly === "true"
    ? "Connected: no video is getting through; the call goes on with sound only." : SAID[state], state);
  show($("call-fallback-text"), state === "failed" ? FALLBACK : "");
  $("call-fallback").hidden = state !== "failed";
  // Failed: the chat takes the room (the call keeps trying; its video comes back with it).
  $("media").hidden = state === "failed";
  if (state !== "connected") $("call-quality").textContent = "";
  document.dispatchEvent(new CustomEvent("safecall:call-state", { detail: { state } }));
}

/** The officer makes the offer on a new connection (`early`: before the socket joined). */
async function offer(early) {
  if (!isVoice(contact.channel)) return;
  const [iceServers, local] = await Promise.all([servers(), call.media]);
  if (!local || contact.ended) {
    call.settle();
    return;
  }
  if (call.pc) call.pc.close();
  const pc = newPeer({
    servers: iceServers, policy,
    onCandidate: (candidate) => relay({ type: "candidate", candidate }),
    onTrack: (e) => {
      const video = $("remote-video");
      if (video.srcObject !== e.streams[0]) video.srcObject = e.streams[0];
      // Recording: her video and both voices, uploaded as the call goes (recorder.js),
      // unless her service line is one with recording off (the answer's `recorded`).
      const recorded = contact.info.recorded !== false;
      if (contact.channel === "browser_video" && recorded && window.SafecallRecorder) {
        window.SafecallRecorder.start(contact.id, e.streams[0], call.local, contact.info.case_id);
      }
    },
  });
  call.pc = pc;
  local.getTracks().forEach((track) => pc.addTrack(track, local));
  // Her video still comes through when the officer's camera is refused.
  if (contact.channel === "browser_video" && !local.getVideoTracks().length) {
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  if (!early) say(SAID.connecting, "connecting");
  watch(pc, contact.channel === "browser_video");
  await pc.setLocalDescription(await pc.createOffer());
  relay({ type: "offer", sdp: pc.localDescription.sdp });
}

/** The offerer (this console) restarts ICE: after a resume, or when the path is stuck. */
export async function restartIce() {
  const pc = call.pc;
  if (!pc || !contact || contact.ended || pc.signalingState === "closed") return;
  if (contact.channel === "phone") return;  // the bridge has no ICE restart: it re-offers
  call.restarts += 1;
  await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
  relay({ type: "offer", sdp: pc.localDescription.sdp });
}

/** "Try the call again": a fresh connection and offer. */
$("call-retry").addEventListener("click", () => {
  if (contact && !contact.ended && contact.channel !== "phone") offer(false);
});

/**
 * Phone calls: the media bridge makes the offer (PCMU first) and the console answers,
 * on a fresh connection for every offer (the bridge renegotiates when this page comes back).
 */
async function answerBridge(sdp) {
  if (call.pc) call.pc.close();
  call.pc = null;
  const iceServers = await servers();
  const local = await call.media;
  if (contact.ended) return;
  const pc = newPeer({
    servers: iceServers, policy,
    onCandidate: (candidate) => relay({ type: "candidate", candidate }),
    onTrack: (e) => { $("remote-video").srcObject = e.streams[0] || new MediaStream([e.track]); },
  });
  call.pc = pc;
  if (local) local.getAudioTracks().forEach((track) => pc.addTrack(track, local));
  watch(pc, null);
  await pc.setRemoteDescription({ type: "offer", sdp });
  if (pc !== call.pc) return;  // a newer offer replaced this one meanwhile
  await pc.setLocalDescription(await pc.createAnswer());
  relay({ type: "answer", sdp: pc.localDescription.sdp });
}

/** The call's timer text: since media first flowed (or since it was answered). */
export function elapsed(voiceContact) {
  const from = call.connectedAt || voiceContact.openedAt;
  return clock((Date.now() - from) / 1000);
}

/** The voice contact ended: stop media and recording. */
export function end() {
  if (!contact) return;
  call.settle();
  if (window.SafecallRecorder) window.SafecallRecorder.stop(contact.id);
  if (call.watch) call.watch.stop();
  call.watch = null;
  if (call.pc) call.pc.close();
  stopStream(call.local);
  $("remote-video").srcObject = null;
  $("self-video").srcObject = null;
  $("call-fallback").hidden = true;
  $("call-quality").textContent = "";
  $("mute").textContent = "Mute";
  $("mute").setAttribute("aria-pressed", "false");
}

/** The voice contact is gone (finished or handed over). */
export function forget() {
  end();
  Object.assign(call, { taskId: null, pc: null, local: null, media: null, connectedAt: null });
  contact = null;
}

export function toggleMute() {
  if (!call.local) return;
  const tracks = call.local.getAudioTracks();
  const on = tracks.some((track) => track.enabled);
  tracks.forEach((track) => { track.enabled = !on; });
  $("mute").textContent = on ? "Unmute" : "Mute";
  $("mute").setAttribute("aria-pressed", String(on));
}
$("mute").addEventListener("click", toggleMute);
