"""Training and evaluation data: stem preparation, HDF5 data sets, MIR-1K clips, offline rendering."""
