"""``python -m bench faults``: the fault suite (issue 14), a benchmark-like job.

Two (or three) real ``safecall serve`` processes on a PostgreSQL cluster and Redis of the
run's own, under load from a driver that keeps its own ledger (``load.py``,
``ledger.py``); one scenario per fault (``faults.py``); after each, the ledger and the
database say whether anything was lost (``checks.py``); the table (``table.py``) is
printed and written as JSON. docs/operations.md, "The fault suite", says how to read it.

``python -m bench faults [--only NAME[,NAME]] [--quick] [--nodes 2] [--json PATH]
[--webhook-target 100] [--webhook-rate 20] [--contact-rate 1] [--keep]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.faults.faults import FAULTS
from bench.faults.run import Options, meta, prepare, run_fault
from bench.faults.table import details, render, write_json

DEFAULT_JSON = Path("var/faults.json")


def main(argv: list[str]) -> None:
    names = [f.name for f in FAULTS]
    parser = argparse.ArgumentParser(prog="python -m bench faults")
    parser.add_argument("--only", type=lambda s: s.split(","), default=names,
                        help=f"comma-separated faults: {', '.join(names)}")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="shorter phases, lighter load")
    parser.add_argument("--nodes", type=int, default=2, choices=(2, 3))
    parser.add_argument(
        "--webhook-target",
        type=float,
        default=100.0,
        help="webhooks/s the nodes are meant to take (overload is twice it)",
    )
    parser.add_argument("--webhook-rate", type=float, default=20.0, help="webhooks/s otherwise")
    parser.add_argument("--contact-rate", type=float, default=1.0, help="chat contacts/s")
    parser.add_argument("--postgres-port", type=int, default=5442)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(names)
    if unknown:
        parser.error(f"unknown fault {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    options = Options(
        nodes=args.nodes,
        contact_rate=args.contact_rate,
        webhook_rate=args.webhook_rate,
        webhook_target=args.webhook_target,
        quick=args.quick,
    )
    if args.quick:
        options.warm, options.after, options.drain, options.settle = 6.0, 8.0, 25.0, 15.0
        options.webhook_rate = min(options.webhook_rate, 10.0)
        options.webhook_target = min(options.webhook_target, 50.0)
    started = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="safecall-faults-"))
    print(
        f"faults: {options.nodes} nodes, {options.officers} officers, "
        f"{options.contact_rate:g} chat contacts/s, {options.webhook_rate:g} webhooks/s "
        f"(target {options.webhook_target:g}/s), in {directory}",
        flush=True,
    )
    rows = []
    world = None
    try:
        world = prepare(directory, options, args.postgres_port)
        for fault in FAULTS:
            if fault.name not in args.only:
                continue
            now = os.getloadavg()[0]
            print(f"  {fault.name}: {fault.what} (load average {now:.1f}) ...", flush=True)
            row = run_fault(world, fault, options)
            rows.append(row)
            print(details(row), flush=True)
    finally:
        if world is not None:
            world.postgres.destroy()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    print()
    print(render(rows))
    write_json(rows, args.json, meta(options, started))
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"\n(also in {args.json}; {time.monotonic() - started:.0f} s; load average {load})")
    if not all(r.passed for r in rows):
        sys.exit(1)
