// The officer console: log in, show who is logged in, their status and the case list.
// Plain browser JavaScript, no build step. Everything the server says goes in with
// textContent, never innerHTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  /** Calls the API; resolves to {status, data} (data is the JSON body or null). */
  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      return { status: 0, data: null };
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (err) { data = null; }
    }
    return { status: response.status, data, date: response.headers.get("Date") };
  }

  function errorText(result, fallback) {
    if (result.status === 0) return "Cannot reach the server. Check the connection and try again.";
    const error = result.data && result.data.error;
    return (error && error.message) || fallback;
  }

  function show(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  /** The login message: red for a refusal, calm for a next step. */
  function loginMessage(text, calm) {
    loginError.classList.toggle("error", !calm);
    loginError.classList.toggle("info", Boolean(calm));
    show(loginError, text);
  }

  // ---- login -------------------------------------------------------------

  const form = $("login-form");
  const badge = $("login-badge");
  const password = $("login-password");
  const totpField = $("totp-field");
  const totp = $("login-totp");
  const submit = $("login-submit");
  const loginError = $("login-error");

  function showLogin(message) {
    $("app-view").hidden = true;
    $("login-view").hidden = false;
    password.value = "";
    totp.value = "";
    totpField.hidden = true;
    loginMessage(message || "", true);
    (badge.value ? password : badge).focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!badge.value.trim() || !password.value) {
      loginMessage("Enter your badge number and password.");
      return;
    }
    const body = { badge: badge.value.trim(), password: password.value };
    if (!totpField.hidden && totp.value.trim()) body.totp = totp.value.replace(/\s/g, "");
    submit.disabled = true;
    submit.textContent = "Logging in…";
    const result = await api("POST", "/api/login", body);
    submit.disabled = false;
    submit.textContent = "Log in";
    if (result.status === 200) {
      loginMessage("");
      password.value = "";
      totp.value = "";
      showConsole(result.data);
      return;
    }
    const code = result.data && result.data.error && result.data.error.code;
    if (code === "totp_required" || code === "totp_invalid") {
      totpField.hidden = false;
      totp.value = "";
      totp.focus();
    } else if (code === "login_failed") {
      password.value = "";
      password.focus();
    }
    loginMessage(errorText(result, "Logging in did not work; try again."), code === "totp_required");
  });

  // ---- the console -------------------------------------------------------

  const state = { officer: null };
  /** For the parts that come later (routing, calls): the logged-in officer. */
  window.safecallConsole = state;

  function showConsole(officer) {
    state.officer = officer;
    $("officer-name").textContent = officer.name;
    $("officer-badge").textContent = officer.badge;
    $("officer-role").textContent = officer.role;
    $("wallboard-link").hidden = !["supervisor", "admin"].includes(officer.role);
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    document.title = "safecall console: " + officer.badge;
    if (window.Notification && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    loadCases();
    call.reopenChecked = false;
    follow();
  }

  /** Any 401 after login means the login ended (expired, logged out elsewhere, disabled). */
  function loginEnded() {
    state.officer = null;
    unfollow();
    showLogin("Your login has ended; log in again.");
  }

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    state.officer = null;
    unfollow();
    showLogin("You are logged out.");
  });

  // ---- status, offers and the call ----------------------------------------

  const STATES = { available: "Available for contacts", break: "On a break",
                   offline: "Not taking contacts", busy: "In a contact", wrap_up: "Wrap-up",
                   offered: "A contact is ringing" };
  const call = { taskId: null, offer: null, signal: null, pc: null, local: null,
                 channel: null, ended: false, polling: null, ring: null, wrapStarted: 0,
                 wrapTimer: null, info: null, skew: 0, restarts: 0, watch: null, stalled: null,
                 callback: null };
  /** Tests read the call's statistics here (the socket and resumes are the signal's). */
  window.safecallCall = call;
  Object.defineProperty(call, "ws", { get: () => call.signal && call.signal.ws });
  Object.defineProperty(call, "resumes", { get: () => (call.signal ? call.signal.resumes : 0) });

  function showState(me) {
    const state = me.offer ? "offered" : me.state;
    $("status-text").textContent = STATES[state] || words(state);
    $("status-dot").classList.toggle("available", state === "available");
  }

  async function setState(state) {
    const result = await api("POST", "/api/queues/me/state", { state });
    if (result.status === 401) return loginEnded();
    if (result.status !== 200) {
      show($("status-note"), errorText(result, "Your status could not be changed; try again."));
      return;
    }
    show($("status-note"), "");
    whereSheStands(result.data);  // an offer waiting for her rings at once
  }

  $("status-available").addEventListener("click", () => setState("available"));
  $("status-break").addEventListener("click", () => setState("break"));
  $("status-offline").addEventListener("click", () => setState("offline"));

  // Where she stands (her offer included) and the queue figures are pushed to the console
  // (Server-Sent Events, /api/console/events): an offer rings the moment it is made.
  // Only while the push is down does the console ask, slowly (every 15 s).
  const feed = { source: null, fallback: null, down: false };
  call.feed = feed;

  function follow() {
    unfollow();
    if (!state.officer) return;
    const source = new EventSource("/api/console/events");
    feed.source = source;
    const on = (name, handler) => source.addEventListener(name, (event) => {
      feedUp();
      let data;
      try { data = JSON.parse(event.data); } catch (err) { return; }
      handler(data);
    });
    source.onopen = feedUp;
    on("me", whereSheStands);
    on("figures", showFigures);
    on("page", (data) => {
      show($("status-note"), data.message);
      notify("safecall: you are asked to come to the queue", data.message, "safecall-page");
    });
    on("logout", () => loginEnded());
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused: the login has ended, or the server is away. Ask, then try again.
        feedDown();
        setTimeout(async () => {
          if (feed.source !== source) return;
          const me = await api("GET", "/api/me");
          if (me.status === 401) loginEnded();
          else if (feed.source === source) follow();
        }, 3000);
      } else {
        feedDown();  // EventSource reconnects by itself; a fresh snapshot comes first
      }
    };
  }

  function unfollow() {
    if (feed.source) feed.source.close();
    feed.source = null;
    clearInterval(feed.fallback);
    feed.fallback = null;
    feed.down = false;
  }

  function feedUp() {
    if (!feed.down) return;
    feed.down = false;
    clearInterval(feed.fallback);
    feed.fallback = null;
  }

  function feedDown() {
    if (feed.down) return;
    feed.down = true;
    clearInterval(feed.fallback);
    feed.fallback = setInterval(askOnce, 15000);
    askOnce();
  }

  /** The slow fallback while the push is down. */
  async function askOnce() {
    if (!state.officer) return;
    const result = await api("GET", "/api/queues/me");
    if (result.status === 401) return loginEnded();
    if (result.status === 200) {
      const serverNow = Date.parse(result.date || "");
      whereSheStands(Object.assign({}, result.data,
        { server_time: isNaN(serverNow) ? null : serverNow / 1000 }));
    }
    const figures = await api("GET", "/api/queues/stats");
    if (figures.status === 200 && figures.data) showFigures(figures.data);
  }

  function whereSheStands(me) {
    // The first word after login says whether she still holds a contact (a reload mid-call).
    if (!call.reopenChecked) {
      call.reopenChecked = true;
      if (Array.isArray(me.tasks) && me.tasks.length && !call.taskId) reopen(me.tasks[0]);
    }
    if (!call.taskId) showState(me);
    // The offer's expiry is in the server's time: correct for this computer's clock.
    if (typeof me.server_time === "number") call.skew = me.server_time * 1000 - Date.now();
    const offer = me.offer;
    if (offer && !call.taskId && !call.callback && (!call.offer || call.offer.task_id !== offer.task_id)) ringing(offer);
    if (!offer && call.offer) stopRinging();
  }

  function showFigures(figures) {
    if (!figures || !Array.isArray(figures.lines)) return;
    $("queue-figures").textContent = figures.lines
      .map((line) => words(line.line) + ": " + line.waiting + " waiting").join(" · ");
  }

  const CHANNELS = { browser_video: "Video call", browser_audio: "Voice call", chat: "Text chat",
                     phone: "Phone call" };

  function ringing(offer) {
    call.offer = offer;
    const what = [isCallbackTask(offer.task_id) ? "Callback: ring her back" : CHANNELS[offer.channel] ||
      words(offer.channel), words(offer.line) + " line",
      offer.language ? "language: " + offer.language : "",
      offer.category ? words(offer.category) : ""].filter(Boolean).join(" · ");
    $("offer-what").textContent = what;
    $("offer").hidden = false;
    $("accept").disabled = false;
    $("decline").disabled = false;
    const left = () => Math.max(0, Math.round(offer.expires - (Date.now() + (call.skew || 0)) / 1000));
    const tick = () => { $("offer-countdown").textContent = String(left()); };
    tick();
    clearInterval(call.ring);
    call.ring = setInterval(tick, 1000);
    // The ring is scheduled on the audio clock for the whole offer: a background tab's
    // timers are slowed down, its sound is not.
    ringTone(left());
    call.notice = notify("safecall: a contact is ringing", what, "safecall-offer");
    call.title = document.title;
    document.title = "Ringing: " + what;
  }

  /** A system notification (shown even when the console tab is in the background). */
  function notify(title, body, tag) {
    if (!window.Notification || Notification.permission !== "granted") return null;
    try {
      const notice = new Notification(title, { body, tag, renotify: true, requireInteraction: true });
      notice.onclick = () => { window.focus(); notice.close(); };
      return notice;
    } catch (err) { return null; /* no notifications */ }
  }

  let audio = null;
  // Browsers let a page make sound only after a click or a key: take the first one, so
  // that an offer arriving later (the tab in the background) can ring.
  function unlockAudio() {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
    } catch (err) { /* no sound */ }
  }
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });

  function ringTone(seconds) {
    stopTone();
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      const out = audio.createGain();
      out.gain.value = 0.08;
      out.connect(audio.destination);
      const start = audio.currentTime + 0.05;
      for (let i = 0; i < Math.max(1, seconds); i += 1) {
        for (const [at, pitch] of [[0, 880], [0.3, 660]]) {
          const osc = audio.createOscillator();
          osc.frequency.value = pitch;
          osc.connect(out);
          osc.start(start + i + at);
          osc.stop(start + i + at + 0.22);
        }
      }
      call.tone = out;
    } catch (err) { /* no sound */ }
  }

  function stopTone() {
    if (call.tone) call.tone.disconnect();
    call.tone = null;
  }

  function stopRinging() {
    clearInterval(call.ring);
    stopTone();
    if (call.notice) call.notice.close();
    call.notice = null;
    if (call.title) document.title = call.title;
    call.title = null;
    call.offer = null;
    $("offer").hidden = true;
  }

  $("decline").addEventListener("click", async () => {
    if (!call.offer) return;
    const taskId = call.offer.task_id;
    $("decline").disabled = true;
    stopRinging();
    await api("POST", "/api/queues/offers/" + encodeURIComponent(taskId) + "/decline");
  });

  $("accept").addEventListener("click", async () => {
    if (!call.offer) return;
    const taskId = call.offer.task_id;
    const isCallback = isCallbackTask(taskId);
    const { line, language, channel } = call.offer;
    $("accept").disabled = true;
    $("decline").disabled = true;
    // The camera and microphone start while the server takes the accept (she is waiting:
    // every step done side by side is time she does not wait); let go if it is refused.
    const media = isCallback ? null : localMedia(channel);
    const socket = isCallback ? null : SafecallSignal.warm();  // joins once answered
    if (!isCallback) iceServers();  // fresh in memory for the offer
    const drop = () => {
      if (media) media.then((got) => stopStream(got.stream));
      if (socket) socket.close();
    };
    const accepted = await api("POST", "/api/queues/offers/" + encodeURIComponent(taskId) + "/accept");
    stopRinging();
    if (accepted.status !== 200) {
      drop();
      show($("status-note"), errorText(accepted, "The contact could not be accepted."));
      return;
    }
    if (isCallback) {  // nobody is on the line yet: she rings her back when ready
      showCallback(taskId, { line, language });
      return;
    }
    const answered = await api("POST", "/api/contacts/" + encodeURIComponent(taskId) + "/answer");
    if (answered.status !== 200) {
      drop();
      show($("status-note"), errorText(answered, "The contact could not be joined."));
      return;
    }
    openCall(answered.data, media, socket);
  });

  /**
   * On load or login (the feed's first word lists what she holds): a contact she still holds
   * opens again (the page was reloaded, or the browser restarted, mid-call or in its wrap-up). Answering again gives the same join
   * token; the new join takes her seat and the call is negotiated afresh.
   */
  async function reopen(taskId) {
    if (isCallbackTask(taskId)) {
      showCallback(taskId);
      return;
    }
    const answered = await api("POST", "/api/contacts/" + encodeURIComponent(taskId) + "/answer");
    if (call.taskId) return;
    if (answered.status !== 200) {
      show($("status-note"), errorText(answered, "The contact you hold could not be opened again."));
      return;
    }
    const serverNow = Date.parse(answered.date || "");
    if (!isNaN(serverNow)) call.skew = serverNow - Date.now();
    openCall(answered.data);
  }

  // ---- callbacks: ringing her back ---------------------------------------------
  // A callback task (`…~callback`) has nobody on the line: the officer who accepted it
  // presses "Ring her back"; the ring is a phone call on a new session of the same case.
  // When it ends unanswered the server frees her (wrap-up) and decides what comes next:
  // the console asks GET /api/phone/callbacks/{task} and says it in the wrap-up.

  /** By its id: /api/queues/me's offer does not carry the feed's `callback` flag. */
  function isCallbackTask(taskId) {
    return /~callback$/.test(String(taskId || ""));
  }

  const CALLBACK_SAID = {
    none: () => "She has not been rung yet.",
    ringing: () => "Her phone is ringing.",
    missed: () => "No answer.",
    retry_scheduled: (r) => "No answer. She will be rung again at " + clockTime(r.next_ring_at) +
      " by the next free officer (ring " + (r.rings + 1) + " of " + r.attempts + ").",
    retry_in_line: (r) => "No answer. She is back in line for the next free officer (ring " +
      (r.rings + 1) + " of " + r.attempts + ").",
    unreachable: (r) => "Not reached after " + r.rings + " rings; a note is on her case.",
  };

  /** "14:05" in this computer's time zone (the server gives an absolute time). */
  function clockTime(value) {
    const date = new Date(value);
    return isNaN(date) ? "a later time"
      : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }

  /** The callback task she holds (`about`: the offer's line and language, when known). */
  async function showCallback(taskId, about) {
    call.callback = Object.assign({ taskId, attempt: 0, attempts: 0 }, about || {});
    $("status-text").textContent = STATES.busy;
    $("callback-what").textContent = "";
    show($("callback-note"), "");
    $("ring-back").disabled = false;
    $("callback").hidden = false;
    const rings = await api("GET", "/api/phone/callbacks/" + encodeURIComponent(taskId));
    if (rings.status === 200 && call.callback && call.callback.taskId === taskId) {
      const r = rings.data;
      $("callback-what").textContent = (r.rings ? "Rung " + r.rings +
        (r.rings === 1 ? " time" : " times") + " so far, not answered. " : "") + "This will be ring " + Math.min(r.rings + 1, r.attempts) +
        " of " + r.attempts + ".";
    }
  }

  $("ring-back").addEventListener("click", async () => {
    const callback = call.callback;
    if (!callback || call.taskId) return;
    $("ring-back").disabled = true;
    show($("callback-note"), "Placing the call…");
    const result = await api("POST", "/api/phone/callbacks/" +
      encodeURIComponent(callback.taskId) + "/call");
    if (result.status === 401) return loginEnded();
    if (result.status !== 201) {
      $("ring-back").disabled = false;
      show($("callback-note"), errorText(result, "The call could not be placed; try again."));
      return;
    }
    const placed = result.data;
    Object.assign(callback, { attempt: placed.attempt,
                              attempts: placed.attempt + placed.attempts_left });
    $("callback").hidden = true;
    openCall({ session_id: placed.session_id, token: placed.token, channel: "phone",
               service_line: callback.line, language: callback.language,
               callback_safe: true, callback_times: placed.callback_times, callback });
  });

  $("callback-done").addEventListener("click", async () => {
    const callback = call.callback;
    if (!callback || call.taskId) return;
    const result = await api("POST", "/api/queues/tasks/" + encodeURIComponent(callback.taskId) +
      "/complete");
    if (result.status === 401) return loginEnded();
    if (result.status !== 200 && result.status !== 204) {
      show($("callback-note"), errorText(result, "The callback could not be completed; try again."));
      return;
    }
    call.callback = null;
    $("callback").hidden = true;
    await setState("available");
  });

  /** The ring ended: say what became of it (asked a few times while the server decides). */
  async function callbackOutcome(callback) {
    const out = $("callback-outcome");
    for (let asked = 0; asked < 8; asked += 1) {
      if (call.callback !== callback) return;  // she moved on meanwhile
      const result = await api("GET", "/api/phone/callbacks/" + encodeURIComponent(callback.taskId));
      if (call.callback !== callback) return;
      if (result.status === 401) return loginEnded();
      const r = result.status === 200 ? result.data : null;
      if (r && r.outcome === "answered") { show(out, ""); return; }
      if (r && CALLBACK_SAID[r.outcome] && r.outcome !== "missed" && r.outcome !== "ringing") {
        out.dataset.outcome = r.outcome;
        show(out, CALLBACK_SAID[r.outcome](r));
        return;
      }
      if (result.status !== 200 && result.status !== 0) {
        show(out, errorText(result, "What became of the ring could not be read."));
        return;
      }
      out.dataset.outcome = r ? r.outcome : "";
      show(out, "No answer. Checking what happens next…");
      await new Promise((done) => setTimeout(done, 750));
    }
    show(out, "No answer. What happens next is not known yet; her case will show it.");
  }

  function intakeRow(list, name, value) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }

  /**
   * The officer's camera and microphone for a contact on `channel`: {stream, note}, where
   * note says what is missing (a video call goes on with sound when the camera is refused).
   */
  async function localMedia(channel) {
    if (channel === "chat") return { stream: null, note: "" };
    const video = channel === "browser_video";
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video }), note: "" };
    } catch (err) { /* below */ }
    if (video) {
      try {
        return { stream: await navigator.mediaDevices.getUserMedia({ audio: true }),
                 note: "No camera: the call goes on with sound only." };
      } catch (err) { /* below */ }
    }
    return { stream: null, note: "No camera or microphone: chat only." };
  }

  function stopStream(stream) {
    if (stream) stream.getTracks().forEach((track) => track.stop());
  }

  /**
   * `media`: the camera and microphone already on their way (from the accept), if any;
   * `socket`: a signaling socket opened ahead (SafecallSignal.warm()), if any.
   */
  async function openCall(info, media, socket) {
    if (call.signal) call.signal.close();
    Object.assign(call, { taskId: info.session_id, info, channel: info.channel, signal: null,
                          ended: false, pc: null, local: null, media: null, restarts: 0,
                          early: null });
    $("status-text").textContent = STATES.busy;
    const list = $("intake");
    list.replaceChildren();
    if (info.callback) {  // a ring-back: what the callback offer and the ring said
      intakeRow(list, "Channel", "Phone call: you are ringing her back");
      intakeRow(list, "Line", words(info.service_line));
      intakeRow(list, "Language", info.language || "—");
      intakeRow(list, "Callback", "ring " + info.callback.attempt + " of " + info.callback.attempts);
      intakeRow(list, "When it suits her", info.callback_times || "—");
    } else {
      intakeRow(list, "Channel", CHANNELS[info.channel] || words(info.channel));
      if (info.silent && info.channel === "phone") intakeRow(list, "Silent call", "she cannot speak: ask yes/no questions (1 = yes, 2 = no)");
      intakeRow(list, "Line", words(info.service_line));
      intakeRow(list, "Language", info.language);
      intakeRow(list, "Category", words(info.category));
      intakeRow(list, "District", info.district || "—");
      intakeRow(list, "Anonymous", info.anonymous ? "yes" : "no");
      intakeRow(list, "Safe to call back", info.callback_safe ? "yes" : "no");
    }
    if (info.tracking_code) {
      intakeRow(list, "Tracking code", info.tracking_code + (info.linked_case ? " (earlier case)" : ""));
    }
    if (info.location) {
      intakeRow(list, "Location", info.location.latitude.toFixed(5) + ", " +
                info.location.longitude.toFixed(5));
    }
    $("chat-log").replaceChildren();
    (info.chat || []).forEach((line) => addChat(line.side === "officer" ? "You" : "Her", line.text));
    $("case-note").textContent = "";
    $("media").hidden = info.channel === "chat";
    // (a ring-back does not name the case: its panel stays away rather than fail)
    $("case-panel").hidden = !info.case_id;
    show($("callback-outcome"), "");
    $("call-view").hidden = false;
    $("send-video-link").hidden = info.channel !== "phone";
    show($("video-link-note"), "");
    if (info.channel === "phone") watchForVideo(info.session_id);
    // The case panel reads the case once a browser call's media is through (`settled`):
    // until then the server's time goes to the call's setup, which she is waiting for.
    call.settled = new Promise((done) => { call.settle = done; });
    if (!["browser_video", "browser_audio"].includes(info.channel) || info.ended_at) call.settle();
    document.dispatchEvent(new CustomEvent("safecall:call", { detail: info }));  // the case panel
    $("call-state").textContent = "Connecting…";
    if (info.ended_at) {  // re-opened in its wrap-up: the timer runs from the server's end
      if (media) media.then((got) => stopStream(got.stream));
      if (socket) socket.close();
      ended(info.ended_at * 1000 - (call.skew || 0));
      return;
    }
    // The socket joins while the camera and microphone start: the offer waits for both.
    call.media = (media || localMedia(info.channel)).then((got) => {
      if (call.taskId !== info.session_id || call.ended) {  // over before they came
        stopStream(got.stream);
        return null;
      }
      call.local = got.stream;
      if (got.note && !info.callback) $("call-state").textContent = got.note;
      $("self-video").srcObject = call.local;
      return call.local;
    });
    if (info.callback) {
      $("call-state").textContent = "Ringing her phone (ring " + info.callback.attempt + " of " +
        info.callback.attempts + ")…";
    }
    connect(socket);
    // A browser call's offer is made while the socket joins; it goes out once joined.
    if (["browser_video", "browser_audio"].includes(info.channel)) {
      call.early = startMedia(true).then(() => true, (err) => {
        console.error("safecall: the early offer failed; offering on joined", err);
        return false;
      });
    }
    await call.media;
  }

  /** Her side of the session (signal.js: join, resume, acks and resends). */
  function connect(socket) {
    call.signal = SafecallSignal.open({ session: call.info.session_id, token: call.info.token,
                                        socket })
      .on("reconnecting", () => { $("call-state").textContent = "Reconnecting…"; })
      .on("joined", async (message, { resumed }) => {
        if (call.channel === "phone") return;  // phone calls: the bridge offers
        // The first join: the offer made meanwhile goes out now (if it failed, offer anew).
        const early = call.early;
        call.early = null;
        const offered = early ? await early : false;
        if (message.peer !== "connected") return;
        if (offered) $("call-state").textContent = "Connected";
        else if (resumed && call.pc) await restartIce();
        else await startMedia();
      })
      .on("peer-joined", async (message) => {
        if (call.channel === "phone") return;  // the bridge sends a new offer itself
        // She resumed (her network changed): restart ICE; she started afresh: a new connection.
        if (message.resumed && call.pc) await restartIce();
        else await startMedia();
      })
      .on("offer", async (message) => {
        if (call.channel === "phone") await answerBridge(message.sdp);
      })
      .on("dtmf", (message) => keyPressed(message.digit))
      .on("answer", async (message) => {
        // (an answer to an offer this page never made is a stale repeat)
        if (call.pc && call.pc.signalingState === "have-local-offer") {
          await call.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        }
      })
      .on("candidate", async (message) => {
        if (!call.pc) return;
        try { await call.pc.addIceCandidate(message.candidate || null); } catch (err) { /* late */ }
      })
      .on("chat", (message) => addChat("Her", message.text))
      .on("peer-left", () => {
        $("call-state").textContent = "Her connection was lost; waiting for her to come back…";
      })
      .on("session-ended", () => ended())
      .on("error", (message) => {
        if (message.fatal) $("call-state").textContent = message.message;
      });
  }

  function relay(message) {
    if (call.signal) call.signal.send(message);
  }

  /** "?ice=relay": media only through the TURN server (tests prove the relay with it). */
  const iceTransportPolicy = new URLSearchParams(window.location.search).get("ice") === "relay"
    ? "relay" : "all";

  // The ICE servers (TURN credentials last `ttl` seconds): asked when she logs in and when
  // she accepts, kept in memory, asked again when half their life has gone.
  const ice = { servers: null, until: 0, asking: null };

  async function iceServers() {
    if (ice.servers && Date.now() < ice.until) return ice.servers;
    if (!ice.asking) {
      ice.asking = api("GET", "/api/ice-servers").then((result) => {
        ice.asking = null;
        if (result.status !== 200) return [];  // host candidates still work; ask next time
        Object.assign(ice, { servers: result.data.iceServers,
                             until: Date.now() + result.data.ttl * 500 });
        return ice.servers;
      });
    }
    return ice.asking;
  }

  /**
   * Phone calls: the media bridge makes the offer (PCMU first) and the console answers,
   * on a fresh connection for every offer (the bridge renegotiates when this page comes back).
   */
  async function answerBridge(sdp) {
    $("call-state").textContent = "Connected";
    if (call.pc) call.pc.close();
    call.pc = null;
    const servers = await iceServers();
    const local = await call.media;
    if (call.ended) return;
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy });
    call.pc = pc;
    if (local) local.getAudioTracks().forEach((track) => pc.addTrack(track, local));
    pc.onicecandidate = (e) => relay({ type: "candidate", candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      const video = $("remote-video");
      video.srcObject = e.streams[0] || new MediaStream([e.track]);
    };
    await pc.setRemoteDescription({ type: "offer", sdp });
    if (pc !== call.pc) return;  // a newer offer replaced this one meanwhile
    await pc.setLocalDescription(await pc.createAnswer());
    relay({ type: "answer", sdp: pc.localDescription.sdp });
  }

  /** A key the caller pressed; a silent caller answers the officer's questions with 1 and 2. */
  function keyPressed(digit) {
    const meaning = call.info && call.info.silent ? { 1: " (yes)", 2: " (no)" }[digit] || "" : "";
    addChat("Her keypad", digit + meaning);
  }

  /** The officer makes the offer; the citizen answers (`early`: before the socket has joined). */
  async function startMedia(early) {
    if (!early) $("call-state").textContent = "Connected";
    if (call.channel === "chat") return;
    const [servers, local] = await Promise.all([iceServers(), call.media]);
    if (!local || call.ended) {
      call.settle();
      return;
    }
    if (call.pc) call.pc.close();
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy });
    call.pc = pc;
    local.getTracks().forEach((track) => pc.addTrack(track, local));
    // Her video still comes through when the officer's camera is refused.
    if (call.channel === "browser_video" && !local.getVideoTracks().length) {
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    pc.onicecandidate = (e) => relay({ type: "candidate", candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      const video = $("remote-video");
      if (video.srcObject !== e.streams[0]) video.srcObject = e.streams[0];
      // Recording: her video and both voices, uploaded as the call goes (recorder.js),
      // unless her service line is one with recording off (the answer's `recorded`).
      const recorded = !call.info || call.info.recorded !== false;
      if (call.channel === "browser_video" && recorded && window.SafecallRecorder) {
        window.SafecallRecorder.start(call.taskId, e.streams[0], call.local, call.info.case_id);
      }
    };
    pc.onconnectionstatechange = () => {
      clearTimeout(call.stalled);
      if (pc !== call.pc) return;
      if (pc.connectionState === "connected") call.settle();
      if (pc.connectionState === "failed") restartIce();
      // "disconnected" often heals by itself; restart only if it lasts.
      if (pc.connectionState === "disconnected") {
        call.stalled = setTimeout(() => {
          if (pc === call.pc && pc.connectionState === "disconnected") restartIce();
        }, 2000);
      }
    };
    clearInterval(call.watch);
    if (call.channel === "browser_video") call.watch = watchVideo(pc);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    relay({ type: "offer", sdp: pc.localDescription.sdp });
  }

  /** The offerer (this console) restarts ICE: after a resume, or when the path failed. */
  async function restartIce() {
    const pc = call.pc;
    if (!pc || call.ended || pc.signalingState === "closed") return;
    call.restarts += 1;
    const offer = await pc.createOffer({ iceRestart: true });
    await pc.setLocalDescription(offer);
    relay({ type: "offer", sdp: pc.localDescription.sdp });
  }

  /** No video frames for a while (bandwidth, her camera refused): show the call as sound only. */
  function watchVideo(pc) {
    let frames = -1;
    let still = 0;
    return setInterval(async () => {
      if (pc.connectionState !== "connected") return;
      let now = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") now += s.framesDecoded || 0;
      });
      still = now > frames ? 0 : still + 1;
      frames = now;
      const audioOnly = still >= 3;
      if (audioOnly !== ($("remote-video").dataset.audioOnly === "true")) {
        $("remote-video").dataset.audioOnly = String(audioOnly);
        $("call-state").textContent = audioOnly
          ? "No video is getting through: the call goes on with sound only." : "Connected";
      }
    }, 2000);
  }

  // ---- from a phone call to video ----------------------------------------------
  // On a phone call she can text the caller a one-time link. The video it opens is its
  // own contact on the same case, answered by her and not routed (she holds the phone
  // task); the console asks for it every 3 s while the phone call lasts and joins it
  // here, beside the phone call. While the phone call lasts its sound stays on the
  // phone: this leg's sound is muted both ways (no echo); when the phone call ends, the
  // conversation goes on in the video, sound included.
  const leg = { info: null, signal: null, pc: null, local: null, watch: null, ended: false };
  /** Tests read the video leg's statistics here. */
  window.safecallVideo = leg;
  Object.defineProperty(leg, "ws", { get: () => leg.signal && leg.signal.ws });
  Object.defineProperty(leg, "resumes", { get: () => (leg.signal ? leg.signal.resumes : 0) });

  $("send-video-link").addEventListener("click", async () => {
    if (!call.info || call.channel !== "phone") return;
    $("send-video-link").disabled = true;
    const result = await api("POST", "/api/phone/contacts/" +
      encodeURIComponent(call.info.session_id) + "/video-link");
    $("send-video-link").disabled = false;
    show($("video-link-note"), result.status === 200
      ? "Link sent by text message. It opens once, for " +
        Math.round(result.data.expires_in / 60) + " minutes."
      : errorText(result, "The link could not be sent; try again."));
  });

  function watchForVideo(phoneId) {
    clearInterval(leg.watch);
    leg.watch = setInterval(async () => {
      if (call.taskId !== phoneId || call.ended) { clearInterval(leg.watch); return; }
      if (leg.info) return;
      const result = await api("GET", "/api/phone/contacts/" + encodeURIComponent(phoneId) + "/video");
      if (result.status === 200 && result.data.video && !leg.info && !call.ended) {
        openVideoLeg(result.data.video);
      }
    }, 3000);
  }

  async function openVideoLeg(info) {
    Object.assign(leg, { info, ended: false });
    $("video-leg-what").textContent = "She opened your link: same case, tracking code " +
      info.tracking_code + ". The phone call goes on.";
    $("video-leg-state").textContent = "Connecting…";
    $("video-leg").hidden = false;
    try {
      leg.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      leg.local.getAudioTracks().forEach((track) => { track.enabled = false; });
    } catch (err) { leg.local = null; }
    // Volume, not muted: Chrome may not start playing a muted element's sound when it is
    // unmuted later without a click (the caller may be the one who hangs up).
    $("video-leg-remote").volume = 0;
    legConnect();
  }

  function legConnect() {
    leg.signal = SafecallSignal.open({ session: leg.info.session_id, token: leg.info.token })
      .on("reconnecting", () => { $("video-leg-state").textContent = "Reconnecting…"; })
      .on("joined", async (message) => {
        if (message.peer === "connected" && !leg.pc) await legOffer(false);
      })
      .on("peer-joined", (message) => legOffer(Boolean(message.resumed && leg.pc)))
      .on("answer", async (message) => {
        if (leg.pc && leg.pc.signalingState === "have-local-offer") {
          await leg.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        }
      })
      .on("candidate", async (message) => {
        if (!leg.pc) return;
        try { await leg.pc.addIceCandidate(message.candidate || null); } catch (err) { /* late */ }
      })
      .on("peer-left", () => {
        $("video-leg-state").textContent = "Her video connection was lost; waiting…";
      })
      .on("session-ended", closeVideoLeg)
      .on("error", (message) => {
        if (message.fatal) $("video-leg-state").textContent = message.message;
      });
  }

  function legRelay(message) {
    if (leg.signal) leg.signal.send(message);
  }

  /** The console offers, as in a browser video call; a resumed page gets an ICE restart. */
  async function legOffer(restart) {
    if (!restart) {
      if (leg.pc) leg.pc.close();
      const pc = new RTCPeerConnection({ iceServers: await iceServers(), iceTransportPolicy });
      leg.pc = pc;
      if (leg.local) leg.local.getTracks().forEach((track) => pc.addTrack(track, leg.local));
      else ["audio", "video"].forEach((kind) => pc.addTransceiver(kind, { direction: "recvonly" }));
      pc.onicecandidate = (e) => legRelay({ type: "candidate", candidate: e.candidate ? e.candidate.toJSON() : null });
      pc.ontrack = (e) => {
        const video = $("video-leg-remote");
        if (video.srcObject !== e.streams[0]) video.srcObject = e.streams[0];
        // Recorded as a browser video call is (the phone call is recorded by the bridge),
        // unless the phone call's service line is one with recording off.
        const recorded = !call.info || call.info.recorded !== false;
        if (recorded && leg.info && window.SafecallRecorder) {
          window.SafecallRecorder.start(leg.info.session_id, e.streams[0], leg.local, leg.info.case_id);
        }
      };
      pc.onconnectionstatechange = () => {
        if (pc === leg.pc && pc.connectionState === "connected") {
          $("video-leg-state").textContent = "Connected";
        }
      };
    }
    const offer = await leg.pc.createOffer(restart ? { iceRestart: true } : undefined);
    await leg.pc.setLocalDescription(offer);
    legRelay({ type: "offer", sdp: leg.pc.localDescription.sdp });
  }

  /** The phone call ended: the video leg, if any, carries the conversation's sound now. */
  function phoneOver() {
    clearInterval(leg.watch);
    $("send-video-link").hidden = true;
    if (!leg.info) return;
    if (leg.local) leg.local.getAudioTracks().forEach((track) => { track.enabled = true; });
    $("video-leg-remote").volume = 1;
    // Chrome pauses an element whose sound comes on (volume 0 to 1) without a fresh
    // click; play it again (the page has had clicks: it may).
    $("video-leg-remote").play().catch(() => {});
    $("video-leg-what").textContent = "The phone call has ended; the conversation goes on here.";
  }

  function closeVideoLeg() {
    if (!leg.info) return;
    leg.ended = true;
    if (window.SafecallRecorder) window.SafecallRecorder.stop(leg.info.session_id);
    if (leg.pc) leg.pc.close();
    if (leg.local) leg.local.getTracks().forEach((track) => track.stop());
    Object.assign(leg, { info: null, pc: null, local: null, signal: null });
    $("video-leg-remote").srcObject = null;
    $("video-leg").hidden = true;
    if (call.ended) show($("status-note"), "");
  }

  $("video-leg-hangup").addEventListener("click", () => {
    if (leg.signal) leg.signal.hangup();
    closeVideoLeg();
  });

  function addChat(who, text) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = who + ": ";
    item.append(name, document.createTextNode(text));
    $("chat-log").appendChild(item);
  }

  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text || !call.signal) return;
    relay({ type: "chat", text });
    addChat("You", text);
    $("chat-input").value = "";
  });

  $("case-status").addEventListener("change", () => {
    $("fir-fields").hidden = $("case-status").value !== "fir_registered";
  });

  $("case-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!call.info) return;
    const body = { status: $("case-status").value };
    if (body.status === "fir_registered") {
      body.fir_number = $("fir-number").value.trim();
      body.police_station = $("police-station").value.trim();
    }
    const result = await api("POST", "/api/cases/" + call.info.case_id + "/status", body);
    $("case-note").textContent = result.status === 200
      ? "Saved." : errorText(result, "The status could not be saved.");
    if (result.status === 200) document.dispatchEvent(new CustomEvent("safecall:case", { detail: result.data }));
  });

  $("mute").addEventListener("click", () => {
    if (!call.local) return;
    const tracks = call.local.getAudioTracks();
    const on = tracks.some((track) => track.enabled);
    tracks.forEach((track) => { track.enabled = !on; });
    $("mute").textContent = on ? "Unmute" : "Mute";
  });

  $("hangup").addEventListener("click", () => {
    if (call.signal) call.signal.hangup();
    ended();
  });

  /** The call is over: wrap-up, timed from `at` (ms; now unless the server says otherwise). */
  function ended(at) {
    if (call.ended) return;
    call.ended = true;
    if (call.settle) call.settle();
    phoneOver();
    // Uploads the last chunk and closes (the video leg, if any, goes on recording).
    if (window.SafecallRecorder) window.SafecallRecorder.stop(call.taskId);
    clearTimeout(call.stalled);
    clearInterval(call.watch);
    if (call.pc) call.pc.close();
    if (call.local) call.local.getTracks().forEach((track) => track.stop());
    $("remote-video").srcObject = null;
    $("self-video").srcObject = null;
    $("call-view").hidden = true;
    // (a ring-back is not told its case's tracking code)
    $("wrapup-code").textContent = (call.info && call.info.tracking_code) || "";
    $("wrapup-code-part").hidden = !$("wrapup-code").textContent;
    $("wrapup").hidden = false;
    if (call.callback) callbackOutcome(call.callback);
    $("status-text").textContent = STATES.wrap_up;
    call.wrapStarted = Math.min(at || Date.now(), Date.now());
    clearInterval(call.wrapTimer);
    const tick = () => {
      const s = Math.floor((Date.now() - call.wrapStarted) / 1000);
      $("wrapup-timer").textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    };
    tick();
    call.wrapTimer = setInterval(tick, 1000);
  }

  $("wrapup-done").addEventListener("click", async () => {
    if (leg.info) {  // the conversation goes on by video: the phone task stays hers
      show($("status-note"), "End the video call first.");
      return;
    }
    clearInterval(call.wrapTimer);
    // A ring-back's task is the callback's (an unanswered ring has completed it already).
    const taskId = call.callback ? call.callback.taskId : call.taskId;
    await api("POST", "/api/queues/tasks/" + encodeURIComponent(taskId) + "/complete");
    call.taskId = null;
    call.callback = null;
    show($("callback-outcome"), "");
    if (call.signal) call.signal.close();
    call.signal = null;
    $("wrapup").hidden = true;
    await setState("available");
  });

  // ---- cases -------------------------------------------------------------

  const casesMessage = $("cases-message");
  const casesTable = $("cases-table");
  const casesBody = $("cases-body");

  function words(value) {
    return value ? String(value).replace(/_/g, " ") : "—";
  }

  function when(value) {
    if (!value) return "—";
    const date = new Date(value);
    return isNaN(date) ? String(value) : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  /** 123456789012 -> "1234 5678 9012", as it is read out on the phone. */
  function codeText(code) {
    return code ? String(code).replace(/(\d{4})(?=\d)/g, "$1 ") : "—";
  }

  function casesFrom(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.cases)) return data.cases;
    if (data && Array.isArray(data.items)) return data.items;
    return [];
  }

  async function loadCases() {
    show(casesMessage, "Loading cases…");
    casesTable.hidden = true;
    const result = await api("GET", "/api/cases");
    if (result.status === 401) return loginEnded();
    if (result.status === 404) {
      show(casesMessage, "The case list is not available on this server yet.");
      return;
    }
    if (result.status !== 200) {
      show(casesMessage, errorText(result, "The cases could not be loaded; try Refresh."));
      return;
    }
    const cases = casesFrom(result.data);
    casesBody.replaceChildren();
    for (const item of cases) {
      const row = document.createElement("tr");
      row.dataset.testid = "case-row";
      const cells = [
        [codeText(item.tracking_code), "code"],
        [words(item.status), ""],
        [words(item.category), "wide"],
        [words(item.service_line), "wide"],
        [when(item.updated_at || item.created_at), ""],
      ];
      for (const [text, cls] of cells) {
        const cell = document.createElement("td");
        cell.textContent = text || "—";
        if (cls) cell.className = cls;
        row.appendChild(cell);
      }
      casesBody.appendChild(row);
    }
    casesTable.hidden = cases.length === 0;
    show(casesMessage, cases.length ? "" : "No cases to show.");
  }

  $("cases-refresh").addEventListener("click", loadCases);

  // ---- start -------------------------------------------------------------

  (async function start() {
    const result = await api("GET", "/api/me");
    if (result.status === 200) showConsole(result.data);
    else showLogin("");
  })();
})();
