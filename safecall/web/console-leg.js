// From a phone call to video. On a phone call she can text the caller a one-time link.
// The video it opens is its own contact on the same case, answered by her and not routed
// (she holds the phone task); the console asks for it every 3 s while the phone call
// lasts and joins it here, beside the phone call. While the phone call lasts its sound
// stays on the phone: this leg's sound is muted both ways (no echo); when the phone call
// ends, the conversation goes on in the video, sound included.

import { api, refusal } from "./api.js";
import { $, hear, show } from "./console-dom.js";
import { call, held, servers } from "./console-state.js";
import { icePolicy, newPeer } from "./peer.js";

const leg = { info: null, signal: null, pc: null, local: null, watch: null, ended: false };
/** Tests read the video leg's statistics here. */
window.safecallVideo = leg;
Object.defineProperty(leg, "ws", { get: () => leg.signal && leg.signal.ws });
Object.defineProperty(leg, "resumes", { get: () => (leg.signal ? leg.signal.resumes : 0) });
const policy = icePolicy(window.location.search);

function phoneContact() {
  const contact = call.taskId && held.get(call.taskId);
  return contact && contact.channel === "phone" && !contact.callback ? contact : null;
}

$("send-video-link").addEventListener("click", async () => {
  const phone = phoneContact();
  if (!phone) return;
  $("send-video-link").disabled = true;
  const result = await api("POST", "/api/phone/contacts/" + encodeURIComponent(phone.id) + "/video-link");
  $("send-video-link").disabled = false;
  show($("video-link-note"), result.status === 200
    ? "Link sent by text message. It opens once, for " + Math.round(result.data.expires_in / 60) + " minutes."
    : refusal(result, "The link could not be sent; try again."));
});

hear("contact", (contact) => {
  show($("video-link-note"), "");
  if (contact.channel === "phone" && !contact.callback && !contact.info.ended_at) watchForVideo(contact);
});

function watchForVideo(phone) {
  clearInterval(leg.watch);
  leg.watch = setInterval(async () => {
    if (call.taskId !== phone.id || phone.ended) { clearInterval(leg.watch); return; }
    if (leg.info) return;
    const result = await api("GET", "/api/phone/contacts/" + encodeURIComponent(phone.id) + "/video");
    if (result.status === 200 && result.data.video && !leg.info && !phone.ended) openVideoLeg(result.data.video);
  }, 3000);
}

async function openVideoLeg(info) {
  Object.assign(leg, { info, ended: false });
  $("video-leg-what").textContent = "She opened your link: same case, tracking code " +
    info.tracking_code + ". The phone call goes on.";
  $("video-leg-state").textContent = "Connecting…";
  $("video-leg").hidden = false;
  try {
    leg.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    leg.local.getAudioTracks().forEach((track) => { track.enabled = false; });
  } catch { leg.local = null; }
  // Volume, not muted: Chrome may not start playing a muted element's sound when it is
  // unmuted later without a click (the caller may be the one who hangs up).
  $("video-leg-remote").volume = 0;
  connect();
}

function connect() {
  leg.signal = window.SafecallSignal.open({ session: leg.info.session_id, token: leg.info.token })
    .on("reconnecting", () => { $("video-leg-state").textContent = "Reconnecting…"; })
    .on("joined", async (message) => {
      if (message.peer === "connected" && !leg.pc) await offer(false);
    })
    .on("peer-joined", (message) => offer(Boolean(message.resumed && leg.pc)))
    .on("answer", async (message) => {
      if (leg.pc && leg.pc.signalingState === "have-local-offer") {
        await leg.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      }
    })
    .on("candidate", async (message) => {
      if (!leg.pc) return;
      try { await leg.pc.addIceCandidate(message.candidate || null); } catch { /* late */ }
    })
    .on("peer-left", () => { $("video-leg-state").textContent = "Her video connection was lost; waiting…"; })
    .on("session-ended", close)
    .on("error", (message) => {
      if (message.fatal) $("video-leg-state").textContent = message.message;
    });
}

/** The console offers, as in a browser video call; a resumed page gets an ICE restart. */
async function offer(restart) {
  if (!restart) {
    if (leg.pc) leg.pc.close();
    const pc = newPeer({
      servers: await servers(), policy,
      onCandidate: (candidate) => leg.signal && leg.signal.send({ type: "candidate", candidate }),
      onTrack: (e) => {
        const video = $("video-leg-remote");
        if (video.srcObject !== e.streams[0]) video.srcObject = e.streams[0];
        // Recorded as a browser video call is (the phone call is recorded by the bridge),
        // unless the phone call's service line is one with recording off.
        const phone = phoneContact();
        const recorded = !phone || phone.info.recorded !== false;
        if (recorded && leg.info && window.SafecallRecorder) {
          window.SafecallRecorder.start(leg.info.session_id, e.streams[0], leg.local, leg.info.case_id);
        }
      },
    });
    leg.pc = pc;
    if (leg.local) leg.local.getTracks().forEach((track) => pc.addTrack(track, leg.local));
    else ["audio", "video"].forEach((kind) => pc.addTransceiver(kind, { direction: "recvonly" }));
    pc.onconnectionstatechange = () => {
      if (pc === leg.pc && pc.connectionState === "connected") $("video-leg-state").textContent = "Connected";
    };
  }
  await leg.pc.setLocalDescription(await leg.pc.createOffer(restart ? { iceRestart: true } : undefined));
  leg.signal.send({ type: "offer", sdp: leg.pc.localDescription.sdp });
}

/** The phone call ended: the video leg, if any, carries the conversation's sound now. */
hear("ended", (contact) => {
  if (contact.channel !== "phone" || contact.callback) return;
  clearInterval(leg.watch);
  if (!leg.info) return;
  if (leg.local) leg.local.getAudioTracks().forEach((track) => { track.enabled = true; });
  $("video-leg-remote").volume = 1;
  // Chrome pauses an element whose sound comes on (volume 0 to 1) without a fresh
  // click; play it again (the page has had clicks: it may).
  $("video-leg-remote").play().catch(() => {});
  $("video-leg-what").textContent = "The phone call has ended; the conversation goes on here.";
});

function close() {
  if (!leg.info) return;
  leg.ended = true;
  if (window.SafecallRecorder) window.SafecallRecorder.stop(leg.info.session_id);
  if (leg.pc) leg.pc.close();
  if (leg.local) leg.local.getTracks().forEach((track) => track.stop());
  Object.assign(leg, { info: null, pc: null, local: null, signal: null });
  $("video-leg-remote").srcObject = null;
  $("video-leg").hidden = true;
  const phone = call.taskId && held.get(call.taskId);
  if (phone && phone.ended) show($("status-note"), "");
}

$("video-leg-hangup").addEventListener("click", () => {
  if (leg.signal) leg.signal.hangup();
  close();
});
