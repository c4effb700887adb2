"""Evaluation: TFMA configuration, argmax per-class metrics and the report."""
