"""``safecall recordings`` (verify, sweep, purge, hold, release) and ``safecall evidence``
(export, verify, public-key).

Exit codes: 0 fine, 1 a mismatch was found (the first one is named), 2 the
command could not run (missing key, unreachable database).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import AuditLog, load_signing_key, load_verify_key, public_key_pem
from recordings import custody, evidence, retention
from recordings.keys import RecordingsKey
from recordings.models import Recording
from recordings.retention import RetentionPolicy
from recordings.service import IDLE
from recordings.store import ChunkStore, open_store
from safecall.db import create_engine, session_factory, utcnow
from safecall.settings import Settings


def register(sub: Any) -> None:
    rec = sub.add_parser("recordings", help="check, sweep and purge recordings; legal holds")
    commands = rec.add_subparsers(dest="recordings_command", required=True)
    check = commands.add_parser(
        "verify", help="read every stored chunk back and check hashes and chains"
    )
    check.add_argument("--case", type=_whole, help="only the recordings of this case")
    check.set_defaults(run=_verify)
    commands.add_parser(
        "sweep", help="mark recordings whose sender went silent or whose session ended incomplete"
    ).set_defaults(run=_sweep)
    purge = commands.add_parser("purge", help="delete recordings past their retention")
    purge.add_argument("--default-days", type=_whole, default=365)
    purge.add_argument(
        "--category-days",
        action="append",
        default=[],
        metavar="CATEGORY=DAYS",
        help="retention of one case category, e.g. cyber_harassment=730 (repeatable)",
    )
    purge.add_argument(
        "--fir-days", type=_whole, default=3 * 365, help="FIR cases: days kept after closing"
    )
    purge.add_argument("--dry-run", action="store_true", help="list what would be purged")
    purge.set_defaults(run=_purge)
    for name, text in (("hold", "put a legal hold on"), ("release", "release the legal hold of")):
        hold = commands.add_parser(name, help=f"{text} every recording of a case")
        hold.add_argument("case", type=_whole)
        if name == "hold":
            hold.add_argument("--reason", required=True, help="e.g. the court order's number")
        hold.set_defaults(run=_hold, hold=name == "hold")

    ev = sub.add_parser("evidence", help="export and verify signed evidence bundles")
    ev_commands = ev.add_subparsers(dest="evidence_command", required=True)
    export = ev_commands.add_parser("export", help="write a case's evidence bundle")
    export.add_argument("case", type=_whole)
    export.add_argument("out", type=Path, help="a new folder for the bundle")
    export.set_defaults(run=_export)
    verify = ev_commands.add_parser("verify", help="check a bundle offline against a pinned key")
    verify.add_argument("bundle", type=Path)
    verify.add_argument(
        "--key", type=Path, required=True, help="the published public key (PEM) to trust"
    )
    verify.set_defaults(run=_verify_bundle)
    ev_commands.add_parser(
        "public-key", help="print the evidence public key (PEM) to publish"
    ).set_defaults(run=_public_key)


def _whole(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 2**31 - 1:
        raise argparse.ArgumentTypeError("must be a whole number from 1")
    return int(raw)


def _fail(message: str) -> int:
    print(f"safecall: {message}", file=sys.stderr)
    return 2


@dataclass
class _Context:
    db: async_sessionmaker[AsyncSession]
    settings: Settings

    def store(self) -> ChunkStore:
        key = RecordingsKey.load(self.settings.recordings_key_file)
        return open_store(
            self.settings.recordings_store, self.settings.var_dir / "recordings", key, self.db
        )


@asynccontextmanager
async def _connected(settings: Settings) -> AsyncIterator[_Context]:
    engine = create_engine(settings.database_url)
    try:
        yield _Context(session_factory(engine), settings)
    finally:
        await engine.dispose()


@asynccontextmanager
async def _audited(
    db: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[AuditLog]:
    audit = AuditLog(db, settings.audit_key_file, clock=utcnow)
    try:
        yield audit
    finally:
        await audit.close()


def _run(work: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(work)
    except ValueError as exc:
        return _fail(str(exc))
    except (SQLAlchemyError, OSError) as exc:
        # The message could name the database URL and its password: give the kind only.
        return _fail(
            f"cannot reach the recordings ({type(exc).__name__}); "
            "is the database reachable and migrated (`safecall migrate`)?"
        )


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        async with _connected(settings) as ctx:
            store = ctx.store()
            query = select(Recording.id).order_by(Recording.started_at, Recording.id)
            if args.case is not None:
                query = query.where(Recording.case_id == args.case)
            async with ctx.db() as session:
                ids = list((await session.scalars(query)).all())
            for number, recording_id in enumerate(ids, 1):
                problem = await custody.check(ctx.db, store, recording_id)
                if problem is not None:
                    print(f"recordings BROKEN: {problem}", file=sys.stderr)
                    return 1
                print(f"\r{number}/{len(ids)} checked", end="", file=sys.stderr, flush=True)
        if ids:
            print(file=sys.stderr)
        print(f"recordings intact: {len(ids)} checked")
        return 0

    return _run(run())


def _sweep(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        async with _connected(settings) as ctx:
            closed = await custody.sweep(ctx.db, ctx.store(), utcnow(), idle=IDLE)
        print(f"{len(closed)} recording(s) marked incomplete")
        return 0

    return _run(run())


def _policy(args: argparse.Namespace) -> RetentionPolicy:
    categories: dict[str, int] = {}
    for item in args.category_days:
        name, _, days = item.partition("=")
        if not name or not (days.isascii() and days.isdigit()) or int(days) < 1:
            raise ValueError(f"--category-days {item!r}: expected CATEGORY=DAYS")
        categories[name] = int(days)
    return RetentionPolicy(args.default_days, categories, args.fir_days)


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        policy = _policy(args)
        async with _connected(settings) as ctx:
            if args.dry_run:
                due = await retention.expired(ctx.db, policy, utcnow())
                for r in due:
                    print(f"would purge {r.id} (case {r.case_id}, {r.size} bytes)")
                print(f"{len(due)} recording(s) past retention")
                return 0
            store = ctx.store()
            async with _audited(ctx.db, settings) as audit:

                def progress(done: int, total: int, r: Recording) -> None:
                    print(f"[{done}/{total}] purged {r.id} (case {r.case_id})", flush=True)

                purged = await retention.purge(
                    ctx.db, store, audit, policy, utcnow(), progress=progress
                )
        print(f"{len(purged)} recording(s) purged")
        return 0

    return _run(run())


def _hold(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        async with _connected(settings) as ctx, _audited(ctx.db, settings) as audit:
            ids = await retention.set_hold(
                ctx.db,
                audit,
                args.case,
                hold=args.hold,
                reason=getattr(args, "reason", None),
                now=utcnow(),
            )
        verb = "held" if args.hold else "released"
        print(f"{len(ids)} recording(s) of case {args.case} {verb}")
        return 0

    return _run(run())


def _signing_key(settings: Settings) -> Ed25519PrivateKey:
    try:
        return load_signing_key(settings.evidence_key_file)
    except ValueError as exc:
        raise ValueError(str(exc).replace("audit key file", "evidence key file")) from None


def _export(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        key = _signing_key(settings)
        if args.out.exists():
            raise ValueError(f"{args.out} exists; give a new folder for the bundle")
        async with _connected(settings) as ctx:
            store = ctx.store()
            async with _audited(ctx.db, settings) as audit:
                done = await evidence.export(
                    ctx.db, store, audit, key, args.case, args.out, utcnow()
                )
        print(
            f"bundle written to {done.path}: {done.recordings} recording(s), "
            f"{done.audit_events} audit event(s)"
        )
        return 0

    return _run(run())


def _verify_bundle(args: argparse.Namespace, settings: Settings) -> int:
    try:
        key: Ed25519PublicKey = load_verify_key(args.key)
    except ValueError as exc:
        return _fail(str(exc).replace("audit key file", "key file"))
    found = evidence.verify_bundle(args.bundle, key)
    if isinstance(found, evidence.Mismatch):
        print(f"bundle BROKEN at {found.where}: {found.message}", file=sys.stderr)
        return 1
    print(
        f"bundle intact: {found.recordings} recording(s), {found.chunks} chunk(s), "
        f"{found.files} file(s), {found.audit_events} audit event(s); signed by the given key"
    )
    return 0


def _public_key(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(public_key_pem(_signing_key(settings).public_key()), end="")
    except ValueError as exc:
        return _fail(str(exc))
    return 0
