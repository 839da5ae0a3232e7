#!/usr/bin/env python3
"""Score separations against references, with baselines, tables and plots (see ``--help``)."""

import sys

from mixin.launch import load_main

if __name__ == "__main__":
    sys.exit(load_main("mixin.cli.evaluate", __file__)())
