// The console's Children view: a missing child reported on the contact on screen (the case
// goes to the child line; the national agency must be told within two hours; the FIR is
// prompted), the alerts addressed to her (acknowledged one by one), the possible matches
// for the reports she filed with their reasons (confirm or reject), the handover checklist
// that closes both reports and the case, and the reports list. What changes arrives on the
// console's live feed (`children`); server text goes in with textContent only.

import { api, query, refusal } from "./api.js";
import { $, el, hear, show, when, words } from "./console-dom.js";
import { held, view } from "./console-state.js";

const state = { handover: null, part: { alerts: [], candidates: [] }, districts: false };
window.safecallChildren = state;

const list = (value) => value.split(",").map((s) => s.trim()).filter(Boolean);
const percent = (score) => Math.round(score * 100) + "%";

/** Once after login: the districts to choose from, then what there is now. */
export async function prepare() {
  if (!state.districts) {
    const result = await api("GET", "/api/districts");
    if (result.status === 200) {
      state.districts = true;
      const named = result.data.districts.map((d) => [d.code, d.names.en || d.code]);
      named.sort((a, b) => a[1].localeCompare(b[1]));
      for (const [code, name] of named) {
        $("children-missing-district").append(el("option", name, { value: code }));
        $("children-filter-district").append(el("option", name, { value: code }));
      }
    }
  }
  await Promise.all([alerts(), search()]);
}

// --- alerts ------------------------------------------------------------------------------

async function alerts() {
  const result = await api("GET", "/api/children/alerts");
  if (result.status !== 200) return;
  const items = result.data.alerts.map((alert) => {
    const item = el("li", null, { testid: "children-alert-item", "data-alert": alert.id });
    const why = alert.reason === "abduction" ? "Abduction suspected" : "Young child missing";
    item.append(el("strong", why + ": "), document.createTextNode(alert.description));
    const ack = el("button", "Acknowledge", { class: "button secondary", type: "button", testid: "children-alert-ack" });
    ack.addEventListener("click", async () => {
      ack.disabled = true;
      const done = await api("POST", "/api/children/alerts/" + alert.id + "/acknowledge");
      if (done.status === 200 || done.status === 409) item.remove();
      else { ack.disabled = false; item.append(el("span", " " + refusal(done, "Not acknowledged; try again."))); }
    });
    if (alert.photos && alert.photos.length) {
      const photo = el("img", null, { class: "child-photo", alt: "Photo of the missing child", testid: "children-alert-photo" });
      photo.src = "/api/children/reports/" + encodeURIComponent(alert.report_id) + "/photos/" + encodeURIComponent(alert.photos[0]);
      item.append(photo);
    }
    item.append(" ", ack);
    return item;
  });
  $("children-alerts").replaceChildren(...items);
  if (!items.length) $("children-alerts").append(el("li", "No alert waiting.", { class: "muted" }));
}

// --- candidates ----------------------------------------------------------------------------

function candidates(listed) {
  const items = listed.map((c) => {
    const item = el("li", null, { testid: "children-candidate-item", "data-match": c.id });
    item.append(el("strong", "Possible match, " + percent(c.score)), document.createTextNode(
      " — missing report " + c.missing_id.slice(0, 8) + " and found report " + c.found_id.slice(0, 8)));
    const reasons = el("ul", null, { class: "reasons", testid: "children-candidate-reasons" });
    for (const reason of c.reasons) reasons.append(el("li", reason));
    item.append(reasons);
    const confirm = el("button", "Same child: confirm", { class: "button", type: "button", testid: "children-candidate-confirm" });
    const reject = el("button", "Not the same child", { class: "button quiet", type: "button", testid: "children-candidate-reject" });
    confirm.addEventListener("click", () => decide(c, true));
    reject.addEventListener("click", () => decide(c, false));
    item.append(confirm, " ", reject);
    return item;
  });
  $("children-candidates").replaceChildren(...items);
  if (!items.length) $("children-candidates").append(el("li", "No possible match waiting.", { class: "muted" }));
}

async function decide(candidate, same) {
  const result = await api("POST", "/api/children/matches/" + candidate.id + (same ? "/confirm" : "/reject"));
  if (result.status !== 200) {
    show($("children-candidates-said"), refusal(result, "The decision was not saved; try again."));
    return;
  }
  show($("children-candidates-said"), same
    ? "Confirmed: the same child. Record the handover below."
    : "Rejected: not the same child.");
  state.part.candidates = state.part.candidates.filter((c) => c.id !== candidate.id);
  candidates(state.part.candidates);
  if (same) openHandover(candidate);
}

// --- the handover ----------------------------------------------------------------------------

function openHandover(candidate) {
  state.handover = candidate.id;
  const form = $("children-handover");
  form.reset();
  show($("children-handover-said"), "");
  form.hidden = false;
  form.scrollIntoView({ block: "nearest" });
}

