"""Reading annotation spreadsheets (.xlsx or .csv) into numbered rows.

The header row is found by its column names rather than by a fixed position:
SAMM keeps 13 preamble rows above its header, and later editions of the
CASME II coding sheet move things around.
"""
from __future__ import annotations

import csv
import io
import os

from apache_beam.io.filesystems import FileSystems

from mer_tfx.errors import UserError

HEADER_SEARCH_ROWS = 40


class AnnotationError(UserError):
    """The annotation file itself cannot be used (names the file and the reason)."""


def _cell(value):
    if isinstance(value, str):
        value = value.strip()
        return value if value else None
    return value


def _xlsx_rows(data: bytes, path: str):
    import openpyxl  # imported here: only the xlsx readers need it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise AnnotationError(f"{path}: not a readable .xlsx workbook ({error})") from error
    sheet = workbook.worksheets[0]
    return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def _csv_rows(data: bytes, path: str):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise AnnotationError(f"{path}: not UTF-8 text ({error})") from error
    return [[_cell(v) for v in row] for row in csv.reader(io.StringIO(text))]


def read_table(path: str, required: list[str]) -> list[tuple[int, dict]]:
    """Rows below the header as (1-based file row number, {column: value}).

    ``required`` are column names (case-insensitive) that identify the header row.
    Empty rows are skipped; columns with a blank header are dropped.
    """
    try:
        with FileSystems.open(path) as handle:
            data = handle.read()
    except Exception as error:
        raise AnnotationError(f"{path}: cannot open annotation file ({error})") from error
    ext = os.path.splitext(path)[1].lower()
    if ext in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(data, path)
    elif ext in (".csv", ".txt"):
        rows = _csv_rows(data, path)
    else:
        raise AnnotationError(f"{path}: unsupported annotation format {ext!r} (use .xlsx or .csv)")

    wanted = {name.lower() for name in required}
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = {str(v).strip().lower() for v in row if v is not None}
        if wanted <= names:
            header_index = index
            break
    else:
        raise AnnotationError(
            f"{path}: no header row with columns {sorted(required)} in the first "
            f"{HEADER_SEARCH_ROWS} rows"
        )
    header = [str(v).strip() if v is not None else None for v in rows[header_index]]
    table = []
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        if all(v is None for v in row):
            continue
        record = {name: row[i] if i < len(row) else None for i, name in enumerate(header) if name}
        table.append((index + 1, record))
    return table


def get(record: dict, *names):
    """Value of the first column present among ``names`` (case-insensitive)."""
    lowered = {k.lower(): v for k, v in record.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None
