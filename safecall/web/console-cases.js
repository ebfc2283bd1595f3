// The case list: search by code, filter by status, category, district, officer and dates,
// page on; open a case with its timeline, notes, contacts and recordings (played from the
// recordings API); supervisors reassign it.

import { api, query, refusal } from "./api.js";
import { $, el, show, when, words } from "./console-dom.js";
import { session } from "./console-state.js";
import { display, normalise } from "./tracking-code.js";

const list = { cursor: null, filters: {}, districts: new Map(), officers: null };
window.safecallCases = list;

let loginEnded = () => {};
export function onLoginEnded(handler) { loginEnded = handler; }

/** Once after login: the words to choose from (statuses and categories as the case panel
 * has them, districts from the server). */
export async function prepare() {
  const statuses = $("cases-status");
  if (statuses.options.length <= 2) {
    for (const option of $("case-status").options) statuses.append(option.cloneNode(true));
  }
  const categories = $("cases-category");
  if (!categories.options.length) {
    categories.append(el("option", "Any", { value: "" }));
    for (const option of $("case-category").options) {
      if (option.value) categories.append(el("option", option.textContent, { value: option.value }));
    }
  }
  if (!list.districts.size) {
    const result = await api("GET", "/api/districts");
    if (result.status === 200) {
      const named = result.data.districts.map((d) => [d.code, d.names.en || d.code]);
      named.sort((a, b) => a[1].localeCompare(b[1]));
      for (const [code, name] of named) {
        list.districts.set(code, name);
        $("cases-district").append(el("option", name, { value: code }));
      }
    }
  }
  await search();
}

function filters() {
  const f = {};
  const typed = $("cases-code").value.trim();
  if (typed) f.tracking_code = normalise(typed) || typed;
  for (const [id, name] of [["cases-status", "status"], ["cases-category", "category"], ["cases-district", "district"]]) {
    if ($(id).value) f[name] = $(id).value;
  }
  if ($("cases-officer").value === "mine") f.mine = "true";
  if ($("cases-from").value) f.created_from = $("cases-from").value + "T00:00:00Z";
  if ($("cases-to").value) {
    const next = new Date($("cases-to").value + "T00:00:00Z");
    next.setUTCDate(next.getUTCDate() + 1);
    f.created_to = next.toISOString();
  }
  return f;
}

/** A new search (`more`: the next page of the same one). */
export async function search(more = false) {
  if (!more) {
    list.filters = filters();
    list.cursor = null;
  }
  show($("cases-message"), "Loading cases…");
  const result = await api("GET", "/api/cases" + query({ ...list.filters, cursor: more ? list.cursor : null, limit: 25 }));
  if (result.status === 401) return loginEnded();
  if (result.status !== 200) {
    $("cases-table").hidden = !more;
    show($("cases-message"), refusal(result, "The cases could not be loaded; try Refresh."));
    return;
  }
  const cases = result.data.cases || [];
  list.cursor = result.data.next_cursor;
  if (!more) $("cases-body").replaceChildren();
  for (const item of cases) $("cases-body").append(row(item));
  const shown = $("cases-body").children.length;
  $("cases-table").hidden = shown === 0;
  $("cases-more").hidden = !list.cursor;
  show($("cases-message"), shown ? "" : "No cases match.");
}

function row(item) {
  const tr = el("tr", null, { testid: "case-row", "data-case": String(item.id) });
  const open = el("button", display(item.tracking_code), { type: "button", class: "link code",
                                                            testid: "case-open" });
  open.addEventListener("click", () => openCase(item.id));
  const first = el("td");
  first.append(open);
  tr.append(first, el("td", words(item.status)), el("td", words(item.category), { class: "wide" }),
            el("td", words(item.service_line), { class: "wide" }),
            el("td", item.district ? list.districts.get(item.district) || item.district : "—", { class: "wide" }),
            el("td", when(item.updated_at || item.created_at)));
  return tr;
}

$("cases-search").addEventListener("submit", (event) => { event.preventDefault(); search(); });
$("cases-refresh").addEventListener("click", () => search());
$("cases-more").addEventListener("click", () => search(true));

// ---- one case ----------------------------------------------------------------------

const opened = { id: null, data: null };

