"""``safecall audit``: verify the chain, publish the public key, show recent events.

``verify`` exits 0 when the chain is intact (warnings, such as an unsigned
tail, go to standard error), 1 at the first broken link, 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from audit.log import load_verify_key, public_key_pem, verify
from audit.models import AuditEvent
from safecall.db import create_engine, session_factory
from safecall.settings import Settings


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="check and inspect the audit log")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    check = commands.add_parser(
        "verify", help="recompute the hash chain and check every signed checkpoint"
    )
    check.add_argument(
        "--key",
        type=Path,
        help="public (or private) key file to check signatures with; "
        "default SAFECALL_AUDIT_KEY_FILE",
    )
    check.set_defaults(run=_verify)
    commands.add_parser(
        "export-public-key", help="print the public key (PEM) to publish apart from the server"
    ).set_defaults(run=_export)
    tail = commands.add_parser("tail", help="show the newest events (no addresses or details)")
    tail.add_argument("-n", type=_count, default=20, help="how many events (default 20)")
    tail.set_defaults(run=_tail)


def _count(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10_000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 10000")
    return int(raw)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        key = load_verify_key(args.key or settings.audit_key_file)
    except ValueError as exc:
        print(f"safecall: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            verdict = await verify(session_factory(engine), key)
        finally:
            await engine.dispose()
        if verdict.broken is not None:
            broken = verdict.broken
            print(
                f"audit log BROKEN at event {broken.event_id} ({broken.kind}): {broken.message}",
                file=sys.stderr,
            )
            return 1
        signed = (
            f"{verdict.last_signed_at:%Y-%m-%d %H:%M:%S} UTC (event {verdict.last_signed_event_id})"
            if verdict.last_signed_at
            else "never"
        )
        print(
            f"audit log intact: {verdict.events} events, {verdict.checkpoints} checkpoints, "
            f"last signed at {signed}",
            flush=True,
        )
        for warning in verdict.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return 0

    return _run(run())


def _export(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(public_key_pem(load_verify_key(settings.audit_key_file)), end="")
    except ValueError as exc:
        print(f"safecall: {exc}", file=sys.stderr)
        return 2
    return 0


def _tail(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(
                            AuditEvent.id,
                            AuditEvent.at,
                            AuditEvent.actor_kind,
                            AuditEvent.officer_id,
                            AuditEvent.action,
                            AuditEvent.object_type,
                            AuditEvent.object_id,
                        )
                        .order_by(AuditEvent.id.desc())
                        .limit(args.n)
                    )
                ).all()
        finally:
            await engine.dispose()
        for row in reversed(rows):
            actor = row.actor_kind + (f" {row.officer_id}" if row.officer_id is not None else "")
            target = row.object_type + (f" {row.object_id}" if row.object_id is not None else "")
            print(
                f"{row.id:>8}  {row.at:%Y-%m-%d %H:%M:%S}  {actor:<16}  {row.action:<24}  {target}"
            )
        return 0

    return _run(run())


def _run(work: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(work)
    except (SQLAlchemyError, OSError) as exc:
        # The message could name the database URL and its password: give the kind only.
        print(
            f"safecall: cannot read the audit log ({type(exc).__name__}); "
            "is the database reachable and migrated (`safecall migrate`)?",
            file=sys.stderr,
        )
        return 2
