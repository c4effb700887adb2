"""Subject-independent train/eval assignment.

A subject's clips all go to one side: otherwise the model can recognise the
person instead of the expression. Hashing subjects into buckets gives lopsided
splits when there are only 20-30 subjects, so the eval side is either named
explicitly or is the first ``round(n * fraction)`` subjects in a seeded order.
"""
from __future__ import annotations

import hashlib

from mer_tfx.errors import UserError

TRAIN, EVAL = "train", "eval"


def seeded_order(subjects, seed: int) -> list:
    """The subjects in a fixed pseudo-random order that depends only on the seed."""
    return sorted(set(subjects),
                  key=lambda s: hashlib.sha256(f"{seed}:{s}".encode("utf-8")).hexdigest())


def assign_subject_splits(subjects, eval_subjects=None, eval_fraction: float = 0.25,
                          seed: int = 0) -> dict[str, str]:
    """subject -> 'train' | 'eval' for every subject in ``subjects``."""
    unique = sorted(set(subjects))
    if len(unique) < 2:
        raise UserError(f"subject-independent splits need at least 2 subjects, got {unique}")
    if eval_subjects:
        chosen = {str(s) for s in eval_subjects}
        unknown = sorted(chosen - set(unique))
        if unknown:
            raise UserError(f"eval subjects {unknown} are not in the data; subjects: {unique}")
        if chosen >= set(unique):
            raise UserError("every subject is an eval subject: nothing left to train on")
    else:
        if not 0 < eval_fraction < 1:
            raise UserError(f"eval fraction must be between 0 and 1, got {eval_fraction}")
        count = min(len(unique) - 1, max(1, round(len(unique) * eval_fraction)))
        chosen = set(seeded_order(unique, seed)[:count])
    return {s: (EVAL if s in chosen else TRAIN) for s in unique}
