"""list_models(), complete() and the shared client."""

import asyncio
import datetime
import ipaddress
import json
import ssl
from dataclasses import replace

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.inference import UpstreamError, complete, list_models
from apps.inference.client import _clients, shared_client


async def test_it_lists_models(upstream, upstream_target):
    upstream.models = ["a-model", "b-model"]
    assert await list_models(upstream_target) == ["a-model", "b-model"]
    assert (upstream.last.method, upstream.last.path) == ("GET", "/v1/models")


async def test_it_rejects_an_answer_that_is_not_a_model_list(upstream, upstream_target):
    upstream.behave(body={"object": "list", "data": "nope"})
    with pytest.raises(UpstreamError) as caught:
        await list_models(upstream_target)
    assert caught.value.code == "protocol"


async def test_complete_returns_the_whole_answer(upstream, upstream_target):
    response = await complete(
        upstream_target, "chat", {"messages": [{"role": "user", "content": "yo"}]}
    )
    assert response["choices"][0]["message"] == {"role": "assistant", "content": "Echo: yo"}
    assert response["usage"]["total_tokens"] == 3
    assert "stream" not in upstream.last.json
    assert "notices" not in response


async def test_complete_lists_dropped_fields_as_notices(upstream, upstream_target):
    target = replace(upstream_target, accepted_fields=frozenset({"max_tokens"}))
    response = await complete(target, "completions", {"prompt": "x", "best_of": 3, "max_tokens": 5})
    assert response["notices"] == [
        {"field": "best_of", "message": "echo-1 does not accept best_of; it was not sent"}
    ]
    assert "best_of" not in upstream.last.json


async def test_complete_rejects_an_answer_that_is_not_json(upstream, upstream_target):
    upstream.behave(body="this is not json")
    with pytest.raises(UpstreamError) as caught:
        await complete(upstream_target, "completions", {"prompt": "x"})
    assert caught.value.message == "the upstream's answer is not JSON"


async def test_it_reuses_one_pooled_client_per_event_loop(upstream, upstream_target):
    assert shared_client() is shared_client()
    await complete(upstream_target, "completions", {"prompt": "x"})
    assert shared_client() is shared_client()


def test_it_never_reuses_a_client_from_a_closed_loop(upstream, upstream_target):
    async def run():
        await complete(upstream_target, "completions", {"prompt": "x"})
        return shared_client()

    first = asyncio.run(run())
    second = asyncio.run(run())  # would fail if it used the first loop's client
    assert first is not second
    assert isinstance(second, httpx.AsyncClient)


async def test_the_shared_client_keeps_no_cookie_an_upstream_sets(upstream, upstream_target):
    # One client serves every user and key of this process: a cookie one
    # call's answer sets (a load balancer's, a session) must not ride along
    # on the next call, someone else's.
    upstream.behave(headers={"Set-Cookie": "session=alice-0123; Path=/"})
    await complete(upstream_target, "completions", {"prompt": "first"})
    upstream.behave()
    await complete(upstream_target, "completions", {"prompt": "second"})
    assert "cookie" not in upstream.last.headers
    assert not shared_client().cookies


def test_a_loop_that_ends_closes_its_client(upstream, upstream_target):
    # aiohttp's connections belong to the loop that opened them: left open
    # when it ends, they leak and log "Unclosed client session".
    async def run():
        await complete(upstream_target, "completions", {"prompt": "x"})
        return shared_client(), asyncio.get_running_loop()

    client, loop = asyncio.run(run())
    assert client.is_closed
    assert loop not in _clients  # nor kept: the ended loop and its client go


# ---- TLS: an https upstream through the shared client's transport ------------


def _self_signed(directory):
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_file, key_file


@pytest.fixture
async def tls_upstream(tmp_path):
    """A real TLS server on 127.0.0.1 answering every request with one
    completion: (its base URL, the certificate file that trusts it)."""
    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    answer = json.dumps({"id": "cmpl-tls", "object": "text_completion", "created": 0,
                         "model": "tls", "choices": [{"index": 0, "text": "over TLS",
                                                      "finish_reason": "stop"}]}).encode()

    async def handle(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # a client that refused our certificate
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    yield f"https://127.0.0.1:{port}/v1", cert_file
    server.close()


async def test_it_talks_to_an_https_upstream_it_trusts(tls_upstream, upstream_target, monkeypatch):
    base_url, cert_file = tls_upstream
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # read when the client is made
    response = await complete(replace(upstream_target, base_url=base_url), "completions",
                              {"prompt": "x"})
    assert response["choices"][0]["text"] == "over TLS"


async def test_it_refuses_an_https_upstream_whose_certificate_it_does_not_trust(
    tls_upstream, upstream_target
):
    base_url, _ = tls_upstream
    with pytest.raises(UpstreamError) as caught:
        await complete(replace(upstream_target, base_url=base_url), "completions",
                       {"prompt": "x"})
    assert caught.value.code == "unreachable"
    assert "could not connect" in caught.value.message


async def test_a_header_that_cannot_be_sent_is_an_upstream_error(upstream, upstream_target):
    # An older provider row may hold a line break in an extra header (the
    # admin refuses one now): the run fails with a worded error, not a crash.
    target = replace(upstream_target, headers={"X-Team": "a\r\nInjected: yes"})
    with pytest.raises(UpstreamError) as caught:
        await complete(target, "completions", {"prompt": "x"})
    assert caught.value.code == "unreachable"
    assert "Injected" not in caught.value.message
