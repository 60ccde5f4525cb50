"""A SHA-256 seal inside exported model files, checked before a runtime parses them.

A flipped byte in a `.tflite` or `.onnx` file is often still a valid model: it may read with
altered weights (a silently wrong label), or carry a corrupted constant that makes LiteRT's
loops allocate gigabytes before it fails. `.keras` files are zip archives with a CRC per
member, so they need no seal. Exporters embed `placeholder()` once (TFLite metadata, ONNX
metadata_props) and pass the finished bytes through `seal`, which writes the digest of the
whole file, taken with the placeholder in place, over the placeholder. `check` undoes that
and compares, so any changed byte, the seal's own included, refuses the file. Files
exported before 0.3.13 carry no seal and load as they always did; a file is taken for one of
those only when neither the tag nor the entry's name (`METADATA_NAME`) is in it.

Example:
    >>> data = seal(METADATA_NAME.encode() + b" " + placeholder() + b" more bytes")
    >>> check(data, "m.tflite")
    True
    >>> check(b"an older model", "m.tflite")
    False
"""

from __future__ import annotations

import hashlib

from crnn_keras.contract import ModelError

TAG = b"crnn_keras-sha256:"
DIGEST_LENGTH = 64  # hexadecimal characters of a SHA-256 digest
METADATA_NAME = "crnn_keras_sha256"  # the TFLite metadata entry and ONNX metadata_props key
_UNSET = b"0" * DIGEST_LENGTH


def placeholder() -> bytes:
    """What an exporter embeds once; `seal` fills in the digest."""
    return TAG + _UNSET


def _digest(data: bytes, start: int) -> bytes:
    unsealed = data[:start] + _UNSET + data[start + DIGEST_LENGTH :]
    return hashlib.sha256(unsealed).hexdigest().encode()


def seal(data: bytes) -> bytes:
    """The file's bytes with the placeholder replaced by their digest.

    Raises:
        ValueError: the placeholder is missing or appears more than once.
    """
    found = data.count(placeholder())
    if found != 1:
        raise ValueError(f"expected one seal placeholder in the exported model, found {found}")
    start = data.index(placeholder()) + len(TAG)
    return data[:start] + _digest(data, start) + data[start + DIGEST_LENGTH :]


def check(data: bytes, path: str) -> bool:
    """True when `data` carries a seal that matches; False when it carries none (older exports).

    Raises:
        ModelError: one line naming `path`, when the seal is damaged or does not match.
    """
    tags = data.count(TAG)
    if tags == 0 and METADATA_NAME.encode() not in data:
        return False
    if tags != 1:  # none with the entry's name still there, or a tag repeated: a damaged seal
        raise ModelError(f"{path}: damaged (its crnn_keras seal is unreadable); export the model again")
    start = data.index(TAG) + len(TAG)
    if _digest(data, start) != data[start : start + DIGEST_LENGTH]:
        raise ModelError(f"{path}: damaged (its content does not match the SHA-256 it was exported with); "
                         "copy or export the model again")
    return True
