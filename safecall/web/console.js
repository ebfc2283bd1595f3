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
    return { status: response.status, data };
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
    loadCases();
  }

  /** Any 401 after login means the login ended (expired, logged out elsewhere, disabled). */
  function loginEnded() {
    state.officer = null;
    showLogin("Your login has ended; log in again.");
  }

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    state.officer = null;
    showLogin("You are logged out.");
  });

  // Placeholder until call routing arrives: it will make this set the officer's status.
  $("status-available").addEventListener("click", () => {
    document.dispatchEvent(new CustomEvent("safecall:status", { detail: { status: "available" } }));
    show($("status-note"), "Taking contacts starts working when call routing is switched on.");
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
