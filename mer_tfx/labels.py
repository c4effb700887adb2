"""Emotion label normalisation and the MEGC 2019 three-class mapping.

Datasets spell the same emotion differently (``Others``/``other``, ``happy``/
``happiness``); the records carry one canonical lower-case spelling so that
vocabularies and slices do not split a class in two.
"""
from __future__ import annotations

# Spelling variants seen in CASME II, SAMM, SMIC and CAS(ME)^3 -> canonical label.
_ALIASES = {
    "other": "others",
    "others": "others",
    "happy": "happiness",
    "happiness": "happiness",
    "sad": "sadness",
    "sadness": "sadness",
    "disgust": "disgust",
    "repression": "repression",
    "surprise": "surprise",
    "fear": "fear",
    "anger": "anger",
    "angry": "anger",
    "contempt": "contempt",
    "positive": "positive",
    "negative": "negative",
}

KNOWN_LABELS = frozenset(_ALIASES.values())

# MEGC 2019 composite classes; ``others`` has no composite class.
THREE_CLASS = {
    "happiness": "positive",
    "positive": "positive",
    "anger": "negative",
    "contempt": "negative",
    "disgust": "negative",
    "sadness": "negative",
    "fear": "negative",
    "repression": "negative",
    "negative": "negative",
    "surprise": "surprise",
}


def normalize_label(raw) -> str | None:
    """Canonical lower-case label, or None when the emotion is not a known one."""
    if raw is None:
        return None
    key = str(raw).strip().lower()
    return _ALIASES.get(key)


def three_class(label: str) -> str:
    """MEGC 2019 composite class of a canonical label ('' for others)."""
    return THREE_CLASS.get(label, "")
