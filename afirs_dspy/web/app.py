"""The page and its JSON API (Starlette): ``GET /`` the page, ``GET /api/info`` dataset, methods and users,
``POST /api/reset`` a new conversation for a tab, ``POST /api/turn`` one turn as server-sent events
(``waiting``, ``stage`` as each stage finishes, then ``turn`` with the explanation or ``error`` with one line)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from afirs_dspy.web.demo import Demo, one_line

STATIC = Path(__file__).parent / "static"


def _sse(events: Iterator[tuple[str, dict]]) -> Iterator[str]:
    for name, data in events:
        yield f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def _fields(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("session"), str) or not body["session"]:
        raise ValueError("the request needs a JSON object with a session id")
    return body


def make_app(demo: Demo) -> Starlette:
    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    def info(request: Request) -> JSONResponse:  # sync: Starlette runs it in a worker thread (loading takes time)
        return JSONResponse(demo.info())

    async def reset(request: Request) -> JSONResponse:
        try:
            body = await _fields(request)
            method = body.get("method") or demo.methods[0]
            demo.reset(body["session"], method, body.get("user"))
        except Exception as exc:  # noqa: BLE001 - one line in the page
            return JSONResponse({"error": one_line(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def turn(request: Request) -> StreamingResponse | JSONResponse:
        try:
            body = await _fields(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        events = demo.events(body["session"], str(body.get("text", "")), body.get("method") or demo.methods[0],
                             body.get("user"))
        return StreamingResponse(_sse(events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return Starlette(routes=[
        Route("/", page), Route("/api/info", info), Route("/api/reset", reset, methods=["POST"]),
        Route("/api/turn", turn, methods=["POST"]), Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
