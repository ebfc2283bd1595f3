// A page's WebRTC call, the parts every page shares (the console's call and video leg;
// the citizen page adopts them): ICE servers, the connection, and an honest call state.
// A native ES module. The pure parts (CallHealth, totals, quality) run under node --test.
//
//   const servers = iceServers(() => api("GET", "/api/ice-servers"));   // cached, renewed
//   const pc = newPeer({ servers: await servers(), policy: icePolicy(location.search),
//                        onCandidate: (c) => signal.send({ type: "candidate", candidate: c }),
//                        onTrack: (e) => { video.srcObject = e.streams[0]; } });
//   const watch = watchCall(pc, { video: true, onState, onQuality, onRestart });
//   watch.fresh();   // a new offer went out (new connection or ICE restart): time it anew
//   watch.stop();
//
// "connected" means what it says: the connection is connected AND media bytes arrive.
// A connection still new/checking (or lost) after STALL_MS is restarted once (the
// offerer's onRestart makes an ICE-restart offer); still not through after FAIL_MS it is
// "failed", said in words, and the page falls back (sound only, chat, call 15).

export const STALL_MS = 5000;
export const FAIL_MS = 12000;
export const NO_FRAMES_MS = 6000;

/** "?ice=relay": media only through TURN (her address stays hidden). Default "all". */
export function icePolicy(search) {
  return new URLSearchParams(search || "").get("ice") === "relay" ? "relay" : "all";
}

/**
 * ICE servers, asked once and kept in memory until half their life (`ttl`) has gone.
 * `ask` resolves to {status, data: {iceServers, ttl}}; a failure gives [] (host candidates
 * still work) and asks again next time.
 */
export function iceServers(ask, now = () => Date.now()) {
  const held = { servers: null, until: 0, asking: null };
  return async function servers() {
    if (held.servers && now() < held.until) return held.servers;
    if (!held.asking) {
      held.asking = ask().then((result) => {
        held.asking = null;
        if (!result || result.status !== 200) return [];
        held.servers = result.data.iceServers;
        held.until = now() + result.data.ttl * 500;
        return held.servers;
      });
    }
    return held.asking;
  };
}

/** A peer connection that trickles its candidates (null at the end) and reports tracks. */
export function newPeer({ servers, policy, onCandidate, onTrack }) {
  const pc = new RTCPeerConnection({ iceServers: servers || [], iceTransportPolicy: policy || "all" });
  pc.onicecandidate = (e) => onCandidate(e.candidate ? e.candidate.toJSON() : null);
  if (onTrack) pc.ontrack = onTrack;
  return pc;
}

/** What a stats report adds up to: bytes in, packets in and lost, video frames decoded. */
export function totals(report) {
  const sum = { bytes: 0, packets: 0, lost: 0, frames: 0, videoBytes: 0 };
  report.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    sum.bytes += s.bytesReceived || 0;
    sum.packets += s.packetsReceived || 0;
    sum.lost += Math.max(0, s.packetsLost || 0);
    if (s.kind === "video") {
      sum.frames += s.framesDecoded || 0;
      sum.videoBytes += s.bytesReceived || 0;
    }
  });
  return sum;
}

/** Between two totals `ms` apart: kilobits a second in, packets lost (%), frames a second. */
export function quality(before, after, ms) {
  const seconds = Math.max(ms, 1) / 1000;
  const packets = after.packets - before.packets;
  const lost = Math.max(0, after.lost - before.lost);
  return {
    kbps: Math.max(0, Math.round(((after.bytes - before.bytes) * 8) / 1000 / seconds)),
    loss: packets + lost > 0 ? Math.round((lost / (packets + lost)) * 1000) / 10 : 0,
    fps: Math.max(0, Math.round((after.frames - before.frames) / seconds)),
  };
}

/**
 * The call's state from what the connection reports, fed once a second. Pure (time is
 * given), so node --test proves it. States: "connecting", "retrying" (an ICE restart is
 * out), "connected" (connected and media arrives), "failed".
 */
export class CallHealth {
  constructor({ stallMs = STALL_MS, failMs = FAIL_MS } = {}) {
    this.stallMs = stallMs;
    this.failMs = failMs;
    this.fresh(null);
  }

  /** A new connection (its counters start at 0): time it from `now`. */
  fresh(now) {
    this.state = "connecting";
    this.since = now;
    this.lastRestart = null;
    this.bytes = -1;
  }

  /** One observation; {state, restart}: restart asks the offerer for an ICE restart. */
  observe(now, connectionState, bytes) {
    const flowing = this.bytes >= 0 && bytes > this.bytes;
    this.bytes = Math.max(this.bytes, bytes);
    if (connectionState === "connected" && flowing) {
      this.since = null;
      this.lastRestart = null;
      this.state = "connected";
      return { state: this.state, restart: false };
    }
    if (connectionState === "closed") return { state: this.state, restart: false };
    if (this.since === null) this.since = now;
    const waited = now - this.since;
    // First try after stallMs; once failed, again every failMs (a network may come back).
    const every = waited >= this.failMs ? this.failMs : this.stallMs;
    const restart = now - (this.lastRestart === null ? this.since : this.lastRestart) >= every;
    if (restart) this.lastRestart = now;
    if (waited >= this.failMs) this.state = "failed";
    else if (this.lastRestart !== null) this.state = "retrying";
    else this.state = "connecting";
    return { state: this.state, restart };
  }
}

/**
 * Watches `pc` once a second: onState(state) when the call's state changes, onQuality
 * ({kbps, loss, fps, audioOnly}) every 2 s once connected, onRestart() when an ICE
 * restart is due (the offerer's job; an answerer passes nothing). `video`: frames are
 * expected, and none for NO_FRAMES_MS means the call goes on with sound only.
 */
export function watchCall(pc, { video = false, onState, onQuality, onRestart, now = () => Date.now() }) {
  const health = new CallHealth();
  health.fresh(now());
  let last = null;
  let lastAt = 0;
  let framesAt = now();
  let frames = -1;
  let shown = null;
  let ticks = 0;
  const timer = setInterval(async () => {
    if (pc.signalingState === "closed") return;
    let sum;
    try { sum = totals(await pc.getStats()); } catch { return; }
    const at = now();
    const seen = health.observe(at, pc.connectionState, sum.bytes);
    if (seen.restart && onRestart) onRestart();
    if (seen.state !== shown) {
      shown = seen.state;
      if (onState) onState(shown);
    }
    if (sum.frames > frames) framesAt = at;
    frames = Math.max(frames, sum.frames);
    ticks += 1;
    if (last && seen.state === "connected" && ticks % 2 === 0 && onQuality) {
      onQuality({ ...quality(last, sum, at - lastAt), audioOnly: video && at - framesAt >= NO_FRAMES_MS });
    }
    if (ticks % 2 === 0 || !last) { last = sum; lastAt = at; }
  }, 1000);
  return {
    health,
    fresh() { health.fresh(now()); shown = null; },
    stop() { clearInterval(timer); },
  };
}
