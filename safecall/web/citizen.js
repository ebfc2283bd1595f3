// The citizen page: intake, queue, browser call or chat with an officer, quick exit.
// Keeps nothing in the browser: the contact's tokens live in this page's memory only,
// so a reload starts a new contact. Server text goes in with textContent only.
"use strict";

const WORDS = window.SafecallText;
// The page's language: the browser's, Urdu when unsure; chosen again only for this visit
// (kept in this page's memory, never in storage or a cookie).
let lang = WORDS.chosen(window.location.search, navigator.languages && navigator.languages.length
  ? Array.prototype.slice.call(navigator.languages) : [navigator.language]);

function t(key) {
  return WORDS.say(lang, key);
}

const $ = (id) => document.getElementById(id);

function setLanguage(next) {
  lang = WORDS.TEXT[next] ? next : "ur";
  document.documentElement.lang = lang;
  document.documentElement.dir = WORDS.RTL[lang] ? "rtl" : "ltr";
  document.title = t("page-title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  Object.keys(spoken).forEach((id) => put(id, spoken[id].key, spoken[id].values));
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }
  if (!contact.id) $("language").value = lang;  // the talk's language, until she says
  if (contact.ended) showWhatNext();
  nameDistricts();
}

// ---- districts: chosen from the list, never typed ------------------------------

let districts = [];

async function loadDistricts() {
  try {
    const response = await fetch("/api/districts");
    if (!response.ok) return;
    districts = (await response.json()).districts;
  } catch (e) {
    return; // she can still start without one
  }
  const select = $("district");
  for (const d of districts) {
    const option = document.createElement("option");
    option.value = d.code;
    select.appendChild(option);
  }
  nameDistricts();
}

function nameDistricts() {
  const select = $("district");
  const collator = new Intl.Collator(lang === "en" ? "en" : "ur");
  const named = districts.map((d) => [d.code, d.names[lang] || d.names.ur || d.names.en]);
  named.sort((a, b) => collator.compare(a[1], b[1]));
  const options = Array.from(select.options).slice(1);
  named.forEach(([code, name], i) => {
    if (options[i]) {
      options[i].value = code;
      options[i].textContent = name;
    }
  });
}

// ---- the contact (memory only) ------------------------------------------------

const contact = {
  id: null,
  token: null,
  channel: null,
  signal: null, // her side of the session (signal.js): join, resume, acks, resends
  pc: null,
  local: null,
  ended: false,
  poll: null,
  watch: null,
};
// Tests read the call's statistics here; it lives and dies with the page.
window.safecallCall = contact;
// (tests also read the socket and the resume count: they are the signal's)
Object.defineProperty(contact, "ws", { get: () => contact.signal && contact.signal.ws });
Object.defineProperty(contact, "resumes", { get: () => (contact.signal ? contact.signal.resumes : 0) });

function show(id, visible) { $(id).hidden = !visible; }

// What the page says in a place (call state, wait, answers, PIN...): kept by key, so a
// change of language says it again in the new one; a server's sentence is kept as it is.
const spoken = {};

function put(id, key, values) {
  spoken[id] = { key, values };
  $(id).textContent = WORDS.say(lang, key, values);
}

function putText(id, text) {
  delete spoken[id];
  $(id).textContent = text;
}

function say(key, values) {
  put("call-state", key, values);
}

// Help first: the contact starts with who needs help and how she talks, nothing more.
// The other questions come while she waits (see "questions" below).
function intake(channel) {
  const service = document.querySelector("[data-service][aria-pressed='true']").dataset.service;
  const body = { service_line: service, channel, language: lang };
  const code = $("code").value.trim();
  if (code) body.tracking_code = code;
  return body;
}

function sharedPlace() {
  if (!$("share-location").checked || !navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ latitude: p.coords.latitude, longitude: p.coords.longitude,
                       accuracy: p.coords.accuracy }),
      () => resolve(null),
      { timeout: 8000, maximumAge: 60000 },
    );
  });
}

async function media(channel) {
  if (channel === "chat") return { channel, stream: null };
  if (channel === "video") {
    try {
      return { channel, stream: await navigator.mediaDevices.getUserMedia({ audio: true, video: true }) };
    } catch (err) {
      say("no-camera");
    }
  }
  try {
    return { channel: "audio", stream: await navigator.mediaDevices.getUserMedia({ audio: true }) };
  } catch (err) {
    say("no-media");
    return { channel: "chat", stream: null };
  }
}

