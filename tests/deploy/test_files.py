"""The deployment files say only what the code reads: every setting a node is given is
one the server knows and accepts, and the order of services starts nothing too early."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from safecall.settings import PREFIX, Settings
from tests.deploy.stack import ROOT, load, start_order

COMPOSE = [ROOT / "deploy" / "compose.yaml"]
WITH_SENTINELS = [*COMPOSE, ROOT / "deploy" / "compose.sentinel.yaml"]


def _example_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (ROOT / "deploy" / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


@pytest.mark.parametrize("files", [COMPOSE, WITH_SENTINELS], ids=["plain", "sentinels"])
def test_every_node_setting_is_one_the_server_reads_and_accepts(files: list[Path]) -> None:
    services = load(files, _example_env())
    known = {f.name.upper() for f in dataclasses.fields(Settings)}
    for name in ("init", "node1", "node2"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        ours = {k.removeprefix(PREFIX) for k in env if k.startswith(PREFIX)}
        assert ours <= known, f"{name}: {sorted(ours - known)} are not settings"
        settings = Settings.from_env(env)  # a bad value raises, naming the variable
        assert settings.recordings_store == "database"  # several nodes share recordings
        assert settings.trust_forwarded  # behind the proxy, which sets X-Forwarded-For
        assert settings.data_key_file.parent == Path("/var/lib/safecall/keys")
    urls = {services[n]["environment"]["SAFECALL_REDIS_URL"] for n in ("node1", "node2")}
    assert len(urls) == 1
    assert urls.pop().startswith("redis+sentinel://" if files == WITH_SENTINELS else "redis://")


def test_the_nodes_start_after_the_keys_and_the_schema() -> None:
    order = start_order(load(WITH_SENTINELS, _example_env()))
    for node in ("node1", "node2"):
        assert order.index("postgres") < order.index("init") < order.index(node)
        assert order.index("redis") < order.index(node)


def test_a_missing_secret_stops_the_stack_before_it_starts() -> None:
    env = _example_env()
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD: set POSTGRES_PASSWORD"):
        load(COMPOSE, env)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_the_systemd_unit_is_well_formed() -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(ROOT / "deploy" / "safecall.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    # The one complaint allowed: the program is not installed on this machine.
    problems = [
        line
        for line in done.stderr.splitlines()
        if line.strip() and "/opt/safecall/bin/safecall is not executable" not in line
    ]
    assert problems == []


@pytest.mark.parametrize("files", [COMPOSE, WITH_SENTINELS], ids=["plain", "sentinels"])
def test_every_redis_of_the_stack_keeps_an_append_only_file(files: list[Path]) -> None:
    """Without persistence a restart brings Redis back empty (docs/operations.md#redis)."""
    services = load(files, _example_env())
    servers = [
        s["command"] for s in services.values() if s.get("command", [""])[0] == "redis-server"
    ]
    assert len(servers) == (2 if files == WITH_SENTINELS else 1)
    for command in servers:
        assert command[command.index("--appendonly") + 1] == "yes"
        assert command[command.index("--save") + 1] == ""


def test_the_test_services_run_redis_as_production_does() -> None:
    for script in ("test-services.sh", "in-netns.sh"):
        text = (ROOT / "scripts" / script).read_text().replace("\\\n", " ")
        (line,) = [line for line in text.splitlines() if line.strip().startswith("redis-server")]
        assert "--appendonly yes" in line and '--save ""' in line, script
