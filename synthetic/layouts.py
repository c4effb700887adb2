"""The on-disk layout and annotation format of each dataset, quirks included.

One class per dataset knows its folder and file naming, how clips are grouped
into folders, how a row of its annotation sheet looks and which real-world
quirks the sheet has (CASME II apex '/', SAMM apex -1 and mixed spellings, ...).
The driver (``builder.generate``) renders the videos, writes the frames and
collects one ``Record`` per annotation row (per clip folder for SMIC).

This module is the registry: the base lives in ``layout_base``, the classes in
``sheet_layouts`` (CASME II, SAMM) and ``folder_layouts`` (SMIC, CAS(ME)^3, CSV).
"""

from .folder_layouts import Casme3, GenericCsv, Smic
from .sheet_layouts import Casme2, Samm

LAYOUT_CLASSES = {cls.name: cls for cls in (Casme2, Samm, Smic, Casme3, GenericCsv)}
