"""Figures the benches print the same way."""
from __future__ import annotations

import statistics


def mean_sd(values, separator: str = " ± ") -> str:
    """"0.900 ± 0.027": mean and sample standard deviation (0 for one value)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f}{separator}{sd:.3f}"
