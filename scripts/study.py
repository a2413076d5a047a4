#!/usr/bin/env python
"""The quality study's command line (run | collect | report | compact | commands | plot); the logic is the
gp_mrc_lab package (gp_mrc_lab/study.py and the modules it names)."""

from gp_mrc.errors import run_script
from gp_mrc_lab.study import main

if __name__ == "__main__":
    run_script(main)
