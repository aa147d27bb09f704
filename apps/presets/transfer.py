"""Export presets as one JSON document, and import such a document back.

An import is all or nothing: every preset is checked first (the body through
the catalogue, with the preset's mode; the model by display name or upstream
id), every problem is reported, and nothing is saved unless all are fine.
"""

import json

from django.db import transaction

from apps.cases.io import NAME
from apps.cases.models import EXPECTED, Assertion, Case
from apps.catalog import ValidationFailed
from apps.providers.models import Model

from .models import EXPORT_FORMAT, EXPORT_VERSION, MODES, Preset, clean_body, clean_tool_mocks

MAX_IMPORT_BYTES = 2_000_000
MAX_IMPORT_PRESETS = 500
ENTRY_KEYS = {"name", "description", "mode", "model", "body", "tool_mocks", "cases", "assertions"}
MAX_CASES = 10_000


class ImportRefused(Exception):
    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


def export_document(presets):
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "presets": [_export(p) for p in presets],
    }


def _export(preset):
    # Test cases and assertions travel with their preset (apps/cases).
    # (Only when it has some: a preset without them exports as before.)
    entry = preset.as_export()
    if cases := preset.cases.as_rows():
        entry["cases"] = cases
    if assertions := [a.as_export() for a in preset.assertions.select_related("judge_model")]:
        entry["assertions"] = assertions
    return entry


def export_json(presets):
    return json.dumps(export_document(presets), indent=2, ensure_ascii=False) + "\n"


def parse(raw: bytes):
    """The document in an uploaded file; ImportRefused if it is not JSON."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportRefused([f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB"])
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportRefused(["the file is not UTF-8 text"]) from None
    except json.JSONDecodeError as e:
        raise ImportRefused([f"the file is not valid JSON: {e.msg} (line {e.lineno})"]) from None


def _entries(data):
    if isinstance(data, dict) and "presets" in data:
        if data.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
            raise ImportRefused(
                [f"the file is not a Playground preset export (format \"{EXPORT_FORMAT}\")"]
            )
        entries = data["presets"]
    elif isinstance(data, list):
        entries = data
    elif isinstance(data, dict) and "body" in data:
        entries = [data]  # one preset on its own
    else:
        raise ImportRefused(['the file must be a preset export: an object with a "presets" array'])
    if not isinstance(entries, list):
        raise ImportRefused(['"presets" must be an array'])
    if not entries:
        raise ImportRefused(["the file holds no presets"])
    if len(entries) > MAX_IMPORT_PRESETS:
        raise ImportRefused([f"a file may hold at most {MAX_IMPORT_PRESETS} presets"])
    return entries


def _check(i, entry, errors):
    """(name, description, mode, model, clean body, tool mocks) or None, adding to errors."""
    where = f"presets[{i}]"
    if not isinstance(entry, dict):
        errors.append(f"{where} must be an object")
        return None
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        shown = name if len(name) <= 40 else name[:40] + "…"
        where += f' ("{shown}")'
    found = len(errors)
    for key in sorted(set(entry) - ENTRY_KEYS, key=str):
        errors.append(f"{where}: {str(key)[:40]} is not a preset field")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}: name is required")
    elif len(name) > 200:
        errors.append(f"{where}: name must be at most 200 characters")
    description = entry.get("description") or ""
    if not isinstance(description, str):
        errors.append(f"{where}: description must be a string")
    mode = entry.get("mode")
    if mode not in dict(MODES):
        errors.append(f"{where}: mode must be completions or chat")
        mode = None
    model_name = entry.get("model")
    model = None
    if not isinstance(model_name, str) or not model_name:
        errors.append(f"{where}: model is required (a model's name)")
    else:
        model = Model.objects.resolve(model_name)
        shown = model_name if len(model_name) <= 80 else model_name[:80] + "…"
        if model is None:
            errors.append(f'{where}: unknown model "{shown}"')
        elif mode and not getattr(model, f"serves_{mode}"):
            errors.append(f'{where}: model "{shown}" does not serve {mode}')
            model = None
    body = entry.get("body")
    if not isinstance(body, dict):
        errors.append(f"{where}: body must be an object")
    elif mode and model:
        try:
            body = clean_body(mode, model, body)
        except ValidationFailed as e:
            errors.extend(f"{where}: {err.message}" for err in e.errors)
    try:
        tool_mocks = clean_tool_mocks(entry.get("tool_mocks"))
    except ValidationFailed as e:
        errors.extend(f"{where}: {err.message}" for err in e.errors)
    cases = _check_cases(where, entry.get("cases", []), errors)
    assertions = _check_assertions(where, entry.get("assertions", []), errors)
    if len(errors) > found:
        return None
    return name.strip(), description, mode, model, body, tool_mocks, cases, assertions


def _check_cases(where, cases, errors):
    if not isinstance(cases, list) or len(cases) > MAX_CASES:
        errors.append(f"{where}: cases must be an array of at most {MAX_CASES} objects")
        return []
    for i, row in enumerate(cases):
        if not isinstance(row, dict) or not all(
            isinstance(k, str) and (NAME.match(k) or k == EXPECTED) and isinstance(v, str)
            for k, v in row.items()
        ):
            errors.append(f"{where}: cases[{i}] must be an object of variable names to text")
    return cases


def _check_assertions(where, assertions, errors):
    if not isinstance(assertions, list):
        errors.append(f"{where}: assertions must be an array")
        return []
    checked = []
    kinds = dict(Assertion.Kind.choices)
    for i, a in enumerate(assertions):
        if not isinstance(a, dict) or a.get("kind") not in kinds or not isinstance(
            a.get("value", ""), str
        ):
            errors.append(f"{where}: assertions[{i}] must be {{kind, value}} with kind one of "
                          + ", ".join(kinds))
            continue
        judge = None
        if a.get("judge_model"):
            judge = Model.objects.resolve(str(a["judge_model"]))
            if judge is None:
                errors.append(f'{where}: assertions[{i}]: unknown model "{a["judge_model"]}"')
                continue
        checked.append((a["kind"], a.get("value", ""), judge))
    return checked


def import_document(user, data):
    """Create every preset in `data` for `user`, or none: raises ImportRefused."""
    entries = _entries(data)
    errors, checked = [], []
    for i, entry in enumerate(entries):
        checked.append(_check(i, entry, errors))
    if errors:
        raise ImportRefused(errors)
    with transaction.atomic():
        presets = []
        for name, description, mode, model, body, tool_mocks, cases, assertions in checked:
            preset = Preset.create(user, name, description, mode, model, body,
                                   tool_mocks=tool_mocks)
            Case.append(preset, cases)
            Assertion.objects.bulk_create(
                Assertion(preset=preset, position=i, kind=kind, value=value, judge_model=judge)
                for i, (kind, value, judge) in enumerate(assertions)
            )
            presets.append(preset)
        return presets
