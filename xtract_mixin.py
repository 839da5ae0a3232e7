#!/usr/bin/env python3
"""Separate audio files into harmonic, percussive and vocal stems (see ``--help``)."""

import sys

from mixin.launch import load_main

if __name__ == "__main__":
    sys.exit(load_main("mixin.cli.separate", __file__)())
