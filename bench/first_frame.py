"""Time from accept to the first decoded video frame on both sides, in one Chromium.

``python -m bench first_frame [--rounds N] [--warmup W] [--steps]`` — run it in the
loopback-only namespace (``python -m bench first_frame`` runs itself again through
``scripts/in-netns.sh`` when started outside one).

Interleaved round by round, in one headless Chromium with a fake camera and
microphone (the browser tests' flags), host ICE candidates only on loopback:

* **baseline** — a minimal two-page WebRTC app written for the bench (``BASELINE``:
  an aiohttp server with two tiny pages and a WebSocket relay, in a process of its
  own). Page B has her camera and microphone on and waits, as her page does in line;
  page A clicks "call" (the accept): camera and microphone, a peer connection, an
  offer; B answers; candidates trickle both ways.
* **safecall** — a real ``safecall serve`` (SQLite, in-process queues): her page
  starts a video call and waits in line; the console, logged in and available, is
  offered the contact and its officer clicks accept.

Measured inside the pages, not from Python: a capturing click listener stamps the
accept, and ``requestVideoFrameCallback`` on each page's remote ``<video>`` stamps
its first frame, both as ``performance.timeOrigin + performance.now()`` (one clock
for every page of the browser). A round's figure is the later of the two first
frames, from the accept. Printed: median and p90 of each, the ratio ours/baseline
(of the medians, and round by round: less shaken by a noisy machine) and the load
average. ``--steps`` adds when each step happened (the median over the
rounds, from the accept): the pages' fetches, getUserMedia, peer connections, SDP,
signaling messages, ICE and DTLS states, each page's first frame.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.recordings import free_port, prepare, process, wait_up
from officers.models import Officer
from officers.passwords import hash_password
from safecall.db import create_engine, session_factory
from tests.browser import ARGS, CHROMIUM  # the suite's Chromium, with the same flags

SAFECALL = Path(sys.executable).with_name("safecall")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
BADGE = "BENCH-1"
PASSWORD = "bench password, not secret"

# Injected into every page before its own scripts: stamps for the accept, the first
# remote frame and each step on the way (timestamps only; the pages behave as usual).
TRACE = r"""
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const bench = { marks: [], accept: null, frame: null };
  window.__bench = bench;
  const mark = (name) => bench.marks.push([name, now()]);
  const path = (url) => String(url).replace(/^[a-z]+:\/\/[^/]+/, "").split("?")[0]
    .split("/").map((s) => (/\d/.test(s) && s.length > 6 ? ":id" : s)).join("/");
  document.addEventListener("click", (event) => {
    const target = event.target.closest && event.target.closest("[data-testid=accept], #call");
    if (target && bench.accept === null) { bench.accept = now(); mark("accept click"); }
  }, true);
  /** A new round: forget what came before; stamp the next first frame. */
  bench.arm = (selector) => {
    bench.marks = []; bench.accept = null; bench.frame = null;
    const video = document.querySelector(selector);
    video.requestVideoFrameCallback((at) => {
      bench.frame = performance.timeOrigin + at; bench.marks.push(["first frame", bench.frame]);
    });
  };
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    const name = ((init && init.method) || "GET") + " " + path(input && input.url || input);
    mark("fetch " + name);
    return fetch0.apply(this, arguments).then((r) => { mark("fetched " + name); return r; });
  };
  const devices = navigator.mediaDevices;
  const gum = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (c) => {
    mark("getUserMedia"); return gum(c).then((s) => { mark("getUserMedia done"); return s; });
  };
  const PC = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends PC {
    constructor(...args) {
      super(...args);
      mark("pc new");
      let first = true;
      this.addEventListener("icecandidate", (e) => {
        if (e.candidate && first) { first = false; mark("first own candidate"); }
        if (!e.candidate) mark("end of own candidates");
      });
      const on = (event, name) => this.addEventListener(event, () => mark(name()));
      on("icegatheringstatechange", () => "gathering " + this.iceGatheringState);
      on("iceconnectionstatechange", () => "ice " + this.iceConnectionState);
      on("connectionstatechange", () => "dtls/pc " + this.connectionState);
      this.addEventListener("track", (e) => mark("track " + e.track.kind));
    }
  };
  const steps = ["createOffer", "createAnswer", "setLocalDescription", "setRemoteDescription"];
  for (const name of steps) {
    const original = PC.prototype[name];
    PC.prototype[name] = function (...args) {
      mark(name);
      return original.apply(this, args).then((r) => { mark(name + " done"); return r; });
    };
  }
  const WS = window.WebSocket;
  const type = (data) => { try { return JSON.parse(data).type; } catch (e) { return "?"; } };
  const quiet = ["ack", "ping", "pong"];
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      mark("ws new");
      this.addEventListener("open", () => mark("ws open"));
      this.addEventListener("message", (e) => {
        const t = type(e.data); if (!quiet.includes(t)) mark("ws< " + t);
      });
    }
    send(data) {
      const t = type(data);
      if (!quiet.includes(t)) mark("ws> " + t);
      return super.send(data);
    }
  };
})();
"""

BASELINE = r'''
import sys
from aiohttp import web, WSMsgType

PAGE = """<!doctype html><meta charset="utf-8"><title>%(side)s</title>
<button id="call">call</button><video id="remote" autoplay playsinline></video>
<video id="mine" autoplay playsinline muted></video>
<script>
const side = "%(side)s", room = new URLSearchParams(location.search).get("room");
const ws = new WebSocket("ws://" + location.host + "/ws?room=" + room + "&side=" + side);
let pc = null, local = null, handling = Promise.resolve();
const send = (m) => ws.send(JSON.stringify(m));
const media = () => navigator.mediaDevices.getUserMedia({audio: true, video: true});
function connection() {
  pc = new RTCPeerConnection({iceServers: []});
  local.getTracks().forEach((t) => pc.addTrack(t, local));
  pc.onicecandidate = (e) => send({type: "candidate",
                                   candidate: e.candidate && e.candidate.toJSON()});
  pc.ontrack = (e) => { document.getElementById("remote").srcObject = e.streams[0]; };
}
async function handle(m) {
  if (m.type === "offer") {
    connection();
    await pc.setRemoteDescription({type: "offer", sdp: m.sdp});
    await pc.setLocalDescription(await pc.createAnswer());
    send({type: "answer", sdp: pc.localDescription.sdp});
  } else if (m.type === "answer") {
    await pc.setRemoteDescription({type: "answer", sdp: m.sdp});
  } else if (m.type === "candidate" && pc) {
    await pc.addIceCandidate(m.candidate || null);
  }
}
ws.onmessage = (e) => { handling = handling.then(() => handle(JSON.parse(e.data))); };
window.ready = new Promise((ok) => { ws.onopen = ok; });
if (side === "b") {
  media().then((s) => { local = s; document.getElementById("mine").srcObject = s; });
}
document.getElementById("call").onclick = async () => {
  local = await media();
  document.getElementById("mine").srcObject = local;
  connection();
  await pc.setLocalDescription(await pc.createOffer());
  send({type: "offer", sdp: pc.localDescription.sdp});
};
</script>"""

rooms = {}

async def page(request):
    return web.Response(text=PAGE % {"side": request.match_info["side"]}, content_type="text/html")

async def relay(request):
    room, side = request.query["room"], request.query["side"]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    peers = rooms.setdefault(room, {})
    peers[side] = ws
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            other = peers.get("b" if side == "a" else "a")
            if other is not None and not other.closed:
                await other.send_str(message.data)
    peers.pop(side, None)
    if not peers:
        rooms.pop(room, None)
    return ws

app = web.Application()
app.router.add_get("/ws", relay)
app.router.add_get("/{side:[ab]}", page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
'''

WAIT = 20.0


async def frames(pages: list[Page], wait: float = WAIT) -> list[float]:
    """Each page's first-frame stamp, once every page has one (bounded; Python only reads)."""
    for _ in range(int(wait / 0.05)):
        stamps = [await page.evaluate("() => window.__bench.frame") for page in pages]
        if all(stamp is not None for stamp in stamps):
            return stamps
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no first frame on every page after {wait} s")


