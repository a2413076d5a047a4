#!/usr/bin/env python
"""Build gpu_bundle/: what a lent GPU machine needs beside the repository to run tools/gpu/gpu_study.sh offline.

    python tools/gpu/make_gpu_bundle.py   # builds (or completes) gpu_bundle/, prints its size, checks the limit

The device tool sends the working tree plus the ignored paths named in `carry` (64 MiB in all), and the machine
has no network. The bundle holds:
  - all-MiniLM-L6-v2 (the packaged default encoder) with its weights in bf16 (45 MB instead of 91 MB in fp32);
    training casts them back to fp32 master weights (gp_mrc.training.model_init.fp32_master_weights), so the GPU study
    starts from the fp32 encoder rounded to bf16 — the CPU studies start from the unrounded one;
  - the SQuAD v1.1 train and dev files of ../shared/data, gzipped;
  - wheels of the Python packages the GPU image lacks (datasets, evaluate and their pure-python needs dill and
    multiprocess; the image has pyarrow, pandas, xxhash, fsspec, huggingface-hub), at this machine's versions;
  - manifest.json: every file with its size and sha256, the versions and the git commit it was built at.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/gpu/ → the repository
SHARED = os.environ.get("GP_MRC_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
BUNDLE = os.path.join(ROOT, "gpu_bundle")
ENCODER_DIR = "all-MiniLM-L6-v2-bf16"  # scripts/study.py's GPU studies read the encoder from gpu_bundle/<this>
ENCODER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
DATA_FILES = ("squad_v1.1/train-v1.1.explorer.json", "squad_v1.1/dev-v1.1.shared.json")
# missing from the GPU image (its package list: /work/.library/device/KINDS.md); pinned to what runs here
WHEELS = ("datasets", "evaluate", "dill", "multiprocess")
# the GPU image's Python (3.12, x86-64 manylinux)
PLATFORM_FLAGS = (
    "--only-binary=:all:",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "any",
)
LIMIT_MIB = 64  # what the device tool carries: the working tree and the carried paths together


def encoder_bf16(out: str) -> None:
    """The packaged MiniLM folder with every floating-point tensor stored in bf16 (safetensors)."""
    import torch
    from safetensors.torch import load_file, save_file

    from gp_mrc.defaults import default_encoder_path

    src = default_encoder_path()
    os.makedirs(out, exist_ok=True)
    tensors = load_file(os.path.join(src, "model.safetensors"))
    tensors = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    for name in ENCODER_FILES:
        if os.path.exists(os.path.join(src, name)):
            shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    config.pop("torch_dtype", None)
    config["dtype"] = "bfloat16"  # what the file holds; training casts to fp32 (see the module docstring)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def gzip_data(out: str) -> None:
    for rel in DATA_FILES:
        src = os.path.join(SHARED, rel)
        if not os.path.exists(src):
            raise FileNotFoundError(f"{src} is missing (set GP_MRC_SHARED_DATA to the folder holding squad_v1.1/)")
        dst = os.path.join(out, rel + ".gz")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(src, "rb") as f, open(dst + ".tmp", "wb") as raw:
            with gzip.GzipFile(filename=os.path.basename(rel), mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g:
                shutil.copyfileobj(f, g)
        os.replace(dst + ".tmp", dst)


def download_wheels(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    have = {f.split("-")[0].lower() for f in os.listdir(out) if f.endswith(".whl")}
    wanted = [f"{name}=={metadata.version(name)}" for name in WHEELS if name.lower() not in have]
    if wanted:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", *PLATFORM_FLAGS, "-d", out, *wanted],
            check=True,
        )


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)


def working_tree_bytes() -> int:
    """What the device tool sends besides the carried paths: tracked and untracked-not-ignored files."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    paths = [p for p in out.decode().split("\0") if p]
    return sum(os.path.getsize(os.path.join(ROOT, p)) for p in paths if os.path.isfile(os.path.join(ROOT, p)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=BUNDLE)
    p.add_argument("--rebuild", action="store_true", help="rebuild every part (default: build what is missing)")
    args = p.parse_args()
    if args.rebuild and os.path.isdir(args.out):
        shutil.rmtree(args.out)
    enc = os.path.join(args.out, ENCODER_DIR)
    if not os.path.exists(os.path.join(enc, "model.safetensors")):
        encoder_bf16(enc)
    if not all(os.path.exists(os.path.join(args.out, "data", rel + ".gz")) for rel in DATA_FILES):
        gzip_data(os.path.join(args.out, "data"))
    download_wheels(os.path.join(args.out, "wheels"))
    files = sorted(
        os.path.relpath(os.path.join(d, f), args.out)
        for d, _, fs in os.walk(args.out)
        for f in fs
        if f != "manifest.json"
    )
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    manifest = {
        "git_commit": commit,
        "versions": {n: metadata.version(n) for n in WHEELS},
        "files": {
            f: {"bytes": os.path.getsize(os.path.join(args.out, f)), "sha256": sha256(os.path.join(args.out, f))}
            for f in files
        },
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    bundle, tree = tree_bytes(args.out), working_tree_bytes()
    mib = 1 << 20
    for f in files:
        print(f"{manifest['files'][f]['bytes'] / mib:8.2f} MiB  {f}")
    print(
        f"bundle {bundle / mib:.2f} MiB + working tree {tree / mib:.2f} MiB = {(bundle + tree) / mib:.2f} MiB "
        f"(limit {LIMIT_MIB} MiB)"
    )
    if bundle + tree > LIMIT_MIB * mib:
        print(f"error: {(bundle + tree) / mib:.2f} MiB is over the device tool's {LIMIT_MIB} MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from gp_mrc.errors import run_script

    run_script(main)
