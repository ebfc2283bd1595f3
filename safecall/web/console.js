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
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    document.title = "safecall console: " + officer.badge;
    if (window.Notification && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    loadCases();
    poll();
  }

  /** Any 401 after login means the login ended (expired, logged out elsewhere, disabled). */
  function loginEnded() {
    state.officer = null;
    clearTimeout(call.polling);
    showLogin("Your login has ended; log in again.");
  }

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    state.officer = null;
    showLogin("You are logged out.");
  });

  // ---- status, offers and the call ----------------------------------------

  const STATES = { available: "Available for contacts", break: "On a break",
                   offline: "Not taking contacts", busy: "In a contact", wrap_up: "Wrap-up",
                   offered: "A contact is ringing" };
  const call = { taskId: null, offer: null, ws: null, pc: null, local: null, seq: 0,
                 channel: null, ended: false, polling: null, ring: null, wrapStarted: 0,
                 wrapTimer: null, info: null, skew: 0 };
  /** Tests read the call's statistics here. */
  window.safecallCall = call;

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
    showState(result.data);
    poll();
  }

  $("status-available").addEventListener("click", () => setState("available"));
  $("status-break").addEventListener("click", () => setState("break"));
  $("status-offline").addEventListener("click", () => setState("offline"));

  /** Asks the server where she stands (offers included) about once a second. */
  let pollRun = 0;
  async function poll() {
    clearTimeout(call.polling);
    const run = ++pollRun;
    if (!state.officer) return;
    const result = await api("GET", "/api/queues/me");
    if (result.status === 401) return loginEnded();
    if (result.status === 200) {
      if (!call.taskId) showState(result.data);
      // The offer's expiry is in the server's time: correct for this computer's clock.
      const serverNow = Date.parse(result.date || "");
      if (!isNaN(serverNow)) call.skew = serverNow - Date.now();
      const offer = result.data.offer;
      if (offer && !call.taskId && (!call.offer || call.offer.task_id !== offer.task_id)) ringing(offer);
      if (!offer && call.offer) stopRinging();
    }
    const figures = await api("GET", "/api/queues/stats");
    if (figures.status === 200 && figures.data && Array.isArray(figures.data.lines)) {
      $("queue-figures").textContent = figures.data.lines
        .map((line) => words(line.line) + ": " + line.waiting + " waiting").join(" · ");
    }
    if (run === pollRun && state.officer) call.polling = setTimeout(poll, 1000);
  }

  const CHANNELS = { browser_video: "Video call", browser_audio: "Voice call", chat: "Text chat" };

  function ringing(offer) {
    call.offer = offer;
    $("offer-what").textContent = [CHANNELS[offer.channel] || words(offer.channel),
      words(offer.line) + " line", offer.language ? "language: " + offer.language : ""]
      .filter(Boolean).join(" · ");
    $("offer").hidden = false;
    $("accept").disabled = false;
    $("decline").disabled = false;
    const tick = () => {
      const left = Math.max(0, Math.round(offer.expires - (Date.now() + (call.skew || 0)) / 1000));
      $("offer-countdown").textContent = String(left);
    };
    tick();
    clearInterval(call.ring);
    call.ring = setInterval(() => { tick(); beep(); }, 1000);
    beep();
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification("safecall: a contact is ringing", { tag: "safecall-offer" }); } catch (err) { /* no notifications */ }
    }
  }

  let audio = null;
  function beep() {
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      gain.gain.value = 0.08;
      osc.frequency.value = 880;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
    } catch (err) { /* no sound */ }
  }

  function stopRinging() {
    clearInterval(call.ring);
    call.offer = null;
    $("offer").hidden = true;
  }

  $("decline").addEventListener("click", async () => {
    if (!call.offer) return;
    const taskId = call.offer.task_id;
    $("decline").disabled = true;
    stopRinging();
    await api("POST", "/api/queues/offers/" + encodeURIComponent(taskId) + "/decline");
    poll();
  });

  $("accept").addEventListener("click", async () => {
    if (!call.offer) return;
    const taskId = call.offer.task_id;
    $("accept").disabled = true;
    $("decline").disabled = true;
    const accepted = await api("POST", "/api/queues/offers/" + encodeURIComponent(taskId) + "/accept");
    stopRinging();
    if (accepted.status !== 200) {
      show($("status-note"), errorText(accepted, "The contact could not be accepted."));
      poll();
      return;
    }
    const answered = await api("POST", "/api/contacts/" + encodeURIComponent(taskId) + "/answer");
    if (answered.status !== 200) {
      show($("status-note"), errorText(answered, "The contact could not be joined."));
      return;
    }
    openCall(answered.data);
  });

  function intakeRow(list, name, value) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }

  async function openCall(info) {
    Object.assign(call, { taskId: info.session_id, info, channel: info.channel, seq: 0,
                          ended: false, pc: null, local: null });
    $("status-text").textContent = STATES.busy;
    const list = $("intake");
    list.replaceChildren();
    intakeRow(list, "Channel", CHANNELS[info.channel] || words(info.channel));
    intakeRow(list, "Line", words(info.service_line));
    intakeRow(list, "Language", info.language);
    intakeRow(list, "Category", words(info.category));
    intakeRow(list, "District", info.district || "—");
    intakeRow(list, "Anonymous", info.anonymous ? "yes" : "no");
    intakeRow(list, "Safe to call back", info.callback_safe ? "yes" : "no");
    intakeRow(list, "Tracking code", info.tracking_code + (info.linked_case ? " (earlier case)" : ""));
    if (info.location) {
      intakeRow(list, "Location", info.location.latitude.toFixed(5) + ", " +
                info.location.longitude.toFixed(5));
    }
    $("chat-log").replaceChildren();
    $("case-note").textContent = "";
    $("media").hidden = info.channel === "chat";
    $("call-view").hidden = false;
    $("call-state").textContent = "Connecting…";
    if (info.channel !== "chat") {
      const video = info.channel === "browser_video";
      try {
        call.local = await navigator.mediaDevices.getUserMedia({ audio: true, video });
      } catch (err) {
        call.local = null;
        $("call-state").textContent = "No camera or microphone: chat only.";
      }
      $("self-video").srcObject = call.local;
    }
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(scheme + "//" + window.location.host + "/ws");
    call.ws = ws;
    ws.onopen = () => send({ type: "join", session: info.session_id, token: info.token });
    ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  }

  function send(message) {
    if (call.ws && call.ws.readyState === WebSocket.OPEN) {
      call.ws.send(JSON.stringify(Object.assign({ v: 1 }, message)));
    }
  }

  function relay(message) {
    call.seq += 1;
    send(Object.assign({ seq: call.seq }, message));
  }

  async function onMessage(message) {
    if (typeof message.seq === "number" && message.type !== "ack") send({ type: "ack", seq: message.seq });
    switch (message.type) {
      case "joined":
        if (message.peer === "connected") await startMedia();
        break;
      case "peer-joined":
        if (!message.resumed || !call.pc) await startMedia();
        break;
      case "answer":
        if (call.pc) await call.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        break;
      case "candidate":
        if (call.pc) {
          try { await call.pc.addIceCandidate(message.candidate || null); } catch (err) { /* late */ }
        }
        break;
      case "chat":
        addChat("Her", message.text);
        break;
      case "peer-left":
        $("call-state").textContent = "Her connection was lost; waiting for her to come back…";
        break;
      case "session-ended":
        ended();
        break;
      case "error":
        if (message.fatal) $("call-state").textContent = message.message;
        break;
      default:
        break;
    }
  }

  async function iceServers() {
    const result = await api("GET", "/api/ice-servers");
    return result.status === 200 ? result.data.iceServers : [];
  }

  /** The officer makes the offer; the citizen answers. */
  async function startMedia() {
    $("call-state").textContent = "Connected";
    if (call.channel === "chat" || !call.local) return;
    if (call.pc) call.pc.close();
    const pc = new RTCPeerConnection({ iceServers: await iceServers() });
    call.pc = pc;
    call.local.getTracks().forEach((track) => pc.addTrack(track, call.local));
    pc.onicecandidate = (e) => relay({ type: "candidate", candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      const video = $("remote-video");
      if (video.srcObject !== e.streams[0]) video.srcObject = e.streams[0];
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    relay({ type: "offer", sdp: pc.localDescription.sdp });
  }

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
    if (!text || !call.ws) return;
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
  });

  $("mute").addEventListener("click", () => {
    if (!call.local) return;
    const tracks = call.local.getAudioTracks();
    const on = tracks.some((track) => track.enabled);
    tracks.forEach((track) => { track.enabled = !on; });
    $("mute").textContent = on ? "Unmute" : "Mute";
  });

  $("hangup").addEventListener("click", () => {
    relay({ type: "hangup" });
    ended();
  });

  function ended() {
    if (call.ended) return;
    call.ended = true;
    if (call.pc) call.pc.close();
    if (call.local) call.local.getTracks().forEach((track) => track.stop());
    $("remote-video").srcObject = null;
    $("self-video").srcObject = null;
    $("call-view").hidden = true;
    $("wrapup-code").textContent = call.info ? call.info.tracking_code : "";
    $("wrapup").hidden = false;
    $("status-text").textContent = STATES.wrap_up;
    call.wrapStarted = Date.now();
    clearInterval(call.wrapTimer);
    call.wrapTimer = setInterval(() => {
      const s = Math.floor((Date.now() - call.wrapStarted) / 1000);
      $("wrapup-timer").textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }, 1000);
  }

  $("wrapup-done").addEventListener("click", async () => {
    clearInterval(call.wrapTimer);
    const taskId = call.taskId;
    await api("POST", "/api/queues/tasks/" + encodeURIComponent(taskId) + "/complete");
    call.taskId = null;
    call.ws = null;
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
