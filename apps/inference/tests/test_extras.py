"""prepare()/check() with extra parameters: the provider's policy decides,
not the model's accepted catalogue fields."""

import pytest

from apps.catalog import ENDPOINTS, names_for
from apps.inference import UpstreamError
from apps.inference.client import check, prepare
from apps.inference.target import Target

KNOWN = {endpoint: names_for(endpoint) for endpoint in ENDPOINTS}
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "echo": True, "top_k": 5}


def target(policy, **options):
    return Target(kind="openai", base_url="http://127.0.0.1:1/v1", model="m",
                  known_fields=KNOWN, unknown_fields=policy, **options)


def test_it_forwards_an_extra_even_to_a_model_with_a_narrow_accepted_list():
    sent, notices = prepare(target("forward", accepted_fields=frozenset({"temperature"})),
                            "chat", BODY, stream=False)
    assert sent["top_k"] == 5 and sent["echo"] is True  # echo is an extra on chat
    assert notices == []


def test_it_forwards_extras_to_the_embedded_llama_cpp():
    local = Target(kind="local", base_url="", model="", known_fields=KNOWN)
    sent, _ = prepare(local, "completions", {"model": "m", "prompt": "x", "min_p": 0.1},
                      stream=True)
    assert sent["min_p"] == 0.1


def test_it_drops_extras_with_a_notice_each():
    sent, notices = prepare(target("drop"), "chat", BODY, stream=False)
    assert "top_k" not in sent and "echo" not in sent
    assert [n.field for n in notices] == ["echo", "top_k"]


def test_it_refuses_the_first_extra_naming_it():
    with pytest.raises(UpstreamError) as raised:
        check(target("refuse"), "chat", BODY)
    assert raised.value.param == "echo"
    assert raised.value.code == "bad_request"
    check(target("refuse"), "completions", {"model": "m", "prompt": "x", "echo": True})


def test_it_treats_every_key_as_known_without_the_catalogues_names():
    plain = Target(kind="openai", base_url="http://127.0.0.1:1/v1", model="m",
                   unknown_fields="refuse")
    check(plain, "chat", BODY)
    assert prepare(plain, "chat", BODY, stream=False)[0]["top_k"] == 5
