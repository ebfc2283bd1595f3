// The tracking page: Urdu first (the browser's language, Urdu when unsure), Punjabi and
// English; quick exit (quick-exit.js); nothing kept in the browser (no storage, no
// cookies, the code never in the address bar). Runs on Chrome 61: nothing newer (see
// docs/citizen.md).
"use strict";

(function () {
  const TEXT = {
    en: {
      page_title: "Track your case",
      title: "Track your case",
      intro: "Enter the 12-digit case number you were given. Nothing you type here is kept on this phone.",
      code_label: "Case number",
      code_hint: "12 digits. Spaces are fine.",
      pin_label: "PIN (if you chose one)",
      pin_hint: "With your PIN you also see the FIR number and what has happened on your case.",
      submit: "Check",
      checking: "Checking…",
      status_heading: "Status",
      label_code: "Case number",
      label_line: "Service",
      label_opened: "Opened",
      label_updated: "Last updated",
      label_fir: "FIR number",
      label_station: "Police station",
      stages_heading: "Where your case is",
      stage: {
        received: "Complaint received",
        in_progress: "An officer is working on it",
        reconciliation: "Settled by agreement (reconciliation)",
        fir_registered: "FIR registered",
        under_investigation: "Police investigation",
        challan_submitted: "Challan sent to the court",
        in_trial: "Trial in court",
        decided: "Court decision given",
        referred: "Passed to a police station or service",
        closed: "Closed",
      },
      timeline_heading: "What has happened",
      timeline_empty: "Nothing to show yet.",
      pin_nudge: "Enter your PIN to see more.",
      danger: "In danger now? Call 15.",
      exit: "Quick exit",
      exit_hint: "To leave at once, tap Quick exit, or tap an empty part of the screen three times quickly.",
      talk: "Talk to an officer",
      hide: "How to hide this visit",
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
        invalid_tracking_code: "A case number has 12 digits. Please check it.",
        tracking_code_unknown: "No case has this number. Check the 12 digits and try again.",
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
      intro: "آپ کو ملا ہوا 12 ہندسوں کا کیس نمبر لکھیں۔ یہاں لکھی کوئی چیز اس فون میں نہیں رہتی۔",
      code_label: "کیس نمبر",
      code_hint: "12 ہندسے۔ بیچ میں خالی جگہ چھوڑ سکتی ہیں۔",
      pin_label: "پن (اگر آپ نے بنایا تھا)",
      pin_hint: "پن کے ساتھ آپ ایف آئی آر نمبر اور اپنے کیس پر ہونے والی کارروائی بھی دیکھ سکتی ہیں۔",
      submit: "دیکھیں",
      checking: "دیکھا جا رہا ہے…",
      status_heading: "صورتحال",
      label_code: "کیس نمبر",
      label_line: "سروس",
      label_opened: "درج ہوا",
      label_updated: "آخری تبدیلی",
      label_fir: "ایف آئی آر نمبر",
      label_station: "تھانہ",
      stages_heading: "آپ کا کیس کہاں ہے",
      stage: {
        received: "شکایت مل گئی",
        in_progress: "افسر کام کر رہی ہیں",
        reconciliation: "صلح سے فیصلہ",
        fir_registered: "ایف آئی آر درج",
        under_investigation: "پولیس تفتیش",
        challan_submitted: "چالان عدالت میں",
        in_trial: "عدالت میں مقدمہ",
        decided: "عدالت کا فیصلہ",
        referred: "تھانے یا ادارے کو بھیجا گیا",
        closed: "بند",
      },
      timeline_heading: "اب تک کیا ہوا",
      timeline_empty: "ابھی دکھانے کے لیے کچھ نہیں۔",
      pin_nudge: "مزید دیکھنے کے لیے اپنا پن درج کریں۔",
      danger: "ابھی خطرے میں ہیں؟ 15 پر کال کریں۔",
      exit: "فوراً نکلیں",
      exit_hint: "فوراً نکلنے کے لیے «فوراً نکلیں» دبائیں، یا اسکرین پر خالی جگہ تین بار جلدی سے چھوئیں۔",
      talk: "افسر سے بات کریں",
      hide: "یہ صفحہ فون سے کیسے چھپائیں",
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
        invalid_tracking_code: "کیس نمبر 12 ہندسوں کا ہوتا ہے۔ اسے دوبارہ دیکھیں۔",
        tracking_code_unknown: "اس نمبر کا کوئی کیس نہیں ملا۔ 12 ہندسے دیکھ کر دوبارہ کوشش کریں۔",
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
    pa: {
      page_title: "اپنا کیس ویکھو",
      title: "اپنا کیس ویکھو",
      intro: "تہانوں ملیا 12 ہندسیاں دا کیس نمبر لکھو۔ ایتھے لکھی کوئی شے ایس فون وچ نئیں رہندی۔",
      code_label: "کیس نمبر",
      code_hint: "12 ہندسے۔ وچ خالی تھاں چھڈ سکدے او۔",
      pin_label: "پن (جے تسیں بنایا سی)",
      pin_hint: "پن نال تسیں ایف آئی آر نمبر تے اپنے کیس تے ہوئی کارروائی وی ویکھ سکدے او۔",
      submit: "ویکھو",
      checking: "ویکھیا جا رہیا اے…",
      status_heading: "صورتحال",
      label_code: "کیس نمبر",
      label_line: "سروس",
      label_opened: "درج ہویا",
      label_updated: "آخری تبدیلی",
      label_fir: "ایف آئی آر نمبر",
      label_station: "تھانہ",
      stages_heading: "تہاڈا کیس کتھے اے",
      stage: {
        received: "شکایت مل گئی",
        in_progress: "افسر کم کر رہی اے",
        reconciliation: "صلح نال فیصلہ",
        fir_registered: "ایف آئی آر درج",
        under_investigation: "پولیس تفتیش",
        challan_submitted: "چالان عدالت وچ",
        in_trial: "عدالت وچ مقدمہ",
        decided: "عدالت دا فیصلہ",
        referred: "تھانے یا ادارے نوں گھلیا",
        closed: "بند",
      },
      timeline_heading: "ہن تک کی ہویا",
      timeline_empty: "ہلے وکھان لئی کجھ نئیں۔",
      pin_nudge: "ہور ویکھن لئی اپنا پن لکھو۔",
      danger: "ہنے خطرہ اے؟ 15 تے فون کرو۔",
      exit: "چھیتی نکلو",
      exit_hint: "چھیتی نکلن لئی «چھیتی نکلو» دباؤ، یا سکرین تے خالی تھاں تن وار چھیتی نال چھوہو۔",
      talk: "افسر نال گل کرو",
      hide: "ایہہ صفحہ فون توں کیویں لکاؤ",
      lines: { women: "زنانیاں", child: "بچے" },
      status_word: {
        received: "ملیا",
        in_progress: "جاری",
        resolved: "حل",
        with_police: "پولیس کول",
        referred: "اگے گھلیا",
        closed: "بند",
      },
      status_text: {
        received: "تہاڈی شکایت ساڈے تک پہنچ گئی اے۔ چھیتی اک افسر ایہنوں ویکھے گی۔",
        in_progress: "اک افسر تہاڈے کیس تے کم کر رہی اے۔",
        resolved: "تہاڈا کیس حل ہو گیا اے۔",
        with_police: "ایف آئی آر درج ہو گئی اے یا کیس دی تفتیش جاری اے۔",
        referred: "تہاڈا کیس مدد کرن والے کسے ادارے نوں گھل دتا گیا اے۔",
        closed: "تہاڈے کیس تے کم مک گیا اے۔",
      },
      topic: {
        opened: "تہاڈا کیس درج ہویا۔",
        fir: "ایف آئی آر درج ہو گئی۔",
        note: "افسر نے تہاڈے کیس وچ نوٹ لکھیا۔",
        contact: "تہاڈا اک افسر نال رابطہ ہویا۔",
        pin: "تہاڈے کیس لئی پن بنیا۔",
        update: "تہاڈے کیس وچ تبدیلی ہوئی۔",
        status: "صورتحال: ",
      },
      errors: {
        invalid_tracking_code: "کیس نمبر 12 ہندسیاں دا ہوندا اے۔ ایہنوں مڑ ویکھو۔",
        tracking_code_unknown: "ایس نمبر دا کوئی کیس نئیں لبھیا۔ 12 ہندسے ویکھ کے مڑ کوشش کرو۔",
        pin_wrong: "ایہہ پن ٹھیک نئیں۔",
        too_many_attempts: "بہت ساریاں کوششاں ہو چکیاں نیں۔",
        network: "سرور نال رابطہ نئیں ہو سکیا۔ انٹرنیٹ ویکھ کے مڑ کوشش کرو۔",
        other: "کجھ غلط ہو گیا۔ مڑ کوشش کرو۔",
      },
      retry: (when) => when + " مڑ کوشش کرو۔",
      when: (minutes) =>
        minutes <= 1 ? "اک منٹ بعد"
          : minutes < 120 ? minutes + " منٹ بعد"
            : Math.ceil(minutes / 60) + " گھنٹے بعد",
      locale: "pa-PK",
    },
  };

  let lang = window.SafecallText.chosen(window.location.search,
    navigator.languages && navigator.languages.length
      ? Array.prototype.slice.call(navigator.languages) : [navigator.language]);
  let shown = null; // the last answer, to redraw in the other language
  let lastError = null;

  const $ = (id) => document.getElementById(id);

  // --- language ---
  function applyLanguage() {
    const t = TEXT[lang];
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "en" ? "ltr" : "rtl";
    document.title = t.page_title;
    for (const node of document.querySelectorAll("[data-i18n]")) {
      const value = t[node.dataset.i18n];
      if (typeof value === "string") node.textContent = value;
    }
    const buttons = document.querySelectorAll("[data-lang]");
    for (let i = 0; i < buttons.length; i += 1) {
      buttons[i].setAttribute("aria-pressed", String(buttons[i].getAttribute("data-lang") === lang));
    }
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
    // (the date style option is Chrome 76; these options read the same)
    return new Intl.DateTimeFormat(TEXT[lang].locale,
      { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" })
      .format(new Date(Date.UTC(y, m - 1, d)));
  }

  function formatMoment(iso) {
    return new Intl.DateTimeFormat(TEXT[lang].locale,
      { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" })
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
    empty(list);
    const events = view.timeline || [];
    for (const event of events) {
      const item = document.createElement("li");
      const when = document.createElement("time");
      when.dateTime = event.at;
      when.textContent = formatMoment(event.at);
      const what = document.createElement("span");
      what.textContent = eventText(event);
      item.appendChild(when);
      item.appendChild(what);
      list.appendChild(item);
    }
    showStages(view.stages || []);
    $("timeline-block").hidden = !view.pin_accepted;
    $("timeline-empty").hidden = events.length > 0;
    $("pin-nudge").hidden = view.pin_accepted;
    $("result").hidden = false;
  }

  function showStages(stages) {
    const list = $("stages");
    empty(list);
    for (const reached of stages) {
      const item = document.createElement("li");
      item.setAttribute("data-stage", reached.stage);
      const what = document.createElement("strong");
      what.textContent = TEXT[lang].stage[reached.stage] || reached.stage;
      const when = document.createElement("time");
      when.dateTime = reached.at;
      when.textContent = formatDay(reached.at.slice(0, 10));
      item.appendChild(what);
      item.appendChild(when);
      list.appendChild(item);
    }
    $("stages-block").hidden = !stages.length;
  }

  function empty(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
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
    empty($("timeline"));
    empty($("stages"));
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
    window.SafecallExit.onLeave(clearPage);
    const buttons = document.querySelectorAll("[data-lang]");
    for (let i = 0; i < buttons.length; i += 1) {
      buttons[i].addEventListener("click", () => {
        lang = buttons[i].getAttribute("data-lang");
        applyLanguage();
      });
    }
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