async def marks(page: Page, accept: float, side: str) -> dict[str, float]:
    """Each step's first time on ``page``, in seconds from the accept."""
    out: dict[str, float] = {}
    for name, at in await page.evaluate("() => window.__bench.marks"):
        out.setdefault(f"{side}: {name}", (at - accept) / 1000)
    return out


async def new_page(
    browser: Browser, url: str, viewport: dict[str, int]
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=viewport, locale="en-GB")  # type: ignore[arg-type]
    await context.add_init_script(TRACE)
    page = await context.new_page()
    await page.goto(url)
    return context, page


class Baseline:
    """The minimal two-page app: A calls (the accept), B answers."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.round = 0

    async def once(self) -> tuple[float, dict[str, float]]:
        self.round += 1
        room = f"r{self.round}"
        b_ctx, b = await new_page(self.browser, f"{self.base}/b?room={room}", PHONE)
        a_ctx, a = await new_page(self.browser, f"{self.base}/a?room={room}", DESKTOP)
        try:
            await b.evaluate("() => window.ready")
            await a.evaluate("() => window.ready")
            await b.wait_for_function("() => document.getElementById('mine').srcObject !== null")
            await a.evaluate("() => window.__bench.arm('#remote')")
            await b.evaluate("() => window.__bench.arm('#remote')")
            await a.click("#call")
            stamps = await frames([a, b])
            accept = await a.evaluate("() => window.__bench.accept")
            steps = await marks(a, accept, "A") | await marks(b, accept, "B")
            return (max(stamps) - accept) / 1000, steps
        finally:
            await a_ctx.close()
            await b_ctx.close()


class Safecall:
    """Her page starts a video call; the console (logged in, available) accepts it."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.console: Page | None = None

    async def start(self) -> None:
        _, console = await new_page(self.browser, f"{self.base}/console", DESKTOP)
        await console.get_by_test_id("login-badge").fill(BADGE)
        await console.get_by_test_id("login-password").fill(PASSWORD)
        await console.get_by_test_id("login-submit").click()
        await console.get_by_test_id("app-view").wait_for(state="visible")
        await console.get_by_test_id("status-available").click()
        self.console = console

    async def once(self) -> tuple[float, dict[str, float]]:
        console = self.console
        assert console is not None
        her_ctx, her = await new_page(self.browser, f"{self.base}/", PHONE)
        try:
            await her.get_by_test_id("start-video").click()
            await her.get_by_test_id("tracking-code").wait_for(state="visible")
            # In line: her socket has joined (as when she has waited a while).
            await her.wait_for_function(
                "() => Boolean(window.safecallCall.signal"
                " && window.safecallCall.signal.resumeToken)"
            )
            await console.get_by_test_id("offer").wait_for(state="visible")
            await console.wait_for_function("() => !document.getElementById('accept').disabled")
            await console.evaluate("() => window.__bench.arm('#remote-video')")
            await her.evaluate("() => window.__bench.arm('#remote-video')")
            await console.get_by_test_id("accept").click()
            stamps = await frames([console, her])
            accept = await console.evaluate("() => window.__bench.accept")
            steps = await marks(console, accept, "console") | await marks(her, accept, "citizen")
            await her.get_by_test_id("hangup").click()
            await console.get_by_test_id("wrapup-done").wait_for(state="visible")
            await console.get_by_test_id("wrapup-done").click()
            await console.wait_for_function(
                "() => document.getElementById('status-text').textContent.startsWith('Available')"
            )
            return (max(stamps) - accept) / 1000, steps
        finally:
            await her_ctx.close()


