"""`python -m crnn_keras label`: a local page where the model pre-labels and a person corrects."""

from __future__ import annotations

import argparse
import socket
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", required=True, help="folder of unlabelled images (never changed)")
    p.add_argument("--out", required=True, help="folder for the labelled copies, labels.tsv and the progress")
    p.add_argument("--model", help="a reader that pre-labels (.keras, .tflite or .onnx); without it, plain labelling")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another host name the page may be opened by (with --host 0.0.0.0)")
    p.add_argument("--retrain-every", type=int, metavar="N",
                   help="after every N new labels, fine-tune --model (.keras) on all labels so far in the background")
    p.add_argument("--retrain-epochs", type=int, default=30, help="epochs of each background fine-tuning")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run(args) -> int:
    import uvicorn

    from crnn_keras.label.app import create_app
    from crnn_keras.label.retrain import Retrainer
    from crnn_keras.label.session import LabelSession
    from crnn_keras.serve.guard import Guard, new_token

    session = LabelSession(args.images, args.out, args.model)
    retrainer = Retrainer(session, args.retrain_every, args.retrain_epochs) if args.retrain_every else None
    port = args.port or free_port(args.host)
    token = new_token()
    app = create_app(session, Guard(args.host, port, token, tuple(args.allow_host)), retrainer)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    stats = session.stats()
    print(f"{stats['remaining']} of {stats['images']} images to label; open http://{shown}:{port}/?token={token}",
          flush=True)
    print("Ctrl-C stops; every decision is already saved, and a restart resumes", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level="warning")
    return 0
