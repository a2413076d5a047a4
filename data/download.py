#!/usr/bin/env python3
"""Download public extractive-QA sets in the SQuAD layout gp_mrc reads, and check them.

    python data/download.py squad_v1 squad_v2 cmrc2018 dureader_robust --output_dir ~/qa_data
    python data/download.py --check ~/qa_data/squad_v1/dev-v1.1.json   # validate a file you already have

Every file is checked after download with gp_mrc's own loader (answers against their offsets), so a
broken download fails here, not an hour into training. Needs internet; nothing is bundled.
DuReader-robust arrives as a tar.gz of SQuAD-layout JSON files and is unpacked next to it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SOURCES: dict[str, dict[str, str]] = {
    "squad_v1": {
        "train-v1.1.json": "https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v1.1.json",
        "dev-v1.1.json": "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v1.1.json",
    },
    "squad_v2": {
        "train-v2.0.json": "https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v2.0.json",
        "dev-v2.0.json": "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v2.0.json",
    },
    "cmrc2018": {
        "cmrc2018_train.json": "https://raw.githubusercontent.com/ymcui/cmrc2018/master/squad-style-data/cmrc2018_train.json",
        "cmrc2018_dev.json": "https://raw.githubusercontent.com/ymcui/cmrc2018/master/squad-style-data/cmrc2018_dev.json",
        "cmrc2018_trial.json": "https://raw.githubusercontent.com/ymcui/cmrc2018/master/squad-style-data/cmrc2018_trial.json",
    },
    "dureader_robust": {
        "dureader_robust-data.tar.gz": "https://dataset-bj.cdn.bcebos.com/qianyan/dureader_robust-data.tar.gz",
    },
}
V2 = {"squad_v2"}


def fetch(url: str, path: str) -> None:
    if os.path.exists(path):
        print(f"have {path}")
        return
    tmp = path + ".part"
    print(f"get  {url}")
    with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
        while chunk := r.read(1 << 20):
            f.write(chunk)
    os.replace(tmp, path)  # a killed download never looks complete


def check(path: str, version_2: bool = False) -> int:
    """Load with gp_mrc's validator; print the counts; return 0 if usable."""
    from gp_mrc.data.examples import DataError, load_examples

    try:
        ex = load_examples(path, version_2=version_2, require_answers=False)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    n_imp = sum(ex["is_impossible"])
    print(f"ok   {path}: {len(ex)} questions ({n_imp} unanswerable)")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="*", help=f"any of {', '.join(SOURCES)}")
    p.add_argument("--output_dir", default=os.path.join(ROOT, "data", "downloads"))
    p.add_argument("--check", nargs="+", metavar="FILE", help="only validate these files")
    p.add_argument("--version_2_with_negative", action="store_true", help="with --check: files have unanswerables")
    args = p.parse_args()
    if args.check:
        return max(check(f, args.version_2_with_negative) for f in args.check)
    unknown = [s for s in args.sets if s not in SOURCES]
    if not args.sets or unknown:
        p.error(f"name sets among: {', '.join(SOURCES)}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    status = 0
    for name in args.sets:
        folder = os.path.join(args.output_dir, name)
        os.makedirs(folder, exist_ok=True)
        for filename, url in SOURCES[name].items():
            path = os.path.join(folder, filename)
            try:
                fetch(url, path)
            except OSError as e:
                print(f"error: {url}: {e}", file=sys.stderr)
                status = 1
                continue
            if filename.endswith(".tar.gz"):
                with tarfile.open(path) as tar:
                    tar.extractall(folder, filter="data")
                jsons = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs
                         if f.endswith(".json") and "test" not in f]
            else:
                jsons = [path]
            for j in jsons:
                status |= check(j, version_2=name in V2)
    return status


if __name__ == "__main__":
    sys.exit(main())
