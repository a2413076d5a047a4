#!/usr/bin/env python
"""One answer per question, whatever the route: `context` against `contexts: [C]` on a labelled file's first N
questions. The logic is gp_mrc_lab/routes.py."""

from gp_mrc.errors import run_script
from gp_mrc_lab.routes import main

if __name__ == "__main__":
    run_script(main)
