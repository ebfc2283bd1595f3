// The officer console, put together: log in, then her status and offers
// (console-offer.js), the contacts she holds (console-contacts.js, console-call.js,
// console-leg.js, console-callback.js), the case on screen (console-case.js, console-map.js),
// transfers, ready replies, shortcuts, the case list (console-cases.js), and the missing and
// found children (console-children.js).
// Native ES modules, no build step; server text goes in with textContent only.

import { api, refusal, refusalCode } from "./api.js";
import "./console-callback.js";
import "./console-case.js";
import * as cases from "./console-cases.js";
import * as children from "./console-children.js";
import * as contacts from "./console-contacts.js";
import { $, hear, show } from "./console-dom.js";
import "./console-keys.js";
import "./console-leg.js";
import "./console-map.js";
import * as offers from "./console-offer.js";
import * as replies from "./console-replies.js";
import { held, isCallbackTask, servers, session } from "./console-state.js";
import "./console-transfer.js";
import { showCallback } from "./console-callback.js";

const form = $("login-form");
const badge = $("login-badge");
const password = $("login-password");
const totpField = $("totp-field");
const totp = $("login-totp");
const submit = $("login-submit");
const loginError = $("login-error");

/** The login message: red for a refusal, calm for a next step. */
function loginMessage(text, calm) {
  loginError.classList.toggle("error", !calm);
  loginError.classList.toggle("info", Boolean(calm));
  show(loginError, text);
}

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
  const code = refusalCode(result);
  if (code === "totp_required" || code === "totp_invalid") {
    totpField.hidden = false;
    totp.value = "";
    totp.focus();
  } else if (code === "login_failed") {
    password.value = "";
    password.focus();
  }
  loginMessage(refusal(result, "Logging in did not work; try again."), code === "totp_required");
});

function showConsole(officer) {
  session.officer = officer;
  $("officer-name").textContent = officer.name;
  $("officer-badge").textContent = officer.badge;
  $("officer-role").textContent = officer.role;
  const manager = ["supervisor", "admin"].includes(officer.role);
  $("wallboard-link").hidden = !manager;
  $("reports-link").hidden = !manager;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  document.title = "safecall console: " + officer.badge;
  if (window.Notification && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
  offers.follow();
  servers();
  replies.load();
  cases.prepare();
  children.prepare();
}

/** Any 401 after login means the login ended (expired, logged out elsewhere, disabled). */
function loginEnded() {
  session.officer = null;
  offers.unfollow();
  showLogin("Your login has ended; log in again.");
}
offers.onLoginEnded(loginEnded);
cases.onLoginEnded(loginEnded);

$("logout").addEventListener("click", async () => {
  await api("POST", "/api/logout");
  session.officer = null;
  offers.unfollow();
  showLogin("You are logged out.");
});

/**
 * On load or login (the feed's first word lists what she holds): a contact she still holds
 * opens again (the page was reloaded, or the browser restarted, mid-call or in its
 * wrap-up). Answering again gives a fresh join token; the new join takes her seat and
 * the call is negotiated afresh.
 */
hear("reopen", async (taskId) => {
  if (isCallbackTask(taskId)) {
    showCallback(taskId);
    return;
  }
  const answered = await api("POST", "/api/contacts/" + encodeURIComponent(taskId) + "/answer");
  if (held.has(taskId)) return;
  if (answered.status !== 200) {
    show($("status-note"), refusal(answered, "The contact you hold could not be opened again."));
    return;
  }
  contacts.open(answered.data);
});

// Wrap-up done: back to available (going available ends the wrap-up).
hear("finished", () => offers.setState("available"));

(async function start() {
  const result = await api("GET", "/api/me");
  if (result.status === 200) showConsole(result.data);
  else showLogin("");
})();
