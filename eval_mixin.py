#!/usr/bin/env python3
"""Score separations against references, with baselines, tables and plots (see ``--help``)."""

import sys

from mixin.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
