"""Scoring separations: BSSv4 and GNSDR metrics, baselines, the report."""
