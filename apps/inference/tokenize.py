"""Counting a prompt's tokens, where the backend can say.

Only the embedded model can: llama.cpp's server has /tokenize (and
/apply-template, which renders a chat with the model's own template first, so
the count is what the model will read). An OpenAI-compatible API has no such
endpoint; for any other backend the answer is None ("cannot tell"), never a
guess from another model's tokenizer.
"""

import json
import os
import threading

import httpx

from .errors import UpstreamError
from .local import ensure_started

# A count is a convenience shown while typing: never wait long for it.
TIMEOUT = httpx.Timeout(5.0)
# Nor let one question cost much: each prompt of a list is its own /tokenize
# call, so past these the answer is "cannot tell" (None), not a long wait.
MAX_PROMPTS = 16
MAX_CHARS = 200_000

# One client for the process (counts come from several request threads; an
# httpx.Client is safe to share): making one builds an SSL context, ~20 ms,
# which was most of a count's time when each count made its own. Idle
# connections are let go well before llama.cpp's server drops them (after
# 5 s), so a count never reuses one being closed under it.
LIMITS = httpx.Limits(keepalive_expiry=2.0)
_client_lock = threading.Lock()
_client = None
_client_for = None  # (root, key) it was made for


def _forget_in_child():
    # A forked child (the browser tests' server) makes its own client: the
    # parent's pooled sockets stay the parent's, and a lock held by another
    # thread at the fork would never be released in the child.
    global _client_lock, _client, _client_for
    _client_lock = threading.Lock()
    _client = _client_for = None


os.register_at_fork(after_in_child=_forget_in_child)


def _loopback_client(root, api_key):
    global _client, _client_for
    with _client_lock:
        if _client_for != (root, api_key):
            # (Not closing the one it replaces: another thread may be
            # counting with it. The server starts once a process, so this
            # is the first client, or one after a restart of the model.)
            _client = httpx.Client(base_url=root, timeout=TIMEOUT, limits=LIMITS,
                                   headers={"Authorization": f"Bearer {api_key}"})
            _client_for = (root, api_key)
        return _client


def count_prompt_tokens(target, endpoint, body) -> int | None:
    """Tokens of the prompt (completions) or of the rendered chat (chat) for
    this target, or None when the backend cannot tokenize or the input is not
    something it could count."""
    if target.kind != "local" or _too_big(body):
        return None
    try:
        base_url, api_key = ensure_started()
    except UpstreamError:
        return None
    client = _loopback_client(base_url.removesuffix("/v1"), api_key)
    try:
        if endpoint == "chat":
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                return None
            rendered = client.post("/apply-template", json={"messages": messages})
            if rendered.status_code != 200:
                return None
            return _count(client, rendered.json().get("prompt", ""), add_special=False)
        return _count_prompt(client, body.get("prompt", ""))
    except (httpx.HTTPError, ValueError):
        return None


def _too_big(body):
    prompt = body.get("prompt")
    prompts = (len(prompt) if isinstance(prompt, list) and prompt
               and not isinstance(prompt[0], int) else 1)
    return prompts > MAX_PROMPTS or len(json.dumps(body, ensure_ascii=False)) > MAX_CHARS


def _count_prompt(client, prompt):
    # Completions take a string, strings, token ids, or lists of token ids.
    if isinstance(prompt, str):
        return _count(client, prompt)
    if isinstance(prompt, list) and prompt:
        if all(isinstance(t, int) for t in prompt):
            return len(prompt)
        counts = [
            len(p) if isinstance(p, list) else _count(client, p) if isinstance(p, str) else None
            for p in prompt
        ]
        return None if None in counts else sum(counts)
    return None


def _count(client, text, add_special=True):
    response = client.post("/tokenize", json={"content": text, "add_special": add_special})
    if response.status_code != 200:
        return None
    tokens = response.json().get("tokens")
    return len(tokens) if isinstance(tokens, list) else None