async function start(channel) {
  for (const b of document.querySelectorAll("[data-start]")) b.disabled = true;
  chime.prepare();  // made during her tap: a page may play sound only after one
  show("start-error", false);
  const got = await media(channel);
  const body = intake(got.channel);
  const place = await sharedPlace();
  if (place) body.location = place;
  let response;
  let data = null;
  try {
    response = await fetch("/api/contacts", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
    data = await response.json();
  } catch (err) {
    response = null;
  }
  if (!response || response.status !== 201) {
    if (got.stream) got.stream.getTracks().forEach((track) => track.stop());
    if (data && data.error) putText("start-error", data.error.message);
    else put("start-error", "failed");
    show("start-error", true);
    for (const b of document.querySelectorAll("[data-start]")) b.disabled = false;
    return;
  }
  begin(data, got);
}

// The contact is open: show her code and the call, and join it.
function begin(data, got) {
  const service = document.querySelector("[data-service][aria-pressed='true']");
  Object.assign(contact, { id: data.session_id, token: data.token, channel: got.channel,
                           local: got.stream, gaveCode: Boolean($("code").value.trim()),
                           line: service ? service.dataset.service : "women" });
  $("tracking-code").textContent = data.tracking_code;
  show("intake", false);
  show("who", false);
  show("video-link", false);
  show("code-section", true);
  show("contact", true);
  show("to-chat", contact.channel !== "chat");
  askNext(0);
  if (contact.local) {
    $("self-video").srcObject = contact.local;
  }
  connect();
  iceServers();  // asked while she waits: the officer's offer is answered without it
  contact.poll = setTimeout(askPlace, PLACE_FALLBACK_MS);
}

// ---- a video link an officer texted her during a phone call ----------------------
// "/?video=TOKEN": the token is taken out of the address at once (no history entry, no
// bookmark, no referrer keeps it); one button starts the video call, with no questions.
// The server opens it on the same case, joined to the officer on her phone call.

const linkToken = (() => {
  const params = new URLSearchParams(window.location.search);
  const token = params.get("video");
  if (token === null) return null;
  params.delete("video");
  const rest = params.toString();
  history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
  return token;
})();

async function startFromLink() {
  $("start-linked").disabled = true;
  show("link-error", false);
  const got = await media("video");
  let response = null;
  let data = null;
  try {
    response = await fetch("/api/video-links", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: linkToken }),
      credentials: "omit",
    });
    data = await response.json();
  } catch (err) { /* said below */ }
  if (!response || response.status !== 201) {
    if (got.stream) got.stream.getTracks().forEach((track) => track.stop());
    if (data && data.error) putText("link-error", data.error.message);
    else put("link-error", "failed");
    show("link-error", true);
    // A refused link stays refused (used, expired): only a network failure may try again.
    $("start-linked").disabled = Boolean(response);
    return;
  }
  begin(data, got);
  say("connecting");
  show("waiting", false);  // not in line: the officer on her phone call joins
}

// Her place in line is pushed on her socket (`queue` messages). Only while the socket is
// down does the page ask for it, slowly.
const PLACE_FALLBACK_MS = 15000;

// An honest estimate: the line's own figure, or "no officer free" when it has none.
function showPlace(place) {
  if (contact.inCall) return;
  if (place.status === "waiting") {
    $("queue-position").textContent = String(place.position || 1);
    const seconds = place.estimated_wait;
    if (seconds == null) put("wait-time", "no-officer");
    else if (seconds < 90) put("wait-time", "wait-soon");
    else put("wait-time", "wait", { m: Math.round(seconds / 60) });
  } else if (place.status === "offered" || place.status === "assigned") {
    say("connecting");
  }
}

async function askPlace() {
  if (contact.ended || contact.inCall) return;
  if (!contact.signal || !contact.signal.connected) {
    try {
      const response = await fetch("/api/contacts/" + encodeURIComponent(contact.id), {
        headers: { Authorization: "Bearer " + contact.token, Accept: "application/json" },
        credentials: "omit",
      });
      if (response.ok) showPlace(await response.json());
    } catch (err) { /* the next try */ }
  }
  contact.poll = setTimeout(askPlace, PLACE_FALLBACK_MS);
}

// ---- signaling -----------------------------------------------------------------
// signal.js carries the protocol; this page answers the officer's offers.

function relay(message) {
  contact.signal.send(message);
}

