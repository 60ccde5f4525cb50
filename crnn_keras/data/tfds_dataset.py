"""A labelled folder or labels file as a versioned TFDS dataset (`python -m crnn_keras dataset build`).

    path = build_dataset(DatasetOptions(data="captchas/", out="datasets/"))
    builder = tfds.builder_from_directory(path)      # plain TFDS reads it back
    ds = builder.as_dataset(split="train")           # {"image": (H, W, C) uint8, "label": string}

The builder has the shape `tfds new` gives (`_info`, `_split_generators`, `_generate_examples`),
with a `BuilderConfig` carrying the label and size options. Each image is decoded by the
project's own Pillow path (`crnn_keras.data.images`: alpha onto white, EXIF rotation, 16-bit,
palette) and resized to the model's input when the dataset is built, then stored as PNG
(lossless). Training from the dataset therefore sees the pixels `predict` sees, with no
`tf.io` decoding differences. The metadata holds the vocabulary, the longest label and the
counts, which the model needs before it is built.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import sys

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import shard_utils

from crnn_keras.data.files import Problem, Sample, list_samples, printable_path
from crnn_keras.data.images import ImageError, channels_for, load_image
from crnn_keras.data.labelled import report_problems
from crnn_keras.data.manifest import list_labelled

DATASET_NAME = "crnn_captchas"
MIN_SHARDS = 16  # several workers can then each read whole files


@dataclasses.dataclass(frozen=True)
class DatasetOptions:
    """What `dataset build` reads and how (its command line)."""

    out: str
    data: str | None = None
    labels: str | None = None
    val_data: str | None = None
    test_data: str | None = None
    val_split: float = 0.0
    label_regex: str | None = None
    ignore_case: bool = False
    height: int = 64
    width: int = 160
    channels: int | None = None  # None: from the training images (`images.channels_for`)
    seed: int = 0
    shard_size_mb: int = 64
    beam_options: str | None = None

    def __post_init__(self):
        if bool(self.data) == bool(self.labels):
            raise ValueError("give --data (a folder) or --labels (a labels file), one of them")
        if self.val_data and self.val_split:
            raise ValueError("give --val-data or --val-split, not both")
        if not 0.0 <= self.val_split < 1.0:
            raise ValueError(f"--val-split: expected 0 ≤ fraction < 1, received {self.val_split}")
        if self.shard_size_mb < 1:
            raise ValueError(f"--shard-size-mb: expected an integer ≥ 1, received {self.shard_size_mb}")


@dataclasses.dataclass
class LabelStats:
    """What the model needs to know of a split's labels, gathered as its examples are written."""

    characters: set = dataclasses.field(default_factory=set)
    count: int = 0
    total_length: int = 0
    max_length: int = 0
    min_length: int = 0

    def add(self, label: str) -> None:
        self.characters.update(label)
        self.count += 1
        self.total_length += len(label)
        self.max_length = max(self.max_length, len(label))
        self.min_length = min(self.min_length, len(label)) if self.min_length else len(label)


@dataclasses.dataclass(eq=False)
class CaptchaConfig(tfds.core.BuilderConfig):
    """The options a dataset was built with; they are saved with it."""

    label_regex: str | None = None
    ignore_case: bool = False
    height: int = 64
    width: int = 160
    channels: int = 1


class CrnnCaptchas(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Labelled captcha images at the model's input size, with their labels as text.

    Not registered by name: `tfds.load("crnn_captchas", data_dir=…)` and
    `tfds.builder_from_directory` then read a built dataset from its files alone, in any
    program, at whatever size it was built.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Images decoded by crnn_keras' Pillow path, resized to the model input, PNG."}
    BUILDER_CONFIG_CLASS = CaptchaConfig

    def __init__(self, *, splits: dict[str, list[Sample]] | None = None, beam: bool = False, **kwargs):
        self._splits = splits or {}
        self._beam = beam
        self.problems: list[Problem] = []
        self.stats = {name: LabelStats() for name in self._splits}
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(config.height, config.width, config.channels),
                                             encoding_format="png"),
                "label": tfds.features.Text(),
            }),
            supervised_keys=("image", "label"),
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        if self._beam:
            return {name: self._beam_examples(name, samples) for name, samples in self._splits.items()}
        return {name: self._generate_examples(samples, self.stats[name]) for name, samples in self._splits.items()}

    def _beam_examples(self, name: str, samples: list[Sample]):
        """The split as a Beam transform: workers decode; the label statistics come from the
        listed samples (a file that then fails to decode still counts its characters)."""
        beam = tfds.core.lazy_imports.apache_beam
        for sample in samples:
            self.stats[name].add(sample.label)
        config = self.builder_config
        return (f"list_{name}" >> beam.Create(samples)
                | f"decode_{name}" >> beam.FlatMap(decode_example, config.height, config.width, config.channels))

    def _generate_examples(self, samples: list[Sample], stats: LabelStats):
        config = self.builder_config
        for sample in samples:
            try:
                image = load_image(sample.path, config.height, config.width, config.channels)
            except ImageError as error:
                self.problems.append(Problem(sample.path, error.reason))
                continue
            stats.add(sample.label)
            yield printable_path(sample.path), {"image": image, "label": sample.label}


def decode_example(sample: Sample, height: int, width: int, channels: int) -> list[tuple[str, dict]]:
    """A Beam worker's step: [(key, example)], or [] and a `skipped:` line for a bad file."""
    try:
        image = load_image(sample.path, height, width, channels)
    except ImageError as error:
        print(f"skipped: {Problem(sample.path, error.reason)}", file=sys.stderr)
        return []
    return [(printable_path(sample.path), {"image": image, "label": sample.label})]


