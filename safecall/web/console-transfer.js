// Passing a contact on: to an officer on duty or to a service line. Cold: it leaves her
// at once and waits for whoever accepts. Warm (when the server offers it: `warm` in the
// OpenAPI document's transfer body): she stays with her until the colleague accepts, and
// the contact leaves her list then (console-contacts.js sees it leave her tasks).

import { api, refusal } from "./api.js";
import * as contacts from "./console-contacts.js";
import { $, el, hear, words } from "./console-dom.js";
import { held, view } from "./console-state.js";

const transfer = { warm: null, targets: [] };
window.safecallTransfer = transfer;

function say(text) { $("transfer-said").textContent = text; }

/** Whether this server's transfer takes `warm` (asked once). */
async function warmOffered() {
  if (transfer.warm === null) {
    const doc = await api("GET", "/api/openapi.json");
    const schemas = doc.status === 200 && doc.data.components ? doc.data.components.schemas || {} : {};
    const body = Object.entries(schemas).find(([name]) => /^TransferIn/.test(name));
    transfer.warm = Boolean(body && body[1].properties && body[1].properties.warm);
  }
  return transfer.warm;
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
  $("transfer-warm-field").hidden = !(await warmOffered());
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
  const warm = transfer.warm && $("transfer-warm").checked;
  const body = kind === "officer" ? { officer_id: Number(value) } : { line: value };
  if (warm) body.warm = true;
  const to = $("transfer-target").selectedOptions[0].textContent.split(" · ")[0];
  $("transfer-send").disabled = true;
  const result = await api("POST", "/api/queues/tasks/" + encodeURIComponent(contact.id) + "/transfer", body);
  $("transfer-send").disabled = false;
  if (result.status !== 200) {
    say(refusal(result, "The contact could not be transferred."));
    return;
  }
  $("transfer-panel").hidden = true;
  $("transfer").setAttribute("aria-expanded", "false");
  if (warm) {
    contact.said = "Waiting for " + to + " to accept; stay with her until then.";
    contacts.render();
  } else {
    contacts.handOver(contact, "Transferred to " + to + ". She waits for them to accept.");
  }
});

hear("selected", () => { $("transfer-panel").hidden = true; $("transfer").setAttribute("aria-expanded", "false"); });
