"""Annotation files written byte-for-byte reproducibly.

openpyxl stamps the save time into docProps/core.xml and into every zip entry;
both are replaced by a fixed date so the same rows always give the same .xlsx.
"""
from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile

FIXED = datetime.datetime(2014, 5, 8, 0, 0, 0)  # CASME II coding-sheet date, for flavour
_W3C = FIXED.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_xlsx(path: str, rows: list, title: str = "Sheet1") -> None:
    """One sheet; each row a list of cell values (None = empty cell, [] = empty row)."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    workbook.properties.creator = "mer-tfx synthetic"
    workbook.properties.created = FIXED
    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                              rb"\g<1>" + _W3C.encode(), data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, data)


def write_csv(path: str, rows: list) -> None:
    """UTF-8, '\\n' line ends, minimal quoting."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
