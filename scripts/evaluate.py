#!/usr/bin/env python
"""Score a model folder on a labelled file (`--help` lists the flags); the same command as `gp-mrc evaluate`.

    python scripts/evaluate.py --model runs/gp_mrc --file dev-v1.1.json --output_dir eval/
    accelerate launch --multi_gpu scripts/evaluate.py --model runs/gp_mrc --file dev-v1.1.json --output_dir eval/

The logic lives in gp_mrc/inference/evaluate_command.py.
"""

import os
import sys

# This file has the name of Hugging Face's `evaluate` library, which scoring imports, and Python puts a script's
# folder first on the path: take this folder off, and, where another script of it (train.py) imports `evaluate`
# and finds this file, hand it the library instead.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
if __name__ != "__main__":
    del sys.modules[__name__]
    import evaluate as library

    sys.modules[__name__] = library
else:
    from gp_mrc.errors import run_script
    from gp_mrc.inference.evaluate_command import main

    run_script(main)
