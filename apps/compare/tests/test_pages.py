"""Compare's pages without a browser: keeping rounds, the diff, history,
ownership, snapshot links (share, revoke), opening from a run or a preset."""

import json
import re

import pytest
from django.test import Client

from apps.compare.models import Comparison
from apps.history.models import Run

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def make_run(user, model, text, endpoint="completions", **request):
    request = {"model": "echo-1", "prompt": "Name a colour", **request}
    if endpoint == "chat":
        response = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}]}
    else:
        response = {"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}
    return Run.objects.create(owner=user, endpoint=endpoint, model=model, model_name="Echo",
                              request=request, response=response, output_text=text,
                              status=Run.COMPLETED, source="compare")


def save_round(client, runs, comparison=None, mode="completions", **extra):
    panes = [{"id": pane, "model": "", "body": {"temperature": 0.5}} for pane in runs]
    return client.post("/compare/save/", {
        "comparison": comparison or "", "mode": mode,
        "shared_input": json.dumps({"prompt": "Name a colour"}),
        "panes": json.dumps(panes),
        "runs": json.dumps({pane: str(run.uuid) for pane, run in runs.items()}),
        **extra,
    })


@pytest.fixture
def compared(owner, fake_model):
    """A comparison of the owner's with one round of two panes."""
    a = make_run(owner, fake_model, "The sky is blue today", temperature=0.5)
    b = make_run(owner, fake_model, "The sky is grey today", temperature=1.5)
    answer = save_round(client_for(owner), {"p1": a, "p2": b}).json()
    return Comparison.objects.get(uuid=answer["uuid"]), a, b


def test_it_keeps_a_round_and_lists_the_comparison_in_history(owner, compared):
    comparison, a, b = compared
    assert comparison.title == "Name a colour"
    assert [(n, [r.run for r in runs]) for n, runs in comparison.rounds()] == [(1, [a, b])]
    history = client_for(owner).get("/compare/list/").content.decode()
    assert f'href="/compare/{comparison.uuid}/"' in history and "Name a colour" in history
    assert 'href="/compare/list/"' in client_for(owner).get("/history/").content.decode()


def test_it_adds_the_next_round_to_the_same_comparison(owner, fake_model, compared):
    comparison, _, _ = compared
    c, d = make_run(owner, fake_model, "one"), make_run(owner, fake_model, "two")
    answer = save_round(client_for(owner), {"p1": c, "p2": d}, comparison=comparison.uuid).json()
    assert answer["uuid"] == str(comparison.uuid)
    assert [n for n, _ in comparison.rounds()] == [1, 2]
    assert comparison.last_runs() == {"p1": c, "p2": d}


def test_it_refuses_someone_elses_runs_and_comparisons(owner, outsider, fake_model, compared):
    comparison, a, b = compared
    theirs = client_for(outsider)
    mine = make_run(outsider, fake_model, "mine")
    assert save_round(theirs, {"p1": a, "p2": mine}).status_code == 400
    assert save_round(theirs, {"p1": mine}, comparison=comparison.uuid).status_code == 400
    assert theirs.get(f"/compare/{comparison.uuid}/").status_code == 404
    assert theirs.post(f"/compare/{comparison.uuid}/share/").status_code == 404
    assert theirs.get(f"/compare/diff/?a={a.uuid}:0&b={b.uuid}:0").status_code == 404
    assert theirs.get(f"/compare/from-run/{a.uuid}/").status_code == 404


def test_it_reopens_a_comparison_with_each_panes_last_output(owner, compared):
    comparison, a, b = compared
    html = client_for(owner).get(f"/compare/{comparison.uuid}/").content.decode()
    assert "The sky is blue today" in html and "The sky is grey today" in html
    assert "compare-state" in html


def test_it_diffs_two_outputs_word_by_word(owner, fake_model, compared):
    _, a, b = compared
    html = client_for(owner).get(f"/compare/diff/?a={a.uuid}:0&b={b.uuid}:0").content.decode()
    assert "<del>blue </del>" in html and "<ins>grey </ins>" in html
    assert "<span>The sky is </span>" in html and "<span>today</span>" in html
    same = make_run(owner, fake_model, "The sky is blue today")
    html = client_for(owner).get(f"/compare/diff/?a={a.uuid}:0&b={same.uuid}:0").content.decode()
    assert "identical" in html and "<del>" not in html


def test_it_escapes_model_output_in_the_diff(owner, fake_model):
    a = make_run(owner, fake_model, "<script>alert(1)</script> ok")
    b = make_run(owner, fake_model, "<img src=x onerror=alert(1)> ok")
    html = client_for(owner).get(f"/compare/diff/?a={a.uuid}:0&b={b.uuid}:0").content.decode()
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_it_shows_a_snapshot_to_anyone_with_the_link_until_revoked(owner, teammate, compared):
    comparison, a, b = compared
    owner_client = client_for(owner)
    page = owner_client.post(f"/compare/{comparison.uuid}/share/", {"action": "share"})
    comparison.refresh_from_db()
    link = f"/compare/s/{comparison.share_token}/"
    assert link in page.content.decode()

    html = client_for(teammate).get(link).content.decode()
    assert "The sky is blue today" in html and "The sky is grey today" in html
    assert "read-only" in html and "Run all" not in html and "compare.js" not in html
    assert "&quot;temperature&quot;: 0.5" in html or '"temperature": 0.5' in html
    assert Client().get(link).status_code == 302  # signed-in users only

    owner_client.post(f"/compare/{comparison.uuid}/share/", {"action": "stop"})
    assert client_for(teammate).get(link).status_code == 404
    assert client_for(teammate).get("/compare/s/not-a-real-token-at-all/").status_code == 404


def test_it_shares_a_single_run_by_a_snapshot_link(owner, teammate, outsider, fake_model):
    run = make_run(owner, fake_model, "Teal, mostly")
    assert client_for(outsider).post(f"/compare/runs/{run.uuid}/share/").status_code == 404
    client_for(owner).post(f"/compare/runs/{run.uuid}/share/", {"action": "share"})
    page = client_for(owner).get(f"/compare/runs/{run.uuid}/share/").content.decode()
    token = page.split("/compare/r/")[1].split("/")[0]

    html = client_for(teammate).get(f"/compare/r/{token}/").content.decode()
    assert "Teal, mostly" in html and "Name a colour" in html
    client_for(owner).post(f"/compare/runs/{run.uuid}/share/", {"action": "stop"})
    assert client_for(teammate).get(f"/compare/r/{token}/").status_code == 404


def test_it_starts_a_comparison_from_a_run_or_preset_parameters(owner, fake_model):
    run = make_run(owner, fake_model, "x", prompt="Once upon a time", temperature=0.3)
    html = client_for(owner).get(f"/compare/from-run/{run.uuid}/").content.decode()
    state = json.loads(html.split('id="compare-state" type="application/json">')[1]
                       .split("</script>")[0])
    assert state["shared"] == {"prompt": "Once upon a time"}
    assert [p["body"]["temperature"] for p in state["panes"]] == [0.3, 0.3]
    assert {p["model"] for p in state["panes"]} == {str(fake_model.uuid)}

    body = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "top_p": 0.5})
    html = client_for(owner).get("/compare/", {"mode": "chat", "model": str(fake_model.uuid),
                                               "body": body}).content.decode()
    assert '"top_p": 0.5' in html and '"content": "Hi"' in html


