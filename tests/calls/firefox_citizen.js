// Her side of a video call in Firefox (Debian's firefox-esr, over WebDriver BiDi with
// puppeteer-core), for tests/calls/test_firefox.py. Prints one JSON line per step:
//   {"step": "waiting", "session": ..., "code": ...}  her contact is open, in line
//   {"step": "media", ...}                            media flows both ways (her stats)
//   {"step": "chat"}                                  the officer's message arrived
//   {"step": "ended"}                                 she hung up
// and {"step": "error", "message": ...} on a failure. Usage: node firefox_citizen.js URL
import puppeteer from "puppeteer-core";

const url = process.argv[2];
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const STATS = async () => {
  const pc = window.safecallCall.pc;
  if (!pc) return null;
  const out = { state: pc.connectionState, frames: 0, audioBytes: 0, videoBytes: 0 };
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") { out.frames += s.framesDecoded || 0; out.videoBytes += s.bytesReceived || 0; }
    if (s.kind === "audio") out.audioBytes += s.bytesReceived || 0;
  });
  return out;
};

async function until(page, script, holds, seconds = 30) {
  let last = null;
  for (let i = 0; i < seconds * 5; i += 1) {
    last = await page.evaluate(script);
    if (last !== null && holds(last)) return last;
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error("still not true after " + seconds + " s: " + JSON.stringify(last));
}

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  protocol: "webDriverBiDi",
  extraPrefsFirefox: {
    // Fake camera and microphone, no prompt; loopback candidates in a loopback-only namespace.
    "media.navigator.streams.fake": true,
    "media.navigator.permission.disabled": true,
    "media.navigator.permission.fake": true,
    "media.peerconnection.ice.loopback": true,
    "media.peerconnection.ice.obfuscate_host_addresses": false,
    "media.autoplay.default": 0,
  },
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 844 });
  const problems = [];
  page.on("pageerror", (error) => problems.push(String(error)));
  await page.goto(url);
  await page.click("[data-testid=start-video]");
  await page.waitForSelector("[data-testid=tracking-code]", { visible: true });
  const code = await page.$eval("[data-testid=tracking-code]", (el) => el.textContent.trim());
  const session = await page.evaluate(() => window.safecallCall.id);
  say({ step: "waiting", session, code });
  const first = await until(page, STATS, (s) => s.state === "connected" && s.frames > 0 && s.audioBytes > 0);
  const later = await until(page, STATS, (s) => s.frames > first.frames && s.audioBytes > first.audioBytes);
  say({ step: "media", userAgent: await browser.version(), ...later });
  await page.type("[data-testid=chat-input]", "hello from firefox");
  await page.click("[data-testid=chat-send]");
  await until(page, () => document.querySelector("#chat-log").textContent.includes("from the console") || null, Boolean);
  say({ step: "chat" });
  await page.click("[data-testid=hangup]");
  await page.click("[data-testid=hangup-confirm]"); // End asks first
  await page.waitForSelector("#ended", { visible: true });
  if (problems.length) throw new Error("script errors on her page: " + problems.join("; "));
  say({ step: "ended" });
} catch (error) {
  say({ step: "error", message: String(error && error.stack || error) });
  process.exitCode = 1;
} finally {
  await browser.close();
}
