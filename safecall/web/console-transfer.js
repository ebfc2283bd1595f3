// Passing a contact on: to an officer on duty or to a service line. Cold: it leaves her
// at once and waits for whoever accepts. Warm (a chat or a browser call; with a note): she
// stays with her; the colleague, once she accepts, joins the chat beside her; she then
// leaves her to the colleague (`warm-leave`), or calls it off before the colleague accepts
// (`warm-cancel`) and the contact stays hers.

import { api, refusal } from "./api.js";
import * as contacts from "./console-contacts.js";
import { $, el, hear, show, words } from "./console-dom.js";
import { held, view } from "./console-state.js";

const transfer = { warm: true, targets: [] };
window.safecallTransfer = transfer;

function say(text) { $("transfer-said").textContent = text; }

/** A warm transfer is for a chat or a browser call (a phone call's media is the bridge's). */
function warmOffered(contact) {
  // (and not one she took over by a warm transfer: that one she passes on cold)
  return contact.channel !== "phone" && (contact.taskId || contact.id) === contact.id;
}

function showNote() {
  const on = $("transfer-warm").checked && !$("transfer-warm-field").hidden;
  $("transfer-note").hidden = !on;
  $("transfer-note-label").hidden = !on;
}
$("transfer-warm").addEventListener("change", showNote);

/** The warm transfer of the contact on screen: waiting for the colleague, or she is in. */
function showWarm() {
  const contact = held.get(view.selected);
  const warm = contact && !contact.ended ? contact.warm : null;
  $("warm-transfer").hidden = !warm;
  if (!warm) return;
  $("warm-said").textContent = warm.joined
    ? warm.to + " has joined the chat. Introduce her, then leave her to your colleague."
    : "Waiting for " + warm.to + " to accept; stay with her until then.";
  $("warm-leave").hidden = !warm.joined;
  $("warm-cancel").hidden = Boolean(warm.joined);
}

async function fill(contact) {
  const select = $("transfer-target");
  select.replaceChildren();
  const line = contact.info.service_line;
  const result = await api("GET", "/api/queues/officers");
  const people = el("optgroup", null, { label: "Officers on duty" });
  const officers = result.status === 200 ? result.data.officers : [];
  // The hard rules hold on a transfer too: her line, and a female officer for the women's line.
  const fit = officers.filter((o) => o.lines.includes(line) && (line !== "women" || o.gender === "female"));
  for (const o of fit) {
    people.append(el("option", o.name + " (" + o.badge + ") · " + words(o.state), { value: "officer:" + o.officer_id }));
  }
  if (!fit.length) people.append(el("option", "Nobody else on duty for this line", { value: "", disabled: "" }));
  const lines = el("optgroup", null, { label: "A service line (whoever is free next)" });
  for (const name of ["women", "child"]) lines.append(el("option", words(name), { value: "line:" + name }));
  select.append(people, lines);
  const first = [...select.options].find((o) => o.value);
  if (first) select.value = first.value;
  $("transfer-warm-field").hidden = !warmOffered(contact);
  showNote();
}

$("transfer").addEventListener("click", async () => {
  const contact = held.get(view.selected);
  if (!contact || contact.ended) return;
  const open = $("transfer-panel").hidden;
  $("transfer-panel").hidden = !open;
  $("transfer").setAttribute("aria-expanded", String(open));
  say("");
  if (open) {
    await fill(contact);
    $("transfer-target").focus();
  }
});

$("transfer-panel").addEventListener("submit", async (event) => {
  event.preventDefault();
  const contact = held.get(view.selected);
  const [kind, value] = $("transfer-target").value.split(":");
  if (!contact || !value) {
    say("Choose whom to pass her to.");
    return;
  }
  const warm = warmOffered(contact) && $("transfer-warm").checked;
  const body = kind === "officer" ? { officer_id: Number(value) } : { line: value };
  if (warm) body.note = $("transfer-note").value.trim();
  const to = $("transfer-target").selectedOptions[0].textContent.split(" · ")[0];
  $("transfer-send").disabled = true;
  // (a contact she took over by a warm transfer is passed on through the task she holds)
  const path = warm ? "/api/contacts/" + encodeURIComponent(contact.id) + "/transfer"
    : "/api/queues/tasks/" + encodeURIComponent(contact.taskId || contact.id) + "/transfer";
  const result = await api("POST", path, body);
  $("transfer-send").disabled = false;
  if (result.status !== 200) {
    say(refusal(result, "The contact could not be transferred."));
    return;
  }
  $("transfer-panel").hidden = true;
  $("transfer").setAttribute("aria-expanded", "false");
  if (warm) {
    contact.warm = { to, taskId: result.data.task_id, joined: false };
    $("transfer-note").value = "";
    showWarm();
  } else {
    contacts.handOver(contact, "Transferred to " + to + ". She waits for them to accept.");
  }
});

hear("selected", () => {
  $("transfer-panel").hidden = true;
  $("transfer").setAttribute("aria-expanded", "false");
  showWarm();
});
hear("contact", showWarm);
hear("ended", showWarm);
hear("forgotten", showWarm);

// Her colleague took her seat beside her: she may leave her now.
hear("colleague-joined", (contact) => {
  if (!contact.warm) return;
  contact.warm.joined = true;
  showWarm();
});

$("warm-cancel").addEventListener("click", async () => {
  const contact = held.get(view.selected);
  if (!contact || !contact.warm) return;
  $("warm-cancel").disabled = true;
  const result = await api("POST", "/api/contacts/" + encodeURIComponent(contact.id) + "/transfer/cancel");
  $("warm-cancel").disabled = false;
  if (result.status === 200 || (result.data && result.data.error && result.data.error.code === "no_transfer")) {
    contact.warm = null;
    showWarm();
    say("");
    show($("status-note"), "The transfer was called off; she stays with you.");
    return;
  }
  $("warm-said").textContent = refusal(result, "The transfer could not be called off.");
});

$("warm-leave").addEventListener("click", async () => {
  const contact = held.get(view.selected);
  if (!contact || !contact.warm) return;
  $("warm-leave").disabled = true;
  const result = await api("POST", "/api/contacts/" + encodeURIComponent(contact.id) + "/leave");
  $("warm-leave").disabled = false;
  if (result.status !== 200) {
    $("warm-said").textContent = refusal(result, "You could not leave her yet.");
    return;
  }
  const to = contact.warm.to;
  contact.warm = null;
  contacts.handOver(contact, "You left her to " + to + ".");
});