function connect() {
  contact.signal = SafecallSignal.open({ session: contact.id, token: contact.token })
    .on("reconnecting", () => say("reconnecting"))
    .on("joined", (message, { resumed }) => {
      if (message.peer === "connected" && resumed) say("connected");
    })
    .on("peer-joined", (message) => {
      // The officer's page started afresh (a reload): its offer comes from a new
      // connection, so this page answers it on a new one too.
      if (message.side === "officer" && !message.resumed && contact.pc) {
        clearInterval(contact.watch);
        contact.pc.close();
        contact.pc = null;
      }
      inCall();
      // Her connection is made now: the officer's offer follows at once.
      if (!contact.pc && contact.local) return newConnection();
    })
    .on("queue", showPlace)
    .on("offer", (message) => answerOffer(message.sdp))
    .on("candidate", async (message) => {
      if (!contact.pc) return;
      try { await contact.pc.addIceCandidate(message.candidate || null); } catch (err) { /* late */ }
    })
    .on("chat", (message) => addChat(t("officer"), message.text))
    .on("peer-left", () => say("peer-away"))
    .on("session-ended", finish)
    .on("error", (message) => {
      if (message.fatal && ["invalid_token", "replaced"].includes(message.code)) say("failed");
    });
}

function inCall() {
  if (!contact.inCall) chime.ring();  // the officer is here: a buzz and a short sound
  contact.inCall = true;
  clearTimeout(contact.poll);
  show("waiting", false);
  show("call", contact.channel !== "chat");
  say("connected");
}

// "?ice=relay" sends the media through the TURN server only (her address stays hidden
// from the other side; the tests use it to prove the relay works). Default: any path.
const iceTransportPolicy = new URLSearchParams(window.location.search).get("ice") === "relay"
  ? "relay" : "all";

// The ICE servers (TURN credentials last `ttl` seconds): asked once she is in line, kept
// in memory, asked again when half their life has gone.
const ice = { servers: null, until: 0, asking: null };

function iceServers() {
  if (ice.servers && Date.now() < ice.until) return Promise.resolve(ice.servers);
  if (!ice.asking) {
    const done = (servers) => { ice.asking = null; return servers; };
    ice.asking = askIceServers().then(done, (err) => { done(); throw err; });
  }
  return ice.asking;
}

async function askIceServers() {
  try {
    const response = await fetch("/api/ice-servers?session=" + encodeURIComponent(contact.id), {
      headers: { Authorization: "Bearer " + contact.token }, credentials: "omit",
    });
    if (response.ok) {
      const found = await response.json();
      Object.assign(ice, { servers: found.iceServers, until: Date.now() + found.ttl * 500 });
      return ice.servers;
    }
  } catch (err) { /* host candidates still work */ }
  return [];
}

async function newConnection() {
  const servers = await iceServers();
  if (contact.pc || contact.ended) return;
  const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy });
  contact.pc = pc;
  if (contact.local) contact.local.getTracks().forEach((track) => pc.addTrack(track, contact.local));
  if (window.SafecallBandwidth) window.SafecallBandwidth.adopt(pc);  // delivery: bandwidth.js
  pc.onicecandidate = (e) => relay({ type: "candidate", candidate: e.candidate ? e.candidate.toJSON() : null });
  pc.ontrack = (e) => {
    const video = $("remote-video");
    if (video.srcObject !== e.streams[0]) video.srcObject = e.streams[0];
  };
  if (contact.channel === "video") contact.watch = watchVideo(pc);
}

async function answerOffer(sdp) {
  inCall();
  if (!contact.pc) await newConnection();
  if (!contact.pc) return;  // the call ended meanwhile
  await contact.pc.setRemoteDescription({ type: "offer", sdp });
  const answer = await contact.pc.createAnswer();
  await contact.pc.setLocalDescription(answer);
  const mine = contact.pc.localDescription.sdp;
  // delivery (bandwidth.js): on a poor network her answer asks for Opus at a low bitrate.
  relay({ type: "answer", sdp: window.SafecallBandwidth ? window.SafecallBandwidth.answer(mine) : mine });
}

// When no video frames arrive for a while (bandwidth, a camera refused on the other
// side), say that the call goes on with sound; say nothing more once they come back.
function watchVideo(pc) {
  let frames = -1;
  let still = 0;
  return setInterval(async () => {
    if (pc.connectionState !== "connected") return;
    let now = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") now += s.framesDecoded || 0;
    });
    still = now > frames ? 0 : still + 1;
    frames = now;
    const audioOnly = still >= 3;
    if (audioOnly !== ($("remote-video").dataset.audioOnly === "true")) {
      $("remote-video").dataset.audioOnly = String(audioOnly);
      say(audioOnly ? "audio-only" : "connected");
    }
  }, 2000);
}

