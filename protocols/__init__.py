"""Evaluation protocols: subject-independent cross-validation with pooled metrics."""
