// The contacts she holds: several at once (e.g. three chats and a call), as tabs with
// unread counts; the one on screen shows its call, chat and wrap-up; each has its own
// signaling side. A contact passed to a colleague (a transfer) leaves her list. A colleague
// asked to join (a warm transfer) sits beside the officer in the chat (`seat: colleague`)
// until the officer leaves it to her; then she answers again for the officer's own seat.

import { api, refusal, tryAgain } from "./api.js";
import * as voice from "./console-call.js";
import { $, announce, clock, el, show, words } from "./console-dom.js";
import { call, held, isVoice, session, view } from "./console-state.js";

const TABS = $("contact-tabs");

/** A contact she answered (`info`: the answer); media and a socket may be on their way. */
export function open(info, { media, socket, callback, select = true } = {}) {
  const existing = held.get(info.session_id);
  if (existing && existing.signal) existing.signal.close();
  const contact = {
    id: info.session_id, info, channel: info.channel, signal: null, messages: [], unread: 0,
    ended: false, endedAt: null, seen: Boolean(existing && existing.seen), callback: callback || null,
    openedAt: Date.now(), said: "",
    // The task she completes after the wrap-up (a warm transfer's is its own), and her seat.
    taskId: info.task_id || info.session_id, seat: info.seat || "officer",
    warm: existing ? existing.warm : null, transfer: info.transfer || null,
  };
  // A warm transfer she asked, still going, found again after a reload.
  if (!contact.warm && info.asking) {
    contact.warm = { to: "your colleague", taskId: info.asking.task_id, joined: info.asking.joined };
  }
  held.set(contact.id, contact);
  (info.chat || []).forEach((line) => contact.messages.push(
    { who: author(contact, line.side), text: line.text }));
  if (isVoice(contact.channel) && contact.seat === "officer") voice.begin(contact, media);
  else if (media) media.then((got) => voice.stopStream(got.stream));
  if (select || !view.selected) view.selected = contact.id;
  render();
  announce("contact", contact);  // the case panel, the map, the video leg
  if (info.ended_at) {  // re-opened in its wrap-up: the timer runs from the server's end
    if (socket) socket.close();
    // (timed on the server's clock: the feed's `server_time` says how this one stands to it)
    ended(contact, info.ended_at * 1000 - (session.skew || 0));
    return contact;
  }
  connect(contact, socket);
  return contact;
}

/** Who wrote a chat line, as she reads it on her seat. */
function author(contact, side) {
  if (side === "citizen") return "Her";
  if (side === "colleague") return contact.seat === "colleague" ? "You" : "Colleague";
  return contact.seat === "colleague" ? "Officer" : "You";
}

function connect(contact, socket) {
  const spoken = isVoice(contact.channel) && contact.seat === "officer";
  const session = contact.info.signal_session || contact.id;
  contact.signal = window.SafecallSignal.open({ session, token: contact.info.token, socket })
    .on("reconnecting", () => note(contact, "Reconnecting…"))
    .on("joined", async (message, { resumed }) => {
      if (!spoken) note(contact, message.peer === "connected" ? "" : "Waiting for her page…");
      else if (resumed) note(contact, "");  // "Reconnecting…" is over
      if (spoken) await voice.handlers.joined(message, resumed);
    })
    .on("peer-joined", async (message) => {
      note(contact, "");
      if (spoken) await voice.handlers.peerJoined(message);
    })
    .on("offer", (message) => spoken && voice.handlers.offer(message))
    .on("answer", (message) => spoken && voice.handlers.answer(message))
    .on("candidate", (message) => spoken && voice.handlers.candidate(message))
    .on("dtmf", (message) => {
      const meaning = contact.info.silent ? { 1: " (yes)", 2: " (no)" }[message.digit] || "" : "";
      message_(contact, "Her keypad", message.digit + meaning);
    })
    .on("chat", (message) => message_(contact, author(contact, message.from), message.text))
    .on("colleague", (message) => {
      if (message.state === "joined") announce("colleague-joined", contact);
      else if (message.state === "yours") takeOver(contact);
    })
    .on("peer-left", () => note(contact, "Her connection was lost; waiting for her to come back…"))
    .on("session-ended", (message) => {
      // She left with her page's quick exit: say so (not "the connection dropped").
      contact.leftByQuickExit = message.reason === "quick_exit";
      ended(contact);
    })
    .on("error", (message) => {
      if (!message.fatal) return;
      // Another officer took the officer's seat: she accepted a transfer of this contact.
      if (message.code === "replaced") handOver(contact, "Your colleague has taken this contact.");
      else note(contact, message.message);
    });
}

/** The officer who asked her to join left her the contact: her own seat, answered again. */
async function takeOver(contact) {
  const answered = await api("POST", "/api/contacts/" + encodeURIComponent(contact.taskId) + "/answer");
  if (answered.status !== 200 || answered.data.seat !== "officer") {
    note(contact, refusal(answered, "The contact could not be taken over; reload the console."));
    return;
  }
  const messages = contact.messages;
  const opened = open(answered.data, { select: view.selected === contact.id });
  opened.messages = messages;  // what she read beside her colleague stays on screen
  opened.said = "The contact is yours now.";
  render();
}

