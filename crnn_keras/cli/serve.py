"""`python -m crnn_keras serve`: read uploaded images over HTTP (the [serve] extra)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model.keras, .tflite or .onnx")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (see the README before changing it)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-upload-mb", type=float, default=5.0, help="the largest request body accepted")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another host name clients use (Host header), e.g. behind a proxy or with --host 0.0.0.0")


def run(args) -> int:
    # Imported here: the web stack is an optional extra.
    import uvicorn

    from crnn_keras.serve.app import create_app
    from crnn_keras.serve.guard import Guard

    app = create_app(args.model, args.max_upload_mb, guard=Guard(args.host, args.port, None, tuple(args.allow_host)))
    print(f"serving {args.model} on http://{args.host}:{args.port} (demo page: /, API docs: /docs)",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
