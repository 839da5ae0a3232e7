#!/usr/bin/env python3
"""Separate audio files into harmonic, percussive and vocal stems (see ``--help``)."""

import sys

from mixin.cli.separate import main

if __name__ == "__main__":
    sys.exit(main())
