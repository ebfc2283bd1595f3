// The console's case panel: the case this contact is logged against. Its status and
// FIR are saved by console.js; here: the case shown, its category, notes, and logging
// the contact on another case (by tracking code) or on a new one.
// Plain browser JavaScript, no build step; server text goes in with textContent only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const panel = { info: null, caseId: null };
  window.safecallCase = panel;

  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(path, options);
      let data = null;
      try { data = await response.json(); } catch (err) { data = null; }
      return { status: response.status, data };
    } catch (err) {
      return { status: 0, data: null };
    }
  }

  function refusal(result, fallback) {
    if (result.status === 0) return "Cannot reach the server; try again.";
    return (result.data && result.data.error && result.data.error.message) || fallback;
  }

  function words(value) { return value ? String(value).replace(/_/g, " ") : "—"; }

  /** 123456789012 -> "1234 5678 9012", as it is read out on the phone. */
  function codeText(code) { return code ? String(code).replace(/\D/g, "").replace(/(\d{4})(?=\d)/g, "$1 ") : ""; }

  function say(id, text) { $(id).textContent = text; }

  function when(value) {
    const date = new Date(value);
    return isNaN(date) ? "" : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  function addNote(note, first) {
    const item = document.createElement("li");
    item.dataset.testid = "case-note-item";
    const time = document.createElement("span");
    time.className = "muted";
    time.textContent = when(note.created_at) + " ";
    item.append(time, document.createTextNode(note.text));
    if (first) $("case-notes").prepend(item); else $("case-notes").append(item);
  }

  /** Show the case (a summary or a full detail). */
  function showCase(found) {
    panel.caseId = found.id;
    if (panel.info) {
      panel.info.case_id = found.id;  // console.js saves the status on this case
      panel.info.tracking_code = codeText(found.tracking_code);
    }
    $("case-code").textContent = codeText(found.tracking_code);
    const option = $("case-status").querySelector("option[value='" + found.status + "']");
    $("case-current").textContent = option ? option.textContent : words(found.status);
    if (option) {
      $("case-status").value = found.status;
      $("fir-fields").hidden = found.status !== "fir_registered";
    }
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

  document.addEventListener("safecall:call", (event) => {
    panel.info = event.detail;
    panel.caseId = panel.info.case_id;
    for (const id of ["case-note", "case-category-said", "case-notes-said", "case-switch-said"]) say(id, "");
    $("case-notes").replaceChildren();
    $("case-note-input").value = "";
    $("case-link-code").value = "";
    $("case-switch").open = false;
    $("case-code").textContent = panel.info.tracking_code || "";
    $("case-current").textContent = "";
    $("case-category").value = panel.info.category || "";
    // Read once the call's media is through (console.js), or in 2 s at most.
    const info = panel.info;
    const call = window.safecallCall;
    const later = new Promise((done) => setTimeout(done, 2000));
    Promise.race([(call && call.settled) || Promise.resolve(), later]).then(() => {
      if (panel.info === info) load(panel.caseId);
    });
  });

  // console.js tells us when it saved a status.
  document.addEventListener("safecall:case", (event) => showCase(event.detail));

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

  /** Log this contact on ``target`` ({tracking_code}, {case_id} or {new_case}); the link or null. */
  async function linkTo(target) {
    const session = panel.info && panel.info.session_id;
    if (!session) return null;
    const result = await api("POST", "/api/sessions/" + encodeURIComponent(session) + "/link", target);
    if (result.status !== 200) {
      say("case-switch-said", refusal(result, "The contact could not be linked."));
      return null;
    }
    await load(result.data.case_id);
    return result.data;
  }

  $("case-link-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = $("case-link-code").value.replace(/\s/g, "");
    if (!/^\d{12}$/.test(code)) {
      say("case-switch-said", "A tracking code has 12 digits.");
      return;
    }
    if (await linkTo({ tracking_code: code })) {
      $("case-link-code").value = "";
      say("case-switch-said", "This contact is now logged on case " + codeText(code) + ".");
    }
  });

  $("case-new").addEventListener("click", async () => {
    const info = panel.info;
    if (!info) return;
    $("case-new").disabled = true;
    // One request: the case is opened and the contact moved to it together, or neither.
    const linked = await linkTo({ new_case: true });
    $("case-new").disabled = false;
    if (linked) {
      say("case-switch-said", "New case opened. Give her its tracking code: " +
          codeText(linked.tracking_code) + ".");
    }
  });
})();