def list_split_samples(options: DatasetOptions) -> tuple[dict[str, list[Sample]], list[Problem]]:
    """The samples of each split ("train", and "validation" when asked for), with the problems."""
    samples, problems = list_labelled(options.data, options.labels, options.label_regex, options.ignore_case)
    splits = {"train": samples}
    if options.val_data:
        val, val_problems = list_samples(options.val_data, options.label_regex, options.ignore_case)
        splits["validation"] = val
        problems = problems + val_problems
    elif options.val_split:
        order = np.random.default_rng(options.seed).permutation(len(samples))
        held = set(order[:max(1, round(len(samples) * options.val_split))].tolist())
        splits = {"train": [s for i, s in enumerate(samples) if i not in held],
                  "validation": [s for i, s in enumerate(samples) if i in held]}
    if options.test_data:
        splits["test"], test_problems = list_samples(options.test_data, options.label_regex, options.ignore_case)
        problems = problems + test_problems
    return splits, problems


def build_dataset(options: DatasetOptions, overwrite: bool = False) -> str:
    """Writes the dataset under `options.out` and returns its folder (what `--tfds` takes).

    Raises:
        ValueError: the folder already holds this dataset (unless `overwrite`), or bad options.
    """
    splits, problems = list_split_samples(options)
    channels = options.channels or channels_for([sample.path for sample in splits["train"]])
    config = CaptchaConfig(name="default", label_regex=options.label_regex, ignore_case=options.ignore_case,
                           height=options.height, width=options.width, channels=channels)
    beam_options = parse_beam_options(options.beam_options) if options.beam_options else None
    builder = CrnnCaptchas(splits=splits, config=config, data_dir=options.out, beam=beam_options is not None)
    prepare(builder, shard_count(splits["train"], config, options.shard_size_mb), overwrite, beam_options)
    report_problems(problems + builder.problems, options.labels or options.data)
    return builder.data_dir


def parse_beam_options(text: str):
    """`--beam-options "--runner=DirectRunner --direct_num_workers=2"` as Beam's PipelineOptions.

    Raises:
        ValueError: Apache Beam is not installed.
    """
    try:
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise ValueError("--beam-options: Apache Beam is not installed (pip install apache-beam, in its own "
                         "environment: README, Large data)") from None
    return PipelineOptions(shlex.split(text))


def prepare(builder: CrnnCaptchas, shards: int, overwrite: bool = False, beam_options=None) -> None:
    """Writes `builder`'s splits in `shards` files each (fewer for a split with fewer examples)
    and the metadata the model needs; with `beam_options`, through an Apache Beam pipeline.

    Raises:
        ValueError: its folder already holds the dataset, unless `overwrite`.
    """
    if os.path.exists(os.path.join(builder.data_dir, "dataset_info.json")) and not overwrite:
        raise ValueError(f"{builder.data_dir}: already holds a dataset (choose another --out, or --overwrite)")
    download = _DownloadConfig(shards, download_mode=tfds.download.GenerateMode.FORCE_REDOWNLOAD if overwrite else
                               tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS, beam_options=beam_options)
    with contextlib.redirect_stdout(sys.stderr):  # TFDS narrates on stdout, which carries our result
        builder.download_and_prepare(download_config=download)
    _write_summary(builder)


class _ShardCount(shard_utils.ShardConfig):
    """Cuts each split into `wanted` files, or one per example when it has fewer.

    TFDS takes either a fixed `num_shards` for every split, which fails on a split that ends
    up smaller (a small validation split, or images that fail to decode), or a count from
    min/max shard sizes, which TFDS 4.9.10 reads from the class defaults (64 MiB–1 GiB) rather
    than from the instance: a captcha set then gets one shard.
    """

    def __init__(self, wanted: int):
        super().__init__()
        self.wanted = wanted

    def get_number_shards(self, total_size: int, num_examples: int, uses_precise_sharding: bool = True) -> int:
        return max(1, min(self.wanted, num_examples))


class _DownloadConfig(tfds.download.DownloadConfig):
    def __init__(self, wanted: int, **kwargs):
        super().__init__(**kwargs)
        self.wanted = wanted

    def get_shard_config(self) -> shard_utils.ShardConfig:
        return _ShardCount(self.wanted)


def shard_count(train: list[Sample], config: CaptchaConfig, shard_size_mb: int) -> int:
    """MIN_SHARDS, or more so that no shard holds over `shard_size_mb` (sizes measured on a few
    encoded examples)."""
    encoded = []
    for sample in train[:20]:
        try:
            array = load_image(sample.path, config.height, config.width, config.channels)
        except ImageError:
            continue
        encoded.append(len(tfds.features.Image(shape=array.shape, encoding_format="png").encode_example(array)))
    total = len(train) * (sum(encoded) / len(encoded) if encoded else config.height * config.width * config.channels)
    return max(MIN_SHARDS, int(total // (shard_size_mb << 20)) + 1)


def _write_summary(builder: CrnnCaptchas) -> None:
    """The vocabulary, longest label and counts, in the metadata saved beside dataset_info.json."""
    train = builder.stats["train"]
    summary = {
        "vocabulary": "".join(sorted(train.characters)),
        "max_label_length": max(stats.max_length for stats in builder.stats.values()),
        "mean_label_length": train.total_length / max(1, train.count),
        "min_label_length": min((stats.min_length for stats in builder.stats.values() if stats.count), default=1),
        "counts": {name: builder.info.splits[name].num_examples for name in builder.stats},
        "format": 1,
    }
    builder.info.metadata.update(summary)
    builder.info.metadata.save_metadata(builder.data_dir)
    print(f"{builder.data_dir}: " + ", ".join(f"{n} {name}" for name, n in summary["counts"].items()),
          file=sys.stderr)
