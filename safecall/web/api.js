// Calling the server from any page: one fetch wrapper, one way to read a refusal.
// A native ES module (no build step): import { api, refusal } from "/static/api.js".
//
//   const result = await api("POST", "/api/cases/7/status", { status: "referred" });
//   result.status   // HTTP status; 0 when the server could not be reached
//   result.data     // the JSON body, or null (204, not JSON)
//   result.date     // the server's Date header (a page corrects its clock with it)
//   refusal(result, "The status could not be saved.")   // the server's sentence, or ours
//
// `options.token` sends a contact's token as Authorization: Bearer (the citizen page),
// and then no cookie goes with the request; `options.fetch` lets tests pass their own.

/** Calls the API; never throws: a network failure is {status: 0}. */
export async function api(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: options.token ? "omit" : "same-origin" };
  if (options.token) headers.Authorization = "Bearer " + options.token;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const send = options.fetch || globalThis.fetch;
  let response;
  try {
    response = await send(path, init);
  } catch {
    return { status: 0, data: null, date: null };
  }
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch { data = null; }
  }
  return { status: response.status, data, date: response.headers.get("Date") };
}

/** The sentence to show for a refused request. */
export function refusal(result, fallback) {
  if (result.status === 0) return "Cannot reach the server. Check the connection and try again.";
  const error = result.data && result.data.error;
  return (error && error.message) || fallback;
}

/** The refusal's stable code, or null. */
export function refusalCode(result) {
  const error = result.data && result.data.error;
  return (error && error.code) || null;
}

/** A query string from the set values of `params` ("" when none). */
export function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
}

/** A request cut on its way (no answer: status 0) or by a server that is stopping or busy
 *  (502, 503, 504): asking again may go through. Any other answer is the server's word. */
export function wasCut(result) {
  return result.status === 0 || result.status === 502 || result.status === 503 || result.status === 504;
}

export const AGAIN_MS = [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000, 5000];

/**
 * `call()` (an `api(...)` call) again while it is cut, after each of `delays` (ms), until
 * it is answered or refused; the last result, with `tries`. `options.waiting(result, n)`
 * hears each cut one before the wait (to say "trying again"); `options.sleep` for tests.
 */
export async function tryAgain(call, options = {}) {
  const delays = options.delays || AGAIN_MS;
  const sleep = options.sleep || ((ms) => new Promise((done) => setTimeout(done, ms)));
  let result = await call();
  let tries = 1;
  for (const ms of delays) {
    if (!wasCut(result)) break;
    if (options.waiting) options.waiting(result, tries);
    await sleep(ms);
    result = await call();
    tries += 1;
  }
  return { ...result, tries };
}
