"""The children's matching hook on a real database (not a test): what it costs to match a
new report when 10,000 missing reports are open.

The generated registry of ``bench.children_match`` (seeded; Urdu, Roman Urdu and English
spellings, noise) is written to a migrated SQLite database as sealed reports, the way the
service writes them. Then, in one process, on one core:

* **cold** — the first ranking on a fresh process: every open missing report read, opened
  (AES-GCM) and added to the registry;
* **hook** — :meth:`children.matches.Matches.propose` for each found report, one by one, on
  the warm registry: the found report read and opened, the registry brought up to date (one
  query of the open ids), ranked, the candidates written; median and p95, and the recall of
  the true missing report among the candidates stored (top 5, score at least 0.3);
* **baseline** — the same call without the per-process registry (a fresh one each time:
  what each report would cost if the open reports were read again for every ranking), on a
  sample.

``python -m bench children_hook [--missing N] [--found N] [--sample N] [--seed S]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from audit.log import AuditLog, ensure_signing_key
from bench.children_match import generate
from cases.vocabulary import load_districts
from children.matches import Matches
from children.matching import Description
from children.models import ChildMatch, ChildPhoto, ChildReport
from children.service import DETAILS_FIELD, Children, ChildrenConfig
from officers.models import Officer
from places.directory import Directory
from places.loader import load
from safecall.db import create_engine, session_factory
from safecall.migrate import upgrade
from sealing.data_key import DataKey

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _row(d: Description, data_key: DataKey, officer_id: int) -> ChildReport:
    details = {
        "names": list(d.names),
        "parent_names": list(d.parent_names),
        "languages": list(d.languages),
        "marks": d.marks or None,
        "clothing": d.clothing or None,
        "where": {
            "area": None,
            "latitude": None if d.place is None else d.place[0],
            "longitude": None if d.place is None else d.place[1],
        },
    }
    return ChildReport(
        id=d.report_id,
        kind=d.kind,
        status="open",
        district=d.district,
        age_min=d.age_min,
        age_max=d.age_max,
        gender=d.gender,
        height_min_cm=d.height_min_cm,
        height_max_cm=d.height_max_cm,
        seen_at=d.at,
        details_sealed=data_key.seal(json.dumps(details, ensure_ascii=False), DETAILS_FIELD),
        created_by=officer_id,
        created_at=d.at,
    )


def _photos(d: Description, officer_id: int) -> list[ChildPhoto]:
    return [
        ChildPhoto(
            id=f"p{d.report_id}{n}",
            report_id=d.report_id,
            media_type="image/png",
            size=0,
            sha256="0" * 64,
            phash=f"{h:016x}",
            key_id="bench",
            blob="bench",
            officer_id=officer_id,
            received_at=d.at,
        )
        for n, h in enumerate(d.photo_hashes)
    ]


def _times(label: str, times: list[float], extra: str = "") -> None:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(
        f"  {label:<40} median {statistics.median(times) * 1000:8.1f} ms  "
        f"p95 {p95 * 1000:8.1f} ms  (n={len(times)}){extra}"
    )


async def run(args: argparse.Namespace) -> None:
    missing, found, truth = generate(args.seed, args.missing, args.found)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        data_key = DataKey.generate()[0]
        audit_key = Path(tmp) / "audit.key"
        ensure_signing_key(audit_key)
        engine = create_engine(url)
        db = session_factory(engine)
        clock = lambda: NOW  # noqa: E731
        audit = AuditLog(db, audit_key, clock=clock)
        districts = load_districts()
        service = Children(
            db=db,
            data_key=data_key,
            directory=Directory(load(None, districts)),
            districts=districts,
            audit=audit,
            clock=clock,
            config=ChildrenConfig(),
        )
        async with db() as session:
            officer = Officer(
                badge="BENCH",
                name="Bench",
                role="officer",
                gender="female",
                languages=[],
                skills={},
                lines=["child"],
                password_hash="x",
            )
            session.add(officer)
            await session.flush()
            session.add_all([_row(d, data_key, officer.id) for d in missing])
            await session.flush()
            session.add_all([p for d in missing for p in _photos(d, officer.id)])
            await session.commit()
            officer_id = officer.id
        print(
            f"children matching hook: {len(missing)} open missing reports in SQLite, "
            f"{len(found)} found reports filed one by one, seed {args.seed}, one core"
        )

        warm = Matches(service)
        start = time.perf_counter()
        await warm._sync("missing")
        print(
            f"  cold: {len(missing)} open reports read, opened and indexed in "
            f"{time.perf_counter() - start:.2f} s (once per process)"
        )

        hook: list[float] = []
        hits = 0
        known = 0
        for d in found:
            async with db() as session:
                session.add(_row(d, data_key, officer_id))
                await session.flush()
                session.add_all(_photos(d, officer_id))
                await session.commit()
            started = time.perf_counter()
            await warm.propose(d.report_id)
            hook.append(time.perf_counter() - started)
            if d.report_id in truth:
                known += 1
                async with db() as session:
                    stored = set(
                        await session.scalars(
                            select(ChildMatch.missing_id).where(ChildMatch.found_id == d.report_id)
                        )
                    )
                hits += truth[d.report_id] in stored
        _times(
            "hook: propose, warm registry",
            hook,
            f"  recall {hits / max(known, 1):.1%} of {known} in the candidates stored",
        )

        cold: list[float] = []
        for d in found[: args.sample]:
            fresh = Matches(service)
            started = time.perf_counter()
            await fresh.propose(d.report_id)
            cold.append(time.perf_counter() - started)
        _times("baseline: propose, registry read again", cold)
        await audit.close()
        await engine.dispose()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench children_hook")
    parser.add_argument("--missing", type=int, default=10_000)
    parser.add_argument("--found", type=int, default=300)
    parser.add_argument("--sample", type=int, default=5)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    asyncio.run(run(args))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
