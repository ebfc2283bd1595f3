"""The ``safecall`` command: serve, migrate, keys, and each package's own commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from safecall.settings import Settings, SettingsError

if TYPE_CHECKING:
    from aiohttp import web

Command = Callable[[argparse.Namespace, Settings], int]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from safecall.app import create_app

    # What the server makes (the database, recordings, their folders) is its user's only.
    os.umask(0o077)
    _private_var(settings)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app = create_app(settings)
    except ValueError as exc:
        print(f"safecall: {exc}", file=sys.stderr)
        return 2
    base = f"http://{settings.host}:{settings.port}"
    print(f"safecall is serving on {base}", flush=True)
    print(f"  citizen page : {base}/", flush=True)
    print(f"  console      : {base}/console", flush=True)
    print(f"  track a case : {base}/track", flush=True)
    if not asyncio.run(_has_officers(settings)):
        print(
            "  no officer yet: in another terminal run\n"
            "    .venv/bin/safecall officer add --badge B-101 --name 'First Officer' "
            "--role admin --gender female --languages ur,en --lines women,child\n"
            "  then log in at the console with badge B-101 and the password you chose.",
            flush=True,
        )
    asyncio.run(_run(app, settings))
    return 0


async def _run(app: web.Application, settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT; then drain the calls, then shut down.

    aiohttp's own shutdown stops reading every socket before anything else, so
    the hub drains first, while pages are still heard: no new contacts (503
    ``going_away``), calls held only here get up to ``drain_seconds`` to end,
    then every socket closes with going-away (1001) and its page reconnects,
    to another process when there is one. A second signal stops the wait.

    Connections are watched (:mod:`safecall.connections`): a request's head and body
    must arrive in time, and one address may hold only so many open.
    """
    from aiohttp import web

    from safecall.app import settle_heap
    from safecall.connections import ConnectionLimits, GuardedSite
    from signaling.routes import HUB

    limits = ConnectionLimits(
        header_seconds=settings.header_timeout,
        body_seconds=settings.body_timeout,
        keepalive_seconds=settings.keepalive_timeout,
        per_address=settings.max_connections_per_address,
    )
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, keepalive_timeout=limits.keepalive_seconds
    )
    await runner.setup()
    settle_heap()
    try:
        await GuardedSite(runner, settings.host, settings.port, limits).start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        draining: asyncio.Task[None] | None = None

        def on_signal() -> None:
            if draining is not None:
                draining.cancel()
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        await stop.wait()
        logging.getLogger("safecall").info("stopping: draining calls, then shutting down")
        draining = asyncio.create_task(app[HUB].drain())
        with contextlib.suppress(asyncio.CancelledError):
            await draining
    finally:
        await runner.cleanup()


async def _has_officers(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from officers.models import Officer
    from safecall.db import create_engine

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(Officer))).scalar_one()
            return bool(count)
    except Exception:
        return True  # not migrated or unreachable: the server start says so
    finally:
        await engine.dispose()


def _private_var(settings: Settings) -> None:
    """``var/`` 0700 and the SQLite files 0600, also when an earlier version made them
    readable by every user."""
    from safecall.private_files import private_dir, private_sqlite

    private_dir(settings.var_dir)
    private_sqlite(settings.database_url)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from safecall.migrate import upgrade

    _private_var(settings)
    key_file = settings.data_key_file if settings.data_key_file.exists() else None
    upgrade(settings.database_url, data_key_file=key_file)
    print("database is up to date")
    return 0


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from safecall.node_keys import ensure
    from safecall.private_files import private_dir

    private_dir(settings.var_dir)
    return ensure(settings, new=args.new)


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from safecall.backup import BackupError, backup

    try:
        made = backup(settings, args.out)
    except BackupError as exc:
        print(f"safecall: {exc}", file=sys.stderr)
        return 1
    print(f"backup written: {made.folder} ({made.files} files, {made.size / 1048576:.1f} MiB)")
    print(f"  keep {made.folder / 'keys'} apart from the rest: together they read everything.")
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from safecall.backup import BackupError, restore

    try:
        manifest = restore(settings, args.backup)
    except BackupError as exc:
        print(f"safecall: {exc}", file=sys.stderr)
        return 1
    print(f"restored the backup made at {manifest['made_at']} from {args.backup}")
    print("  next: safecall migrate, safecall audit verify, safecall recordings verify")
    return 0


def build_parser() -> argparse.ArgumentParser:
    import audit.cli
    import officers.cli
    import recordings.cli

    parser = argparse.ArgumentParser(prog="safecall", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the server").set_defaults(run=_serve)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        run=_migrate
    )
    keys = sub.add_parser(
        "keys",
        help="create the key files when they are missing (only while the database holds "
        "nothing they would have sealed)",
    )
    keys.add_argument(
        "--new",
        action="store_true",
        help="create missing key files even though the database holds data made with other "
        "keys (that data stays unreadable without them)",
    )
    keys.set_defaults(run=_keys)
    backup = sub.add_parser(
        "backup", help="write the database, the recordings and the key files to a new folder"
    )
    backup.add_argument("out", type=Path, help="the backup folder to create")
    backup.set_defaults(run=_backup)
    restore = sub.add_parser(
        "restore", help="restore a backup onto an empty deployment (new database, no key files)"
    )
    restore.add_argument("backup", type=Path, help="a folder written by `safecall backup`")
    restore.set_defaults(run=_restore)
    officers.cli.register(sub)
    audit.cli.register(sub)
    recordings.cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"safecall: {exc}", file=sys.stderr)
        return 2
    run: Command = args.run
    return run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
