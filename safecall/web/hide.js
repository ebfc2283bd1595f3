// The "hide this visit" page: its words in the visit's language (the browser's; Urdu when
// unsure), chosen again only in this page's memory.
"use strict";

(function () {
  const WORDS = window.SafecallText;

  function show(lang) {
    document.documentElement.lang = lang;
    document.documentElement.dir = WORDS.RTL[lang] ? "rtl" : "ltr";
    document.title = WORDS.say(lang, "hide-title");
    const nodes = document.querySelectorAll("[data-i18n]");
    for (let i = 0; i < nodes.length; i += 1) {
      nodes[i].textContent = WORDS.say(lang, nodes[i].getAttribute("data-i18n"));
    }
    const buttons = document.querySelectorAll("[data-lang]");
    for (let i = 0; i < buttons.length; i += 1) {
      buttons[i].setAttribute("aria-pressed", String(buttons[i].getAttribute("data-lang") === lang));
    }
  }

  function start() {
    const buttons = document.querySelectorAll("[data-lang]");
    for (let i = 0; i < buttons.length; i += 1) {
      buttons[i].addEventListener("click", () => show(buttons[i].getAttribute("data-lang")));
    }
    const languages = navigator.languages && navigator.languages.length
      ? Array.prototype.slice.call(navigator.languages) : [navigator.language];
    show(WORDS.chosen(window.location.search, languages));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
