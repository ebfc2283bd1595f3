// One-tap SOS in the installed app (install.js loads this module only there): one button
// starts a voice call on the women's line at the emergency priority (`sos: true`; the
// server checks what an SOS may be) and, if she allows the browser to tell where she is,
// sends her place with it and keeps it up to date during the call (live-location.js).
// Allowing it is her consent: she is asked by the browser, and a refusal still calls.
// The call itself is the citizen page's (citizen.js: window.safecallBegin).

import { shareLocation } from "./live-location.js";

const WORDS = {
  title: "SOS",
  lead: "ابھی افسر سے آواز کی کال، آپ کے مقام کے ساتھ",
  leadEn: "Calls an officer now and shares where you are",
  calling: "رابطہ ہو رہا ہے… Calling…",
  failed: "شروع نہیں ہو سکا: 15 پر فون کریں۔ Could not start: call 15.",
};
const FIRST_PLACE_MS = 4000;

/** The SOS button, put first on the page. */
export function addButton(doc = document) {
  const link = doc.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./sos.css", import.meta.url).href;
  doc.head.appendChild(link);
  const box = doc.createElement("section");
  box.className = "sos";
  box.id = "sos";
  const button = doc.createElement("button");
  button.type = "button";
  button.className = "sos-button";
  button.dataset.testid = "sos";
  const title = doc.createElement("strong");
  title.textContent = WORDS.title;
  const lead = doc.createElement("span");
  lead.lang = "ur";
  lead.textContent = WORDS.lead;
  const leadEn = doc.createElement("span");
  leadEn.lang = "en";
  leadEn.textContent = WORDS.leadEn;
  button.append(title, lead, leadEn);
  const said = doc.createElement("p");
  said.className = "sos-said";
  said.dataset.testid = "sos-said";
  said.setAttribute("role", "status");
  box.append(button, said);
  const main = doc.querySelector("main");
  main.insertBefore(box, main.firstChild);
  button.addEventListener("click", () => sos(button, said));
  return button;
}

function firstPlace(geolocation = navigator.geolocation) {
  if (!geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    geolocation.getCurrentPosition(
      (p) => resolve({ latitude: p.coords.latitude, longitude: p.coords.longitude,
                       accuracy: Math.min(p.coords.accuracy, 100000) }),
      () => resolve(null),  // refused or unknown: the call goes ahead without it
      { timeout: FIRST_PLACE_MS, maximumAge: 30000, enableHighAccuracy: true },
    );
  });
}

async function microphone() {
  try {
    return { channel: "audio", stream: await navigator.mediaDevices.getUserMedia({ audio: true }) };
  } catch {
    return { channel: "chat", stream: null };  // no microphone: she can still write
  }
}

// Like the page's own start: no cookie goes with it (she is anonymous).
async function open(body) {
  try {
    const response = await fetch("/api/contacts", {
      method: "POST", credentials: "omit", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "application/json" },
    });
    return { status: response.status, data: await response.json() };
  } catch {
    return { status: 0, data: null };
  }
}

export async function sos(button, said) {
  button.disabled = true;
  said.textContent = WORDS.calling;
  const [got, place] = await Promise.all([microphone(), firstPlace()]);
  const lang = document.documentElement.lang;
  const body = { service_line: "women", channel: got.channel, sos: true,
                 language: ["ur", "pa", "en"].includes(lang) ? lang : "ur" };
  if (place) body.location = place;
  const result = await open(body);
  if (result.status !== 201 || typeof window.safecallBegin !== "function") {
    if (got.stream) got.stream.getTracks().forEach((track) => track.stop());
    said.textContent = (result.data && result.data.error && result.data.error.message) || WORDS.failed;
    button.disabled = false;
    return;
  }
  said.textContent = "";
  button.closest(".sos").hidden = true;
  window.safecallBegin(result.data, got);
  if (place) {
    // She allowed it: her place follows her during the call, and stops when it ends.
    const sharing = shareLocation({ sessionId: result.data.session_id, token: result.data.token });
    window.safecallSos = sharing;
    window.addEventListener("pagehide", () => sharing.stop());
  }
}
