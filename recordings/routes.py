"""Routes of the `recordings` package."""

from __future__ import annotations

from aiohttp import web

from recordings import api
from recordings.service import setup_service


def setup(app: web.Application) -> None:
    """Add this package's routes and resources to the app."""
    setup_service(app)
    app.router.add_post("/api/sessions/{session_id}/recordings", api.create_recording)
    app.router.add_post("/api/sessions/{session_id}/recording-failures", api.report_start_failure)
    app.router.add_get("/api/cases/{case_id}/recordings", api.list_case_recordings)
    app.router.add_get("/api/recordings/{recording_id}", api.read_recording)
    app.router.add_put("/api/recordings/{recording_id}/chunks/{index}", api.put_chunk)
    app.router.add_post("/api/recordings/{recording_id}/close", api.close_recording)
    app.router.add_post("/api/recordings/{recording_id}/fail", api.fail_recording)
    app.router.add_get("/api/recordings/{recording_id}/media", api.recording_media)
