// The citizen page: intake, queue, browser call or chat with an officer, quick exit.
// Keeps nothing in the browser: the contact's tokens live in this page's memory only,
// so a reload starts a new contact. Server text goes in with textContent only.
"use strict";

const TEXT = {
  ur: {
    exit: "فوراً باہر نکلیں",
    title: "کسی خاتون پولیس افسر سے بات کریں",
    lead: "مفت، رازداری کے ساتھ، اور آپ اپنا نام ظاہر کیے بغیر بات کر سکتی ہیں۔",
    danger: "کیا آپ ابھی خطرے میں ہیں؟",
    call15: "15 پر کال کریں",
    who: "مدد کس کو چاہیے؟",
    women: "ایک خاتون",
    child: "ایک بچہ",
    how: "آپ کیسے بات کرنا چاہتی ہیں؟",
    video: "ویڈیو کال",
    audio: "آواز کی کال",
    chat: "تحریری گفتگو",
    more: "مزید انتخاب (سب اختیاری)",
    language: "زبان",
    what: "کیا ہوا؟",
    "rather-not": "نہیں بتانا چاہتی",
    "c-dv": "گھر میں تشدد",
    "c-har": "ہراسانی",
    "c-sv": "جنسی تشدد",
    "c-cyber": "آن لائن ہراسانی",
    "c-missing": "گمشدہ بچہ",
    "c-other": "کچھ اور",
    district: "ضلع",
    anon: "نام ظاہر نہ کریں",
    name: "آپ کا نام",
    phone: "آپ کا فون نمبر",
    callback: "مجھے واپس فون کرنا محفوظ ہے",
    when: "کب محفوظ ہے؟",
    "code-earlier": "پچھلے رابطے کا ٹریکنگ کوڈ",
    location: "افسر کو میرا مقام بتائیں",
    reload: "اگر آپ یہ صفحہ دوبارہ کھولیں تو نیا رابطہ شروع ہوگا۔",
    recorded: "ویڈیو کالیں آپ کے کیس کے ثبوت کے لیے ریکارڈ کی جاتی ہیں؛ انہیں صرف آپ کا کیس دیکھنے والے افسر دیکھ سکتے ہیں۔",
    "your-code": "آپ کا ٹریکنگ کوڈ:",
    position: "قطار میں آپ کی جگہ:",
    "switch-chat": "تحریری گفتگو پر جائیں",
    mute: "آواز بند",
    unmute: "آواز کھولیں",
    "camera-off": "کیمرہ بند",
    "camera-on": "کیمرہ کھولیں",
    "switch-camera": "کیمرہ بدلیں",
    send: "بھیجیں",
    hangup: "ختم کریں",
    ended: "گفتگو ختم ہو گئی۔",
    "keep-code": "اوپر والا ٹریکنگ کوڈ سنبھال کر رکھیں: اس سے آپ اپنا کیس دیکھ سکتی ہیں۔",
    "pin-label": "اگر آپ چاہیں تو ایک پن (4 سے 8 ہندسے) چنیں: کوڈ کے ساتھ یہ ٹریکنگ صفحے پر آپ کے کیس کی مزید تفصیل دکھاتا ہے۔",
    "pin-save": "پن محفوظ کریں",
    "pin-saved": "آپ کا پن محفوظ ہو گیا۔ اسے اپنے کوڈ کے ساتھ یاد رکھیں۔",
    "pin-digits": "پن میں 4 سے 8 ہندسے ہوتے ہیں۔",
    track: "کیا آپ کے پاس ٹریکنگ کوڈ ہے؟ اپنا کیس دیکھیں",
    private: "یہ صفحہ آپ کے فون پر کچھ محفوظ نہیں کرتا۔ فوراً نکلنے کے لیے دو بار Esc دبائیں یا اوپر والا بٹن۔",
    starting: "شروع ہو رہا ہے…",
    connecting: "ایک افسر آ رہی ہیں، رابطہ ہو رہا ہے…",
    connected: "آپ افسر سے جڑ گئی ہیں۔",
    "no-camera": "کیمرہ نہیں ملا؛ صرف آواز کے ساتھ۔",
    "no-media": "مائیکروفون نہیں ملا؛ تحریری گفتگو جاری ہے۔",
    "peer-away": "رابطہ ٹوٹ گیا، انتظار کریں…",
    reconnecting: "دوبارہ جڑ رہا ہے…",
    "audio-only": "ویڈیو نہیں پہنچ رہی؛ کال صرف آواز کے ساتھ جاری ہے۔",
    wait: "اندازاً انتظار: {m} منٹ",
    failed: "شروع نہیں ہو سکا۔ دوبارہ کوشش کریں یا 15 پر کال کریں۔",
    you: "آپ",
    officer: "افسر",
    "link-title": "آپ کی افسر نے آپ کو یہ لنک بھیجا ہے",
    "link-lead": "اسی گفتگو کو ویڈیو پر جاری رکھنے کے لیے نیچے دبائیں۔ فون کال بند نہ کریں جب تک ویڈیو شروع نہ ہو جائے۔",
    "link-start": "ویڈیو کال شروع کریں",
  },
};
const english = {};
let lang = "en";

function t(key) {
  if (lang !== "en" && TEXT[lang] && TEXT[lang][key]) return TEXT[lang][key];
  return english[key] || EN_EXTRA[key] || key;
}

