"""The citizen page as an installable app: its manifest, service worker and offline page.

``GET /manifest.webmanifest`` names the app and its icon from the settings
(``SAFECALL_APP_NAME``, ``SAFECALL_APP_ICON``: a deployment may choose a
disguise such as a calculator); the app starts at ``/?app=1``. ``GET /sw.js``
is the service worker (:file:`service-worker.js` with the shell's versioned
addresses above it); ``GET /offline`` the page it shows when a citizen page
cannot be reached: call 15, or text ``SAFECALL_SMS_NUMBER``. The page registers
the worker only when it runs as the app (``/static/install.js``): a visit in a
browser leaves no worker and no cache behind.

Nothing here holds anyone's data, and the worker keeps only versioned static
files and the offline page (never a page she filled in, never an API answer).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

from aiohttp import web

from safecall.app_shell.icons import SIZES, icon_png
from safecall.assets import Assets
from safecall.endpoint import endpoint
from safecall.pages import ASSETS, SECURITY_HEADERS, compressed
from safecall.settings import Settings
from safecall.state import SETTINGS

HERE = Path(__file__).parent
START_URL = "/?app=1"
OFFLINE = "/offline"
PAGES = ("/", "/track", OFFLINE)
"""The citizen pages the worker answers for when offline (never the officers')."""
SHELL_PAGES = ("index.html", "track.html", "offline.html")
"""Pages whose static files (and theirs, and the icons) make the shell."""
THEME = {"help": "#5b2a86", "calculator": "#37474f", "notes": "#fbc02d"}
_VERSIONED = re.compile(r"/static/([A-Za-z0-9][A-Za-z0-9._-]*)\?v=[0-9a-f]+")
_REFERENCE = re.compile(r"""["'(]\./([A-Za-z0-9][A-Za-z0-9._-]*)\?v=[0-9a-f]+""")
SHELL_JS = web.AppKey("app_shell_worker", bytes)
MANIFEST = web.AppKey("app_shell_manifest", bytes)


def files(settings: Settings) -> dict[str, bytes]:
    """The files made at start that join the pages' static files: icons, the offline page."""
    made = {f"icon-{size}.png": icon_png(settings.app_icon, size) for size in SIZES}
    sms = ""
    if settings.sms_fallback:
        number = html.escape(settings.sms_fallback)
        sms = (
            f'  <a class="sms" href="sms:{number}" data-testid="offline-sms">'
            f'{number} پر ایس ایم ایس بھیجیں <span lang="en" dir="ltr">Text {number}</span></a>'
        )
    page = (HERE / "offline.html").read_text()
    page = page.replace("{{NAME}}", html.escape(settings.app_name)).replace("{{SMS}}", sms)
    made["offline.html"] = page.encode()
    return made


def shell(assets: Assets) -> list[str]:
    """The versioned addresses the worker keeps: the shell pages' files, transitively."""
    names: set[str] = {f"icon-{size}.png" for size in SIZES}
    waiting = list(SHELL_PAGES)
    seen: set[str] = set()
    while waiting:
        name = waiting.pop()
        if name in seen or name not in assets.files:
            continue
        seen.add(name)
        text = assets.files[name].bodies["identity"].decode(errors="replace")
        found = set(_VERSIONED.findall(text)) | set(_REFERENCE.findall(text))
        names |= {n for n in found if n in assets.files}
        waiting.extend(found)
    return [*sorted(assets.url(n) for n in names if not n.endswith(".html")), OFFLINE]


def worker(assets: Assets) -> bytes:
    addresses = shell(assets)
    version = hashlib.sha256("\n".join(addresses).encode()).hexdigest()[:16]
    head = (
        f"const SHELL = {json.dumps(addresses)};\n"
        f'const CACHE = "shell-{version}";\n'
        f"const OFFLINE = {json.dumps(OFFLINE)};\n"
        f"const PAGES = {json.dumps(list(PAGES))};\n"
    )
    return (head + (HERE / "service-worker.js").read_text()).encode()


def manifest(settings: Settings, assets: Assets) -> bytes:
    icons = []
    for size in SIZES:
        for purpose in ("any", "maskable"):
            src = assets.url(f"icon-{size}.png")
            icons.append(
                {"src": src, "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
            )
    return json.dumps(
        {
            "id": START_URL,
            "name": settings.app_name,
            "short_name": settings.app_name,
            "start_url": START_URL,
            "scope": "/",
            "display": "standalone",
            "background_color": "#faf8fc",
            "theme_color": THEME[settings.app_icon],
            "icons": icons,
        },
        ensure_ascii=False,
    ).encode()


@endpoint("The app's manifest (name and icon from the settings).", public=True, document=False)
async def manifest_file(request: web.Request) -> web.StreamResponse:
    headers = {
        **SECURITY_HEADERS,
        "Content-Type": "application/manifest+json",
        "Cache-Control": "no-cache",
    }
    return web.Response(body=request.app[MANIFEST], headers=headers)


@endpoint("The app's service worker (keeps the shell only).", public=True, document=False)
async def worker_file(request: web.Request) -> web.StreamResponse:
    headers = {**SECURITY_HEADERS, "Content-Type": "text/javascript", "Cache-Control": "no-cache"}
    return web.Response(body=request.app[SHELL_JS], headers=headers)


@endpoint("The app's offline page (call 15, or text the centre).", public=True, document=False)
async def offline_page(request: web.Request) -> web.StreamResponse:
    headers = {**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"}
    headers["Cache-Control"] = "no-cache"  # the worker keeps it; it holds nothing of hers
    return compressed(request, request.app[ASSETS].files["offline.html"].bodies, headers)


def setup(app: web.Application) -> None:
    """After :func:`safecall.pages.setup` (the shell is made of its files)."""
    assets = app[ASSETS]
    app[SHELL_JS] = worker(assets)
    app[MANIFEST] = manifest(app[SETTINGS], assets)
    app.router.add_get("/manifest.webmanifest", manifest_file)
    app.router.add_get("/sw.js", worker_file)
    app.router.add_get(OFFLINE, offline_page)
