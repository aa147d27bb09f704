"""History's word diff of two outputs: the one component behind compare's
diff, the playground's candidates grid and a replay against its original."""

import pytest

from apps.history.diff import diff_context, word_diff
from apps.history.models import Run

pytestmark = pytest.mark.django_db


def make_run(user, *texts):
    return Run.objects.create(
        owner=user, endpoint="completions", model_name="Echo", status=Run.COMPLETED,
        request={"model": "echo-1", "prompt": "p"},
        response={"choices": [{"index": i, "text": t} for i, t in enumerate(texts)]},
    )


def test_it_diffs_two_choices_of_one_run_with_their_names(client, owner):
    run = make_run(owner, "The sky is blue today", "The sky is grey today")
    client.force_login(owner)
    html = client.get("/history/diff/", {
        "a": f"{run.uuid}:0", "b": f"{run.uuid}:1", "label_a": "choice 0", "label_b": "choice 1",
    }).content.decode()
    assert "<del>blue </del>" in html and "<ins>grey </ins>" in html
    assert "<del>only in choice 0</del>" in html and "1 word removed, 1 added" in html


def test_it_diffs_a_rerun_against_its_original(client, owner):
    original, rerun = make_run(owner, "a b c"), make_run(owner, "a b c")
    client.force_login(owner)
    html = client.get("/history/diff/", {"a": f"{original.uuid}:0", "b": f"{rerun.uuid}:0"})
    assert "The two outputs are identical." in html.content.decode()


def test_it_hides_someone_elses_run(client, owner, outsider):
    mine, theirs = make_run(owner, "x"), make_run(outsider, "y")
    client.force_login(owner)
    for query in [
        {"a": f"{mine.uuid}:0", "b": f"{theirs.uuid}:0"},
        {"a": f"{mine.uuid}:0", "b": "not-a-uuid:0"},
        {"a": f"{mine.uuid}:0", "b": f"{mine.uuid}"},
    ]:
        assert client.get("/history/diff/", query).status_code == 404


def test_it_escapes_output_and_names(client, owner):
    run = make_run(owner, "<script>alert(1)</script> ok", "<img src=x onerror=alert(1)> ok")
    client.force_login(owner)
    html = client.get("/history/diff/", {
        "a": f"{run.uuid}:0", "b": f"{run.uuid}:1", "label_a": "<b>x</b>",
    }).content.decode()
    assert "<script>alert" not in html and "<img" not in html and "<b>x" not in html
    assert "&lt;script&gt;" in html


def test_it_counts_words_and_keeps_spacing():
    assert word_diff("a cat sat\nhere", "a dog sat\nhere") == [
        ("equal", "a "), ("delete", "cat "), ("insert", "dog "), ("equal", "sat\nhere"),
    ]
    context = diff_context("one two three ", "one three four five ")
    assert (context["removed"], context["added"], context["identical"]) == (1, 2, False)


def test_it_diffs_only_the_start_of_very_long_outputs_and_says_so(client, owner):
    # Past 5,000 words the (quadratic) diff stops and the page says where.
    words = [f"w{i}" for i in range(20_000)]
    changed = list(words)
    changed[10] = "early"
    changed[15_000] = "late"
    run = make_run(owner, " ".join(words), " ".join(changed))
    client.force_login(owner)
    query = {"a": f"{run.uuid}:0", "b": f"{run.uuid}:1"}
    html = client.get("/history/diff/", query).content.decode()
    assert "<ins>early </ins>" in html and "late" not in html
    assert "Diff truncated after 5000 words" in html


def test_it_does_not_mention_truncation_for_ordinary_outputs(client, owner):
    run = make_run(owner, "The sky is blue today", "The sky is grey today")
    client.force_login(owner)
    query = {"a": f"{run.uuid}:0", "b": f"{run.uuid}:1"}
    html = client.get("/history/diff/", query).content.decode()
    assert "truncated" not in html