def test_it_keeps_spacing_and_marks_whole_words():
    from apps.history.diff import word_diff

    assert word_diff("a cat sat\nhere", "a dog sat\nhere") == [
        ("equal", "a "), ("delete", "cat "), ("insert", "dog "), ("equal", "sat\nhere"),
    ]
    assert word_diff("same", "same") == [("equal", "same")]


def test_it_stores_one_blind_vote_per_round_and_counts_wins_per_model(
    owner, outsider, fake_model, compared
):
    comparison, a, b = compared
    b.model_name = "Other"
    b.save()
    theirs = client_for(outsider).post(f"/compare/{comparison.uuid}/vote/",
                                       {"round": 1, "pane": "p2"})
    assert theirs.status_code == 404

    answer = client_for(owner).post(f"/compare/{comparison.uuid}/vote/",
                                    {"round": 1, "pane": "p2"})
    assert answer.status_code == 200
    assert "You picked <strong>Other</strong>" in answer.content.decode()
    again = client_for(owner).post(f"/compare/{comparison.uuid}/vote/",
                                   {"round": 1, "pane": "p1"})
    assert again.status_code == 400 and "already" in again.content.decode()

    from apps.compare.models import Vote

    assert Vote.wins_per_model(owner) == [
        {"model": "Other", "wins": 1, "rounds": 1}, {"model": "Echo", "wins": 0, "rounds": 1},
    ]
    assert Vote.wins_per_model(outsider) == []
    listing = client_for(owner).get("/compare/list/").content.decode()
    assert '<td class="wins-model">Other</td><td class="wins-count">1</td>' in listing


def test_it_offers_open_in_compare_on_a_run_and_a_preset(owner, fake_model):
    import html as html_lib

    run = make_run(owner, fake_model, "x")
    detail = client_for(owner).get(f"/history/runs/{run.uuid}/").content.decode()
    assert f'href="/compare/from-run/{run.uuid}/"' in detail
    assert f'href="/compare/runs/{run.uuid}/share/"' in detail

    body = {"prompt": "A preset prompt", "temperature": 0.25}
    saved = client_for(owner).post("/presets/new/", {
        "name": "Warm", "mode": "completions", "model": str(fake_model.uuid),
        "body": json.dumps(body),
    })
    preset_page = client_for(owner).get(saved["Location"]).content.decode()
    form = preset_page.split('action="/compare/"')[1].split("</form>")[0]
    fields = {name: html_lib.unescape(value) for name, value in
              re.findall(r'name="(\w+)" value="([^"]*)"', form)}
    assert fields["mode"] == "completions" and fields["model"] == str(fake_model.uuid)

    page = client_for(owner).get("/compare/", fields).content.decode()
    state = json.loads(page.split('id="compare-state" type="application/json">')[1]
                       .split("</script>")[0])
    assert state["shared"] == {"prompt": "A preset prompt"}
    # The catalogue applies /v1/completions' documented max_tokens default (16).
    assert [p["body"] for p in state["panes"]] == [{"temperature": 0.25, "max_tokens": 16}] * 2
