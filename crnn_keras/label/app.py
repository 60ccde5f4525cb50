"""The labelling page (`python -m crnn_keras label`): FastAPI, one HTML page, a small JSON API.

    GET  /?token=T            the page
    GET  /api/pending?count=N the next N images to decide: [{"name", "prelabel", "confidence"}]
    GET  /api/image?name=X    an image of the session (only those: no path reaches the disk)
    POST /api/decide          {"name", "action": "label"|"skip"|"unreadable", "label"} → stats
    GET  /api/stats           counts, the pre-labeller in use, the retraining state

Every request passes `crnn_keras.serve.guard` (Host, Origin, token): the page writes files.
"""

from __future__ import annotations

import os
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from crnn_keras.label.naming import LabelRefused
from crnn_keras.label.retrain import Retrainer
from crnn_keras.label.session import LabelSession
from crnn_keras.serve.guard import Guard, middleware

MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".bmp": "image/bmp",
               ".gif": "image/gif"}


def create_app(session: LabelSession, guard: Guard, retrainer: Retrainer | None = None) -> FastAPI:
    app = FastAPI(title="crnn_keras labelling", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(middleware(guard))
    page = resources.files("crnn_keras.label").joinpath("page.html").read_text(encoding="utf-8")

    def stats() -> dict:
        return {**session.stats(), "retraining": retrainer.status() if retrainer else None}

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return page

    @app.get("/api/pending")
    async def pending(count: int = 12):
        items = session.pending()[:max(1, min(count, 100))]
        return [{"name": i.name, "prelabel": i.prelabel, "confidence": i.confidence} for i in items]

    @app.get("/api/image")
    async def image(name: str):
        if name not in set(session.names):
            return JSONResponse({"error": "no such image in this session"}, status_code=404)
        ext = os.path.splitext(name)[1].lower()
        return FileResponse(os.path.join(session.images, name), media_type=MEDIA_TYPES.get(ext))

    @app.get("/api/stats")
    async def get_stats():
        return stats()

    @app.post("/api/decide")
    async def decide(request: Request):
        try:
            body = await request.json()
            name, action, label = body["name"], body["action"], body.get("label")
            if not isinstance(name, str) or not isinstance(action, str) or not isinstance(label, (str, type(None))):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected JSON {"name", "action", "label"}'}, status_code=400)
        try:
            await run_in_threadpool(session.submit, name, action, label)
        except LabelRefused as refused:
            return JSONResponse({"error": str(refused)}, status_code=422)
        except KeyError:
            return JSONResponse({"error": "no such image in this session"}, status_code=404)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if retrainer:
            retrainer.maybe_start()
        return stats()

    return app
