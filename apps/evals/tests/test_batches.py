"""Batches through the task engine's worker processes, against the test
upstream: every cell stored once, the provider's bound held, cancel, and a
worker killed mid-batch."""

import pytest

from apps.cases.models import Case
from apps.evals import batches
from apps.evals.models import Batch, Cell
from apps.history.models import Run
from apps.presets.models import Preset
from apps.providers.models import Model

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def preset(owner, fake_model):
    preset = Preset.create(owner, "Greeter", "", "completions", fake_model,
                           {"prompt": "Say hello to {{name}}", "max_tokens": 50})
    return preset


@pytest.fixture
def second_model(fake_model):
    return Model.objects.create(provider=fake_model.provider, upstream_id="echo-2",
                                display_name="Echo 2")


def cells(batch, **filters):
    return Cell.objects.filter(batch=batch, **filters)


def finished(batch):
    batch.refresh_from_db()
    return batch.status != Batch.Status.RUNNING


def test_it_runs_every_case_on_every_pane_once_within_the_bound(
    workers, preset, fake_model, second_model, upstream
):
    provider = fake_model.provider
    provider.batch_concurrency = 4
    provider.save()
    upstream.behave(interval=0.01)
    Case.append(preset, [{"name": f"person {i}"} for i in range(50)])
    batch = batches.start(preset.owner, preset, [str(fake_model.uuid), str(second_model.uuid)])
    workers(threads=8)
    workers(threads=8)
    wait_for(lambda: finished(batch))

    assert batch.status == Batch.Status.FINISHED
    assert cells(batch).count() == 100
    assert cells(batch, status=Cell.Status.DONE, run__status=Run.COMPLETED).count() == 100
    # One run per cell, one request per run, each with its own case.
    assert Run.objects.filter(source="evals").count() == 100
    assert len(upstream.requests) == 100
    prompts = sorted((r.json["model"], r.json["prompt"]) for r in upstream.requests)
    assert len(set(prompts)) == 100
    cell = cells(batch).get(row=7, pane=1)
    assert cell.run.request["prompt"] == "Say hello to person 7"
    assert cell.run.template == {"body": preset.latest.body, "variables": {"name": "person 7"}}
    assert "person 7" in cell.run.output_text
    assert 1 < upstream.max_in_flight <= 4


def test_it_cancels_a_batch_leaving_no_cell_running(workers, preset, fake_model, upstream):
    upstream.behave(chunks=["slow "] * 40, interval=0.1)
    Case.append(preset, [{"name": str(i)} for i in range(20)])
    batch = batches.start(preset.owner, preset, [str(fake_model.uuid)])
    workers(threads=4)
    wait_for(lambda: cells(batch, status=Cell.Status.RUNNING, run__isnull=False).exists())
    batch.cancel()
    wait_for(lambda: not cells(batch, status__in=Cell.OPEN).exists())
    assert not Run.objects.filter(status=Run.RUNNING).exists()
    assert cells(batch, status=Cell.Status.CANCELLED).count() >= 16
    assert Run.objects.filter(source="evals", status=Run.CANCELLED).exists()
    assert len(upstream.requests) <= 4 + 1


def test_it_completes_a_batch_after_its_worker_was_killed_with_no_cell_run_twice(
    workers, preset, fake_model, upstream
):
    upstream.behave(chunks=["a ", "b ", "c "], interval=0.05)
    Case.append(preset, [{"name": str(i)} for i in range(30)])
    batch = batches.start(preset.owner, preset, [str(fake_model.uuid)])
    first = workers(threads=4)
    wait_for(lambda: cells(batch, status=Cell.Status.DONE).count() >= 5)
    first.kill()
    workers(threads=4)
    wait_for(lambda: finished(batch), what="the batch after a restart")

    assert batch.status == Batch.Status.FINISHED
    assert not cells(batch, status__in=Cell.OPEN).exists()
    # Each cell's case went upstream at most once: a cell the killed worker
    # had on its way is kept as interrupted, never sent again.
    sent = [r.json["prompt"] for r in upstream.requests]
    assert len(sent) == len(set(sent))
    # No case was stored as a run twice, and every run that completed went
    # upstream. (A run is saved while its request is on its way: the killed
    # worker may leave one stored that the upstream never read, or one sent
    # and not stored; either way its cell is kept as interrupted.)
    stored = list(Run.objects.filter(source="evals").values_list("prompt_text", flat=True))
    assert len(stored) == len(set(stored))
    completed = Run.objects.filter(source="evals", status=Run.COMPLETED)
    assert set(completed.values_list("prompt_text", flat=True)) <= set(sent)
    # The cells the killed worker had under way are kept as it left them.
    stopped = cells(batch, error__contains="worker stopped")
    assert stopped.count() <= 4
    assert cells(batch, run__status=Run.COMPLETED).exclude(
        error__contains="worker stopped").count() == 30 - stopped.count()
