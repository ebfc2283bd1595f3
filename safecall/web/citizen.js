// The citizen page: language, service line, quick exit. Keeps nothing in the browser.
"use strict";

const TEXT = {
  ur: {
    exit: "فوراً باہر نکلیں",
    title: "کسی خاتون پولیس افسر سے بات کریں",
    lead: "مفت، رازداری کے ساتھ، اور آپ اپنا نام ظاہر کیے بغیر بات کر سکتی ہیں۔",
    danger: "کیا آپ ابھی خطرے میں ہیں؟",
    call15: "15 پر کال کریں",
    who: "مدد کس کو چاہیے؟",
    women: "ایک خاتون",
    child: "ایک بچہ",
    how: "آپ کیسے بات کرنا چاہتی ہیں؟",
    video: "ویڈیو کال",
    audio: "آواز کی کال",
    chat: "تحریری گفتگو",
    soon: "اس صفحے سے کال ابھی شروع نہیں ہوئی۔ براہِ کرم 15 پر کال کریں؛ ایک افسر جواب دے گی۔",
    track: "کیا آپ کے پاس ٹریکنگ کوڈ ہے؟ اپنا کیس دیکھیں",
    private: "یہ صفحہ آپ کے فون پر کچھ محفوظ نہیں کرتا۔ فوراً نکلنے کے لیے دو بار Esc دبائیں یا اوپر والا بٹن۔",
  },
};
const english = {};

function quickExit() {
  // replace(): the page leaves no entry to go back to.
  window.location.replace("https://www.google.com/");
}

function setLanguage(lang) {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === "ur" ? "rtl" : "ltr";
  for (const el of document.querySelectorAll("[data-i18n]")) {
    const key = el.dataset.i18n;
    if (!(key in english)) english[key] = el.textContent;
    el.textContent = lang === "en" ? english[key] : (TEXT[lang][key] || english[key]);
  }
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("quick-exit").addEventListener("click", quickExit);
  let lastEscape = 0;
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const now = Date.now();
    if (now - lastEscape < 1500) quickExit();
    lastEscape = now;
  });
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => setLanguage(b.dataset.lang));
  }
  for (const b of document.querySelectorAll("[data-service]")) {
    b.addEventListener("click", () => {
      for (const o of document.querySelectorAll("[data-service]")) {
        o.setAttribute("aria-pressed", String(o === b));
      }
    });
  }
});
