"""Names for labelled copies: `<label>_<n>.<ext>`, read back with `--label-regex '^(.+)_\\d+$'`.

The regex is greedy up to the last `_<digits>`, so a label that itself ends in `_12` still reads
back whole (`a_12_1.png` → `a_12`). A label is refused when it cannot be a file name on every
system the folder may travel to.
"""

from __future__ import annotations

import os
import unicodedata

LABEL_REGEX = r"^(.+)_\d+$"
NAME_BYTES = 255  # the longest file name ext4, APFS and NTFS take


class LabelRefused(ValueError):
    """A label that cannot become a file name (one line for the page)."""


def check_label(text: str) -> str:
    """The label in NFC, or LabelRefused saying why not.

    >>> check_label("Cafe\\u0301")
    'Café'
    """
    label = unicodedata.normalize("NFC", text)
    if not label.strip():
        raise LabelRefused("the label is empty")
    if "/" in label or "\\" in label:
        raise LabelRefused("a label cannot hold / or \\ (they separate folders)")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in label):
        raise LabelRefused("a label cannot hold control characters (tab, line break, NUL, …)")
    if label.startswith("."):
        raise LabelRefused("a label cannot start with . (the file would be hidden)")
    if label != label.strip():
        raise LabelRefused("a label cannot start or end with a space")
    if len(f"{label}_999999.jpeg".encode()) > NAME_BYTES:
        raise LabelRefused(f"the label is too long for a file name ({len(label.encode())} bytes in UTF-8)")
    return label


def free_name(folder: str, label: str, ext: str, taken: set[str]) -> str:
    """The first `<label>_<n><ext>` (n from 1) that is neither in `folder` nor in `taken`."""
    n = 1
    while True:
        name = f"{label}_{n}{ext.lower()}"
        if name not in taken and not os.path.exists(os.path.join(folder, name)):
            return name
        n += 1