// English for messages that are not in the HTML.
const EN_EXTRA = {
  starting: "Starting…",
  connecting: "An officer is coming; connecting…",
  connected: "You are connected to an officer.",
  "no-camera": "No camera; the call goes on with sound only.",
  "no-media": "No microphone; you can write to the officer.",
  "peer-away": "The connection was lost; please wait…",
  reconnecting: "Reconnecting…",
  "audio-only": "Video is not getting through; the call goes on with sound only.",
  wait: "Estimated wait: {m} min",
  failed: "That did not work. Try again, or call 15.",
  unmute: "Unmute",
  "camera-on": "Camera on",
  you: "You",
  officer: "Officer",
};

const $ = (id) => document.getElementById(id);

function quickExit() {
  // replace(): the page leaves no entry to go back to.
  window.location.replace("https://www.google.com/");
}

function setLanguage(next) {
  lang = next;
  document.documentElement.lang = next;
  document.documentElement.dir = next === "ur" ? "rtl" : "ltr";
  for (const el of document.querySelectorAll("[data-i18n]")) {
    const key = el.dataset.i18n;
    if (!(key in english)) english[key] = el.textContent;
    el.textContent = t(key);
  }
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === next));
  }
  if (next === "ur" || next === "en") $("language").value = next;
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
  const collator = new Intl.Collator(lang === "ur" ? "ur" : "en");
  const named = districts.map((d) => [d.code, d.names[lang] || d.names.en]);
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

function say(key, values) {
  let text = t(key);
  for (const [k, v] of Object.entries(values || {})) text = text.replace("{" + k + "}", v);
  $("call-state").textContent = text;
}

function intake(channel) {
  const service = document.querySelector("[data-service][aria-pressed='true']").dataset.service;
  const body = { service_line: service, channel, language: $("language").value || "ur" };
  const category = $("category").value;
  if (category) body.category = category;
  const district = $("district").value;
  if (district) body.district = district;
  body.anonymous = $("anonymous").checked;
  if (!body.anonymous) {
    const name = $("name").value.trim();
    const phone = $("phone").value.trim();
    if (name) body.name = name;
    if (phone) body.phone = phone;
    body.callback_safe = $("callback").checked;
    const times = $("callback-times").value.trim();
    if (times && body.callback_safe) body.callback_times = times;
  }
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
    const message = data && data.error ? data.error.message : t("failed");
    $("start-error").textContent = message;
    show("start-error", true);
    for (const b of document.querySelectorAll("[data-start]")) b.disabled = false;
    return;
  }
  begin(data, got);
}

// The contact is open: show her code and the call, and join it.
function begin(data, got) {
  Object.assign(contact, { id: data.session_id, token: data.token, channel: got.channel,
                           local: got.stream, gaveCode: Boolean($("code").value.trim()) });
  $("tracking-code").textContent = data.tracking_code;
  show("intake", false);
  show("who", false);
  show("video-link", false);
  show("code-section", true);
  show("contact", true);
  show("to-chat", contact.channel !== "chat");
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
    $("link-error").textContent = data && data.error ? data.error.message : t("failed");
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

function showPlace(place) {
  if (contact.inCall) return;
  if (place.status === "waiting") {
    $("queue-position").textContent = String(place.position || 1);
    $("wait-time").textContent = place.estimated_wait == null ? "" : t("wait").replace(
      "{m}", String(Math.max(1, Math.round(place.estimated_wait / 60))));
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
  if (!ice.asking) ice.asking = askIceServers().finally(() => { ice.asking = null; });
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
  // A PIN is set on the contact that opened her case (not one that named it by its code).
  show("pin-form", !contact.gaveCode);
}

async function savePin(event) {
  event.preventDefault();
  const pin = $("pin-input").value.trim();
  const said = $("pin-said");
  if (!/^[0-9\u06F0-\u06F9\u0660-\u0669]{4,8}$/.test(pin)) {
    said.textContent = t("pin-digits");
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
      said.textContent = t("pin-saved");
      return;
    }
    said.textContent = (await response.json()).error.message;
  } catch (err) {
    said.textContent = t("failed");
  }
}

function hangup() {
  contact.signal.hangup();
  finish();
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
  $("quick-exit").addEventListener("click", quickExit);
  let lastEscape = 0;
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const now = Date.now();
    if (now - lastEscape < 1500) quickExit();
    lastEscape = now;
  });
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
  $("anonymous").addEventListener("change", () => show("identity", !$("anonymous").checked));
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text || !contact.signal) return;
    relay({ type: "chat", text });
    addChat(t("you"), text);
    $("chat-input").value = "";
  });
  $("hangup").addEventListener("click", hangup);
  $("pin-form").addEventListener("submit", savePin);
  $("mute").addEventListener("click", (e) => toggle("audio", e.currentTarget, "mute", "unmute"));
  $("camera").addEventListener("click", (e) => toggle("video", e.currentTarget, "camera-off", "camera-on"));
  $("switch-camera").addEventListener("click", switchCamera);
  $("to-chat").addEventListener("click", switchToChat);
  for (const el of document.querySelectorAll("[data-i18n]")) english[el.dataset.i18n] = el.textContent;
  $("language").value = "en";
  loadDistricts();
});

// delivery: the installed app's SOS (sos.js) opens its own contact, then joins it here.
window.safecallBegin = begin;
