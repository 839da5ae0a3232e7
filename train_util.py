#!/usr/bin/env python3
"""Prepare stems, build HDF5 data sets and train MiXiN's models (see ``--help``)."""

import sys

from mixin.launch import load_main

if __name__ == "__main__":
    sys.exit(load_main("mixin.cli.train", __file__)())
