// The tracking page: English and Urdu, quick exit, and nothing kept in the browser
// (no storage, no cookies, the code never in the address bar).
"use strict";

(function () {
  const EXIT_URL = "https://www.google.com/";

  const TEXT = {
    en: {
      page_title: "Track your case",
      title: "Track your case",
      intro: "Enter the 12-digit tracking code you were given. Nothing you type here is kept on this phone.",
      code_label: "Tracking code",
      code_hint: "12 digits. Spaces are fine.",
      pin_label: "PIN (if you chose one)",
      pin_hint: "With your PIN you also see the FIR number and what has happened on your case.",
      submit: "Check",
      checking: "Checking…",
      status_heading: "Status",
      label_code: "Code",
      label_line: "Service",
      label_opened: "Opened",
      label_updated: "Last updated",
      label_fir: "FIR number",
      label_station: "Police station",
      timeline_heading: "What has happened",
      timeline_empty: "Nothing to show yet.",
      pin_nudge: "Enter your PIN to see more.",
      danger: "In danger now? Call 15.",
      exit: "Quick exit",
      exit_hint: "Press Esc twice to leave this page at once.",
      other_language: "English",
      lines: { women: "Women", child: "Children" },
      status_word: {
        received: "Received",
        in_progress: "In progress",
        resolved: "Resolved",
        with_police: "With the police",
        referred: "Referred",
        closed: "Closed",
      },
      status_text: {
        received: "Your complaint has reached us. An officer will look at it soon.",
        in_progress: "An officer is working on your case.",
        resolved: "Your case has been settled.",
        with_police: "An FIR has been registered or the case is being investigated.",
        referred: "Your case has been passed to a service that can help.",
        closed: "Work on your case has ended.",
      },
      topic: {
        opened: "Your case was opened.",
        fir: "An FIR (First Information Report) was registered.",
        note: "An officer added a note to your case.",
        contact: "You were in touch with an officer.",
        pin: "A PIN was set for your case.",
        update: "Your case was updated.",
        status: "Status: ",
      },
      errors: {
        invalid_tracking_code: "A tracking code has 12 digits. Please check it.",
        tracking_code_unknown: "No case has this code. Check the 12 digits and try again.",
        pin_wrong: "That PIN is not right.",
        too_many_attempts: "There have been too many tries.",
        network: "We could not reach the server. Check your connection and try again.",
        other: "Something went wrong. Please try again.",
      },
      retry: (when) => "Please try again " + when + ".",
      when: (minutes) =>
        minutes <= 1 ? "in a minute"
          : minutes < 120 ? "in " + minutes + " minutes"
            : "in " + Math.ceil(minutes / 60) + " hours",
      locale: "en-GB",
    },
    ur: {
      page_title: "اپنے کیس کی صورتحال دیکھیں",
      title: "اپنے کیس کی صورتحال دیکھیں",
      intro: "آپ کو دیا گیا 12 ہندسوں کا ٹریکنگ کوڈ درج کریں۔ یہاں لکھی گئی کوئی چیز اس فون پر محفوظ نہیں رہتی۔",
      code_label: "ٹریکنگ کوڈ",
      code_hint: "12 ہندسے۔ بیچ میں خالی جگہ چھوڑ سکتی ہیں۔",
      pin_label: "پن (اگر آپ نے بنایا تھا)",
      pin_hint: "پن کے ساتھ آپ ایف آئی آر نمبر اور اپنے کیس پر ہونے والی کارروائی بھی دیکھ سکتی ہیں۔",
      submit: "دیکھیں",
      checking: "دیکھا جا رہا ہے…",
      status_heading: "صورتحال",
      label_code: "کوڈ",
      label_line: "سروس",
      label_opened: "درج ہوا",
      label_updated: "آخری تبدیلی",
      label_fir: "ایف آئی آر نمبر",
      label_station: "تھانہ",
      timeline_heading: "اب تک کیا ہوا",
      timeline_empty: "ابھی دکھانے کے لیے کچھ نہیں۔",
      pin_nudge: "مزید دیکھنے کے لیے اپنا پن درج کریں۔",
      danger: "ابھی خطرے میں ہیں؟ 15 پر کال کریں۔",
      exit: "فوراً باہر نکلیں",
      exit_hint: "اس صفحے سے فوراً نکلنے کے لیے Esc دو بار دبائیں۔",
      other_language: "اردو",
      lines: { women: "خواتین", child: "بچے" },
      status_word: {
        received: "موصول",
        in_progress: "جاری",
        resolved: "حل",
        with_police: "پولیس کے پاس",
        referred: "منتقل",
        closed: "بند",
      },
      status_text: {
        received: "آپ کی شکایت ہم تک پہنچ گئی ہے۔ جلد ایک افسر اسے دیکھے گی۔",
        in_progress: "ایک افسر آپ کے کیس پر کام کر رہی ہے۔",
        resolved: "آپ کا کیس حل ہو گیا ہے۔",
        with_police: "ایف آئی آر درج ہو گئی ہے یا کیس کی تفتیش جاری ہے۔",
        referred: "آپ کا کیس مدد کرنے والے کسی ادارے کو بھیج دیا گیا ہے۔",
        closed: "آپ کے کیس پر کام مکمل ہو گیا ہے۔",
      },
      topic: {
        opened: "آپ کا کیس درج ہوا۔",
        fir: "ایف آئی آر درج ہو گئی۔",
        note: "افسر نے آپ کے کیس میں نوٹ شامل کیا۔",
        contact: "آپ کا ایک افسر سے رابطہ ہوا۔",
        pin: "آپ کے کیس کے لیے پن بنایا گیا۔",
        update: "آپ کے کیس میں تبدیلی ہوئی۔",
        status: "صورتحال: ",
      },
      errors: {
        invalid_tracking_code: "ٹریکنگ کوڈ 12 ہندسوں کا ہوتا ہے۔ براہ کرم اسے چیک کریں۔",
        tracking_code_unknown: "اس کوڈ کا کوئی کیس نہیں ملا۔ 12 ہندسے چیک کر کے دوبارہ کوشش کریں۔",
        pin_wrong: "یہ پن درست نہیں۔",
        too_many_attempts: "بہت زیادہ کوششیں ہو چکی ہیں۔",
        network: "سرور سے رابطہ نہیں ہو سکا۔ انٹرنیٹ چیک کر کے دوبارہ کوشش کریں۔",
        other: "کچھ غلط ہو گیا۔ براہ کرم دوبارہ کوشش کریں۔",
      },
      retry: (when) => "براہ کرم " + when + " دوبارہ کوشش کریں۔",
      when: (minutes) =>
        minutes <= 1 ? "ایک منٹ بعد"
          : minutes < 120 ? minutes + " منٹ بعد"
            : Math.ceil(minutes / 60) + " گھنٹے بعد",
      locale: "ur-PK",
    },
  };

  let lang = (navigator.language || "").toLowerCase().startsWith("ur") ? "ur" : "en";
  let shown = null; // the last answer, to redraw in the other language
  let lastError = null;

  const $ = (id) => document.getElementById(id);

  // --- quick exit: replace this page in history so Back does not return to it ---
  function quickExit() {
    clearPage();
    window.location.replace(EXIT_URL);
  }

  let lastEscape = 0;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const now = Date.now();
    if (now - lastEscape < 1500) quickExit();
    lastEscape = now;
  });

  // --- language ---
  function applyLanguage() {
    const t = TEXT[lang];
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "ur" ? "rtl" : "ltr";
    document.title = t.page_title;
    for (const node of document.querySelectorAll("[data-i18n]")) {
      const value = t[node.dataset.i18n];
      if (typeof value === "string") node.textContent = value;
    }
    const other = lang === "ur" ? "en" : "ur";
    const button = $("language");
    button.textContent = TEXT[other].other_language;
    button.lang = other;
    button.dir = other === "ur" ? "rtl" : "ltr";
    if (shown) showCase(shown);
    if (lastError) showError(lastError.code, lastError.retryAfter);
  }

  // --- the code as typed: Urdu digits, spaces and dashes allowed ---
  function asciiDigits(text) {
    return text.replace(/[\u06F0-\u06F9]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
      .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660));
  }

  function codeDigits(text) {
    return asciiDigits(text).replace(/[\s-]/g, "");
  }

  function grouped(digits) {
    return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  }

  function onCodeInput() {
    const input = $("code");
    const atEnd = input.selectionStart === input.value.length;
    const digits = codeDigits(input.value);
    if (atEnd && /^\d{0,12}$/.test(digits)) input.value = grouped(digits);
  }

  // --- showing answers ---
  function formatDay(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    return new Intl.DateTimeFormat(TEXT[lang].locale, { dateStyle: "long", timeZone: "UTC" })
      .format(new Date(Date.UTC(y, m - 1, d)));
  }

  function formatMoment(iso) {
    return new Intl.DateTimeFormat(TEXT[lang].locale, { dateStyle: "medium", timeStyle: "short" })
      .format(new Date(iso));
  }

  function eventText(event) {
    const t = TEXT[lang];
    if (event.topic === "status" && event.status) return t.topic.status + t.status_word[event.status];
    return t.topic[event.topic] || event.text;
  }

  function setRow(rowId, cellId, value) {
    $(rowId).hidden = !value;
    $(cellId).textContent = value || "";
  }

  function showCase(view) {
    const t = TEXT[lang];
    hideMessage();
    $("status-word").textContent = t.status_word[view.status] || view.status;
    $("status-text").textContent = t.status_text[view.status] || view.status_text;
    $("r-code").textContent = view.tracking_code;
    $("r-line").textContent = t.lines[view.service_line] || view.service_line;
    $("r-opened").textContent = formatDay(view.opened_on);
    $("r-updated").textContent = formatDay(view.updated_on);
    setRow("r-fir-row", "r-fir", view.fir_number);
    setRow("r-station-row", "r-station", view.police_station);
    const list = $("timeline");
    list.replaceChildren();
    const events = view.timeline || [];
    for (const event of events) {
      const item = document.createElement("li");
      const when = document.createElement("time");
      when.dateTime = event.at;
      when.textContent = formatMoment(event.at);
      const what = document.createElement("span");
      what.textContent = eventText(event);
      item.append(when, what);
      list.append(item);
    }
    $("timeline-block").hidden = !view.pin_accepted;
    $("timeline-empty").hidden = events.length > 0;
    $("pin-nudge").hidden = view.pin_accepted;
    $("result").hidden = false;
  }

  function showError(code, retryAfter) {
    const t = TEXT[lang];
    let text = t.errors[code] || t.errors.other;
    if (retryAfter > 0) text += " " + t.retry(t.when(Math.ceil(retryAfter / 60)));
    const box = $("message");
    box.textContent = text;
    box.hidden = false;
  }

  function hideMessage() {
    lastError = null;
    $("message").hidden = true;
    $("message").textContent = "";
  }

  function fail(code, retryAfter) {
    shown = null;
    $("result").hidden = true;
    lastError = { code, retryAfter };
    showError(code, retryAfter);
  }

  function clearPage() {
    shown = null;
    lastError = null;
    $("track-form").reset();
    $("result").hidden = true;
    $("timeline").replaceChildren();
    hideMessage();
  }

  // --- asking the server ---
  async function onSubmit(event) {
    event.preventDefault();
    const digits = codeDigits($("code").value);
    if (!/^\d{12}$/.test(digits)) {
      fail("invalid_tracking_code", 0);
      $("code").focus();
      return;
    }
    const pin = asciiDigits($("pin").value).trim();
    const button = $("submit");
    button.disabled = true;
    button.textContent = TEXT[lang].checking;
    try {
      const response = await fetch("/api/track", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(pin ? { code: digits, pin } : { code: digits }),
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
      const body = await response.json().catch(() => null);
      if (response.ok && body) {
        shown = body;
        showCase(body);
      } else {
        const retryAfter = Number(response.headers.get("Retry-After")) || 0;
        fail(body && body.error ? body.error.code : "other", retryAfter);
      }
    } catch (_) {
      fail("network", 0);
    } finally {
      $("pin").value = "";
      button.disabled = false;
      button.textContent = TEXT[lang].submit;
    }
  }

  function start() {
    $("quick-exit").addEventListener("click", quickExit);
    $("language").addEventListener("click", () => {
      lang = lang === "ur" ? "en" : "ur";
      applyLanguage();
    });
    $("code").addEventListener("input", onCodeInput);
    $("track-form").addEventListener("submit", onSubmit);
    // Leaving the page (or coming back to it from the cache) shows nothing of her case.
    window.addEventListener("pagehide", clearPage);
    window.addEventListener("pageshow", (event) => { if (event.persisted) clearPage(); });
    applyLanguage();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
