"""Background fine-tuning of the pre-labeller while a person labels (`label --retrain-every N`).

After every N new labels, one run fine-tunes the current reader (`train --init-from`) on
everything labelled so far (`LABELLED_DIR/labels.tsv`) into `LABELLED_DIR/.runs/run-<k>`, in a
child process so the page stays responsive; when it finishes, the session pre-labels the
remaining images with the new model. One run at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from crnn_keras.label.session import MANIFEST, LabelSession

RUNS = ".runs"


class Retrainer:
    def __init__(self, session: LabelSession, every: int, epochs: int = 30):
        if every < 1:
            raise ValueError(f"--retrain-every: expected an integer ≥ 1, received {every}")
        if not (session.model or "").endswith(".keras"):
            raise ValueError("--retrain-every fine-tunes the --model, which must then be a .keras reader")
        self.session, self.every, self.epochs = session, every, epochs
        self.trained_at = session.stats()["labelled"]
        self.runs = 0
        self.thread: threading.Thread | None = None
        self.last_error: str | None = None

    def status(self) -> dict:
        return {"running": bool(self.thread and self.thread.is_alive()), "runs": self.runs,
                "every": self.every, "last_error": self.last_error}

    def maybe_start(self) -> bool:
        """Starts a run if N labels came since the last one and none is running."""
        labelled = self.session.stats()["labelled"]
        if labelled - self.trained_at < self.every or (self.thread and self.thread.is_alive()):
            return False
        self.trained_at = labelled
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return True

    def _run(self) -> None:
        out = os.path.join(self.session.out, RUNS, f"run-{self.runs + 1}")
        command = [sys.executable, "-m", "crnn_keras", "train", "--labels", os.path.join(self.session.out, MANIFEST),
                   "--init-from", self.session.model, "--out", out, "--epochs", str(self.epochs), "--overwrite"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            self.last_error = lines[-1] if lines else f"training exited with status {done.returncode}"
            return
        self.runs += 1
        self.last_error = None
        self.session.use_model(os.path.join(out, "model.keras"))
