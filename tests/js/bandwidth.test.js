// bandwidth.js: the network is judged from what was measured; a poor one asks for Opus at
// a low bitrate in her answer; video follows the bandwidth the browser estimates.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AUDIO_BPS, answer, judge, measure, probeServer, videoWanted } from "../../safecall/web/bandwidth.js";

const OFFER_ANSWER = [
  "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "a=rtpmap:111 opus/48000/2",
  "a=fmtp:111 minptime=10;useinbandfec=1", "a=rtpmap:0 PCMU/8000", "m=video 9 UDP/TLS/RTP/SAVPF 96",
  "a=rtpmap:96 VP8/90000", "",
].join("\r\n");

test("2G, a long round trip or a thin downlink is poor; 4G is not", () => {
  assert.equal(judge({ effectiveType: "2g" }), true);
  assert.equal(judge({ effectiveType: "slow-2g", rtt: 50 }), true);
  assert.equal(judge({ effectiveType: "4g", rtt: 2000 }), true);
  assert.equal(judge({ rtt: 200, downlink: 0.05 }), true);
  assert.equal(judge({ effectiveType: "4g", rtt: 100, downlink: 10 }), false);
  assert.equal(judge({ rtt: 300 }), false);
});

test("the browser's word is taken where it has one; else the server is probed", async () => {
  let probed = 0;
  const probe = async () => { probed += 1; return { rtt: 2100 }; };
  const told = await measure({ connection: { effectiveType: "4g", rtt: 50, downlink: 9 }, probe });
  assert.deepEqual([told.source, told.poor, probed], ["connection", false, 0]);
  const measured = await measure({ connection: undefined, probe });
  assert.deepEqual([measured.source, measured.poor, probed], ["probe", true, 1]);
});

test("the probe times an empty answer, then 16 KB; a slow round trip stops it there", async () => {
  let clock = 0;
  const asked = [];
  const fetcher = async (url) => {
    asked.push(url.split("&")[0]);
    clock += url.includes("bytes=0") ? 1500 : 100;
    return { arrayBuffer: async () => new ArrayBuffer(url.includes("bytes=0") ? 0 : 16384) };
  };
  const slow = await probeServer({ fetcher, now: () => clock });
  assert.deepEqual(asked, ["/api/probe?bytes=0"]);
  assert.equal(slow.rtt, 1500);
  assert.equal(judge(slow), true);

  asked.length = 0;
  const quick = async (url) => {
    asked.push(url.split("&")[0]);
    clock += url.includes("bytes=0") ? 40 : 140;  // 16 KB in 100 ms after the round trip
    return { arrayBuffer: async () => new ArrayBuffer(url.includes("bytes=0") ? 0 : 16384) };
  };
  const fast = await probeServer({ fetcher: quick, now: () => clock });
  assert.deepEqual(asked, ["/api/probe?bytes=0", "/api/probe?bytes=16384"]);
  assert.ok(Math.abs(fast.downlink - 1.31072) < 1e-6);
  assert.equal(judge(fast), false);
});

test("her answer caps Opus, keeping its other parameters, and touches nothing else", () => {
  const capped = answer(OFFER_ANSWER);
  assert.ok(capped.includes("a=fmtp:111 minptime=10;useinbandfec=1;maxaveragebitrate=" + AUDIO_BPS + "\r\n"));
  assert.equal(capped.replace(";maxaveragebitrate=" + AUDIO_BPS, ""), OFFER_ANSWER);
  assert.equal(answer(capped), capped);  // once only
  const bare = OFFER_ANSWER.replace("a=fmtp:111 minptime=10;useinbandfec=1\r\n", "");
  assert.ok(answer(bare).includes("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 maxaveragebitrate=16000\r\n"));
  const noOpus = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
  assert.equal(answer(noOpus), noOpus);
});

test("video goes on when there is room and off when there is not, not back and forth", () => {
  assert.equal(videoWanted(500000, false), true);
  assert.equal(videoWanted(200000, false), null);
  assert.equal(videoWanted(200000, true), null);
  assert.equal(videoWanted(80000, true), false);
  assert.equal(videoWanted(null, true), null);
});
