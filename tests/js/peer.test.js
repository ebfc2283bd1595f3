// peer.js: the call's honest state, its quality figures, ICE settings.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CallHealth, FAIL_MS, STALL_MS, icePolicy, iceServers, quality, totals } from "../../safecall/web/peer.js";

test("connected only when the connection is connected and bytes keep arriving", () => {
  const health = new CallHealth();
  health.fresh(0);
  assert.equal(health.observe(1000, "connected", 0).state, "connecting");  // no media yet
  assert.equal(health.observe(2000, "connected", 0).state, "connecting");
  assert.equal(health.observe(3000, "connected", 500).state, "connected");
  // Media stops while the connection still says connected: not connected any more.
  assert.equal(health.observe(4000, "connected", 500).state, "connecting");
  assert.equal(health.observe(5000, "connected", 900).state, "connected");
});

test("a connection stuck in new/checking is restarted, then failed, then retried slowly", () => {
  const health = new CallHealth();
  health.fresh(0);
  const seen = [];
  for (let at = 1000; at <= FAIL_MS + 2 * FAIL_MS; at += 1000) {
    const { state, restart } = health.observe(at, at < 3000 ? "new" : "checking", 0);
    seen.push([at, state, restart]);
  }
  const restarts = seen.filter(([, , restart]) => restart).map(([at]) => at);
  assert.deepEqual(restarts, [STALL_MS, 2 * STALL_MS, 2 * STALL_MS + FAIL_MS, 2 * STALL_MS + 2 * FAIL_MS]);
  assert.equal(seen.find(([at]) => at === FAIL_MS - 1000)[1], "retrying");
  assert.equal(seen.find(([at]) => at === FAIL_MS)[1], "failed");
  // It can heal: media through after all.
  assert.equal(health.observe(40000, "connected", 0).state, "failed");  // connected, no media
  assert.equal(health.observe(41000, "connected", 20).state, "connected");
});

test("a fresh connection starts its clock again", () => {
  const health = new CallHealth();
  health.fresh(0);
  health.observe(FAIL_MS, "checking", 0);
  assert.equal(health.state, "failed");
  health.fresh(FAIL_MS + 1);
  assert.equal(health.observe(FAIL_MS + 2000, "checking", 0).state, "connecting");
});

test("quality: kilobits a second, packets lost, frames a second", () => {
  const report = (bytes, packets, lost, frames) => new Map([
    ["a", { type: "inbound-rtp", kind: "audio", bytesReceived: bytes, packetsReceived: packets, packetsLost: lost }],
    ["v", { type: "inbound-rtp", kind: "video", bytesReceived: bytes, packetsReceived: packets, packetsLost: 0, framesDecoded: frames }],
    ["o", { type: "outbound-rtp", bytesSent: 1e9 }],
  ]);
  const before = totals(report(1000, 100, 0, 10));
  const after = totals(report(26000, 190, 10, 70));
  assert.deepEqual(before, { bytes: 2000, packets: 200, lost: 0, frames: 10, videoBytes: 1000 });
  assert.deepEqual(quality(before, after, 2000), { kbps: 200, loss: 5.3, fps: 30 });
  assert.deepEqual(quality(after, after, 2000), { kbps: 0, loss: 0, fps: 0 });
});

test("?ice=relay asks for relay only; anything else for every path", () => {
  assert.equal(icePolicy("?ice=relay"), "relay");
  assert.equal(icePolicy("?ice=all"), "all");
  assert.equal(icePolicy(""), "all");
});

test("ICE servers are asked once, kept for half their life, and a failure is not kept", async () => {
  let now = 0;
  let asked = 0;
  let answer = { status: 200, data: { iceServers: [{ urls: "turn:x" }], ttl: 100 } };
  const servers = iceServers(async () => { asked += 1; return answer; }, () => now);
  const [a, b] = await Promise.all([servers(), servers()]);
  assert.deepEqual(a, [{ urls: "turn:x" }]);
  assert.equal(a, b);
  assert.equal(asked, 1);
  now = 49_000;
  await servers();
  assert.equal(asked, 1);
  now = 51_000;
  answer = { status: 503, data: null };
  assert.deepEqual(await servers(), []);
  assert.equal(asked, 2);
  answer = { status: 200, data: { iceServers: [], ttl: 100 } };
  await servers();
  assert.equal(asked, 3);
});
