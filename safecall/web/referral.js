// The console's referral section: refer the case in hand to a station or an institution,
// follow what the place does with it, record how she may be kept informed, and (on a phone
// call) hand the call over to the 15 control or the station. It lives beside the case panel
// and knows the case by its tracking code (data-testid="case-code"); console.js is untouched.
"use strict";

(function () {
  const REFRESH_MS = 8000;
  const STATUS = {
    sent: "sent, waiting for the place", acknowledged: "acknowledged", dispatched: "unit sent",
    en_route: "unit en route", on_scene: "unit on scene", resolved: "resolved",
    unable_to_locate: "unable to locate her", withdrawn: "withdrawn",
  };
  const HOW = { inside: "her location is inside its area", edge: "her location is on its boundary",
    nearest: "the nearest station to her location" };
  let current = null; // { code, context }
  let timer = null;

  async function api(method, path, body) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error((data && data.error && data.error.message) || "It did not work; try again.");
    return data;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children);
    return node;
  }

  function build() {
    const section = el("section", { id: "referral-panel", class: "case-panel", "data-testid": "referral-panel",
      "aria-labelledby": "referral-title", hidden: true });
    section.innerHTML = `
      <h3 id="referral-title">Refer to a station or institution</h3>
      <p id="referral-suggested" class="case-said muted" data-testid="referral-suggested"></p>
      <form id="referral-form" class="case-form" novalidate>
        <label for="referral-place">Send to</label>
        <select id="referral-place" data-testid="referral-place"></select>
        <label for="referral-urgency">Urgency</label>
        <select id="referral-urgency" data-testid="referral-urgency">
          <option value="emergency">Emergency: someone must go now</option>
          <option value="today">Today</option>
          <option value="routine" selected>Routine</option>
        </select>
        <label for="referral-reason">What they need to know</label>
        <textarea id="referral-reason" rows="3" maxlength="2000" data-testid="referral-reason"></textarea>
        <label><input id="referral-live" type="checkbox" data-testid="referral-live"> Send her live location while she shares it</label>
        <fieldset class="case-form"><legend>She agrees to share (never for an anonymous case)</legend>
          <label><input id="referral-share-name" type="checkbox" data-testid="referral-share-name"> her name</label>
          <label><input id="referral-share-phone" type="checkbox" data-testid="referral-share-phone"> her number</label>
        </fieldset>
        <fieldset id="referral-evidence" class="case-form" data-testid="referral-evidence"><legend>Evidence to send</legend></fieldset>
        <button id="referral-send" class="button secondary" type="submit" data-testid="referral-send">Refer</button>
        <p id="referral-said" class="case-said muted" role="status" data-testid="referral-said"></p>
      </form>
      <ol id="referral-list" class="case-notes" data-testid="referral-list"></ol>
      <div id="handoff" data-testid="handoff" hidden>
        <h3>Hand the call over</h3>
        <p class="muted">The receiving side hears the case code first. Conference: you stay with her
          until they answer, then join her to them and leave. Transfer: she goes at once.</p>
        <div class="case-row">
          <select id="handoff-to" data-testid="handoff-to"></select>
          <button id="handoff-conference" class="button secondary" type="button" data-testid="handoff-conference">Conference</button>
          <button id="handoff-transfer" class="button quiet" type="button" data-testid="handoff-transfer">Transfer</button>
        </div>
        <button id="handoff-join" class="button" type="button" data-testid="handoff-join" hidden>Join her to them and leave</button>
        <p id="handoff-said" class="case-said muted" role="status" data-testid="handoff-said"></p>
      </div>`;
    const anchor = document.querySelector('[data-testid="case-panel"]');
    if (anchor) anchor.after(section);
    else (document.querySelector("main") || document.body).append(section);
    section.querySelector("#referral-form").addEventListener("submit", send);
    section.querySelector("#handoff-conference").addEventListener("click", () => handoff("conference"));
    section.querySelector("#handoff-transfer").addEventListener("click", () => handoff("transfer"));
    section.querySelector("#handoff-join").addEventListener("click", join);
    return section;
  }

  const $ = (id) => document.getElementById(id);

  async function load(code) {
    const panel = $("referral-panel") || build();
    let context;
    try {
      context = await api("GET", "/api/referrals/context?code=" + encodeURIComponent(code));
    } catch (_) {
      current = { code, context: null }; // not asked again for this code
      if (!panel.hidden) panel.hidden = true;
      return;
    }
    current = { code, context };
    if (panel.hidden) panel.hidden = false;
    const s = context.suggested;
    $("referral-suggested").textContent = s ? "Suggested: " + s.name + " (" + HOW[s.how] + ")." :
      "No location: choose the place from the list.";
    $("referral-place").replaceChildren(...context.places.map((p) =>
      el("option", { value: p.code, selected: s && s.place === p.code, text: p.name })));
    $("referral-live").disabled = !context.session_id;
    $("referral-share-name").disabled = context.anonymous || !context.has_name;
    $("referral-share-phone").disabled = context.anonymous || !context.has_phone;
    $("referral-evidence").replaceChildren(el("legend", { text: "Evidence to send" }),
      ...context.evidence.map((e) => el("label", {},
        el("input", { type: "checkbox", "data-kind": e.kind, value: e.id, "data-testid": "referral-evidence-item" }),
        " " + e.what + ", " + new Date(e.at).toLocaleString())));
    $("referral-evidence").hidden = context.evidence.length === 0;
    const phone = context.channel === "phone";
    $("handoff").hidden = !phone;
    if (phone) {
      const targets = context.places.filter((p) => p.kind === "station");
      $("handoff-to").replaceChildren(el("option", { value: "control", text: "15 control" }),
        ...targets.map((p) => el("option", { value: p.code, text: p.name })));
    }
    await list();
  }

  async function list() {
    if (!current || !current.context) return;
    try {
      const found = await api("GET", "/api/referrals?case_id=" + current.context.case_id);
      $("referral-list").replaceChildren(...found.referrals.map((r) => el("li", {
        "data-testid": "referral-item", "data-status": r.status,
        text: r.place_name + ": " + (STATUS[r.status] || r.status) + (r.unit ? " (" + r.unit + ")" : "") +
          (r.escalated_at && r.status === "sent" ? " — overdue, supervisors told" : ""),
      })));
    } catch (_) { /* the next look tries again */ }
  }

  async function send(event) {
    event.preventDefault();
    const c = current.context;
    const body = {
      case_id: c.case_id,
      session_id: c.session_id,
      place: $("referral-place").value,
      urgency: $("referral-urgency").value,
      reason: $("referral-reason").value,
      live_location: $("referral-live").checked,
      share_name: $("referral-share-name").checked,
      share_phone: $("referral-share-phone").checked,
      evidence: [...document.querySelectorAll('[data-testid="referral-evidence-item"]:checked')]
        .map((box) => ({ kind: box.dataset.kind, id: box.value })),
    };
    $("referral-send").disabled = true;
    try {
      const made = await api("POST", "/api/referrals", body);
      $("referral-said").textContent = "Referred to " + made.place_name + ".";
      $("referral-reason").value = "";
      await list();
    } catch (error) {
      $("referral-said").textContent = error.message;
    } finally {
      $("referral-send").disabled = false;
    }
  }

  async function handoff(mode) {
    const c = current.context;
    $("handoff-said").textContent = "Calling…";
    try {
      const made = await api("POST", "/api/phone/contacts/" + encodeURIComponent(c.session_id) + "/handoff",
        { to: $("handoff-to").value, mode });
      current.handoff = made.id;
      $("handoff-said").textContent = made.message;
      $("handoff-join").hidden = mode !== "conference";
      if (mode === "conference") watch();
    } catch (error) {
      $("handoff-said").textContent = error.message;
    }
  }

  async function watch() {
    if (!current || !current.handoff) return;
    try {
      const seen = await api("GET", "/api/phone/handoffs/" + encodeURIComponent(current.handoff));
      $("handoff-said").textContent = seen.message;
      $("handoff-join").disabled = seen.status !== "waiting";
      if (["joined", "failed", "ended"].includes(seen.status)) return;
    } catch (_) { /* asked again */ }
    setTimeout(watch, 2000);
  }

  async function join() {
    try {
      const done = await api("POST", "/api/phone/handoffs/" + encodeURIComponent(current.handoff) + "/join");
      $("handoff-said").textContent = done.message;
      $("handoff-join").hidden = true;
    } catch (error) {
      $("handoff-said").textContent = error.message;
    }
  }

  function follow() {
    const codeNode = document.querySelector('[data-testid="case-code"]');
    if (!codeNode) return;
    const seen = () => {
      const code = (codeNode.textContent || "").replace(/\s/g, "");
      const shown = !codeNode.closest("[hidden]");
      if (code.length === 12 && shown && (!current || current.code !== code)) load(code);
      const panel = $("referral-panel");
      if ((!code || !shown) && current) current = null;
      // Only when it changes: setting the attribute again is itself a mutation we watch.
      if ((!code || !shown) && panel && !panel.hidden) panel.hidden = true;
    };
    // The console changes the page often (timers, chat): look once per burst of changes.
    let pending = false;
    const soon = () => {
      if (pending) return;
      pending = true;
      setTimeout(() => { pending = false; seen(); }, 100);
    };
    new MutationObserver(soon).observe(document.body, { subtree: true, childList: true,
      characterData: true, attributes: true, attributeFilter: ["hidden"] });
    seen();
    timer = setInterval(list, REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", follow);
  else follow();
  window.addEventListener("pagehide", () => clearInterval(timer));
})();
