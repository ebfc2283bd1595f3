// The case panel: the case the contact on screen is logged against. It stays through the
// wrap-up, which is when the outcome is recorded: status (FIR number and station;
// referred to whom), category, the next step (a note), notes; her unconfirmed statement
// to confirm field by field; the code she gave that matched nothing; where she is.

import { api, refusal } from "./api.js";
import { $, el, hear, words } from "./console-dom.js";
import { held, view } from "./console-state.js";
import { display, read } from "./tracking-code.js";

const panel = { contact: null, caseId: null, status: null };
window.safecallCase = panel;

function say(id, text) { $(id).textContent = text; }

function when(value) {
  const date = new Date(value);
  return isNaN(date) ? "" : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

function addNote(note, first) {
  const item = el("li", null, { testid: "case-note-item" });
  item.append(el("span", when(note.created_at) + " ", { class: "muted" }), document.createTextNode(note.text));
  if (first) $("case-notes").prepend(item); else $("case-notes").append(item);
}

/** Show the case (a summary or a full detail). */
function showCase(found) {
  panel.caseId = found.id;
  panel.status = found.status;
  if (panel.contact) {
    panel.contact.info.case_id = found.id;  // recordings and links follow the case shown
    panel.contact.info.tracking_code = display(found.tracking_code);
  }
  $("case-code").textContent = display(found.tracking_code);
  $("case-current").textContent = words(found.status);
  $("case-current").dataset.status = found.status;
  const option = $("case-status").querySelector("option[value='" + found.status + "']");
  $("case-status").value = option ? found.status : "in_progress";
  outcomeFields();
  if (found.fir_number) $("fir-number").value = found.fir_number;
  if (found.police_station) $("police-station").value = found.police_station;
  $("case-category").value = found.category || "";
  if (Array.isArray(found.notes)) {
    $("case-notes").replaceChildren();
    [...found.notes].reverse().forEach((note) => addNote(note, false));
  }
}

let loads = 0;
async function load(caseId) {
  const run = ++loads;
  const result = await api("GET", "/api/cases/" + encodeURIComponent(caseId));
  if (run !== loads) return;  // a later load (another case) has begun: this one is stale
  if (result.status === 200) showCase(result.data);
  else say("case-switch-said", refusal(result, "The case could not be read."));
}

/** The contact on screen changed (or a new one came): its case, read once media is through. */
function follow(contact) {
  if (panel.contact === contact) return;
  panel.contact = contact;
  panel.caseId = contact ? contact.info.case_id : null;
  $("case-panel").hidden = !panel.caseId;
  for (const id of ["case-note", "case-category-said", "case-notes-said", "case-switch-said", "statement-said"]) say(id, "");
  $("case-notes").replaceChildren();
  for (const id of ["case-note-input", "case-link-code", "fir-number", "police-station", "referred-to", "next-step"]) $(id).value = "";
  $("case-switch").open = false;
  if (!panel.caseId) return;
  const info = contact.info;
  $("case-code").textContent = info.tracking_code || "";
  $("case-current").textContent = "";
  $("case-category").value = info.category || "";
  showUnmatched(info);
  showStatement(info);
  // Read once the call's media is through, or in 2 s at most: until then the server's
  // time goes to the call's setup, which she is waiting for.
  const later = new Promise((done) => setTimeout(done, 2000));
  Promise.race([window.safecallCall.settled || Promise.resolve(), later]).then(() => {
    if (panel.contact === contact) load(panel.caseId);
  });
}
hear("contact", (contact) => { if (contact.id === view.selected) follow(contact); });
hear("selected", follow);
hear("forgotten", () => follow(held.get(view.selected) || null));

function showUnmatched(info) {
  $("code-unmatched").hidden = !info.code_unmatched;
  $("code-unmatched-code").textContent = info.tracking_code || "";
}

const STATEMENT = [["name", "Name"], ["phone", "Phone"], ["callback_safe", "Safe to call back"],
                   ["callback_times", "When it is safe"]];

function showStatement(info) {
  const said = info.statement;
  const list = $("statement-fields");
  list.replaceChildren();
  $("statement").hidden = !said;
  if (!said) return;
  for (const [field, name] of STATEMENT) {
    const value = said[field];
    if (value === null || value === undefined || value === false && field !== "callback_safe") continue;
    const id = "statement-" + field;
    const item = el("li");
    const box = el("input", null, { type: "checkbox", id, "data-field": field, testid: "statement-field" });
    const label = el("label", null, { for: id, class: "check" });
    label.append(box, document.createTextNode(" " + name + ": "),
                 el("strong", typeof value === "boolean" ? (value ? "yes" : "no") : String(value)));
    item.append(label);
    list.append(item);
  }
  $("statement-confirm").disabled = !list.children.length;
}

$("statement-confirm").addEventListener("click", async () => {
  const contact = panel.contact;
  const fields = [...$("statement-fields").querySelectorAll("input:checked")].map((box) => box.dataset.field);
  if (!contact || !fields.length) {
    say("statement-said", "Tick what she confirmed first.");
    return;
  }
  const result = await api("POST", "/api/contacts/" + encodeURIComponent(contact.id) + "/statement/confirm", { fields });
  if (result.status !== 200) {
    say("statement-said", refusal(result, "Her details could not be confirmed."));
    return;
  }
  say("statement-said", "On her case now: " + result.data.taken.map((f) => words(f)).join(", ") + ".");
  for (const box of $("statement-fields").querySelectorAll("input:checked")) box.disabled = true;
});

function outcomeFields() {
  $("fir-fields").hidden = $("case-status").value !== "fir_registered";
  $("referral-fields").hidden = $("case-status").value !== "referred";
}
$("case-status").addEventListener("change", outcomeFields);

/** The outcome: the status (unless unchanged), then the referral and next step as notes. */
$("case-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!panel.caseId) return;
  const status = $("case-status").value;
  const notes = [];
  if (status === "referred" && $("referred-to").value.trim()) notes.push("Referred to: " + $("referred-to").value.trim());
  if ($("next-step").value.trim()) notes.push("Next step: " + $("next-step").value.trim());
  if (status !== panel.status) {
    const body = { status };
    if (status === "fir_registered") {
      body.fir_number = $("fir-number").value.trim();
      body.police_station = $("police-station").value.trim();
    }
    const result = await api("POST", "/api/cases/" + panel.caseId + "/status", body);
    if (result.status !== 200) {
      say("case-note", refusal(result, "The status could not be saved."));
      return;
    }
    showCase(result.data);
  }
  for (const text of notes) {
    const added = await api("POST", "/api/cases/" + panel.caseId + "/notes", { text });
    if (added.status !== 201) {
      say("case-note", refusal(added, "The note could not be added."));
      return;
    }
    addNote(added.data, true);
  }
  $("referred-to").value = "";
  $("next-step").value = "";
  say("case-note", "Saved.");
});

