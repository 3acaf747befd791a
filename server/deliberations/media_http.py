"""The livestream's files, session recordings and their playback page.

``/media/live/{deliberation}/…`` serves the HLS playlist and segments the media pipeline
writes (behind nginx or a CDN these are plain files: the same paths and headers work).
The playlist changes every second and must not be cached; segments and the init section
never change once written. ``/media/recordings/{id}.mp4`` serves a final recording with
range requests (seeking); ``/recordings/{id}`` is its page, with chapter navigation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from server.core.errors import NotFound
from server.core.openapi import array, integer, number, obj, operation, path_param, string
from server.core.web import ctx_of, json_response, render
from server.deliberations.actions import recordings
from server.deliberations.model import RecordingStatus

routes = web.RouteTableDef()

_LIVE_FILE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(m3u8|m4s|mp4|ts)$")
_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
    "ts": "video/mp2t",
}


@routes.get(r"/media/live/{deliberation_id:\d+}/{name}")
async def live_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    found = _LIVE_FILE.match(name)
    if found is None:
        raise web.HTTPNotFound()
    root: Path = ctx_of(request).settings.recordings_dir
    # A missing file: FileResponse answers 404 itself, with the stat off the event loop.
    path = root / request.match_info["deliberation_id"] / "live" / name
    kind = found.group(1)
    # The playlist changes every second; the init section is rewritten when the host goes
    # live again; a segment never changes once listed.
    if kind == "m3u8":
        cache = "no-cache, no-store"
    elif name.startswith("init"):
        cache = "public, max-age=5"
    else:
        cache = "public, max-age=86400, immutable"
    response = web.FileResponse(path, headers={"Cache-Control": cache})
    response.content_type = _TYPES[kind]
    return response


@routes.get(r"/media/recordings/{recording_id:\d+}.mp4")
async def recording_file(request: web.Request) -> web.StreamResponse:
    view = await _final(request)
    path = ctx_of(request).settings.recordings_dir / view.path
    return web.FileResponse(
        path,
        headers={
            "Cache-Control": "public, max-age=3600",
            "Content-Type": "video/mp4",
            "Content-Disposition": f'inline; filename="deliberation-{view.deliberation_id}.mp4"',
        },
    )


@routes.get(r"/api/recordings/{recording_id:\d+}")
async def recording_json(request: web.Request) -> web.Response:
    return json_response((await _final(request)).public())


@routes.get(r"/recordings/{recording_id:\d+}")
async def recording_page(request: web.Request) -> web.Response:
    view = await _final(request)
    start = request.query.get("t", "")
    return render(
        request,
        "recording.html",
        {
            "recording": view.public(),
            "start": int(start) if start.isdigit() else 0,
        },
    )


async def _final(request: web.Request) -> recordings.RecordingView:
    view = await recordings.recording(ctx_of(request), int(request.match_info["recording_id"]))
    if view.status is not RecordingStatus.FINAL:
        raise NotFound("That recording is not ready.")
    return view


_CHAPTER = obj(
    {
        "position": integer(),
        "topic_id": integer(nullable=True),
        "title": string(),
        "start": number(description="seconds from the start"),
    }
)

OPENAPI: dict[str, Any] = {
    "/api/recordings/{recording_id}": {
        "get": operation(
            "A session's final recording: duration, streams, and a chapter per agenda topic",
            tag="deliberations",
            params=[path_param("recording_id", integer())],
            ok=obj(
                {
                    "id": integer(),
                    "deliberation_id": integer(),
                    "deliberation_title": string(),
                    "status": string(),
                    "started_at": string(format="date-time"),
                    "duration": number(),
                    "size": integer(),
                    "streams": array(string()),
                    "chapters": array(_CHAPTER),
                    "url": string(),
                    "page": string(),
                }
            ),
            errors=(404,),
        )
    }
}
