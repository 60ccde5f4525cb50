"""Decoding images into the model's fixed-size uint8 arrays.

Pillow, not `tf.io.decode_image`, reads the files: it handles palette
transparency, 16-bit and 1-bit modes, EXIF rotation, GIF and BMP alike, and
its errors can be turned into one line that names the file. No TensorFlow here.

Only PNG, JPEG, BMP and GIF are decoded, whatever a file's name or content
claims: without `formats=`, Pillow hands content to any plugin that recognises
it (EPS goes to Ghostscript, which has a history of sandbox escapes). WebP is
left out too: libwebp had a heap overflow exploited in the wild (CVE-2023-4863),
and one `convert` turns a WebP folder into PNG.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from crnn_keras.data.files import printable_path, regular_file_problem

# Far above any captcha or text line; a header claiming more is a decompression bomb.
MAX_PIXELS = 32_000_000
FORMATS = ("PNG", "JPEG", "BMP", "GIF")
# A pixel is coloured when its channels differ by more than this (JPEG noise on grey stays under).
CHROMA_THRESHOLD = 32
# Folders whose sampled images are at least this share coloured are read in colour: the real
# coloured captcha styles measured 0.04-0.11, grey ones (JPEG included) 0.
COLOUR_SHARE = 0.01


class ImageError(ValueError):
    """An image that cannot be read; str() is one line naming the file and the problem."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{printable_path(path)}: {reason}")
        self.path = path
        self.reason = reason


def _flatten(image: Image.Image) -> Image.Image:
    """Any mode → 'RGB' or 'L', with transparent pixels composited onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = array.max() if array.size else 0
        # 16-bit files often hold 8-bit ranges; only rescale when values need it.
        if top > 255:
            array = array * (255.0 / (65535.0 if top <= 65535 else top))
        return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ) or (image.mode in ("L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("RGB")


def open_image(source: str | Image.Image | np.ndarray) -> Image.Image:
    """A path, PIL image or array → a PIL image in mode 'L' or 'RGB'.

    Raises:
        ImageError: unreadable, empty, truncated, not an image, or too large.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, Image.Image):
        return _flatten(source)
    path = os.fspath(source)
    problem = regular_file_problem(path)
    if problem:
        raise ImageError(path, problem)
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise ImageError(path, f"cannot be read ({error.strerror or error})") from None
    return _decode(path, path, size)


def decode_bytes(data: bytes, name: str) -> Image.Image:
    """An uploaded file's bytes → a PIL image in mode 'L' or 'RGB', with the same checks as a file.

    Raises:
        ImageError: naming `name`.
    """
    return _decode(io.BytesIO(data), name, len(data))


def _decode(source, name: str, size: int) -> Image.Image:
    """Pillow decoding of a path or file object, every failure turned into one ImageError."""
    try:
        if size == 0:
            raise ImageError(name, "empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=FORMATS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageError(name, f"declares {width}x{height} pixels, over the "
                                           f"{MAX_PIXELS:,} limit (decompression bomb?)")
                if width == 0 or height == 0:
                    raise ImageError(name, f"has no pixels ({width}x{height})")
                image.seek(0)  # first frame of an animated GIF
                image = ImageOps.exif_transpose(image)
                image.load()
                return _flatten(image)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(name, "permission denied") from None
    except FileNotFoundError:
        raise ImageError(name, "no such file") from None
    except UnidentifiedImageError:
        raise ImageError(name, f"not an image in a format read here ({', '.join(FORMATS)})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(name, "too many pixels (decompression bomb?)") from None
    except (MemoryError, RecursionError):
        raise ImageError(name, "cannot decode (the decoder ran out of memory or stack)") from None
    except Exception as error:  # noqa: BLE001  damaged files make plugins raise many kinds
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise ImageError(name, f"cannot decode ({detail})") from None


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageError(
            "<array>", f"shape {array.shape}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
        )
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
            array = array * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    return _flatten(Image.fromarray(array))


def to_model_input(image: Image.Image, height: int, width: int, channels: int) -> np.ndarray:
    """A flattened PIL image → (height, width, channels) uint8, stretched to size."""
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if channels == 1 else array


def load_image(
    source: str | Image.Image | np.ndarray, height: int, width: int, channels: int
) -> np.ndarray:
    """Reads one image as model input: (height, width, channels) uint8."""
    return to_model_input(open_image(source), height, width, channels)


def _load_or_error(args):
    path, height, width, channels = args
    try:
        return load_image(path, height, width, channels), None
    except ImageError as error:
        return None, error.reason


def load_images(
    paths: Sequence[str], height: int, width: int, channels: int, workers: int | None = None
) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """Decodes many files into one compact array.

    Returns:
        images: (N_ok, height, width, channels) uint8.
        kept: for each row of `images`, its index in `paths`.
        errors: (index in `paths`, reason) for each file that could not be read.
    """
    jobs = [(p, height, width, channels) for p in paths]
    workers = workers or min(os.cpu_count() or 1, 8)
    images = np.empty((len(paths), height, width, channels), np.uint8)
    kept: list[int] = []
    errors: list[tuple[int, str]] = []

    def collect(results):
        # Fill in place as results stream in: memory stays at one array.
        for index, (array, error) in enumerate(results):
            if error is None:
                images[len(kept)] = array
                kept.append(index)
            else:
                errors.append((index, error))

    if workers > 1 and len(jobs) >= 2000:
        import multiprocessing

        # Spawned workers inherit the environment at start: the flag keeps TensorFlow out of them.
        os.environ["CRNN_KERAS_DECODING_WORKER"] = "1"
        try:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                collect(pool.imap(_load_or_error, jobs, chunksize=256))
        finally:
            del os.environ["CRNN_KERAS_DECODING_WORKER"]
    else:
        collect(map(_load_or_error, jobs))
    return images[: len(kept)], kept, errors


def coloured_share(image: Image.Image) -> float:
    """The share of an image's pixels whose channels differ by more than CHROMA_THRESHOLD."""
    if image.mode == "L":
        return 0.0
    array = np.asarray(image.convert("RGB"), dtype=np.int16)
    if not array.size:
        return 0.0
    spread = array.max(axis=-1) - array.min(axis=-1)
    return float(np.mean(spread > CHROMA_THRESHOLD))


def channels_for(paths: Sequence[str], sample: int = 64) -> int:
    """3 when the images at `paths` are coloured (mean `coloured_share` of an evenly spread sample
    of `sample` readable ones ≥ COLOUR_SHARE), else 1. Colour that tells the text from the
    crossing lines is lost in grey: on a style that draws them in different colours, colour input
    read 0.983-0.993 where grey read 0.967-0.983 (two seeds, bench/NOTES.md)."""
    step = max(1, len(paths) // sample)
    shares = []
    for path in list(paths)[::step][:sample]:
        try:
            shares.append(coloured_share(open_image(path)))
        except ImageError:
            continue  # reported when the folder is loaded
    return 3 if shares and float(np.mean(shares)) >= COLOUR_SHARE else 1
