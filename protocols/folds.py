"""Which subjects each fold of a protocol holds out (every subject in exactly one fold).

- ``loso``: leave one subject out (the MER standard);
- ``kfold``: K seeded groups of subjects;
- ``lodo``: leave one dataset out (several sources), train on the others.
"""
from __future__ import annotations

import collections

from mer_tfx.errors import UserError
from mer_tfx.ingestion.splits import seeded_order

PROTOCOLS = {
    "loso": "leave-one-subject-out",
    "kfold": "K subject groups",
    "lodo": "leave-one-dataset-out",
}


def subject_folds(subjects, folds: int = 0, seed: int = 0) -> list:
    """Held-out subject groups: one subject each (folds=0: LOSO) or ``folds`` groups."""
    unique = sorted(set(subjects))
    if len(unique) < 3:
        raise UserError(f"cross-validation needs at least 3 subjects (2 to train and "
                        f"validate on), got {unique}")
    if folds == 0 or folds >= len(unique):
        return [[s] for s in unique]
    if folds < 2:
        raise UserError(f"--folds must be 0 (leave one subject out) or at least 2, got {folds}")
    ordered = seeded_order(unique, seed)
    return [sorted(ordered[i::folds]) for i in range(folds)]


def dataset_folds(subject_datasets: dict) -> list:
    """Leave one dataset out: every dataset's subjects held out together."""
    by_dataset = collections.defaultdict(list)
    for subject, dataset in subject_datasets.items():
        by_dataset[dataset].append(subject)
    if len(by_dataset) < 2:
        raise UserError(f"leave-one-dataset-out needs at least 2 datasets (--source ... "
                        f"--source ...), got {sorted(by_dataset)}")
    return [sorted(by_dataset[d]) for d in sorted(by_dataset)]


def check_protocol(protocol: str, folds: int = 0) -> None:
    """A protocol request that cannot work, refused before anything runs."""
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    if protocol == "kfold" and folds < 2:
        raise UserError(f"--protocol kfold needs --folds K with K >= 2, got {folds}")


def protocol_folds(protocol: str, subject_datasets: dict, folds: int = 0,
                   seed: int = 0) -> list:
    """The held-out subject groups of a protocol; every subject in exactly one group."""
    check_protocol(protocol, folds)
    if protocol == "lodo":
        return dataset_folds(subject_datasets)
    return subject_folds(subject_datasets, folds if protocol == "kfold" else 0, seed)
