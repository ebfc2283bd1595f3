"""The pages' static files, read once at start: versioned, compressed, cached.

Each file under ``safecall/web`` gets a version (a hash of its content) and is
kept in memory as sent: as is, gzip'd and, when the ``brotli`` module is
installed, brotli'd. Every reference to another static file in a page
(``"/static/citizen.js"``), a script (``"./api.js"``, ``"/static/api.js"``) or a
style sheet is written with its version (``/static/citizen.js?v=3f2a…``), so a
file's version changes when a file it names changes. A request naming the
current version may be cached for a year (``immutable``): a new version is a new
address. Any other request (no version, an old one) gets ``no-cache`` with an
``ETag``, so a browser asks again and usually gets a ``304``.

The files hold no one's data: only a page's own code and looks are cached
anywhere. Pages themselves and every ``/api/`` answer stay ``no-store``.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

brotli: ModuleType | None
try:  # optional: a well-kept binding of Google's library (``pip install brotli``)
    import brotli  # type: ignore[import-untyped,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - depends on the installation
    brotli = None

TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".png": "image/png",
}
COMPRESSIBLE = {".js", ".css", ".svg", ".html"}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_REFERENCE = re.compile(r"""(["'(])(/static/|\./)([A-Za-z0-9][A-Za-z0-9._-]*)(["')])""")


@dataclass(frozen=True)
class Asset:
    """One file as sent, in each encoding it is kept in."""

    name: str
    content_type: str
    version: str
    """A hash of the content as sent (references included)."""
    bodies: Mapping[str, bytes]
    """``identity`` always; ``gzip`` and ``br`` for text that shrinks."""

    @property
    def url(self) -> str:
        return f"/static/{self.name}?v={self.version}"

    def etag(self, encoding: str) -> str:
        return f'"{self.version}-{encoding}"'


class Assets:
    """Every static file of a directory, built once (:meth:`build`)."""

    def __init__(self, files: Mapping[str, Asset]) -> None:
        self.files = files

    @classmethod
    def build(cls, directory: Path, *, extra: Mapping[str, bytes] | None = None) -> Assets:
        """Read ``directory`` (and ``extra`` files made at start, by name)."""
        raw: dict[str, bytes] = {
            path.name: path.read_bytes()
            for path in sorted(directory.iterdir())
            if path.is_file() and path.suffix in TYPES
        }
        raw.update(extra or {})
        return cls(_Builder(raw).build())

    def get(self, name: str) -> Asset | None:
        return self.files.get(name)

    def url(self, name: str) -> str:
        """The versioned address of a static file (``KeyError`` when there is none)."""
        return self.files[name].url

    def text_with_versions(self, text: str) -> str:
        """``text`` (a page made at start) with its references versioned."""
        return _rewrite(text, lambda name: self.files[name].version if name in self.files else None)


class _Builder:
    def __init__(self, raw: Mapping[str, bytes]) -> None:
        self.raw = raw
        self.done: dict[str, Asset] = {}
        self.building: set[str] = set()

    def build(self) -> dict[str, Asset]:
        for name in self.raw:
            self.asset(name)
        return self.done

    def version_of(self, name: str) -> str | None:
        if name not in self.raw:
            return None
        if name in self.building:  # two files naming each other: the other's raw content
            return _digest(self.raw[name])
        return self.asset(name).version

    def asset(self, name: str) -> Asset:
        if name in self.done:
            return self.done[name]
        self.building.add(name)
        suffix = Path(name).suffix
        body = self.raw[name]
        if suffix in COMPRESSIBLE:
            body = _rewrite(slim(body.decode(), suffix), self.version_of).encode()
        self.building.discard(name)
        asset = Asset(name, TYPES[suffix], _digest(body), encoded(body, suffix in COMPRESSIBLE))
        self.done[name] = asset
        return asset


_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def slim(text: str, suffix: str) -> str:
    """``text`` without what only a reader needs: whole-line comments and indentation, in
    scripts and style sheets (a page's own text is left as it is). Code is never rewritten:
    a script whose template literals cannot be followed line by line is left whole, and
    tests/test_assets.py checks that every script parses to the same program slimmed.
    """
    if suffix == ".css":
        if "'/*" in text or '"/*' in text:
            return text
        return "\n".join(
            line.strip() for line in _CSS_COMMENT.sub("", text).split("\n") if line.strip()
        )
    if suffix != ".js":
        return text
    kept: list[str] = []
    in_template = False
    for line in text.split("\n"):
        bare = line.strip()
        if in_template:
            kept.append(line)
        elif not bare or (bare.startswith("//") and "*/" not in bare):
            continue
        elif _one_line_block_comment(bare):
            continue
        else:
            kept.append(bare)
        if line.count("`") % 2:
            in_template = not in_template
    if in_template:  # a backtick in a comment or a string: leave the file whole
        return text
    return "\n".join(kept) + "\n"


def _one_line_block_comment(bare: str) -> bool:
    return bare.startswith("/*") and bare.endswith("*/") and bare.find("*/") == len(bare) - 2


def encoded(body: bytes, compress: bool = True, *, fast: bool = False) -> dict[str, bytes]:
    """``body`` in each encoding worth sending (``identity`` always); ``fast`` for an answer
    made on each request (less squeezed, in well under a millisecond)."""
    bodies = {"identity": body}
    if compress:
        bodies["gzip"] = gzip.compress(body, compresslevel=6 if fast else 9, mtime=0)
        if brotli is not None:
            bodies["br"] = brotli.compress(body, quality=5 if fast else 11)
    return bodies


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:16]


def _rewrite(text: str, version_of: Callable[[str], str | None]) -> str:
    def versioned(match: re.Match[str]) -> str:
        open_, prefix, name, close = match.groups()
        version = version_of(name)
        if version is None:
            return match.group(0)
        return f"{open_}{prefix}{name}?v={version}{close}"

    return _REFERENCE.sub(versioned, text)


def chosen_encoding(accept_encoding: str, offered: Mapping[str, bytes]) -> str:
    """The best encoding of ``offered`` the client accepts (``identity`` when none)."""
    accepted: dict[str, float] = {}
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if token:
            accepted[token.strip().lower()] = quality
    for encoding in ("br", "gzip"):
        quality = accepted.get(encoding, accepted.get("*", 0.0))
        if encoding in offered and quality > 0:
            return encoding
    return "identity"