export async function openCase(caseId) {
  const result = await api("GET", "/api/cases/" + encodeURIComponent(caseId));
  if (result.status === 401) return loginEnded();
  if (result.status !== 200) {
    show($("cases-message"), refusal(result, "The case could not be opened."));
    return;
  }
  opened.id = caseId;
  opened.data = result.data;
  const c = result.data;
  $("case-view-code").textContent = display(c.tracking_code);
  $("case-view-status").textContent = words(c.status);
  const facts = $("case-view-facts");
  facts.replaceChildren();
  const fact = (name, value) => facts.append(el("dt", name), el("dd", value));
  fact("Line", words(c.service_line));
  fact("Category", words(c.category));
  fact("District", c.district ? list.districts.get(c.district) || c.district : "—");
  if (c.fir_number) fact("FIR", c.fir_number + (c.police_station ? ", " + c.police_station : ""));
  fact("Opened", when(c.created_at));
  fact("Anonymous", c.anonymous ? "yes" : "no");
  if (c.complainant && c.complainant.name) fact("Name", c.complainant.name);
  fact("Assigned officer", c.assigned_officer_id ? "#" + c.assigned_officer_id : "nobody yet");

  $("case-timeline").replaceChildren(...c.timeline.map((e) => {
    const item = el("li", null, { testid: "case-timeline-item", "data-kind": e.kind });
    item.append(el("span", when(e.at), { class: "muted" }), document.createTextNode(" " + eventWords(e)));
    return item;
  }));
  $("case-view-notes").replaceChildren(...c.notes.map((n) => {
    const item = el("li", null, { testid: "case-view-note" });
    item.append(el("span", when(n.created_at) + " ", { class: "muted" }), document.createTextNode(n.text));
    return item;
  }));
  if (!c.notes.length) $("case-view-notes").append(el("li", "No notes.", { class: "muted" }));
  $("case-sessions").replaceChildren(...c.sessions.map((s) => el("li",
    when(s.arrived_at) + " · " + words(s.channel) + " · " + (s.disposition ? words(s.disposition) : "going on") +
    (s.talk_seconds ? " · " + Math.round(s.talk_seconds) + " s" : ""), { testid: "case-session" })));
  await recordings(caseId);
  await assignable(c);
  $("recording-player").hidden = true;
  $("cases-panel").hidden = true;
  $("case-view").hidden = false;
  $("case-view-close").focus();
}

const EVENTS = {
  "contact.arrived": "She got in touch", "contact.answered": "Answered by an officer",
  "contact.ended": "The contact ended", "case.status": "Status changed", "case.note": "Note added",
  "chat.message": "Chat message", "case.category": "Category set", "case.assigned": "Officer assigned",
};

function eventWords(e) {
  const base = EVENTS[e.kind] || words(e.kind.replace(/[.]/g, " "));
  if (e.kind === "case.status" && e.data && e.data.to) return base + ": " + words(e.data.from) + " → " + words(e.data.to);
  return base;
}

async function recordings(caseId) {
  const box = $("case-recordings");
  box.replaceChildren();
  const result = await api("GET", "/api/cases/" + encodeURIComponent(caseId) + "/recordings");
  const found = result.status === 200 ? result.data.recordings : [];
  if (!found.length) {
    box.append(el("li", result.status === 200 ? "No recordings." : refusal(result, "Recordings could not be listed."), { class: "muted" }));
    return;
  }
  for (const r of found) {
    const item = el("li", null, { testid: "case-recording" });
    const play = el("button", "Play", { type: "button", class: "button quiet small", testid: "recording-play" });
    play.addEventListener("click", () => {
      const player = $("recording-player");
      player.src = "/api/recordings/" + encodeURIComponent(r.id) + "/media";
      player.hidden = false;
      player.play().catch(() => {});
    });
    item.append(document.createTextNode(when(r.started_at) + " · " + words(r.kind) + " · " + words(r.state) +
      (r.duration_seconds ? " · " + Math.round(r.duration_seconds) + " s " : " ")), play);
    box.append(item);
  }
}

/** Supervisors and admins reassign a case to an officer of its line. */
async function assignable(c) {
  const form = $("case-assign");
  const manager = session.officer && ["supervisor", "admin"].includes(session.officer.role);
  form.hidden = !manager;
  say("");
  if (!manager) return;
  if (!list.officers) {
    const result = await api("GET", "/api/officers");
    list.officers = result.status === 200 ? result.data.officers.filter((o) => !o.disabled) : [];
  }
  const select = $("case-assign-officer");
  select.replaceChildren(el("option", "Nobody", { value: "" }));
  for (const o of list.officers) {
    if (!o.lines.includes(c.service_line)) continue;
    const option = el("option", o.name + " (" + o.badge + ")", { value: String(o.id) });
    if (o.id === c.assigned_officer_id) option.selected = true;
    select.append(option);
  }
}

function say(text) { $("case-assign-said").textContent = text; }

$("case-assign").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!opened.id) return;
  const value = $("case-assign-officer").value;
  const result = await api("PATCH", "/api/cases/" + opened.id, { assigned_officer_id: value ? Number(value) : null });
  if (result.status !== 200) {
    say(refusal(result, "The case could not be reassigned."));
    return;
  }
  const name = $("case-assign-officer").selectedOptions[0].textContent;
  await openCase(opened.id);
  say(value ? "Assigned to " + name + "." : "Nobody is assigned now.");
});

$("case-view-close").addEventListener("click", () => {
  $("recording-player").pause();
  $("case-view").hidden = true;
  $("cases-panel").hidden = false;
  opened.id = null;
});
