"""What every command shares: one-line errors and exit statuses."""

from __future__ import annotations

import sys


class UserError(Exception):
    """An error the user can fix; printed as one line."""


def error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def run_command(command, args) -> int:
    """Runs a command; an error the user can fix becomes one `error:` line and exit status 1."""
    try:
        return command(args) or 0
    except ModuleNotFoundError as error:
        # A reader-only install (pip install .) has no TensorFlow: training, export and
        # .keras models need the [train] extra.
        print(f"error: this needs {error.name}, which is not installed: pip install \"crnn_keras[train]\" "
              "(a .tflite model reads without it)", file=sys.stderr)
        return 1
    except (UserError, ValueError, FileNotFoundError, PermissionError) as error:
        print(f"error: {error_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
