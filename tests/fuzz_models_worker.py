"""Worker of test_fuzz: loads each model file given and reads one blank image with it.

Prints one JSON line per file: {"path", "outcome": "read" | "refused" | "unexpected", "detail", "rss_mb"}.
Each case runs under an alarm, so a hang ends that case as "unexpected" instead of the test.
"""

import json
import resource
import signal
import sys

import numpy as np


class Hang(Exception):
    pass


def on_alarm(signum, frame):
    raise Hang("no answer within the case's time limit")


def main(paths):
    from crnn_keras.contract import ModelError
    from crnn_keras.runtime.reader import Reader

    signal.signal(signal.SIGALRM, on_alarm)
    for path in paths:
        signal.alarm(20)
        try:
            reader = Reader(path)
            reader.read_arrays(np.zeros((1, reader.height, reader.width, reader.channels), np.uint8))
            outcome, detail = "read", ""
        except (ModelError, ValueError) as error:  # one-line refusals, as the CLI prints them
            outcome, detail = "refused", str(error).splitlines()[0] if str(error) else type(error).__name__
        except BaseException as error:  # noqa: BLE001  anything else is what the fuzzing looks for
            outcome, detail = "unexpected", f"{type(error).__name__}: {error}"[:300]
        finally:
            signal.alarm(0)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"path": path, "outcome": outcome, "detail": detail, "rss_mb": round(rss_mb)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
