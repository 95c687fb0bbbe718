"""Recorded results of runs too long for a chapter's time budget (written by ``scripts/bench_shapes10.py``)."""
