"""The quality study: which objective and decoding win, under one fixed protocol, across sessions.

Each run is `scripts/train.py` in a subprocess under the study's fixed flags. GlobalPointer variants that share
a warm start branch from one *trunk* run per seed: the trunk saves checkpoints every quarter of training, and a
branch resumes from the trunk's checkpoint with its own objective (the data order, learning-rate schedule and
RNG continue exactly, so a branch equals the run it replaces at a fraction of its cost).

Every finished run leaves a small result file `benchmarks/results/<study>/<variant>-seed<N>.json` (arguments,
final EM/F1 under each decoding, the learning curve, timing, machine; no weights) meant to be committed, so a
study continues in the next session on any machine; `report` rebuilds every table from those files alone.

    python scripts/study.py run --study squad_v1_4k --variants start_end gp_ml gp_ml__f1 --seeds 42 43 44
    python scripts/study.py collect --study squad_v1_4k      # result files from finished run folders
    python scripts/study.py report                            # markdown tables (also: benchmark.py --report)
    python scripts/study.py reward_share                      # the reward's share pooled over every study
"""

from __future__ import annotations

import argparse
import os
import sys

from .commands import command, run_dir
from .paths import ROOT
from .plots import plot
from .report import compact, report
from .reward_share import reward_share_table
from .results import collect_one
from .running import run
from .studies import STUDIES
from .variants import VARIANTS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["run", "collect", "report", "compact", "commands", "plot", "reward_share"])
    p.add_argument("--study", default="squad_v1_4k", choices=list(STUDIES))
    p.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    p.add_argument("--plot_path", default=None)
    args = p.parse_args()
    variants = args.variants or list(VARIANTS)
    if args.action == "report":
        print(report(None if args.variants is None and "--study" not in sys.argv else args.study))
    elif args.action == "reward_share":
        print(reward_share_table())
    elif args.action == "compact":
        print(compact(args.study))
    elif args.action == "plot":
        plot(args.study, args.plot_path or os.path.join(ROOT, "docs", f"study_{args.study}_curves.png"))
    elif args.action == "commands":
        for seed in args.seeds:
            for v in variants:
                print("python " + " ".join(command(args.study, v, seed)))
    elif args.action == "collect":
        for seed in args.seeds:
            for v in variants:
                if os.path.exists(os.path.join(run_dir(args.study, v, seed), "eval_results.json")):
                    collect_one(args.study, v, seed)
    else:
        for seed in args.seeds:
            for v in variants:
                run(args.study, v, seed)
