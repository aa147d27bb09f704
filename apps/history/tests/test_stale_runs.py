from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from apps.history.models import Run


def make_run(user, minutes_ago, status=Run.RUNNING):
    return Run.objects.create(
        owner=user, endpoint="completions", model_name="m", request={"prompt": "p"},
        output_text="partial", status=status,
        created=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_it_interrupts_runs_a_stopped_server_left_running(owner, capsys):
    stale = make_run(owner, minutes_ago=30)
    live = make_run(owner, minutes_ago=1)
    done = make_run(owner, minutes_ago=60, status=Run.COMPLETED)
    call_command("interrupt_stale_runs")
    stale.refresh_from_db()
    assert stale.status == Run.INTERRUPTED
    assert stale.output_text == "partial"
    assert stale.error == "the server stopped before the run ended"
    assert Run.objects.get(pk=live.pk).status == Run.RUNNING
    assert Run.objects.get(pk=done.pk).status == Run.COMPLETED
    assert "1 run(s)" in capsys.readouterr().out


def test_it_interrupts_every_running_run_at_a_single_process_start(owner):
    make_run(owner, minutes_ago=0)
    call_command("interrupt_stale_runs", "--older-than", "0")
    assert not Run.objects.filter(status=Run.RUNNING).exists()
