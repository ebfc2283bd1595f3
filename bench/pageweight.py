"""The citizen page's first load: bytes on the wire and first paint on a slow 3G link.

``python -m bench pageweight [--rounds N] [--warmup W]`` — run it in the loopback-only
namespace (``python -m bench pageweight`` runs itself again through
``scripts/in-netns.sh`` when started outside one).

In one headless Chromium on a 390×844 phone viewport, each round opens in a fresh
browser context (an empty cache, no service worker: her first visit), throttled by
Chromium's own network emulation (CDP ``Network.emulateNetworkConditions``) to the
**slow 3G** profile below, interleaved round by round:

* **baseline** — a plain static page written for the bench (``BASELINE_HTML``: a
  heading, two paragraphs, a link, one small style sheet, gzip'd), served by a bare
  aiohttp server in this process: what any page costs on this link.
* **citizen** — ``/`` of a real ``safecall serve`` (SQLite, in-process queues), with
  everything it fetches on its own until the network is idle (its scripts and style
  sheets, the districts).

Measured: the bytes Chromium received for the page and everything it fetched
(``encodedDataLength``): the compressed bodies, and on the wire with the HTTP/1.1
headers (behind an HTTP/2 proxy headers shrink to a few bytes each); the number of
requests; and
the page's ``first-paint`` and ``first-contentful-paint`` (Paint Timing, from the
navigation's start). Printed side by side (median over the rounds, and the worst),
with the budgets of issue 16: ≤ 25 KB and first paint ≤ 2.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import socket
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser

from bench.first_frame import PHONE, SAFECALL, chromium, load
from bench.recordings import free_port, prepare, process, wait_up

SLOW_3G = {
    "offline": False,
    "latency": 400,  # ms added to each request (the round trip)
    "downloadThroughput": 400_000 / 8,  # 400 kbit/s, in bytes per second
    "uploadThroughput": 400_000 / 8,
}
"""WebPageTest's "3G Slow" profile (400 kbit/s both ways, 400 ms round trip)."""
BUDGET_BYTES = 25 * 1024
BUDGET_PAINT = 2.5

