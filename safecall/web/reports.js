// Reports on screen for supervisors and admins: the figures of GET /api/reports/summary
// over a period, as headline numbers and tables with bars, and the same as CSV.

import { api, query, refusal } from "./api.js";
import { show, words, el } from "./console-dom.js";
import { headline, lastDays, tables } from "./reports-model.js";
import { format, parse } from "./replies-text.js";

const $ = (id) => document.getElementById(id);
const page = { summary: null, districts: new Map() };
window.safecallReports = page;

function params() {
  return { from: $("reports-from").value, to: $("reports-to").value, service_line: $("reports-line").value };
}

function label(dimension, value) {
  if (dimension === "district") return page.districts.get(value) || words(value);
  if (value === "uncategorised") return "Not categorised";
  if (value === "open") return "Still open";
  return words(value);
}

async function run() {
  const asked = params();
  $("reports-csv").href = "/api/reports/summary.csv" + query(asked);
  show($("reports-message"), "Counting…");
  const result = await api("GET", "/api/reports/summary" + query(asked));
  if (result.status === 401) {
    show($("reports-message"), "Log in on the console first (as a supervisor or an admin).");
    $("reports-body").hidden = true;
    return;
  }
  if (result.status !== 200) {
    show($("reports-message"), refusal(result, "The report could not be made; try again."));
    $("reports-body").hidden = true;
    return;
  }
  page.summary = result.data;
  show($("reports-message"), "");
  draw(result.data);
}

function draw(summary) {
  $("reports-period").textContent = "(" + summary.from + " to " + summary.to + ", " +
    summary.service_lines.map(words).join(" and ") + ")";
  $("reports-headline").replaceChildren(...headline(summary).map((figure) => {
    const box = el("div", null, { class: "figure", testid: "report-figure", "data-key": figure.key });
    box.append(el("span", String(figure.value), { class: "figure-value" }), el("span", figure.label, { class: "figure-label" }));
    return box;
  }));
  $("reports-tables").replaceChildren(...tables(summary).map((table) => {
    const section = el("section", null, { class: "panel report-table", testid: "report-table",
                                          "data-dimension": table.dimension });
    const id = "report-" + table.dimension;
    section.append(el("h3", table.title, { id }));
    const grid = el("table", null, { "aria-labelledby": id });
    const head = el("tr");
    head.append(el("th", "What", { scope: "col" }), el("th", "Count", { scope: "col" }), el("th", "Share", { scope: "col" }));
    grid.append(el("thead"));
    grid.firstChild.append(head);
    const body = el("tbody");
    for (const row of table.rows) {
      const tr = el("tr", null, { testid: "report-row", "data-value": row.value, "data-count": String(row.count) });
      const bar = el("td", null, { class: "bar-cell" });
      const fill = el("span", null, { class: "bar", "aria-hidden": "true" });
      fill.style.width = Math.round(row.share * 100) + "%";
      bar.append(fill, el("span", Math.round(row.share * 100) + "%", { class: "bar-text" }));
      tr.append(el("td", label(table.dimension, row.value)), el("td", String(row.count), { class: "num" }), bar);
      body.append(tr);
    }
    if (!table.rows.length) {
      const empty = el("tr");
      empty.append(el("td", "Nothing in this period.", { colspan: "3", class: "muted" }));
      body.append(empty);
    }
    grid.append(body);
    section.append(grid);
    return section;
  }));
  const wait = summary.sessions.average_wait_seconds;
  $("reports-tables").append(el("p", "Contacts: " + summary.sessions.total + "; average wait " +
    (wait === null ? "not known" : Math.round(wait) + " s") + ".", { class: "muted", testid: "reports-wait" }));
  $("reports-body").hidden = false;
}

$("reports-form").addEventListener("submit", (event) => { event.preventDefault(); run(); });

async function loadReplies() {
  const result = await api("GET", "/api/ready-replies");
  if (result.status === 200) $("replies-text").value = format(result.data.replies);
}

$("replies-save").addEventListener("click", async () => {
  const parsed = parse($("replies-text").value);
  if (parsed.error) {
    $("replies-said").textContent = parsed.error;
    return;
  }
  const result = await api("PUT", "/api/ready-replies", { replies: parsed.replies });
  if (result.status !== 200) {
    $("replies-said").textContent = refusal(result, "The replies could not be saved.");
    return;
  }
  $("replies-text").value = format(result.data.replies);
  $("replies-said").textContent = result.data.defaults ? "Saved: the shipped replies are back."
    : "Saved: " + result.data.replies.length + " replies.";
});

(async function start() {
  const period = lastDays(new Date(), 30);
  $("reports-from").value = period.from;
  $("reports-to").value = period.to;
  const districts = await api("GET", "/api/districts");
  if (districts.status === 200) for (const d of districts.data.districts) page.districts.set(d.code, d.names.en);
  run();
  loadReplies();
})();
