"""A labelling session: unlabelled images in, labelled copies and `labels.tsv` out.

    session = LabelSession("unlabelled/", "labelled/", model="runs/x/model.keras")
    item = session.pending()[0]                      # the least confident pre-label first
    session.submit(item.name, "label", "x9g3a")       # copies to labelled/x9g3a_1.png

Originals are never moved or changed. What was decided for each image lives in
`LABELLED_DIR/.labelling.json` (written atomically after every decision), so a restarted
session resumes where it was; `labels.tsv` (path, label) is rewritten from it each time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading

from crnn_keras import atomic
from crnn_keras.data.files import list_image_files
from crnn_keras.label.naming import check_label, free_name

STATE = ".labelling.json"
MANIFEST = "labels.tsv"
ACTIONS = ("label", "skip", "unreadable")


@dataclasses.dataclass(frozen=True)
class Item:
    """An image waiting for a decision, with the model's reading of it ("" without a model)."""

    name: str
    prelabel: str = ""
    confidence: float | None = None


class LabelSession:
    """Decisions on the images of one folder; safe to call from several threads."""

    def __init__(self, images: str, out: str, model: str | None = None):
        if os.path.abspath(images) == os.path.abspath(out):
            raise ValueError("--out must be another folder than --images (originals are copied, never renamed)")
        self.images, self.out = images, out
        files, _ = list_image_files([images])
        self.names = sorted(os.path.relpath(path, images) for path in files)
        os.makedirs(out, exist_ok=True)
        self.done: dict[str, dict] = self._read_state()
        self.lock = threading.Lock()
        self.model: str | None = None
        self.readings: dict[str, tuple[str, float]] = {}
        if model:
            self.use_model(model)

    def _read_state(self) -> dict[str, dict]:
        path = os.path.join(self.out, STATE)
        if not os.path.exists(path):
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            done = state["done"]
            if not isinstance(done, dict):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError):
            raise ValueError(f"{path}: not a labelling state this version wrote; move it away to start over") from None
        return done

    def use_model(self, model: str) -> None:
        """Pre-labels every pending image with `model` (a .keras, .tflite or .onnx reader)."""
        from crnn_keras.runtime.reader import Reader, read_paths

        reader = Reader(model)
        names = [n for n in self.names if n not in self.done]
        readings = {}
        for path, reading, error in read_paths(reader, [os.path.join(self.images, n) for n in names]):
            if reading is not None:
                readings[os.path.relpath(path, self.images)] = (reading.text, reading.confidence)
        with self.lock:
            self.model, self.readings = model, readings

    def pending(self) -> list[Item]:
        """Images without a decision: least confident first (by name without a model)."""
        with self.lock:
            items = [Item(n, *self.readings.get(n, ("", None))) for n in self.names if n not in self.done]
        return sorted(items, key=lambda item: (item.confidence if item.confidence is not None else -1.0, item.name))

    def submit(self, name: str, action: str, label: str | None = None) -> dict:
        """Records a decision; "label" copies the image to `<label>_<n>.<ext>`.

        Raises:
            LabelRefused: a label that cannot be a file name. KeyError: not an image of this session.
            ValueError: an unknown action.
        """
        if action not in ACTIONS:
            raise ValueError(f"action: expected one of {', '.join(ACTIONS)}, received {action!r}")
        if name not in self.names:
            raise KeyError(name)
        label = check_label(label or "") if action == "label" else None
        with self.lock:
            prelabel, confidence = self.readings.get(name, ("", None))
            record = {"action": action, "prelabel": prelabel, "confidence": confidence, "model": self.model}
            if name in self.done and self.done[name].get("file"):
                os.remove(os.path.join(self.out, self.done[name]["file"]))  # a changed decision
            if label is not None:
                taken = {d["file"] for d in self.done.values() if d.get("file")}
                file = free_name(self.out, label, os.path.splitext(name)[1], taken)
                shutil.copy2(os.path.join(self.images, name), os.path.join(self.out, file))
                record.update(label=label, file=file)
            self.done[name] = record
            self._write()
            return self._stats()

    def _write(self) -> None:
        atomic.write_text(os.path.join(self.out, STATE),
                          json.dumps({"format": 1, "images": os.path.abspath(self.images), "done": self.done},
                                     ensure_ascii=False, indent=1))
        rows = ["path\tlabel"] + [f"{d['file']}\t{d['label']}" for d in self.done.values() if d.get("file")]
        atomic.write_text(os.path.join(self.out, MANIFEST), "\n".join(rows) + "\n")

    def stats(self) -> dict:
        with self.lock:
            return self._stats()

    def _stats(self) -> dict:
        decided = self.done.values()
        labelled = [d for d in decided if d["action"] == "label"]
        prelabelled = [d for d in labelled if d.get("prelabel")]
        return {
            "images": len(self.names),
            "remaining": sum(n not in self.done for n in self.names),
            "labelled": len(labelled),
            "skipped": sum(d["action"] == "skip" for d in decided),
            "unreadable": sum(d["action"] == "unreadable" for d in decided),
            "prelabels_accepted": sum(d["label"] == d["prelabel"] for d in prelabelled),
            "prelabels_corrected": sum(d["label"] != d["prelabel"] for d in prelabelled),
            "model": self.model,
        }
