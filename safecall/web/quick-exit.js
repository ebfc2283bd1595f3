// Quick exit for every citizen page (/, /track, /hide): one tap, three quick taps on an
// empty part of the screen, a shake (where the phone reports motion) or Esc twice covers
// the page at once (a blank overlay painted before anything else happens), then goes to a
// neutral site with location.replace. Links between safecall pages also replace, so the
// whole site is one history entry: Back never returns to it.
// A classic script (Chrome 61): window.SafecallExit = { leave, onLeave, go }.
// The page records when the tap happened and when the cover was painted in
// window.safecallExit ({tapped, covered}, performance.now() milliseconds).
"use strict";

(function () {
  const EXIT_URL = document.documentElement.getAttribute("data-exit") || "https://www.google.com/";
  const TAPS = 3;
  const TAP_WINDOW_MS = 1000;
  const SHAKES = 3;
  const SHAKE_WINDOW_MS = 1500;
  const SHAKE_FORCE = 25; // m/s², gravity included: a hard shake, not a walk
  const leaving = [];
  let gone = false;
  let cover = null;

  function makeCover() {
    if (cover) return cover;
    cover = document.createElement("div");
    cover.className = "exit-cover";
    cover.setAttribute("data-testid", "exit-cover");
    cover.hidden = true;
    document.body.appendChild(cover);
    return cover;
  }

  /** Cover the page now, tell the listeners, then leave for the neutral site. */
  function leave(event) {
    if (gone) return;
    gone = true;
    const tapped = event && event.timeStamp > 0 ? event.timeStamp : performance.now();
    const blank = makeCover();
    blank.hidden = false;
    document.title = "";
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    window.safecallExit = { tapped, covered: null };
    leaving.forEach((listener) => {
      try { listener(); } catch (err) { /* leaving comes first */ }
    });
    requestAnimationFrame(() => {
      window.safecallExit.covered = performance.now();
      // one more frame: the cover is on screen before the navigation starts
      requestAnimationFrame(() => window.location.replace(EXIT_URL));
    });
  }

  /** Another safecall page, in place of this one (no new history entry). */
  function go(href) {
    window.location.replace(href);
  }

  function isControl(target) {
    return Boolean(target && target.closest &&
      target.closest("a, button, input, select, textarea, label, summary, video"));
  }

  function watchTaps() {
    let taps = [];
    const tap = (event) => {
      if (isControl(event.target)) { taps = []; return; }
      const now = performance.now();
      taps = taps.filter((t) => now - t < TAP_WINDOW_MS);
      taps.push(now);
      if (taps.length >= TAPS) leave(event);
    };
    if (window.PointerEvent) document.addEventListener("pointerdown", tap, true);
    else document.addEventListener("touchstart", tap, { capture: true, passive: true });
  }

  function watchShakes() {
    if (!("DeviceMotionEvent" in window)) return;
    let shakes = [];
    window.addEventListener("devicemotion", (event) => {
      const a = event.accelerationIncludingGravity;
      if (!a || a.x === null) return;
      const force = Math.sqrt(a.x * a.x + a.y * a.y + a.z * a.z);
      if (force < SHAKE_FORCE) return;
      const now = performance.now();
      shakes = shakes.filter((t) => now - t < SHAKE_WINDOW_MS);
      if (!shakes.length || now - shakes[shakes.length - 1] > 150) shakes.push(now);
      if (shakes.length >= SHAKES) leave(event);
    });
  }

  function watchKeys() {
    let lastEscape = 0;
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" && event.key !== "Esc") return;
      const now = performance.now();
      if (now - lastEscape < 1500) leave(event);
      lastEscape = now;
    });
  }

  function replaceLinks() {
    document.addEventListener("click", (event) => {
      const link = event.target && event.target.closest ? event.target.closest("a[href]") : null;
      if (!link || link.target || event.defaultPrevented) return;
      if (link.protocol !== "http:" && link.protocol !== "https:") return; // tel:, sms:
      if (link.host !== window.location.host) return;
      event.preventDefault();
      // the visit's language goes along in the address (nothing is stored)
      const lang = document.documentElement.lang;
      const target = link.pathname + (/^(ur|pa|en)$/.test(lang) ? "?lang=" + lang : "") + link.hash;
      go(target);
    });
  }

  function start() {
    makeCover();
    const buttons = document.querySelectorAll("[data-quick-exit]");
    for (let i = 0; i < buttons.length; i += 1) buttons[i].addEventListener("click", leave);
    watchTaps();
    watchShakes();
    watchKeys();
    replaceLinks();
  }

  window.SafecallExit = {
    leave,
    go,
    onLeave(listener) { leaving.push(listener); },
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