BASELINE_CSS = b"""body { margin: 0 auto; max-width: 36rem; padding: 1rem;
  font: 16px/1.5 system-ui, sans-serif; color: #1d1b26; background: #faf8fc; }
h1 { font-size: 1.5rem; color: #5b2a86; } a { color: #5b2a86; }
"""
BASELINE_HTML = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Help</title>
<link rel="stylesheet" href="/page.css">
</head>
<body>
<h1>Talk to a woman police officer</h1>
<p>Free, private, and you can stay anonymous.</p>
<p>In danger right now? <a href="tel:15">Call 15</a></p>
</body>
</html>
"""


@dataclass
class Load:
    bytes: int
    """Received on the wire: compressed bodies and HTTP/1.1 headers."""
    body_bytes: int
    """Compressed bodies only (behind an HTTP/2 proxy, headers shrink to a few bytes)."""
    requests: int
    first_paint: float
    first_contentful_paint: float
    each: dict[str, int]
    """Bytes received for each address (path and query)."""


def baseline_app() -> web.Application:
    files = {"/": (BASELINE_HTML, "text/html"), "/page.css": (BASELINE_CSS, "text/css")}

    async def serve(request: web.Request) -> web.Response:
        body, kind = files[request.path]
        headers = {"Content-Type": kind, "Vary": "Accept-Encoding", "Cache-Control": "no-store"}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(
                body=gzip.compress(body), headers={**headers, "Content-Encoding": "gzip"}
            )
        return web.Response(body=body, headers=headers)

    app = web.Application()
    for path in files:
        app.router.add_get(path, serve)
    return app


async def first_load(browser: Browser, url: str) -> Load:
    """One first visit: a fresh context (empty cache), the link throttled from the start."""
    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    try:
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        received: dict[str, int] = {}
        heads: dict[str, int] = {}
        asked: dict[str, str] = {}

        def sent(event: dict[str, Any]) -> None:
            url = event["request"]["url"]
            asked[event["requestId"]] = "/" + url.split("/", 3)[3] if url.count("/") > 2 else url

        def finished(event: dict[str, Any]) -> None:
            received[event["requestId"]] = int(event["encodedDataLength"])

        def head(event: dict[str, Any]) -> None:
            heads[event["requestId"]] = int(event["response"].get("encodedDataLength", 0))

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.responseReceived", head)
        cdp.on("Network.loadingFinished", finished)
        await cdp.send("Network.enable")
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        await cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        await page.goto(url, wait_until="networkidle", timeout=120_000)
        paints = await page.evaluate(
            """() => Object.fromEntries(performance.getEntriesByType("paint")
                 .map((p) => [p.name, p.startTime]))"""
        )
        return Load(
            bytes=sum(received.values()),
            body_bytes=sum(size - heads.get(key, 0) for key, size in received.items()),
            requests=len(received),
            first_paint=paints.get("first-paint", float("nan")) / 1000,
            first_contentful_paint=paints.get("first-contentful-paint", float("nan")) / 1000,
            each={asked.get(key, key): size for key, size in received.items()},
        )
    finally:
        await context.close()


async def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    base = env["SAFECALL_PUBLIC_URL"]
    runner = web.AppRunner(baseline_app())
    await runner.setup()
    bare_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", bare_port).start()
    pages = {"baseline static page": f"http://127.0.0.1:{bare_port}/", "citizen page /": base + "/"}
    loads: dict[str, list[Load]] = {name: [] for name in pages}
    try:
        with process([str(SAFECALL), "serve"], env):
            await wait_up(base + "/healthz")
            async with chromium() as browser:
                averages = [load()]
                for n in range(args.warmup + args.rounds):
                    order = list(pages) if n % 2 == 0 else list(reversed(pages))
                    for name in order:
                        measured = await first_load(browser, pages[name])
                        if n >= args.warmup:
                            loads[name].append(measured)
                averages.append(load())
    finally:
        await runner.cleanup()
    report(args, loads, averages)


def report(args: argparse.Namespace, loads: dict[str, list[Load]], averages: list[str]) -> None:
    mbit = SLOW_3G["downloadThroughput"] * 8 / 1e6
    print(
        f"pageweight: first visit (empty cache), 390x844, headless Chromium, slow 3G "
        f"({mbit:.1f} Mbit/s, {SLOW_3G['latency']} ms round trip); {args.rounds} rounds "
        f"interleaved (+{args.warmup} warm-up); median (worst)"
    )
    print(f"load average before: {averages[0]}; after: {averages[1]}")
    print(
        f"{'':<22}{'requests':>9}{'bodies (KB)':>16}{'wire (KB)':>16}"
        f"{'first paint (s)':>20}{'FCP (s)':>16}"
    )
    for name, rounds in loads.items():
        bodies = [r.body_bytes / 1024 for r in rounds]
        kb = [r.bytes / 1024 for r in rounds]
        fp = [r.first_paint for r in rounds]
        fcp = [r.first_contentful_paint for r in rounds]
        print(
            f"{name:<22}{statistics.median(r.requests for r in rounds):>9.0f}"
            f"{statistics.median(bodies):>9.1f} ({max(bodies):>4.1f})"
            f"{statistics.median(kb):>9.1f} ({max(kb):>4.1f})"
            f"{statistics.median(fp):>12.2f} ({max(fp):>4.2f})"
            f"{statistics.median(fcp):>8.2f} ({max(fcp):>4.2f})"
        )
    citizen = loads["citizen page /"]
    if args.requests:
        print("\ncitizen page /: bytes received for each request (first round)")
        for address, size in sorted(citizen[0].each.items(), key=lambda item: -item[1]):
            print(f"  {size:>7}  {address}")
    bodies = statistics.median(r.body_bytes for r in citizen) / 1024
    kb = statistics.median(r.bytes for r in citizen) / 1024
    paint = statistics.median(r.first_paint for r in citizen)
    print(
        f"budget (issue 16): <= {BUDGET_BYTES // 1024} KB compressed: bodies "
        f"{'met' if bodies <= 25 else 'MISSED'}, on the wire with HTTP/1.1 headers "
        f"{'met' if kb <= 25 else 'MISSED'}; first paint <= {BUDGET_PAINT} s: "
        f"{'met' if paint <= BUDGET_PAINT else 'MISSED'}"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench pageweight")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--requests", action="store_true", help="bytes for each request")
    args = parser.parse_args(argv)
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        # Browsers run only in a loopback-only namespace: go there and run again.
        in_netns = Path(__file__).resolve().parents[1] / "scripts" / "in-netns.sh"
        command = [str(in_netns), sys.executable, "-m", "bench", "pageweight", *argv]
        if subprocess.run(command, check=False).returncode:
            sys.exit("pageweight: the run in the loopback-only namespace failed")
        return
    with tempfile.TemporaryDirectory(prefix="safecall-bench-") as tmp:
        asyncio.run(run(args, prepare(Path(tmp))))


if __name__ == "__main__":
    main(sys.argv[1:])
