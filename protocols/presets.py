"""Named protocol presets: the settings a published protocol fixes (dotted setting names).

``mer-tfx run|cv --preset NAME`` applies them over the defaults and MER_* variables;
flags given on the command line still override them, and settings.json records the
result.
"""
from __future__ import annotations

from mer_tfx.transform.config import DEFAULT_CLASSES

PRESETS = {
    # MEGC 2019 composite: CASME II + SAMM + SMIC-HS, three classes, 'others' excluded
    # (as excluded_class rejects: counted, never dropped silently).
    "megc2019": {"transform.label_key": "label_3class",
                 "transform.classes": list(DEFAULT_CLASSES["label_3class"])},
}
PRESET_HELP = {
    "megc2019": "MEGC 2019 composite: 3 classes negative/positive/surprise from "
                "label_3class, 'others' excluded",
}
