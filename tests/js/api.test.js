// api.js: one way to call the server and read its refusals.
import assert from "node:assert/strict";
import { test } from "node:test";

import { api, query, refusal, refusalCode, tryAgain, wasCut } from "../../safecall/web/api.js";

function answering(status, body) {
  const calls = [];
  const fetch = async (path, init) => {
    calls.push({ path, init });
    return {
      status,
      headers: new Map([["Date", "Mon, 07 Dec 2026 20:00:00 GMT"]]),
      json: async () => { if (body === undefined) throw new Error("no body"); return body; },
    };
  };
  return { fetch, calls };
}

test("a JSON body goes out with its type; the answer's JSON and date come back", async () => {
  const server = answering(200, { ok: 1 });
  const result = await api("POST", "/api/x", { a: 1 }, { fetch: server.fetch });
  assert.deepEqual(result, { status: 200, data: { ok: 1 }, date: "Mon, 07 Dec 2026 20:00:00 GMT" });
  const { init } = server.calls[0];
  assert.equal(init.headers["Content-Type"], "application/json");
  assert.equal(init.body, '{"a":1}');
  assert.equal(init.credentials, "same-origin");
});

test("her token goes as a bearer, without cookies", async () => {
  const server = answering(204);
  const result = await api("GET", "/api/contacts/s", undefined, { token: "t0k", fetch: server.fetch });
  assert.equal(result.data, null);
  assert.equal(server.calls[0].init.headers.Authorization, "Bearer t0k");
  assert.equal(server.calls[0].init.credentials, "omit");
});

test("an unreachable server is status 0 and said in words", async () => {
  const result = await api("GET", "/api/x", undefined, { fetch: async () => { throw new TypeError("offline"); } });
  assert.equal(result.status, 0);
  assert.match(refusal(result, "x"), /Cannot reach the server/);
});

test("a refusal's sentence and code, or the page's own words", async () => {
  const refused = { status: 409, data: { error: { code: "status_unchanged", message: "It is already so." } } };
  assert.equal(refusal(refused, "fallback"), "It is already so.");
  assert.equal(refusalCode(refused), "status_unchanged");
  assert.equal(refusal({ status: 500, data: null }, "fallback"), "fallback");
  assert.equal(refusalCode({ status: 500, data: null }), null);
});

test("a query string from the values that are set", () => {
  assert.equal(query({ a: "1", b: "", c: null, d: undefined, e: "x y" }), "?a=1&e=x+y");
  assert.equal(query({}), "");
});

test("a cut request is asked again with growing waits until it is answered", async () => {
  const statuses = [0, 503, 502, 200];
  const waits = [];
  const heard = [];
  const result = await tryAgain(async () => ({ status: statuses.shift(), data: null, date: null }), {
    sleep: async (ms) => { waits.push(ms); },
    waiting: (cut, n) => heard.push([cut.status, n]),
  });
  assert.equal(result.status, 200);
  assert.equal(result.tries, 4);
  assert.deepEqual(waits, [500, 1000, 2000]);
  assert.deepEqual(heard, [[0, 1], [503, 2], [502, 3]]);
});

test("a refusal is the server's word: never asked again", async () => {
  let calls = 0;
  const result = await tryAgain(async () => { calls += 1; return { status: 409, data: null, date: null }; },
    { sleep: async () => {} });
  assert.equal(result.status, 409);
  assert.equal(calls, 1);
  assert.equal(wasCut({ status: 409 }), false);
  assert.equal(wasCut({ status: 0 }), true);
});

test("asking again stops after the last wait, with the last cut", async () => {
  const result = await tryAgain(async () => ({ status: 503, data: null, date: null }),
    { delays: [1, 1], sleep: async () => {} });
  assert.equal(result.status, 503);
  assert.equal(result.tries, 3);
});
