"""The history list says where each run came from (and through which key)
and what it cost."""

from decimal import Decimal

import pytest

from apps.history.models import Run

pytestmark = pytest.mark.django_db


def make_run(user, **kw):
    kw.setdefault("endpoint", "completions")
    kw.setdefault("model_name", "Echo")
    kw.setdefault("request", {"model": "echo-1", "prompt": "p"})
    return Run.objects.create(owner=user, status=Run.COMPLETED, **kw)


def row(html, run):
    start = html.index(f'data-run="{run.uuid}"')
    return html[start:html.index("</tr>", start)]


def test_it_shows_each_runs_source_key_prefix_and_cost(client, owner):
    played = make_run(owner, source="playground", cost=Decimal("0.000123"))
    compared = make_run(owner, source="compare")
    called = make_run(owner, source="gateway", gateway_key_prefix="pg-abc123", cost=Decimal("2"))
    client.force_login(owner)
    html = client.get("/history/").content.decode()
    assert "<th>Source</th>" in html
    assert "Playground" in row(html, played) and "$0.000123" in row(html, played)
    assert "Compare" in row(html, compared) and "—" in row(html, compared)
    gateway = row(html, called)
    assert "Gateway" in gateway and "pg-abc123…" in gateway and "$2.00" in gateway


def test_it_filters_by_source(client, owner):
    make_run(owner, source="playground", prompt_text="typed in the page")
    make_run(owner, source="gateway", gateway_key_prefix="pg-abc123",
             prompt_text="sent by a script")
    client.force_login(owner)
    html = client.get("/history/?source=gateway").content.decode()
    assert "sent by a script" in html and "typed in the page" not in html
    # An unknown source is ignored, like any unknown filter.
    html = client.get("/history/?source=nonsense").content.decode()
    assert "sent by a script" in html and "typed in the page" in html
