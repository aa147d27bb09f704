from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from apps.history.models import Run


def make_run(user, minutes_ago, status=Run.RUNNING, lease_seconds=None):
    now = timezone.now()
    return Run.objects.create(
        owner=user, endpoint="completions", model_name="m", request={"prompt": "p"},
        output_text="partial", status=status,
        created=now - timedelta(minutes=minutes_ago),
        lease_until=None if lease_seconds is None else now + timedelta(seconds=lease_seconds),
    )


def test_it_interrupts_runs_whose_server_stopped_renewing_their_lease(owner, capsys):
    orphan = make_run(owner, minutes_ago=1, lease_seconds=-1)
    # Older, but its process still vouches for it: a slow run, not a dead one.
    slow = make_run(owner, minutes_ago=30, lease_seconds=10)
    done = make_run(owner, minutes_ago=60, status=Run.COMPLETED, lease_seconds=-100)
    call_command("interrupt_stale_runs")
    orphan.refresh_from_db()
    assert orphan.status == Run.INTERRUPTED
    assert orphan.output_text == "partial"
    assert orphan.error == "the server stopped before the run ended"
    assert Run.objects.get(pk=slow.pk).status == Run.RUNNING
    assert Run.objects.get(pk=done.pk).status == Run.COMPLETED
    assert "1 run(s)" in capsys.readouterr().out


def test_it_interrupts_every_running_run_at_a_single_process_start(owner):
    make_run(owner, minutes_ago=0)
    call_command("interrupt_stale_runs", "--older-than", "0")
    assert not Run.objects.filter(status=Run.RUNNING).exists()