$("children-handover").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!state.handover) return;
  const outcome = $("children-outcome").value;
  const body = {
    checklist: {
      guardian_id_seen: $("children-check-guardian-id").checked,
      relation_confirmed: $("children-check-relation").checked,
      child_recognises: $("children-check-recognises").checked,
      child_protection_officer_present: $("children-check-cpo").checked,
      no_safeguarding_concern: $("children-check-safe").checked,
    },
    outcome,
    place: $("children-handover-place").value,
    officers: list($("children-handover-officers").value),
  };
  if (outcome === "reunited") body.guardian_name = $("children-handover-guardian").value;
  else body.care_place = $("children-handover-care").value.trim();
  const result = await api("POST", "/api/children/matches/" + state.handover + "/handover", body);
  if (result.status !== 200) {
    show($("children-handover-said"), refusal(result, "The handover was not recorded; try again."));
    return;
  }
  state.handover = null;
  $("children-handover").hidden = true;
  show($("children-candidates-said"), "Handed over: " + words(result.data.outcome).toLowerCase() +
    ". Both reports and the case are closed.");
  search();
});

// --- the missing report ----------------------------------------------------------------------

function onScreen() {
  const contact = view.selected && held.get(view.selected);
  return contact && !contact.ended ? contact : null;
}

$("children-missing-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = (id) => $(id).value.trim();
  const number = (id) => (value(id) === "" ? null : Number(value(id)));
  const seen = value("children-missing-seen-at");
  const body = {
    child: {
      names: [value("children-missing-name-ur"), value("children-missing-name-latin")].filter(Boolean),
      parent_names: list(value("children-missing-parents")),
      age: number("children-missing-age"),
      gender: value("children-missing-gender") || null,
      height_cm: number("children-missing-height"),
      clothing: value("children-missing-clothing") || null,
      marks: value("children-missing-marks") || null,
      languages: list(value("children-missing-languages")),
    },
    last_seen: {
      at: seen ? new Date(seen).toISOString() : new Date().toISOString(),
      district: value("children-missing-district") || null,
      area: value("children-missing-area") || null,
      with_whom: value("children-missing-with-whom") || null,
    },
    runaway: $("children-missing-runaway").checked,
    abuse_suspected: $("children-missing-abuse").checked,
    abduction_suspected: $("children-missing-abduction").checked,
  };
  if (value("children-missing-guardian-name")) {
    body.guardian = {
      name: value("children-missing-guardian-name"),
      relation: value("children-missing-guardian-relation"),
      phone: value("children-missing-guardian-phone") || null,
    };
  }
  const contact = onScreen();
  if (contact) body.session_id = contact.id;
  else if (window.safecallCase && window.safecallCase.caseId) body.case_id = window.safecallCase.caseId;
  const result = await api("POST", "/api/children/missing", body);
  if (result.status !== 201) {
    show($("children-missing-said"), refusal(result, "The report was not filed; try again."));
    return;
  }
  const report = result.data;
  const photo = $("children-missing-photo").files[0];
  let kept = "";
  if (photo) {
    const sent = await fetch("/api/children/reports/" + encodeURIComponent(report.id) + "/photos", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": photo.type || "image/jpeg" }, body: photo,
    }).catch(() => null);
    kept = sent && sent.status === 201 ? " The photo is kept." : " The photo was not kept; add it again.";
  }
  const due = report.national ? when(report.national.due_at) : "—";
  const fir = report.fir && report.fir.prompt ? " " + report.fir.prompt : "";
  show($("children-missing-said"), "Filed. Tell the national agency by " + due + "." + fir +
    (report.alert ? " An alert went to the district and its neighbours." : "") + kept);
  $("children-missing-said").dataset.report = report.id;
  $("children-missing-form").reset();
  search();
});

// --- the reports list ------------------------------------------------------------------------

async function search() {
  const params = {
    kind: $("children-filter-kind").value,
    status: $("children-filter-status").value,
    district: $("children-filter-district").value,
    age: $("children-filter-age").value,
  };
  const result = await api("GET", "/api/children/reports" + query(params));
  if (result.status !== 200) {
    show($("children-message"), refusal(result, "The reports could not be loaded; try Refresh."));
    return;
  }
  show($("children-message"), result.data.reports.length ? "" : "No report matches.");
  $("children-reports").replaceChildren(...result.data.reports.map((r) => {
    const age = r.age_min === r.age_max ? r.age_min : (r.age_min ?? "?") + "–" + (r.age_max ?? "?");
    const item = el("li", null, { testid: "children-report-item", "data-report": r.id, "data-status": r.status });
    item.append(el("strong", words(r.kind) + " "), document.createTextNode(
      [words(r.gender), age === null ? null : "age " + age, r.district, "seen " + when(r.seen_at), words(r.status)]
        .filter(Boolean).join(" · ")));
    if (r.national && r.national.overdue) item.append(el("span", " National report overdue", { class: "pill warn", testid: "children-national-overdue" }));
    return item;
  }));
}

$("children-search").addEventListener("submit", (event) => { event.preventDefault(); search(); });
$("children-refresh").addEventListener("click", () => { alerts(); search(); });

// The live feed's `children` part: alerts waiting for her and candidates on her reports.
hear("children", (part) => {
  state.part = part;
  candidates(part.candidates || []);
  const shown = new Set([...$("children-alerts").children].map((li) => Number(li.dataset.alert)));
  const waiting = (part.alerts || []).map((a) => a.id);
  if (waiting.some((id) => !shown.has(id)) || shown.size !== waiting.length) alerts();
});
