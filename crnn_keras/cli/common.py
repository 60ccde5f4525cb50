"""What every command shares: one-line errors, exit statuses and the colour options."""

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


def add_colour_arguments(parser) -> None:
    """--rgb / --grey: the images' channels, chosen from the training images when neither is given."""
    colour = parser.add_mutually_exclusive_group()
    colour.add_argument("--rgb", action="store_true", help="read colour (default: colour when at least 1%% of the "
                        "pixels of 64 sampled training images are coloured, else grey)")
    colour.add_argument("--grey", action="store_true", help="read grey, even from coloured images")


def colour_channels(args) -> int | None:
    """3 for --rgb, 1 for --grey, None (from the data) for neither."""
    return 3 if args.rgb else 1 if args.grey else None