async def add_officer(env: dict[str, str]) -> None:
    engine = create_engine(env["SAFECALL_DATABASE_URL"])
    async with session_factory(engine)() as session, session.begin():
        session.add(
            Officer(
                badge=BADGE,
                name="Bench officer",
                role="officer",
                gender="female",
                languages=["ur", "en"],
                skills={},
                lines=["women", "child"],
                password_hash=hash_password(PASSWORD),
            )
        )
    await engine.dispose()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def run(args: argparse.Namespace, var: Path, env: dict[str, str]) -> None:
    await add_officer(env)
    base = env["SAFECALL_PUBLIC_URL"]
    bare_port = free_port()
    bare_base = f"http://127.0.0.1:{bare_port}"
    with (
        process([sys.executable, "-c", BASELINE, str(bare_port)], env),
        process([str(SAFECALL), "serve"], env),
    ):
        await wait_up(bare_base + "/a")
        await wait_up(base + "/healthz")
        async with chromium() as browser:
            kinds: dict[str, Any] = {
                "baseline": Baseline(browser, bare_base),
                "safecall": Safecall(browser, base),
            }
            await kinds["safecall"].start()
            times: dict[str, list[float]] = {name: [] for name in kinds}
            steps: dict[str, list[dict[str, float]]] = {name: [] for name in kinds}
            loads = [load()]
            for n in range(args.warmup + args.rounds):
                order = list(kinds) if n % 2 == 0 else list(reversed(kinds))
                for name in order:
                    took, marked = await kinds[name].once()
                    if n >= args.warmup:
                        times[name].append(took)
                        steps[name].append(marked)
            loads.append(load())
    print(
        f"first_frame: accept to the first decoded frame on both sides, {args.rounds} rounds "
        f"interleaved (+{args.warmup} warm-up), one headless Chromium, loopback host candidates"
    )
    print(f"load average before: {loads[0]}; after: {loads[1]}")
    print(f"{'':<10}{'median':>9}{'p90':>9}{'min':>9}{'max':>9}{'ratio':>8}")
    base_median = statistics.median(times["baseline"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<10}{median:>8.3f}s{quantile(values, 0.9):>8.3f}s{min(values):>8.3f}s"
            f"{max(values):>8.3f}s{median / base_median:>8.2f}"
        )
    paired = [ours / base for ours, base in zip(times["safecall"], times["baseline"], strict=True)]
    print(
        f"ours/baseline round by round: median {statistics.median(paired):.2f}, "
        f"p90 {quantile(paired, 0.9):.2f}"
    )
    print("target: safecall under 0.5 s")
    if args.steps:
        for name, rounds in steps.items():
            print(f"\n{name}: when each step happened (median over rounds, s from the accept)")
            names = {key for marked in rounds for key in marked}
            table = [
                (statistics.median(marked[key] for marked in rounds if key in marked), key)
                for key in names
            ]
            for at, key in sorted(table):
                print(f"  {at:>7.3f}  {key}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench first_frame")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", action="store_true", help="when each step happened")
    args = parser.parse_args(argv)
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        # Browsers and WebRTC run only in a loopback-only namespace: go there and run again.
        in_netns = Path(__file__).resolve().parents[1] / "scripts" / "in-netns.sh"
        command = [str(in_netns), sys.executable, "-m", "bench", "first_frame", *argv]
        if subprocess.run(command, check=False).returncode:
            sys.exit("first_frame: the run in the loopback-only namespace failed")
        return
    with tempfile.TemporaryDirectory(prefix="safecall-bench-") as tmp:
        var = Path(tmp)
        asyncio.run(run(args, var, prepare(var)))


if __name__ == "__main__":
    main(sys.argv[1:])
