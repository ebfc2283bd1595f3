// The field page: referrals for a station's (or institution's) accounts and their units.
// It asks the server every few seconds (GET /api/field/referrals): a phone on a weak
// network keeps no socket open, and a missed answer is simply asked again.
"use strict";

(function () {
  const POLL_MS = 4000;
  const $ = (id) => document.getElementById(id);
  const state = { me: null, open: null, known: new Set(), first: true, photos: [], timer: null };
  const WORDS = {
    sent: "New", acknowledged: "Acknowledged", dispatched: "Unit sent", en_route: "En route",
    on_scene: "On scene", resolved: "Resolved", unable_to_locate: "Unable to locate",
    withdrawn: "Withdrawn by the centre",
  };
  const URGENCY = { emergency: "Emergency", today: "Today", routine: "Routine" };

  async function api(method, path, body, type) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      if (type) {
        options.headers["Content-Type"] = type;
        options.body = body;
      } else {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
    }
    const response = await fetch(path, options);
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || "Something went wrong.");
      error.status = response.status;
      error.code = data && data.error && data.error.code;
      throw error;
    }
    return data;
  }

  function show(id, text) {
    const el = $(id);
    el.textContent = text || "";
    el.hidden = !text;
  }

  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 90) return "just now";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  // --- logging in --------------------------------------------------------------------

  async function start() {
    try {
      state.me = await api("GET", "/api/field/me");
    } catch (error) {
      $("field-login").hidden = false;
      $("field-app").hidden = true;
      if (error.status === 403) show("field-login-error", "This page is for station and institution accounts.");
      return;
    }
    $("field-login").hidden = true;
    $("field-app").hidden = false;
    $("field-place").textContent = state.me.place_name;
    $("field-who").textContent = state.me.name + " · " + state.me.badge;
    await refresh();
    state.timer = setInterval(refresh, POLL_MS);
  }

  $("field-login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    show("field-login-error", "");
    const body = { badge: $("field-badge").value, password: $("field-password").value };
    if ($("field-totp").value) body.totp = $("field-totp").value.replace(/\s/g, "");
    try {
      await api("POST", "/api/login", body);
      $("field-password").value = "";
      await start();
    } catch (error) {
      if (error.code === "totp_required") $("field-totp-row").hidden = false;
      show("field-login-error", error.message);
    }
  });

  $("field-logout").addEventListener("click", async () => {
    clearInterval(state.timer);
    await api("POST", "/api/logout").catch(() => null);
    location.replace("/field");
  });

  // --- the list ------------------------------------------------------------------------

  async function refresh() {
    let listed;
    try {
      listed = (await api("GET", "/api/field/referrals")).referrals;
      show("field-error", "");
    } catch (error) {
      if (error.status === 401) return location.replace("/field");
      show("field-error", "Cannot reach the server; trying again.");
      return;
    }
    const fresh = listed.filter((r) => r.status === "sent" && !state.known.has(r.id));
    listed.forEach((r) => state.known.add(r.id));
    if (fresh.length && !state.first) ring(fresh[0]);
    if (state.first && listed.some((r) => r.status === "sent")) ring(listed.find((r) => r.status === "sent"));
    state.first = false;
    if (!listed.some((r) => r.status === "sent")) show("field-ring", "");
    drawList(listed);
    if (state.open) await openReferral(state.open, true);
  }

  function ring(referral) {
    show("field-ring", (URGENCY[referral.urgency] || "") + " referral: " + referral.place_name +
      (referral.escalated_at ? " (not acknowledged in time)" : "") + ". Open it to acknowledge.");
    if (navigator.vibrate) navigator.vibrate([400, 200, 400]);
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.6);
    } catch (_) { /* no sound allowed yet: the banner stays */ }
  }

  function drawList(listed) {
    $("field-empty").hidden = listed.length > 0;
    const items = listed.map((r) => {
      const li = document.createElement("li");
      li.className = "card " + r.urgency + (r.escalated_at ? " escalated" : "") +
        (r.closed_at ? " closed" : "");
      li.dataset.referralId = r.id;
      li.setAttribute("data-testid", "referral-card");
      li.tabIndex = 0;
      const top = document.createElement("div");
      top.className = "top";
      top.append(pill(URGENCY[r.urgency], r.urgency), pill(WORDS[r.status] || r.status, "status"));
      if (r.escalated_at) top.append(pill("Overdue", "emergency"));
      const what = document.createElement("div");
      what.textContent = r.place_name + " · case " + r.tracking_code;
      const when = document.createElement("div");
      when.className = "muted";
      when.textContent = "Sent " + ago(r.created_at) + (r.unit ? " · " + r.unit : "");
      li.append(top, what, when);
      li.addEventListener("click", () => openReferral(r.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") openReferral(r.id); });
      return li;
    });
    $("field-list").replaceChildren(...items);
  }

  function pill(text, kind) {
    const span = document.createElement("span");
    span.className = "pill " + kind;
    span.textContent = text;
    return span;
  }

  // --- one referral ----------------------------------------------------------------------

  async function openReferral(id, quietly) {
    let r;
    try {
      r = await api("GET", "/api/field/referrals/" + encodeURIComponent(id));
    } catch (error) {
      show("field-error", error.message);
      return;
    }
    if (!quietly) state.photos = [];
    state.open = id;
    $("field-list-view").hidden = true;
    $("referral-view").hidden = false;
    $("referral-urgency").textContent = URGENCY[r.urgency];
    $("referral-urgency").className = "pill " + r.urgency;
    $("referral-status").textContent = WORDS[r.status] || r.status;
    $("referral-code").textContent = "Case " + r.tracking_code + (r.unit ? " · " + r.unit : "");
    show("referral-escalated", r.escalated_at && r.status === "sent"
      ? "Not acknowledged in time: the supervisors have been told." : "");
    if (!quietly || $("referral-reason").textContent !== r.reason) $("referral-reason").textContent = r.reason;
    drawShared(r.shared);
    drawActions(r.next);
    drawWhere(r);
    $("referral-updates").replaceChildren(...r.updates.map((u) => {
      const li = document.createElement("li");
      li.textContent = (WORDS[u.status] || u.status) + ", " + new Date(u.at).toLocaleTimeString() +
        (u.note ? ": " + u.note : "") + (u.attachments.length ? " (" + u.attachments.length + " photo)" : "");
      return li;
    }));
  }

  function drawShared(shared) {
    const dl = $("referral-shared");
    dl.hidden = !shared;
    if (!shared) return;
    const rows = [];
    if (shared.name) rows.push(["Name", shared.name]);
    if (shared.phone) rows.push(["Phone", shared.phone]);
    dl.replaceChildren(...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      return [dt, dd];
    }));
  }

  function drawActions(next) {
    $("ack").hidden = !next.includes("acknowledged");
    $("dispatch-form").hidden = !next.includes("dispatched");
    const steps = ["en_route", "on_scene", "resolved", "unable_to_locate"];
    const any = steps.some((s) => next.includes(s));
    $("step-form").hidden = !any;
    document.querySelectorAll("[data-step]").forEach((b) => { b.hidden = !next.includes(b.dataset.step); });
  }

  function drawWhere(r) {
    const map = $("field-map");
    if (!r.location) {
      map.hidden = true;
      $("location-text").textContent = r.closed_at ? "Closed: her location is no longer shown."
        : "No location was shared.";
      return;
    }
    const l = r.location;
    $("location-text").textContent = (r.live_location ? "Live location" : "Location") +
      ": " + l.latitude.toFixed(5) + ", " + l.longitude.toFixed(5) +
      (l.accuracy ? " (±" + Math.round(l.accuracy) + " m)" : "") +
      (l.at ? ", " + ago(l.at) : "");
    map.hidden = false;
    const key = [l.latitude, l.longitude, l.accuracy].join(",");
    if (map.dataset.drawn !== key) {
      map.dataset.drawn = key;
      window.TileMap.draw(map, state.me.map_tiles, l, 16);
    }
  }

  $("referral-back").addEventListener("click", () => {
    state.open = null;
    $("referral-view").hidden = true;
    $("field-list-view").hidden = false;
    $("field-map").dataset.drawn = "";
    refresh();
  });

  async function act(path, body) {
    show("field-error", "");
    try {
      await api("POST", "/api/field/referrals/" + encodeURIComponent(state.open) + path, body);
      await openReferral(state.open, true);
      await refresh();
    } catch (error) {
      show("field-error", error.message);
    }
  }

  $("ack").addEventListener("click", () => act("/acknowledge"));
  $("dispatch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("/dispatch", { unit: $("dispatch-unit").value });
  });
  document.querySelectorAll("[data-step]").forEach((button) => {
    button.addEventListener("click", async () => {
      const note = $("step-note").value.trim();
      await act("/status", { status: button.dataset.step, note: note || null, photos: state.photos });
      $("step-note").value = "";
      state.photos = [];
      show("photo-said", "");
    });
  });
  $("photo-input").addEventListener("change", async () => {
    const file = $("photo-input").files[0];
    if (!file) return;
    try {
      const added = await api("POST", "/api/field/referrals/" + encodeURIComponent(state.open) +
        "/photos", file, file.type || "image/jpeg");
      state.photos.push(added.id);
      show("photo-said", state.photos.length + " photo ready: it goes with the next step.");
    } catch (error) {
      show("field-error", error.message);
    }
    $("photo-input").value = "";
  });

  start();
})();
