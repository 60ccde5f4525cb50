"""`python -m crnn_keras dataset build`: a labelled folder or labels file → a TFDS dataset."""

from __future__ import annotations

import argparse

from crnn_keras.cli.common import add_colour_arguments, colour_channels
from crnn_keras.model.config import ModelConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="write a TFDS dataset (TFRecord shards + dataset_info.json)",
                               description="Decode a labelled folder or labels file once, at the model's input "
                               "size, into a versioned TFDS dataset that `train --tfds` streams.",
                               formatter_class=p.formatter_class)
    m = ModelConfig()
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="folder of images named by their labels")
    source.add_argument("--labels", metavar="FILE", help="CSV or TSV of path,label rows (paths relative to FILE)")
    build.add_argument("--out", required=True, metavar="DATA_DIR", help="where the dataset is written")
    build.add_argument("--label-regex", help="label = first capture group of this regex on the file name")
    build.add_argument("--ignore-case", action="store_true", help="fold labels to lower case")
    split = build.add_mutually_exclusive_group()
    split.add_argument("--val-data", help="a folder for the validation split")
    split.add_argument("--val-split", type=float, default=0.0,
                       help="fraction of the images for a seeded validation split (default: none; training then "
                       "splits off --val-split itself)")
    build.add_argument("--test-data", help="a folder for a test split (`evaluate --tfds DATA_DIR --split test`)")
    build.add_argument("--height", type=int, default=m.height, help="the model input height the images are stored at")
    build.add_argument("--width", type=int, default=m.width, help="the model input width the images are stored at")
    add_colour_arguments(build)
    build.add_argument("--seed", type=int, default=0, help="seeds the validation split")
    build.add_argument("--shard-size-mb", type=int, default=64, help="most megabytes a shard holds (at least 16 shards)")
    build.add_argument("--overwrite", action="store_true", help="replace a dataset already in DATA_DIR")
    build.add_argument("--beam-options", metavar="OPTIONS",
                       help='build through Apache Beam with these pipeline options, e.g. "--runner=DirectRunner '
                       '--direct_num_workers=4 --direct_running_mode=multi_processing" (needs apache-beam)')


def run(args) -> int:
    import tensorflow_datasets as tfds

    from crnn_keras.data.tfds_dataset import DatasetOptions, build_dataset

    options = DatasetOptions(out=args.out, data=args.data, labels=args.labels, val_data=args.val_data,
                             test_data=args.test_data,
                             val_split=args.val_split, label_regex=args.label_regex, ignore_case=args.ignore_case,
                             height=args.height, width=args.width, channels=colour_channels(args), seed=args.seed,
                             shard_size_mb=args.shard_size_mb, beam_options=args.beam_options)
    ModelConfig(height=options.height, width=options.width, channels=options.channels).check_input()
    tfds.disable_progress_bar()
    path = build_dataset(options, overwrite=args.overwrite)
    print(path)
    return 0