/** A line of the contact's state (a chat's; a call's comes from its media). */
function note(contact, text) {
  contact.said = text;
  if (contact.id === view.selected) renderState(contact);
}

/** A message in a contact's chat; counted unread unless it is the one on screen. */
function message_(contact, who, text) {
  contact.messages.push({ who, text });
  if (contact.id === view.selected && !document.hidden) appendMessage({ who, text });
  else contact.unread += 1;
  renderTabs();
}

/** The officer writes in the contact on screen. */
export function send(text) {
  const contact = held.get(view.selected);
  if (!contact || !contact.signal || contact.ended) return false;
  contact.signal.send({ type: "chat", text });
  contact.messages.push({ who: "You", text });
  appendMessage({ who: "You", text });
  return true;
}

function appendMessage({ who, text }) {
  const item = el("li");
  item.append(el("strong", who + ": "), document.createTextNode(text));
  $("chat-log").appendChild(item);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
}

/** The contact's call or chat is over: its wrap-up (timed from `at`, ms). */
export function ended(contact, at) {
  if (contact.ended) return;
  contact.ended = true;
  contact.endedAt = Math.min(at || Date.now(), Date.now());
  if (contact.id === call.taskId) voice.end();
  announce("ended", contact);
  render();
}

/** Wrap-up done: the task completes; she goes available again. */
export async function finish(contact) {
  // A ring-back's task is the callback's (an unanswered ring has completed it already).
  const taskId = contact.callback ? contact.callback.taskId : contact.taskId;
  // Until the server has it, the contact still takes her capacity (no offer comes): asked
  // again while cut; then she is told so, and presses Done again.
  const said = $("wrapup-said");
  const done = await tryAgain(
    () => api("POST", "/api/queues/tasks/" + encodeURIComponent(taskId) + "/complete"),
    { delays: [500, 1000, 2000], waiting: () => show(said, "Finishing: the server did not answer; trying again…") });
  if (done.status !== 200 && done.status !== 409 && done.status !== 404) {
    show(said, refusal(done, "The contact could not be finished.") +
      " It still takes your capacity (no new contact is offered) until it is finished: press Done again.");
    return false;
  }
  show(said, "");
  forget(contact);
  return true;
}

/** The contact leaves her list: transferred to a colleague (she does not hang up). */
export function handOver(contact, said) {
  if (!held.has(contact.id)) return;
  forget(contact);
  show($("status-note"), said);
}

function forget(contact) {
  if (contact.signal) contact.signal.close();
  if (contact.id === call.taskId) voice.forget();
  held.delete(contact.id);
  if (view.selected === contact.id) view.selected = held.size ? [...held.keys()].pop() : null;
  announce("forgotten", contact);
  render();
}

/**
 * What the server says she holds: a contact listed once and listed no more, not ended
 * here, was passed on (a transfer, or a warm transfer her colleague accepted).
 */
export function reconcile(tasks) {
  for (const contact of [...held.values()]) {
    if (tasks.includes(contact.taskId) || (contact.callback && tasks.includes(contact.callback.taskId))) {
      contact.seen = true;
    } else if (contact.seen && !contact.ended && !contact.callback) {
      handOver(contact, "The contact was passed on; it is no longer yours.");
    }
  }
}

export function select(id) {
  if (!held.has(id)) return;
  view.selected = id;
  held.get(id).unread = 0;
  render();
  announce("selected", held.get(id));
}

// ---- on screen ---------------------------------------------------------------------

function renderTabs() {
  TABS.replaceChildren();
  for (const contact of held.values()) {
    const selected = contact.id === view.selected;
    const tab = el("button", null, {
      type: "button", role: "tab", class: "contact-tab" + (contact.ended ? " ended" : ""),
      testid: "contact-tab", "aria-selected": String(selected), "data-session": contact.id,
      "aria-controls": "call-view", tabindex: selected ? "0" : "-1",
    });
    const what = contact.callback ? "Callback" : words(contact.channel);
    tab.append(el("span", what, { class: "tab-what" }),
               el("span", contact.ended ? "wrap-up" : words(contact.info.service_line),
                  { class: "tab-meta" }));
    if (contact.unread) {
      tab.append(el("span", String(contact.unread), {
        class: "unread", testid: "contact-unread",
        "aria-label": contact.unread + " unread",
      }));
    }
    tab.addEventListener("click", () => select(contact.id));
    TABS.append(tab);
  }
  $("held-empty").hidden = held.size > 0;
  $("held-count").textContent = held.size ? "(" + held.size + ")" : "";
}

