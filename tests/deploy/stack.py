"""The services deploy/compose.yaml declares, started with plain podman commands derived from it.

Debian 12's podman-compose (1.0.3) adds a bridge network to every container,
even one with ``network_mode: host``, and the stack needs the host's network
(WebRTC, coturn), so the test reads the compose files itself: the subset they
use (image, network_mode, restart, user, entrypoint, command, environment with
YAML merge keys, volumes, depends_on, ``${VAR}``, ``${VAR:-default}``,
``${VAR:?message}``) becomes one ``podman run`` per service, in dependency order.
``docker compose`` and newer podman-compose run the same files as they are.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PODMAN = [str(ROOT / "scripts" / "podman-here.sh"), "podman"]
_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*)|:\?([^}]*))?\})")


def substitute(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution, through lists and mappings."""
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default, error = match.groups()
        found = env.get(name, "")
        if found:
            return found
        if error is not None:
            raise ValueError(f"{name}: {error}")
        return default or ""

    return _VAR.sub(one, value)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(files: Sequence[Path], env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The services of ``files`` (later files override earlier ones), substituted."""
    services: dict[str, Any] = {}
    for path in files:
        services = _merge(services, yaml.safe_load(path.read_text())["services"])
    return {name: substitute(spec, env) for name, spec in services.items()}


def start_order(services: Mapping[str, dict[str, Any]]) -> list[str]:
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"depends_on cycle through {name}")
        for dependency in services[name].get("depends_on", []):
            visit(dependency, (*path, name))
        order.append(name)

    for name in services:
        visit(name, ())
    return order


def podman(*args: str, check: bool = True, input: str | None = None) -> str:
    done = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, input=input, check=False, timeout=600
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}: {done.stderr.strip()[-2000:]}")
    return done.stdout


@dataclass
class Stack:
    project: str
    files: list[Path]
    env: dict[str, str]
    services: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.services = load(self.files, self.env)
        self.folder = self.files[0].parent

    def name(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def run_args(self, service: str) -> list[str]:
        spec = self.services[service]
        args = ["run", "-d", f"--name={self.name(service)}"]
        args.append(f"--network={spec.get('network_mode', 'host')}")
        if "restart" in spec:
            args.append(f"--restart={spec['restart']}")
        if "user" in spec:
            args.append(f"--user={spec['user']}")
        if "entrypoint" in spec:
            args.append(f"--entrypoint={json.dumps(spec['entrypoint'])}")
        for key, value in (spec.get("environment") or {}).items():
            args += ["-e", f"{key}={'' if value is None else value}"]
        for volume in spec.get("volumes", []):
            source, _, rest = volume.partition(":")
            if source.startswith("."):
                source = str((self.folder / source).resolve())
            else:
                source = f"{self.project}_{source}"
            args += ["-v", f"{source}:{rest}"]
        command = spec.get("command", [])
        return [*args, spec["image"], *([command] if isinstance(command, str) else command)]

    def start(self, service: str) -> None:
        podman(*self.run_args(service))

    def state(self, service: str) -> tuple[str, int]:
        out = podman(
            "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.name(service)
        )
        status, code = out.split()
        return status, int(code)

    def wait_done(self, service: str, timeout: float = 120.0) -> None:
        """Until a one-shot service has exited 0 (its restart policy retries it meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, code = self.state(service)
            if status == "exited" and code == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"{service} did not finish: {self.logs(service)[-3000:]}")

    def pid(self, service: str) -> int:
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.name(service)).strip())

    def crash(self, service: str) -> int:
        """SIGKILL the service's processes, as a crash does (not a stop the supervisor
        would respect); the pid that was killed."""
        pid = self.pid(service)
        os.kill(pid, signal.SIGKILL)
        return pid

    def exec(self, service: str, *argv: str, input: str | None = None) -> str:
        return podman("exec", "-i", self.name(service), *argv, input=input)

    def logs(self, service: str) -> str:
        done = subprocess.run(
            [*PODMAN, "logs", self.name(service)], capture_output=True, text=True, check=False
        )
        return done.stdout + done.stderr

    def down(self) -> None:
        for service in reversed(start_order(self.services)):
            podman("rm", "-f", "-v", "-t", "2", self.name(service), check=False)
        for volume in podman("volume", "ls", "--format", "{{.Name}}", check=False).split():
            if volume.startswith(f"{self.project}_"):
                podman("volume", "rm", "-f", volume, check=False)