function addChat(who, text) {
  const item = document.createElement("li");
  const name = document.createElement("strong");
  name.textContent = who + ": ";
  item.appendChild(name);
  item.appendChild(document.createTextNode(text));
  $("chat-log").appendChild(item);
  item.scrollIntoView({ block: "nearest" });
}

function finish() {
  if (contact.ended) return;
  contact.ended = true;
  clearTimeout(contact.poll);
  clearInterval(contact.watch);
  if (contact.pc) contact.pc.close();
  if (contact.local) contact.local.getTracks().forEach((track) => track.stop());
  $("remote-video").srcObject = null;
  $("self-video").srcObject = null;
  show("contact", false);
  show("ended", true);
  showWhatNext();
  // A PIN is set on the contact that opened her case (not one that named it by its code).
  show("pin-form", !contact.gaveCode);
}

async function savePin(event) {
  event.preventDefault();
  const pin = $("pin-input").value.trim();
  if (!/^[0-9\u06F0-\u06F9\u0660-\u0669]{4,8}$/.test(pin)) {
    put("pin-said", "pin-digits");
    return;
  }
  try {
    const response = await fetch("/api/contacts/" + encodeURIComponent(contact.id) + "/pin", {
      method: "POST",
      headers: { Authorization: "Bearer " + contact.token, "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ pin }),
    });
    if (response.ok) {
      $("pin-input").value = "";
      $("pin-input").disabled = true;
      $("pin-save").disabled = true;
      put("pin-said", "pin-saved");
      return;
    }
    putText("pin-said", (await response.json()).error.message);
  } catch (err) {
    put("pin-said", "failed");
  }
}

function showWhatNext() {
  $("what-next").textContent = t(contact.line === "child" ? "next-child" : "next-women");
}

// End asks first (a slip of the thumb must not end her call); it sits apart from Quick exit.
function askToEnd() {
  show("end-confirm", true);
  $("hangup").hidden = true;
  $("end-no").focus();
}

function keepTalking() {
  show("end-confirm", false);
  $("hangup").hidden = false;
}

function hangup() {
  contact.signal.hangup();
  finish();
}

// ---- the questions, one at a time, while she waits ------------------------------
// Each answer goes at once to her contact (POST /api/contacts/{id}/answers, her token);
// a skipped one is never asked again. Name and phone make her not anonymous.

const QUESTIONS = ["category", "district", "language", "name", "phone"];
let asking = 0;

function askNext(index) {
  asking = index;
  for (const box of document.querySelectorAll("[data-question]")) {
    box.hidden = box.dataset.question !== QUESTIONS[index];
  }
  if (index >= QUESTIONS.length) {
    show("questions", false);
    return;
  }
  show("questions", true);
  show("question-next", true);
  show("question-skip", true);
}

function answerOf(question) {
  if (question === "category") return $("category").value ? { category: $("category").value } : null;
  if (question === "district") return $("district").value ? { district: $("district").value } : null;
  if (question === "language") return { language: $("language").value };
  if (question === "name") {
    const name = $("name").value.trim();
    return name ? { name } : null;
  }
  const phone = $("phone").value.trim();
  if (!phone) return null;
  const answer = { phone, callback_safe: $("callback").checked };
  const times = $("callback-times").value.trim();
  if (times && answer.callback_safe) answer.callback_times = times;
  return answer;
}

async function answerQuestion(event) {
  event.preventDefault();
  const question = QUESTIONS[asking];
  const answer = answerOf(question);
  if (answer && contact.id && !contact.ended) {
    $("question-next").disabled = true;
    let response = null;
    let data = null;
    try {
      response = await fetch("/api/contacts/" + encodeURIComponent(contact.id) + "/answers", {
        method: "POST",
        headers: { Authorization: "Bearer " + contact.token, "Content-Type": "application/json",
                   Accept: "application/json" },
        credentials: "omit",
        body: JSON.stringify(answer),
      });
      data = await response.json();
    } catch (err) { response = null; }
    $("question-next").disabled = false;
    if (!response || !response.ok) {
      if (data && data.error) putText("answers-said", data.error.message);
      else put("answers-said", "failed");
      return;
    }
    put("answers-said", "answers-saved");
  }
  askNext(asking + 1);
}

// ---- a short sound and a buzz when the officer joins ------------------------------

const chime = {
  context: null,
  prepare() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!this.context && Context) {
      try { this.context = new Context(); } catch (err) { this.context = null; }
    }
  },
  ring() {
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
    const context = this.context;
    if (!context) return;
    try {
      if (context.resume) context.resume();
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, context.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.6);
      tone.connect(gain);
      gain.connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.6);
      window.safecallChimed = (window.safecallChimed || 0) + 1;
    } catch (err) { /* no sound: the buzz and the words say it */ }
  },
};

