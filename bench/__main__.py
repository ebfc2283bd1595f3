"""``python -m bench [NAME ...]``: run one benchmark by name, or all of them."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "routing": "bench.routing",
    "signaling": "bench.signaling",
    "bridge": "bench.bridge",
    "webhooks": "bench.webhooks",
    "recordings": "bench.recordings",
    "first_frame": "bench.first_frame",
    "pageweight": "bench.pageweight",
    "faults": "bench.faults",
    "children": "bench.children_match",
    "children_hook": "bench.children_hook",
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [{'|'.join(BENCHMARKS)}] [options]")
        return 0
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names = [argv[0]] if argv else [n for n in BENCHMARKS if n != "faults"]
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        module.main(argv[1:] if argv else [])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