function renderState(contact) {
  if (isVoice(contact.channel) && contact.id === call.taskId && !contact.ended) {
    // A note of the contact's (her connection lost, reconnecting) over the call's state.
    if (contact.said) $("call-state").textContent = contact.said;
    else voice.showState();
    return;
  }
  $("call-state").textContent = contact.ended
    ? (contact.leftByQuickExit ? "Ended: she left by quick exit" : "Ended")
    : contact.said || "Chat open";
  $("call-state").dataset.state = contact.ended ? "ended" : "chat";
}

/** The contact on screen: its channel, state, media, chat and wrap-up. */
export function render() {
  renderTabs();
  const contact = held.get(view.selected);
  $("call-view").hidden = !contact;
  if (!contact) return;
  const info = contact.info;
  $("call-channel").textContent = contact.callback ? "Callback: you are ringing her back"
    : words(contact.channel) + " · " + words(info.service_line);
  const media = isVoice(contact.channel) && contact.id === call.taskId && !contact.ended;
  $("media").hidden = !media || call.health === "failed";
  $("mute").hidden = !media;
  $("send-video-link").hidden = contact.channel !== "phone" || contact.ended;
  $("transfer").hidden = contact.ended || Boolean(contact.callback) || contact.seat !== "officer";
  $("hangup").hidden = contact.ended;
  $("chat-form").hidden = contact.ended;
  $("ready-replies").hidden = contact.ended;
  if (contact.ended) {
    $("transfer-panel").hidden = true;
    $("call-fallback").hidden = true;
  }
  renderState(contact);
  const from = contact.transfer && contact.seat === "colleague" && !contact.ended;
  $("transfer-from").hidden = !from;
  $("transfer-from").textContent = from ? "Transfer from " + contact.transfer.from_name +
    (contact.transfer.note ? ": " + contact.transfer.note : "") +
    ". You are in the chat beside her; the contact becomes yours when she leaves it to you." : "";
  $("chat-log").replaceChildren();
  contact.messages.forEach(appendMessage);
  $("chat-log").hidden = contact.ended && !contact.messages.length;
  $("wrapup").hidden = !contact.ended;
  $("left-quick-exit").hidden = !(contact.ended && contact.leftByQuickExit);
  if (contact.ended) {
    // (a ring-back is not told its case's tracking code)
    $("wrapup-code").textContent = contact.callback ? "" : info.tracking_code || "";
    $("wrapup-code-part").hidden = !$("wrapup-code").textContent;
  }
  intake(contact);
  tick();
}

function intake(contact) {
  const info = contact.info;
  const list = $("intake");
  list.replaceChildren();
  const row = (name, value) => list.append(el("dt", name), el("dd", value));
  if (contact.callback) {
    row("Channel", "Phone call: you are ringing her back");
    row("Line", words(info.service_line));
    row("Language", words(info.language));
    row("Callback", "ring " + contact.callback.attempt + " of " + contact.callback.attempts);
    row("When it suits her", info.callback_times || "—");
    return;
  }
  row("Channel", words(info.channel));
  if (info.silent && info.channel === "phone") row("Silent call", "she cannot speak: ask yes/no questions (1 = yes, 2 = no)");
  row("Line", words(info.service_line));
  row("Language", words(info.language));
  row("Category", words(info.category));
  row("District", info.district_name || info.district || "—");
  row("Anonymous", info.anonymous ? "yes" : "no");
  row("Safe to call back", info.callback_safe ? "yes" : "no");
  if (info.tracking_code) row("Tracking code", info.tracking_code + (info.linked_case ? " (earlier case)" : ""));
}

/** Once a second: the call timer of the contact on screen, or its wrap-up timer. */
function tick() {
  const contact = held.get(view.selected);
  if (!contact) return;
  if (contact.ended) {
    $("wrapup-timer").textContent = clock((Date.now() - contact.endedAt) / 1000);
    $("call-timer").textContent = "";
  } else {
    $("call-timer").textContent = contact.id === call.taskId
      ? voice.elapsed(contact) : clock((Date.now() - contact.openedAt) / 1000);
  }
}
setInterval(tick, 1000);

// Back to a tab that was away: what came meanwhile is read now.
document.addEventListener("visibilitychange", () => {
  const contact = held.get(view.selected);
  if (!document.hidden && contact && contact.unread) select(contact.id);
});

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("chat-input").value.trim();
  if (text && send(text)) $("chat-input").value = "";
});

export function hangup() {
  const contact = held.get(view.selected);
  if (!contact || contact.ended) return;
  if (contact.signal) contact.signal.hangup();
  ended(contact);
}
$("hangup").addEventListener("click", hangup);

$("wrapup-done").addEventListener("click", async () => {
  const contact = held.get(view.selected);
  if (!contact || !contact.ended) return;
  if (window.safecallVideo && window.safecallVideo.info && contact.id === call.taskId) {
    show($("status-note"), "End the video call first.");  // the phone task stays hers
    return;
  }
  if (await finish(contact)) announce("finished", contact);
});
