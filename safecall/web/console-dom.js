// Small helpers every console module uses: find by id, show a sentence, words for codes.
// Everything the server says goes in with textContent, never innerHTML.

export const $ = (id) => document.getElementById(id);

/** Set `element`'s text and hide it when there is none. */
export function show(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

/** An element with text (and attributes): el("li", "hello", { class: "x" }). */
export function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name === "testid") node.dataset.testid = value;
    else node.setAttribute(name, value);
  }
  return node;
}

const WORDS = {
  women: "Women's line", child: "Child line",
  browser_video: "Video call", browser_audio: "Voice call", chat: "Text chat", phone: "Phone call",
  ur: "Urdu", en: "English", pa: "Punjabi",
  new: "New", in_progress: "In progress", resolved_by_reconciliation: "Resolved by reconciliation",
  fir_registered: "FIR registered", under_investigation: "Under investigation",
  fast_tracked: "Fast-tracked", challan_submitted: "Challan submitted", in_trial: "In trial",
  decided: "Decided", referred: "Referred", closed: "Closed",
  domestic_violence: "Domestic violence", harassment: "Harassment",
  sexual_violence: "Sexual violence", attempted_murder: "Attempted murder",
  acid_attack: "Acid attack", cyber_harassment: "Cyber harassment",
  missing_child: "Missing child", runaway_child: "Runaway child",
  vulnerable_child: "Vulnerable child", other: "Other",
  answered: "Answered", abandoned: "Abandoned", missed: "Missed", transferred: "Transferred",
  dropped: "Dropped", failed: "Failed",
};

/** Words for a code the server uses ("browser_video" -> "Video call"); "—" for none. */
export function words(value) {
  if (value === null || value === undefined || value === "") return "—";
  return WORDS[value] || String(value).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

/** A date and time in this computer's zone ("—" for none). */
export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  return isNaN(date) ? String(value) : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** Seconds as "m:ss" (or "h:mm:ss"). */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? h + ":" + String(m).padStart(2, "0") + ":" + rest : m + ":" + rest;
}

/** The page's events between modules (a module says what happened; others listen). */
export const bus = new EventTarget();
export function announce(name, detail) { bus.dispatchEvent(new CustomEvent(name, { detail })); }
export function hear(name, handler) { bus.addEventListener(name, (event) => handler(event.detail)); }
