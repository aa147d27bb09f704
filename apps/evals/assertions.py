"""How a cell is judged: each assertion of the preset gives pass/fail and a
reason. All but the LLM judge are pure (judge.py runs the judge's model
through the run engine)."""

import json
import re

import jsonschema

from apps.cases.models import Assertion
from apps.catalog.templating import MissingVariable, render

Kind = Assertion.Kind
NUMERIC = {Kind.MAX_LATENCY, Kind.MAX_TOKENS}
NEEDS_VALUE = {Kind.CONTAINS, Kind.NOT_CONTAINS, Kind.REGEX, Kind.JSON_SCHEMA, Kind.JUDGE} | NUMERIC


def check_argument(kind, value, judge_model=None):
    """What is wrong with an assertion's argument, or None."""
    if kind in NEEDS_VALUE and not value.strip():
        return "this assertion needs a value"
    if kind == Kind.REGEX:
        try:
            re.compile(value)
        except re.error as e:
            return f"not a valid regular expression: {e}"
    if kind == Kind.JSON_SCHEMA:
        try:
            jsonschema.validators.validator_for(json.loads(value)).check_schema(json.loads(value))
        except (ValueError, jsonschema.SchemaError) as e:
            return f"not a valid JSON schema: {getattr(e, 'message', e)}"
    if kind in NUMERIC:
        try:
            if float(value) < 0:
                raise ValueError
        except ValueError:
            return "must be a number ≥ 0"
    if kind == Kind.JUDGE and judge_model is None:
        return "choose the judge's model"
    return None


def _arg(assertion, values, expected):
    # Arguments may name the case's variables and {{expected}}.
    try:
        return render(assertion.value, {**values, "expected": expected}, "assertion")
    except MissingVariable:
        return assertion.value


def evaluate(assertion, output, expected="", values=None, duration_ms=None,
             completion_tokens=None):
    """(passed, reason) for one assertion on one cell's outcome."""
    kind = assertion.kind
    arg = _arg(assertion, values or {}, expected)
    if kind == Kind.CONTAINS:
        ok = arg in output
        return ok, f'{"contains" if ok else "does not contain"} "{arg[:60]}"'
    if kind == Kind.NOT_CONTAINS:
        ok = arg not in output
        return ok, f'{"does not contain" if ok else "contains"} "{arg[:60]}"'
    if kind == Kind.EQUALS:
        ok = output.strip() == expected.strip()
        return ok, "equals the expected answer" if ok else "differs from the expected answer"
    if kind == Kind.REGEX:
        try:
            ok = re.search(arg, output) is not None
        except re.error as e:
            return False, f"bad regular expression: {e}"
        return ok, f"{'matches' if ok else 'does not match'} /{arg[:60]}/"
    if kind in (Kind.IS_JSON, Kind.JSON_SCHEMA):
        try:
            data = json.loads(output)
        except ValueError as e:
            return False, f"not JSON: {e}"
        if kind == Kind.IS_JSON:
            return True, "is JSON"
        try:
            jsonschema.validate(data, json.loads(arg))
        except jsonschema.ValidationError as e:
            return False, f"does not match the schema: {e.message}"
        except (ValueError, jsonschema.SchemaError) as e:
            return False, f"bad schema: {getattr(e, 'message', e)}"
        return True, "matches the schema"
    if kind == Kind.MAX_LATENCY:
        if duration_ms is None:
            return False, "no latency measured"
        ok = duration_ms <= float(arg)
        return ok, f"{duration_ms:.0f} ms {'≤' if ok else '>'} {float(arg):g} ms"
    if kind == Kind.MAX_TOKENS:
        if completion_tokens is None:
            return False, "the usage is unknown"
        ok = completion_tokens <= float(arg)
        return ok, f"{completion_tokens} tokens {'≤' if ok else '>'} {float(arg):g}"
    raise ValueError(f"not a pure assertion: {kind}")


JUDGE_INSTRUCTIONS = (
    "You are grading an answer against a rubric. Reply with PASS or FAIL on the "
    "first line, then one sentence saying why."
)
VERDICT = re.compile(r"\b(PASS|FAIL)(?:ED)?\b", re.IGNORECASE)


def judge_messages(rubric, output, values, expected):
    rubric = _arg(Assertion(value=rubric), values, expected)
    return [
        {"role": "system", "content": JUDGE_INSTRUCTIONS},
        {"role": "user", "content": f"Rubric: {rubric}\n\nAnswer:\n{output}\n\n"
                                    "Does the answer meet the rubric? PASS or FAIL?"},
    ]


def parse_verdict(text):
    """(passed, reason) from a judge's reply: the first PASS or FAIL it says,
    and the rest as the reason. No verdict at all is a fail that says so."""
    m = VERDICT.search(text or "")
    if m is None:
        return False, f"the judge gave no verdict: {(text or '').strip()[:200]}"
    before = text[: m.start()].strip()
    after = text[m.end():].lstrip(" \n:.-—").strip()
    reason = " ".join(part for part in (before, after) if part) or m.group(1).upper()
    return m.group(1).upper() == "PASS", reason[:500]
