"""Training on several devices or machines (`train --distribute mirrored|multi-worker`).

    strategy = make_strategy("mirrored")           # every local GPU (or logical CPU device)
    with strategy.scope(): …build and compile…

`--batch-size` is the global batch: each of N replicas gets batch/N images a step, and the
last, smaller batch of an epoch is dropped so that every replica's batch is equal. Under
MultiWorkerMirroredStrategy the chief (task `chief`, or worker 0 when the cluster has no
chief) writes the run folder; every other worker writes into a temporary folder of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import tensorflow as tf

from crnn_keras.run_folder import RunFolder

KINDS = ("mirrored", "multi-worker")


def split_cpu(count: int) -> None:
    """Makes the CPU `count` logical devices, so mirrored training can run without GPUs (tests,
    trying it out). Must run before TensorFlow touches a device.

    Raises:
        ValueError: count < 1, or TensorFlow's devices were already set up in this process.
    """
    if count < 1:
        raise ValueError(f"--cpu-devices: expected an integer ≥ 1, received {count}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise ValueError("--cpu-devices: TensorFlow's devices are already set up in this process") from None


def make_strategy(kind: str | None) -> tf.distribute.Strategy:
    """The tf.distribute strategy for `--distribute` (the default strategy for None)."""
    if kind is None:
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if kind == "multi-worker":
        cluster = cluster_spec()
        if not cluster:
            raise ValueError("--distribute multi-worker: TF_CONFIG is not set (see the README's example)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--distribute: expected one of {', '.join(KINDS)}, received {kind!r}")


def cluster_spec() -> dict:
    """TF_CONFIG as a dict ({} when unset); a malformed one is a one-line error."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        config = json.loads(text)
        valid = isinstance(config["cluster"], dict) and isinstance(config["task"]["type"], str)
        int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise ValueError('TF_CONFIG: expected {"cluster": {...}, "task": {"type": ..., "index": ...}}')
    return config


def is_chief() -> bool:
    """Whether this process writes the run folder: the chief task, or worker 0 without one."""
    config = cluster_spec()
    if not config:
        return True
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


def replicas(strategy: tf.distribute.Strategy) -> int:
    return strategy.num_replicas_in_sync


def check_batch(batch_size: int, strategy: tf.distribute.Strategy) -> None:
    """Raises ValueError unless every replica gets the same, non-empty batch."""
    n = replicas(strategy)
    if batch_size % n:
        raise ValueError(f"--batch-size {batch_size}: the global batch must divide evenly over the {n} replicas "
                         f"(try {max(n, batch_size // n * n)})")


def start(distribute: str | None, cpu_devices: int | None) -> tf.distribute.Strategy:
    """The run's strategy, made before anything else touches TensorFlow (MultiWorkerMirrored-
    Strategy must come first, and logical CPU devices before any device is used)."""
    if cpu_devices:
        split_cpu(cpu_devices)
    if distribute == "multi-worker":
        from crnn_keras.train import multi_worker_fix

        multi_worker_fix.apply()
    return make_strategy(distribute)


def run_folder_for(out: str, resume: bool) -> tuple[RunFolder, str | None]:
    """(the folder this process writes, a scratch folder to delete afterwards or None).

    Every worker saves its checkpoints, as Keras expects under a strategy, but only the chief
    into `out`; the others into scratch. On `--resume` a worker starts its scratch from a copy
    of `out`, so every worker loads the same checkpoint (`out` must be readable by all of them:
    one machine, or a shared file system).
    """
    if is_chief():
        return RunFolder(out), None
    scratch = tempfile.mkdtemp(prefix="crnn_worker_")
    folder = os.path.join(scratch, "run")
    if resume:
        shutil.copytree(out, folder, ignore=shutil.ignore_patterns(RunFolder.LOCK))
    return RunFolder(folder), scratch


def fixed_steps(cfg, train_images: int, val_images: int, replicas: int) -> dict:
    """fit()'s steps_per_epoch and validation_steps under several workers, else {}.

    Each worker reads its own shard of the data (by file for a TFDS dataset), and the shards
    need not hold the same number of batches; a worker that runs out first would leave the
    others waiting in a collective for ever. So the data repeats and every worker takes the
    same count of global batches an epoch.
    """
    if cfg.distribute != "multi-worker":
        return {}
    from crnn_keras.data.pipeline import replica_batches

    val_batch, _ = replica_batches(cfg.batch_size, val_images, replicas)
    return {"steps_per_epoch": max(1, train_images // cfg.batch_size),
            "validation_steps": max(1, val_images // val_batch)}
