"""Labels from a manifest: a CSV or TSV file of `path,label` rows (`--labels FILE`).

    images/0001.png	x9g3a
    images/0002.png	7kq2p

Paths are relative to the manifest's folder. A `.tsv` file is split on tabs and a `.csv` file
on commas (quoted fields as the csv module reads them); any other name on tabs if its first
line has one. A first row `path,label` (or `file`/`filename`/`image`, `label`/`text`) is a
header. Missing files, duplicate paths and empty labels are one problem each; the rest is read.
"""

from __future__ import annotations

import csv
import os
import unicodedata

from crnn_keras.data.files import Problem, Sample, list_samples, printable_path, regular_file_problem

HEADER_PATH = {"path", "file", "filename", "image", "file_name"}
HEADER_LABEL = {"label", "text", "labels"}


def read_manifest(manifest: str, ignore_case: bool = False) -> tuple[list[Sample], list[Problem]]:
    """The labelled images a manifest lists, and the rows that could not be used.

    Raises:
        FileNotFoundError: no such manifest.
        ValueError: not UTF-8 text, or no usable row at all.
    """
    rows = _rows(manifest)
    root = os.path.dirname(os.path.abspath(manifest))
    samples: list[Sample] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, fields in rows:
        where = f"{printable_path(manifest)} line {line}"
        sample, reason = _sample(root, fields, ignore_case)
        if reason is None and sample.path in seen:
            reason = f"{printable_path(fields[0])} is listed again (first on line {seen[sample.path]})"
        if reason is not None:
            problems.append(Problem(where, reason))
            continue
        seen[sample.path] = line
        samples.append(sample)
    if not samples:
        raise ValueError(f"{printable_path(manifest)}: no usable row (expected path<TAB>label or path,label)"
                         + (f" — {problems[0]}" if problems else ""))
    return samples, problems


def list_labelled(data: str | None, labels: str | None, label_regex: str | None = None,
                  ignore_case: bool = False) -> tuple[list[Sample], list[Problem]]:
    """The samples of the labels file `labels` when given, else of the folder `data`."""
    if labels:
        return read_manifest(labels, ignore_case)
    return list_samples(data, label_regex, ignore_case)


def _rows(manifest: str) -> list[tuple[int, list[str]]]:
    if os.path.isdir(manifest):
        raise ValueError(f"{printable_path(manifest)}: is a folder; --labels takes a CSV or TSV file")
    try:
        with open(manifest, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{printable_path(manifest)}: no such labels file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{printable_path(manifest)}: not UTF-8 text") from None
    first = text.split("\n", 1)[0]
    lower = manifest.lower()
    delimiter = "," if lower.endswith(".csv") or (not lower.endswith(".tsv") and "\t" not in first) else "\t"
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    rows = [(n, row) for n, row in enumerate(reader, start=1) if any(field.strip() for field in row)]
    if rows and _is_header(rows[0][1]):
        rows = rows[1:]
    return rows


def _is_header(row: list[str]) -> bool:
    return len(row) >= 2 and row[0].strip().lower() in HEADER_PATH and row[1].strip().lower() in HEADER_LABEL


def _sample(root: str, fields: list[str], ignore_case: bool) -> tuple[Sample | None, str | None]:
    if len(fields) != 2:
        return None, f"expected 2 fields (path and label), found {len(fields)}"
    name, label = fields[0].strip(), unicodedata.normalize("NFC", fields[1].strip())
    if not name:
        return None, "empty path"
    label = label.lower() if ignore_case else label
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        return None, f"the label of {printable_path(name)} has a control character"
    if not label.strip():
        return None, f"{printable_path(name)} has an empty label"
    path = os.path.normpath(os.path.join(root, name))
    problem = regular_file_problem(path)
    if problem:
        return None, f"{printable_path(name)}: {problem}"
    return Sample(path, label), None
