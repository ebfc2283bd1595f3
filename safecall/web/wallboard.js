// The supervisors' wallboard: reads the pushed feed (/api/wallboard/events) and shows it.
// Plain browser JavaScript, no build step; server text goes in with textContent only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const STATES = { available: "Available", offered: "Ringing", busy: "In a contact",
                   wrap_up: "Wrap-up", break: "On a break", offline: "Offline" };
  const ORDER = ["available", "offered", "busy", "wrap_up", "break", "offline"];
  /** What the page shows now; tests read it. */
  const board = { lines: [], received: 0, alarms: null, officers: [], source: null };
  window.safecallWallboard = board;

  function words(value) { return value ? String(value).replace(/_/g, " ") : "—"; }

  function duration(seconds) {
    if (seconds == null) return "—";
    const s = Math.max(0, Math.round(seconds));
    if (s >= 3600) return Math.floor(s / 3600) + "h " + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function percent(share) { return share == null ? "—" : Math.round(share * 100) + "%"; }

  function live(on, text) {
    $("live-dot").classList.toggle("on", on);
    $("live-dot").classList.toggle("off", !on);
    $("live-text").textContent = text;
  }

  function message(text) {
    $("board-message").textContent = text;
    $("board-message").hidden = !text;
  }

  // ---- service lines -----------------------------------------------------

  function lineCard(name) {
    let card = document.querySelector("[data-line='" + CSS.escape(name) + "']");
    if (!card) {
      card = $("line-card").content.firstElementChild.cloneNode(true);
      card.dataset.line = name;
      card.dataset.testid = "line-" + name;
      const title = words(name) + " line";
      card.querySelector(".line-name").textContent = title.charAt(0).toUpperCase() + title.slice(1);
      $("lines").appendChild(card);
    }
    return card;
  }

  function field(card, name, text) { card.querySelector("[data-field='" + name + "']").textContent = text; }

  function showLines() {
    const elapsed = board.received ? (Date.now() - board.received) / 1000 : 0;
    for (const line of board.lines) {
      const card = lineCard(line.line);
      card.classList.toggle("alarm", line.alarm);
      card.querySelector(".line-rule").textContent = line.female_only ? "female officers only" : "";
      field(card, "waiting", String(line.waiting));
      field(card, "longest_wait", line.waiting ? duration(line.longest_wait + elapsed) : "—");
      field(card, "estimated_wait", line.waiting || line.staffed ? duration(line.estimated_wait) : "—");
      field(card, "service_level", percent(line.service_level));
      field(card, "abandonment_rate", percent(line.abandonment_rate));
      field(card, "average_wait", duration(line.average_wait));
      card.querySelector("[data-field='service_level']").previousElementSibling.textContent =
        "Answered within " + board.levelSeconds + " s";
      field(card, "outcomes", "Last " + Math.round(board.windowSeconds / 60) + " min: " + line.answered + " answered · " + line.abandoned +
            " abandoned · " + line.missed + " missed");
      const present = ORDER.filter((s) => s !== "offline" && line.officers[s])
        .map((s) => line.officers[s] + " " + STATES[s].toLowerCase());
      field(card, "officers", line.staffed + " on duty" + (present.length ? ": " + present.join(", ") : ""));
    }
  }

  // ---- alarms ------------------------------------------------------------

  function showAlarms() {
    const list = $("alarm-list");
    list.replaceChildren();
    const data = board.alarms || { alarms: [], alerts: [] };
    for (const alarm of data.alarms) {
      const item = document.createElement("li");
      item.dataset.testid = "alarm";
      item.textContent = alarm.message;
      list.appendChild(item);
    }
    for (const alert of data.alerts) {
      const item = document.createElement("li");
      item.className = "alert";
      item.dataset.testid = "alert";
      const at = new Date(alert.at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      item.textContent = at + " — " + alert.message;
      list.appendChild(item);
    }
    $("no-alarms").hidden = data.alarms.length + data.alerts.length > 0;
  }

  // ---- officers ----------------------------------------------------------

  function showOfficers() {
    const rows = $("officer-rows");
    rows.replaceChildren();
    const counts = {};
    for (const officer of board.officers) {
      counts[officer.state] = (counts[officer.state] || 0) + 1;
      const row = document.createElement("tr");
      row.dataset.testid = "officer-row";
      row.dataset.officer = String(officer.id);
      const who = document.createElement("td");
      who.textContent = officer.name;
      if (officer.badge) {
        const badge = document.createElement("span");
        badge.className = "badge-no";
        badge.textContent = officer.badge;
        who.appendChild(badge);
      }
      const state = document.createElement("td");
      const pill = document.createElement("span");
      pill.className = "state " + officer.state;
      pill.dataset.testid = "officer-state";
      pill.textContent = STATES[officer.state] || words(officer.state);
      state.appendChild(pill);
      const lines = document.createElement("td");
      lines.className = "wide";
      lines.textContent = officer.lines.map(words).join(", ") + (officer.gender === "female" ? "" : " (male)");
      const load = document.createElement("td");
      load.className = "wide";
      load.textContent = officer.load + " / " + officer.capacity;
      row.append(who, state, lines, load);
      rows.appendChild(row);
    }
    $("officers").hidden = board.officers.length === 0;
    $("no-officers").hidden = board.officers.length > 0;
    $("officer-counts").textContent = ORDER.filter((s) => counts[s])
      .map((s) => counts[s] + " " + STATES[s].toLowerCase()).join(" · ");
  }

  // ---- the feed ----------------------------------------------------------

  function read(handler) {
    return (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (err) { return; }
      handler(data);
    };
  }

  function connect() {
    const source = new EventSource("/api/wallboard/events");
    board.source = source;
    source.onopen = () => { live(true, "Live"); message(""); };
    source.addEventListener("lines", read((data) => {
      board.lines = data.lines;
      board.levelSeconds = data.service_level_seconds;
      board.windowSeconds = data.window_seconds;
      board.received = Date.now();
      showLines();
    }));
    source.addEventListener("alarms", read((data) => { board.alarms = data; showAlarms(); }));
    source.addEventListener("officers", read((data) => { board.officers = data.officers; showOfficers(); }));
    source.addEventListener("logout", read((data) => {
      source.close();
      live(false, "Logged out");
      message(data.message + " Open the console to log in.");
    }));
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (not logged in, or not a supervisor): EventSource does not retry.
        live(false, "Not connected");
        message("The wallboard is for supervisors: log in on the console, then come back.");
      } else {
        live(false, "Reconnecting…");  // EventSource retries by itself
      }
    };
  }

  setInterval(showLines, 1000);  // the longest wait grows between pushes
  connect();
})();
