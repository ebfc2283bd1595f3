// Calls on a poor network: measured, not guessed. The network is judged once the page has
// loaded: from navigator.connection where the browser has it (Chrome, Android WebView),
// else from a short probe of the server (GET /api/probe: the round trip with an empty
// answer, then 16 KB timed, given up after 2.5 s). On a poor network her call starts
// audio-first: her camera's video is not sent, her voice is Opus at 16 kbit/s (her
// sender's maxBitrate, and `maxaveragebitrate` in her answer for what the officer sends
// her). During the call the browser's own estimate of the bandwidth it has
// (availableOutgoingBitrate) turns her video on when there is room, and off again when
// there is not. citizen.js calls adopt(pc) for each connection and answer(sdp) for each
// answer; a page without modules simply calls as before.

export const POOR_RTT_MS = 1000;
export const POOR_MBPS = 0.25;
export const AUDIO_BPS = 16000;
export const VIDEO_ON_BPS = 300000;
export const VIDEO_OFF_BPS = 120000;
const PROBE_BYTES = 16384;
const PROBE_GIVE_UP_MS = 2500;
const WATCH_MS = 3000;

/** Poor or not, from what was measured: {effectiveType, rtt (ms), downlink (Mbit/s)}. */
export function judge({ effectiveType, rtt, downlink }) {
  if (effectiveType === "slow-2g" || effectiveType === "2g") return true;
  if (typeof rtt === "number" && rtt >= POOR_RTT_MS) return true;
  if (typeof downlink === "number" && downlink > 0 && downlink < POOR_MBPS) return true;
  return false;
}

/** What the network is like: navigator.connection, else a probe of the server. */
export async function measure({ connection = globalThis.navigator && navigator.connection,
                                probe = probeServer } = {}) {
  if (connection && (connection.effectiveType || typeof connection.rtt === "number")) {
    const found = { source: "connection", effectiveType: connection.effectiveType,
                    rtt: connection.rtt, downlink: connection.downlink };
    return { ...found, poor: judge(found) };
  }
  const found = { source: "probe", ...(await probe()) };
  return { ...found, poor: judge(found) };
}

/** The server's answer time (empty answer), then its throughput over 16 KB. */
export async function probeServer({ fetcher = globalThis.fetch, now = () => performance.now() } = {}) {
  const ask = (bytes, signal) => fetcher("/api/probe?bytes=" + bytes + "&n=" + Math.random(),
    { cache: "no-store", credentials: "omit", signal }).then((r) => r.arrayBuffer());
  const started = now();
  try { await ask(0); } catch { return { rtt: Infinity }; }
  const rtt = now() - started;
  if (rtt >= POOR_RTT_MS || typeof globalThis.AbortController === "undefined") return { rtt };
  const stop = new globalThis.AbortController();
  const timer = setTimeout(() => stop.abort(), PROBE_GIVE_UP_MS);
  const begun = now();
  try {
    const body = await ask(PROBE_BYTES, stop.signal);
    const seconds = Math.max((now() - begun - rtt) / 1000, 0.001);
    return { rtt, downlink: (body.byteLength * 8) / seconds / 1e6 };
  } catch {
    // Not even 16 KB in 2.5 s: at most this much.
    return { rtt, downlink: (PROBE_BYTES * 8) / (PROBE_GIVE_UP_MS / 1000) / 1e6 };
  } finally {
    clearTimeout(timer);
  }
}

/** Her answer with Opus capped at `bps` (what the officer's browser sends her). */
export function answer(sdp, bps = AUDIO_BPS) {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(eol);
  const at = lines.findIndex((l) => /^a=rtpmap:\d+ opus\//i.test(l));
  if (at === -1) return sdp;
  const type = /^a=rtpmap:(\d+)/.exec(lines[at])[1];
  const fmtp = lines.findIndex((l) => l.startsWith("a=fmtp:" + type + " "));
  const cap = "maxaveragebitrate=" + bps;
  if (fmtp === -1) {
    lines.splice(at + 1, 0, "a=fmtp:" + type + " " + cap);
  } else if (/maxaveragebitrate=\d+/.test(lines[fmtp])) {
    lines[fmtp] = lines[fmtp].replace(/maxaveragebitrate=\d+/, cap);
  } else {
    lines[fmtp] += ";" + cap;
  }
  return lines.join(eol);
}

/** Video on or off for the bandwidth the browser estimates (null: keep it as it is). */
export function videoWanted(availableBps, on) {
  if (typeof availableBps !== "number") return null;
  if (!on && availableBps >= VIDEO_ON_BPS) return true;
  if (on && availableBps < VIDEO_OFF_BPS) return false;
  return null;
}

async function setSender(sender, change) {
  const params = sender.getParameters();
  if (!params.encodings || !params.encodings.length) params.encodings = [{}];
  params.encodings.forEach(change);
  try { await sender.setParameters(params); } catch { /* before negotiation: next time */ }
}

export const state = { network: null, measuring: null, poor: false, video: true, watching: 0 };

/** Tune a new connection: on a poor network, voice at 16 kbit/s and no video until there
 * is room for it; then watch the bandwidth while the call lasts. */
export function adopt(pc) {
  const poor = state.poor;
  state.video = !poor;
  const apply = () => {
    for (const sender of pc.getSenders()) {
      if (!sender.track) continue;
      if (sender.track.kind === "audio" && poor) setSender(sender, (e) => { e.maxBitrate = AUDIO_BPS; });
      if (sender.track.kind === "video") setSender(sender, (e) => { e.active = state.video; });
    }
  };
  apply();
  pc.addEventListener("connectionstatechange", () => { if (pc.connectionState === "connected") apply(); });
  const timer = setInterval(async () => {
    if (pc.connectionState === "closed") { clearInterval(timer); return; }
    if (pc.connectionState !== "connected") return;
    let available = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && typeof s.availableOutgoingBitrate === "number") {
        available = s.availableOutgoingBitrate;
      }
    });
    const wanted = videoWanted(available, state.video);
    if (wanted === null) return;
    state.video = wanted;
    apply();
  }, WATCH_MS);
  state.watching += 1;
}

export function start() {
  state.measuring = measure().then((network) => {
    state.network = network;
    state.poor = network.poor;
    return network;
  });
  return state.measuring;
}

if (globalThis.window && window.document) {
  window.SafecallBandwidth = { adopt, answer: (sdp) => (state.poor ? answer(sdp) : sdp), state };
  window.safecallNetwork = state;
  start();
}
