"""Each assertion kind, pass and fail; the LLM judge's verdict, parsed, and
run on the embedded model through a batch."""

import json

import pytest

from apps.cases.models import Assertion, Case
from apps.evals import batches
from apps.evals.assertions import check_argument, evaluate, parse_verdict
from apps.evals.models import Cell
from apps.history.models import Run
from apps.presets.models import Preset
from apps.providers.models import ensure_local_provider

from .conftest import wait_for

K = Assertion.Kind
SCHEMA = json.dumps({"type": "object", "required": ["city"],
                     "properties": {"city": {"type": "string"}}})


def judged(kind, value, output, **outcome):
    return evaluate(Assertion(kind=kind, value=value), output, **outcome)


@pytest.mark.parametrize(("kind", "value", "output", "outcome", "passed", "reason"), [
    (K.CONTAINS, "Paris", "It is Paris.", {}, True, 'contains "Paris"'),
    (K.CONTAINS, "Paris", "It is Lyon.", {}, False, 'does not contain "Paris"'),
    (K.CONTAINS, "{{expected}}", "It is Lima.", {"expected": "Lima"}, True, 'contains "Lima"'),
    (K.NOT_CONTAINS, "sorry", "Sure!", {}, True, 'does not contain "sorry"'),
    (K.NOT_CONTAINS, "sorry", "I'm sorry", {}, False, 'contains "sorry"'),
    (K.EQUALS, "", " Paris\n", {"expected": "Paris"}, True, "equals the expected answer"),
    (K.EQUALS, "", "Paris!", {"expected": "Paris"}, False, "differs from the expected answer"),
    (K.REGEX, r"^\d{4}$", "1969", {}, True, r"matches /^\d{4}$/"),
    (K.REGEX, r"^\d{4}$", "in 1969", {}, False, r"does not match /^\d{4}$/"),
    (K.IS_JSON, "", '{"a": 1}', {}, True, "is JSON"),
    (K.JSON_SCHEMA, SCHEMA, '{"city": "Paris"}', {}, True, "matches the schema"),
    (K.JSON_SCHEMA, SCHEMA, '{"town": "Paris"}', {}, False,
     "does not match the schema: 'city' is a required property"),
    (K.MAX_LATENCY, "500", "x", {"duration_ms": 120.4}, True, "120 ms ≤ 500 ms"),
    (K.MAX_LATENCY, "100", "x", {"duration_ms": 120.4}, False, "120 ms > 100 ms"),
    (K.MAX_TOKENS, "10", "x", {"completion_tokens": 7}, True, "7 tokens ≤ 10"),
    (K.MAX_TOKENS, "5", "x", {"completion_tokens": 7}, False, "7 tokens > 5"),
])
def test_it_judges_each_kind(kind, value, output, outcome, passed, reason):
    assert judged(kind, value, output, **outcome) == (passed, reason)


def test_it_fails_is_json_saying_why():
    passed, reason = judged(K.IS_JSON, "", "not json")
    assert not passed and reason.startswith("not JSON: Expecting value")


def test_it_refuses_bad_arguments():
    assert check_argument(K.REGEX, "(").startswith("not a valid regular expression")
    assert check_argument(K.JSON_SCHEMA, '{"type": 3}').startswith("not a valid JSON schema")
    assert check_argument(K.MAX_LATENCY, "soon") == "must be a number ≥ 0"
    assert check_argument(K.CONTAINS, " ") == "this assertion needs a value"
    assert check_argument(K.JUDGE, "Is it polite?") == "choose the judge's model"
    assert check_argument(K.IS_JSON, "") is None


def test_it_parses_a_judges_verdict():
    assert parse_verdict("PASS\nThe answer names Paris.") == (True, "The answer names Paris.")
    assert parse_verdict("Verdict: fail - it is rude.") == (False, "Verdict: it is rude.")
    assert parse_verdict("I think so") == (False, "the judge gave no verdict: I think so")


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_llm_judge_on_the_embedded_model(workers, owner, fake_model, upstream):
    local = ensure_local_provider()
    upstream.behave(text="Paris is the capital of France.")
    preset = Preset.create(owner, "Capitals", "", "completions", fake_model,
                           {"prompt": "Capital of {{country}}?", "max_tokens": 20})
    Case.append(preset, [{"country": "France", "expected": "Paris"}])
    Assertion.objects.create(preset=preset, kind=K.JUDGE, judge_model=local,
                             value="The answer names the city {{expected}}.")
    Assertion.objects.create(preset=preset, kind=K.CONTAINS, value="{{expected}}")
    batch = batches.start(owner, preset, [str(fake_model.uuid)])
    workers(threads=2)
    wait_for(lambda: not Cell.objects.filter(batch=batch, status__in=Cell.OPEN).exists())

    cell = Cell.objects.get(batch=batch)
    judge, contains = cell.verdicts
    assert contains == {"kind": "contains", "passed": True, "reason": 'contains "Paris"'}
    assert judge["kind"] == "judge"
    # A small model may say either; what matters is a parsed verdict and a reason.
    assert isinstance(judge["passed"], bool) and judge["reason"]
    assert not judge["reason"].startswith("the judge could not run")
    judge_run = Run.objects.get(source="evals", model=local)
    assert judge_run.status == Run.COMPLETED
    assert "The answer names the city Paris." in judge_run.request["messages"][1]["content"]
