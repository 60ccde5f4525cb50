"""The HTTP service: POST /read, GET /health, GET /model, a demo page at GET / and POST
/explain (FastAPI; OpenAPI docs at /docs).

    POST /read   multipart field `file` (one image) or `files` (repeated, at most 64), or a raw
                 body with Content-Type image/*; ?beam_width=K for .keras models.
                 200: [{"filename", "text", "confidence"} | {"filename", "error"}, …] in upload
                 order, when at least one image was read; 4xx with {"error": "…"} otherwise.

Uploads are decoded like files on disk (PNG, JPEG, BMP, GIF only; bombs, damaged files and
other formats refused per image), so a bad upload is a 4xx or an error entry, never a 500.
Requests must name this server in their Host header and come from no other web origin
(`crnn_keras.serve.guard`): a page the user visits elsewhere cannot use the service.
"""

from __future__ import annotations

import contextlib
import os
import threading
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from crnn_keras.data.images import ImageError, decode_bytes, to_model_input
from crnn_keras.runtime.reader import Reader
from crnn_keras.serve.batcher import Batcher
from crnn_keras.serve.guard import Guard, middleware
from crnn_keras.version import __version__

MAX_FILES = 64


class BadRequest(Exception):
    """A request the service refuses: HTTP status and one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def uploads(request: Request, max_bytes: int) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each uploaded image, in upload order."""
    length = request.headers.get("content-length")
    if length is None:
        raise BadRequest(411, "send a Content-Length header")
    if not length.isdigit() or int(length) > max_bytes:
        raise BadRequest(413, f"the upload is over the {max_bytes // 2**20} MB limit (--max-upload-mb)")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.startswith("image/"):
        body = await request.body()
        if not body:
            raise BadRequest(400, "the body is empty")
        return [(request.query_params.get("filename", "upload"), body)]
    if kind != "multipart/form-data":
        raise BadRequest(415, f"expected multipart/form-data (fields file or files) or an image/* body, "
                              f"received {kind or 'no Content-Type'}")
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES, max_part_size=max_bytes)
    except Exception as error:  # noqa: BLE001  the multipart parser raises its own kinds
        raise BadRequest(400, f"cannot parse the multipart body ({str(error)[:200]})") from None
    files = [(value.filename or key, await value.read()) for key, value in form.multi_items()
             if key in ("file", "files") and hasattr(value, "read")]
    if not files:
        raise BadRequest(400, "no image in the form: send it in a field named file (or files, repeated)")
    return files


def prepare(reader: Reader, files: list[tuple[str, bytes]]) -> list[tuple[str, object]]:
    """(file name, model input array or error text) per upload."""
    prepared = []
    for name, data in files:
        try:
            image = to_model_input(decode_bytes(data, name), reader.height, reader.width, reader.channels)
            prepared.append((name, image))
        except ImageError as error:
            prepared.append((name, error.reason))
    return prepared


_DRAWING = threading.Lock()  # matplotlib draws one figure at a time


def explain_png(reader: Reader, image) -> bytes:
    """The `explain` picture of one model input, as PNG bytes (.keras models only)."""
    import tempfile

    from crnn_keras.explain.alignment import explain
    from crnn_keras.explain.figure import draw

    with _DRAWING, tempfile.TemporaryDirectory(prefix="crnn_explain_") as tmp:
        path = os.path.join(tmp, "explain.png")
        draw(explain(reader.keras_model, image), path)
        with open(path, "rb") as f:
            return f.read()


def add_demo(app: FastAPI, reader: Reader, model_format: str, max_bytes: int) -> None:
    """GET / (the demo page) and POST /explain (the explain picture of one upload, as PNG)."""
    page = resources.files("crnn_keras.serve").joinpath("demo.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo():
        return page

    @app.post("/explain", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def explain_upload(request: Request):
        if model_format != "keras":
            raise BadRequest(400, "the explain picture needs a .keras model")
        files = await uploads(request, max_bytes)
        if len(files) != 1:
            raise BadRequest(400, "send one image")
        [(_, image)] = await run_in_threadpool(prepare, reader, files)
        if isinstance(image, str):
            raise BadRequest(422, image)
        return Response(await run_in_threadpool(explain_png, reader, image), media_type="image/png")


def create_app(model_path: str, max_upload_mb: float = 5.0, window_s: float = 0.005,
               guard: Guard | None = None) -> FastAPI:
    """The service for one model (`.keras`, `.tflite` or `.onnx`); raises ModelError for a bad model.
    `guard` defaults to one for 127.0.0.1:8000."""
    reader = Reader(model_path)
    batcher = Batcher(reader, window_s)
    model_format = os.path.splitext(model_path)[1].lstrip(".").lower()
    max_bytes = int(max_upload_mb * 2**20)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        batcher.close()

    app = FastAPI(title="crnn_keras", version=__version__, lifespan=lifespan,
                  description="Reads the text in captcha and short text-line images.")

    app.middleware("http")(middleware(guard or Guard("127.0.0.1", 8000)))
    add_demo(app, reader, model_format, max_bytes)

    @app.exception_handler(BadRequest)
    async def refused(request: Request, error: BadRequest):
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/model")
    async def model():
        return {"format": model_format, "height": reader.height, "width": reader.width,
                "channels": reader.channels, "vocabulary": "".join(reader.vocabulary), "version": __version__}

    @app.post("/read")
    async def read(request: Request, beam_width: int | None = None):
        if beam_width is not None and (beam_width < 1 or model_format != "keras"):
            raise BadRequest(400, "beam_width must be ≥ 1 and needs a .keras model")
        prepared = await run_in_threadpool(prepare, reader, await uploads(request, max_bytes))
        good = [image for _, image in prepared if not isinstance(image, str)]
        readings = iter(await run_in_threadpool(batcher.read, good, beam_width))
        results = [{"filename": name, "error": image} if isinstance(image, str) else
                   {"filename": name, **vars(next(readings))} for name, image in prepared]
        if not good:
            return JSONResponse({"error": "no image could be read", "results": results}, status_code=422)
        return results

    return app