$("case-category-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const category = $("case-category").value;
  if (!panel.caseId || !category) {
    say("case-category-said", "Choose a category first.");
    return;
  }
  const result = await api("PATCH", "/api/cases/" + panel.caseId, { category });
  if (result.status === 200) {
    showCase(result.data);
    say("case-category-said", "Category set.");
  } else {
    say("case-category-said", refusal(result, "The category could not be set."));
  }
});

$("case-notes-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("case-note-input").value.trim();
  if (!panel.caseId || !text) {
    say("case-notes-said", "Write the note first.");
    return;
  }
  $("case-note-add").disabled = true;
  const result = await api("POST", "/api/cases/" + panel.caseId + "/notes", { text });
  $("case-note-add").disabled = false;
  if (result.status === 201) {
    addNote(result.data, true);
    $("case-note-input").value = "";
    say("case-notes-said", "Note added.");
  } else {
    say("case-notes-said", refusal(result, "The note could not be added."));
  }
});

/** Log this contact on `target` ({tracking_code}, {case_id} or {new_case}); the link or null. */
async function linkTo(target) {
  const contact = panel.contact;
  if (!contact) return null;
  const result = await api("POST", "/api/sessions/" + encodeURIComponent(contact.id) + "/link", target);
  if (result.status !== 200) {
    say("case-switch-said", refusal(result, "The contact could not be linked."));
    return null;
  }
  await load(result.data.case_id);
  return result.data;
}

$("case-link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = read($("case-link-code").value);
  if (!code) {
    say("case-switch-said", "A tracking code has 12 digits; check it and try again.");
    return;
  }
  if (await linkTo({ tracking_code: code })) {
    $("case-link-code").value = "";
    say("case-switch-said", "This contact is now logged on case " + display(code) + ".");
  }
});

$("case-new").addEventListener("click", async () => {
  if (!panel.contact) return;
  $("case-new").disabled = true;
  // One request: the case is opened and the contact moved to it together, or neither.
  const linked = await linkTo({ new_case: true });
  $("case-new").disabled = false;
  if (linked) say("case-switch-said", "New case opened. Give her its tracking code: " + display(linked.tracking_code) + ".");
});
