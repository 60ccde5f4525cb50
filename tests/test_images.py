import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import coloured_text, text_image
from crnn_keras.data.images import ImageError, load_image, load_images, open_image


def ink_on_white(array):
    """Background is white and the text is dark: the corners are light, the minimum is dark."""
    return array[0, 0].min() > 200 and array.min() < 100


def test_palette_with_transparent_background_reads_as_text_on_white(tmp_path):
    # Dark text on a transparent palette background: naive decoding gives black.
    # Index 0 is black and transparent (the background), index 1 the dark text.
    ink = np.asarray(text_image("ab12")) < 128
    palette = Image.fromarray(ink.astype(np.uint8), "P")
    palette.putpalette([0, 0, 0, 20, 20, 20] + [0] * 762)
    path = tmp_path / "p.png"
    palette.save(path, transparency=0)
    assert Image.open(path).mode == "P"
    assert ink_on_white(load_image(str(path), 32, 96, 1))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "1", "L", "RGB", "I;16", "CMYK"])
def test_modes(tmp_path, mode):
    base = text_image("ab12")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base, np.uint16) * 257)
    elif mode in ("RGBA", "LA"):
        image = base.convert(mode)
    else:
        image = base.convert(mode)
    ext = ".jpg" if mode == "CMYK" else ".png"
    path = tmp_path / f"x{ext}"
    image.save(path)
    for channels in (1, 3):
        array = load_image(str(path), 32, 96, channels)
        assert array.shape == (32, 96, channels) and array.dtype == np.uint8
        assert ink_on_white(array)


@pytest.mark.parametrize("ext", [".gif", ".bmp", ".jpg"])
def test_formats(tmp_path, ext):
    path = tmp_path / f"x{ext}"
    text_image("ab12").save(path)
    assert ink_on_white(load_image(str(path), 32, 96, 1))


def test_exif_rotation_is_applied(tmp_path):
    upright = text_image("ab12", size=(96, 32)).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # stored sideways, EXIF says rotate back
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "r.jpg"
    stored.save(path, exif=exif)
    assert open_image(str(path)).size == (96, 32)


def test_small_and_wide_images_are_resized(tmp_path):
    for size in ((80, 25), (780, 80)):
        path = tmp_path / f"{size[0]}.png"
        text_image("ab12", size=size).save(path)
        assert load_image(str(path), 32, 128, 1).shape == (32, 128, 1)


def _bad_files(tmp_path):
    good = tmp_path / "good.png"
    text_image("ab12").save(good)
    png = good.read_bytes()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "truncated.png").write_bytes(png[: len(png) // 2])
    jpeg = tmp_path / "full.jpg"
    text_image("ab12").save(jpeg)
    (tmp_path / "truncated.jpg").write_bytes(jpeg.read_bytes()[:200])
    (tmp_path / "random.png").write_bytes(os.urandom(300))
    (tmp_path / "text.png").write_text("this is not an image\n")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "bomb.png").write_bytes(bomb_png(60000, 60000))
    return {
        "empty.png": "empty file",
        "truncated.png": "cannot decode",
        "truncated.jpg": "cannot decode",
        "random.png": "not an image",
        "text.png": "not an image",
        "folder.png": "is a folder",
        "bomb.png": "decompression bomb",
    }


def bomb_png(width, height):
    """A tiny PNG whose header declares width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def test_each_bad_file_gets_one_line_naming_it(tmp_path):
    for name, reason in _bad_files(tmp_path).items():
        path = str(tmp_path / name)
        with pytest.raises(ImageError) as caught:
            load_image(path, 32, 96, 1)
        message = str(caught.value)
        assert message.startswith(path) and reason in message and "\n" not in message


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_permission(tmp_path):
    path = tmp_path / "locked.png"
    text_image("ab").save(path)
    path.chmod(0)
    with pytest.raises(ImageError, match="permission denied"):
        load_image(str(path), 32, 96, 1)


def test_load_images_skips_and_counts(tmp_path):
    bad = _bad_files(tmp_path)
    paths = [str(tmp_path / "good.png"), *(str(tmp_path / n) for n in bad)]
    images, kept, errors = load_images(paths, 32, 96, 1)
    assert images.shape == (1, 32, 96, 1) and kept == [0]
    assert len(errors) == len(bad)


def test_arrays_and_pil_images():
    pil = text_image("ab12")
    array = np.asarray(pil)
    for source in (pil, array, array[..., None], np.stack([array] * 3, -1), array / 255.0):
        assert ink_on_white(load_image(source, 32, 96, 1))
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((2, 3, 4, 5)), 32, 96, 1)


def test_coloured_share_counts_pixels_whose_channels_differ():
    from crnn_keras.data.images import coloured_share

    assert coloured_share(text_image("ab12")) == 0.0
    assert coloured_share(text_image("ab12", mode="RGB")) == 0.0
    assert 0.02 < coloured_share(coloured_text("ab12")) < 0.5
    half = np.full((4, 4, 3), 255, np.uint8)
    half[:2] = (255, 200, 255)  # a tint of 55 counts, one of 20 would not
    half[2, :] = (255, 235, 255)
    assert coloured_share(Image.fromarray(half)) == 0.5


def test_channels_for_reads_colour_only_from_coloured_folders(tmp_path):
    from crnn_keras.data.images import channels_for

    grey, colour = [], []
    for i, label in enumerate(["ab12", "cd34", "a1b2", "dc43"]):
        grey.append(str(tmp_path / f"{label}.jpg"))
        text_image(label, seed=i, mode="RGB").save(grey[-1], quality=60)  # JPEG noise on grey is not colour
        colour.append(str(tmp_path / f"{label}.png"))
        coloured_text(label, seed=i).save(colour[-1])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert channels_for(grey) == 1
    assert channels_for(colour + [str(broken)]) == 3
    assert channels_for([str(broken)]) == 1
