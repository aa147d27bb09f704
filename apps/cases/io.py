"""Test cases to and from CSV and JSONL.

CSV: a header row naming the columns (each a variable name, or "expected"),
then one row per case. JSONL: one JSON object per line, {name: text, ...,
"expected"?: text}; blank lines are skipped. An import is all or nothing:
every bad row is reported with its line number and nothing is added.
"""

import csv
import io
import json
import re

from .models import EXPECTED

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_IMPORT_BYTES = 5_000_000
MAX_ROWS = 10_000
MAX_VALUE = 100_000


class ImportRefused(Exception):
    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


def _text(raw):
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportRefused([f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(["the file is not UTF-8 text"]) from None


def _check_column(name, where, errors):
    if not NAME.match(name) and name != EXPECTED:
        errors.append(f"{where}: column \"{name[:40]}\" is not a variable name "
                      "(letters, digits and _, not starting with a digit) or \"expected\"")


def parse_csv(raw):
    """The rows of a CSV file: [{column: text}]. Raises ImportRefused."""
    reader = csv.reader(io.StringIO(_text(raw), newline=""))
    errors, rows = [], []
    try:
        header = next(reader, None)
        if not header:
            raise ImportRefused(["line 1: the file has no header row (the column names)"])
        header = [h.strip() for h in header]
        for name in header:
            _check_column(name, "line 1", errors)
        if len(set(header)) != len(header):
            errors.append("line 1: a column name appears twice")
        start = reader.line_num + 1
        for record in reader:
            line = start
            start = reader.line_num + 1
            if not any(field.strip() for field in record):
                continue  # a blank line
            if len(record) != len(header):
                errors.append(f"line {line}: {len(record)} fields, the header has {len(header)}")
                continue
            too_long = [h for h, v in zip(header, record, strict=True) if len(v) > MAX_VALUE]
            if too_long:
                errors.append(f"line {line}: {too_long[0]} is longer than {MAX_VALUE} characters")
                continue
            rows.append(dict(zip(header, record, strict=True)))
    except csv.Error as e:
        errors.append(f"line {reader.line_num}: {e}")
    return _done(rows, errors)


def parse_jsonl(raw):
    """The rows of a JSONL file: [{column: text}]. Raises ImportRefused."""
    errors, rows = [], []
    for number, line in enumerate(_text(raw).splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            row = json.loads(line)
        except ValueError as e:
            errors.append(f"{where}: not valid JSON ({e})")
            continue
        if not isinstance(row, dict):
            errors.append(f"{where}: must be a JSON object of column names to text")
            continue
        found = len(errors)
        for key, value in row.items():
            _check_column(key, where, errors)
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                errors.append(f"{where}: {key[:40]} must be text or a number")
            elif len(str(value)) > MAX_VALUE:
                errors.append(f"{where}: {key[:40]} is longer than {MAX_VALUE} characters")
        if len(errors) == found:
            rows.append({k: str(v) for k, v in row.items()})
    return _done(rows, errors)


def _done(rows, errors):
    if not errors and not rows:
        errors.append("the file holds no test cases")
    if len(rows) > MAX_ROWS:
        errors.append(f"a file may hold at most {MAX_ROWS} test cases")
    if errors:
        raise ImportRefused(errors)
    return rows


def columns_of(rows, variables=()):
    """The table's columns: the template's variables first, then any other
    column the rows have, then "expected"."""
    columns = list(variables)
    for row in rows:
        columns.extend(k for k in row if k not in columns and k != EXPECTED)
    return columns


def to_csv(rows, variables=()):
    columns = columns_of(rows, variables) + [EXPECTED]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def to_jsonl(rows):
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