// ---- her code, copied ----------------------------------------------------------------

async function copyCode() {
  const code = $("tracking-code").textContent;
  let copied = false;
  try {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      await navigator.clipboard.writeText(code);
      copied = true;
    }
  } catch (err) { copied = false; }
  if (!copied) {
    const field = document.createElement("textarea");
    field.value = code;
    field.setAttribute("readonly", "");
    field.className = "offscreen";
    document.body.appendChild(field);
    field.select();
    try { copied = document.execCommand("copy"); } catch (err) { copied = false; }
    document.body.removeChild(field);
  }
  if (copied) put("copy-said", "copied");
  else putText("copy-said", "");
}

// ---- quick exit: she left; the officer is told, her page keeps nothing ----------------

function leftByQuickExit() {
  if (contact.id && !contact.ended) {
    const init = {
      method: "POST",
      headers: { Authorization: "Bearer " + contact.token },
      credentials: "omit",
      keepalive: true,  // it goes on after the page has gone (Chrome 66; before: best effort)
    };
    try { fetch("/api/contacts/" + encodeURIComponent(contact.id) + "/left", init); } catch (err) { /* gone */ }
  }
  contact.ended = true;
  clearTimeout(contact.poll);
  if (contact.pc) contact.pc.close();
  if (contact.local) contact.local.getTracks().forEach((track) => track.stop());
  $("tracking-code").textContent = "";
  $("chat-log").textContent = "";
}

function toggle(kind, button, offKey, onKey) {
  if (!contact.local) return;
  const tracks = kind === "audio" ? contact.local.getAudioTracks() : contact.local.getVideoTracks();
  const enabled = !tracks.every((track) => !track.enabled);
  tracks.forEach((track) => { track.enabled = !enabled; });
  button.dataset.i18n = enabled ? onKey : offKey;
  button.textContent = t(button.dataset.i18n);
}

async function switchCamera() {
  if (!contact.local || !contact.pc) return;
  const current = contact.local.getVideoTracks()[0];
  if (!current) return;
  const facing = (current.getSettings().facingMode === "environment") ? "user" : "environment";
  try {
    const fresh = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing } });
    const track = fresh.getVideoTracks()[0];
    const sender = contact.pc.getSenders().find((s) => s.track && s.track.kind === "video");
    if (sender) await sender.replaceTrack(track);
    contact.local.removeTrack(current);
    current.stop();
    contact.local.addTrack(track);
  } catch (err) { /* one camera only */ }
}

function switchToChat() {
  // She stays in line with her place; the officer will see her messages.
  if (contact.local) contact.local.getTracks().forEach((track) => { track.enabled = false; });
  contact.channel = "chat";
  show("to-chat", false);
  $("chat-input").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  window.SafecallExit.onLeave(leftByQuickExit);
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => setLanguage(b.dataset.lang));
  }
  for (const b of document.querySelectorAll("[data-service]")) {
    b.addEventListener("click", () => {
      for (const o of document.querySelectorAll("[data-service]")) {
        o.setAttribute("aria-pressed", String(o === b));
      }
    });
  }
  for (const b of document.querySelectorAll("[data-start]")) {
    b.addEventListener("click", () => start(b.dataset.start));
  }
  $("start-linked").addEventListener("click", startFromLink);
  if (linkToken !== null) {
    show("who", false);
    show("intake", false);
    show("video-link", true);
  }
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text || !contact.signal) return;
    relay({ type: "chat", text });
    addChat(t("you"), text);
    $("chat-input").value = "";
  });
  $("questions").addEventListener("submit", answerQuestion);
  $("question-skip").addEventListener("click", () => askNext(asking + 1));
  $("hangup").addEventListener("click", askToEnd);
  $("end-yes").addEventListener("click", hangup);
  $("end-no").addEventListener("click", keepTalking);
  $("copy-code").addEventListener("click", copyCode);
  $("pin-form").addEventListener("submit", savePin);
  $("mute").addEventListener("click", (e) => toggle("audio", e.currentTarget, "mute", "unmute"));
  $("camera").addEventListener("click", (e) => toggle("video", e.currentTarget, "camera-off", "camera-on"));
  $("switch-camera").addEventListener("click", switchCamera);
  $("to-chat").addEventListener("click", switchToChat);
  setLanguage(lang);
  loadDistricts();
});

// delivery: the installed app's SOS (sos.js) opens its own contact, then joins it here.
window.safecallBegin = begin;
