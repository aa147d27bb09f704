"""Logprobs in each endpoint's documented shape, whatever the backend sends.

Completions (seed 003): the legacy
    {tokens: [str], token_logprobs: [float], top_logprobs: [{token: logprob}],
     text_offset: [int]}
Chat: {content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}

llama.cpp (the embedded model) answers /v1/completions with the chat shape, so
both converters accept either shape.

`top` is how many alternatives the request asked for (chat's top_logprobs,
completions' logprobs): llama.cpp is asked for at least one (see
local.translate), so its answer is trimmed back to that. OpenAI's rules: chat
gives exactly `top` alternatives per token ([] for logprobs without
top_logprobs); completions give the `top` likeliest plus the sampled token
("up to logprobs+1 elements"), so logprobs 0 still gives the sampled token's.

text_offset follows OpenAI's legacy models: a character offset into the prompt
followed by the completion, so with a string prompt the first generated token
starts at len(prompt) (with or without echo). Where the prompt is not one
string (a list of prompts, token ids) offsets start at 0. A stream carries the
offset from one chunk to the next per choice.
"""


def completion_logprobs(logprobs, offset: int = 0, top=None) -> tuple[dict | None, int]:
    """(legacy logprobs, offset after the last token)."""
    if not isinstance(logprobs, dict):
        return None, offset
    if "tokens" in logprobs:
        tokens = list(logprobs.get("tokens") or [])
        offsets = logprobs.get("text_offset") or _offsets(tokens, offset)
        values = list(logprobs.get("token_logprobs") or [])
        tops = list(logprobs.get("top_logprobs") or [])
        if top is not None:
            tops = [_with_sampled(tops, values, k, token) for k, token in enumerate(tokens)]
        legacy = {
            "tokens": tokens,
            "token_logprobs": values,
            "top_logprobs": tops,
            "text_offset": list(offsets),
        }
        end = offsets[-1] + len(tokens[-1]) if tokens else offset
        return legacy, end
    if "content" in logprobs:
        items = [i for i in logprobs.get("content") or [] if isinstance(i, dict)]
        tokens = [i.get("token", "") for i in items]
        legacy = {
            "tokens": tokens,
            "token_logprobs": [i.get("logprob") for i in items],
            "top_logprobs": [_legacy_top(i, top) for i in items],
            "text_offset": _offsets(tokens, offset),
        }
        return legacy, offset + sum(len(t) for t in tokens)
    return None, offset


def _with_sampled(tops, values, k, token):
    """Position k's {token: logprob} with the sampled token's among them
    (OpenAI: "up to logprobs+1 elements"), also where a backend leaves it out."""
    found = dict(tops[k]) if k < len(tops) and isinstance(tops[k], dict) else {}
    if k < len(values):
        found.setdefault(token, values[k])
    return found


def _legacy_top(item, top):
    """One position's {token: logprob} from a chat-shaped item: the `top`
    likeliest (all of them when top is None), plus the sampled token."""
    alternatives = [t for t in item.get("top_logprobs") or [] if isinstance(t, dict)]
    if top is not None:
        alternatives = alternatives[:top]
    result = {t.get("token", ""): t.get("logprob") for t in alternatives}
    if top is not None:
        result.setdefault(item.get("token", ""), item.get("logprob"))
    return result


def chat_logprobs(logprobs, top=None) -> dict | None:
    """{content, refusal}: OpenAI's schema requires both keys."""
    if not isinstance(logprobs, dict):
        return None
    if "content" in logprobs or "refusal" in logprobs:
        return {
            "content": _items(logprobs.get("content"), top),
            "refusal": _items(logprobs.get("refusal"), top),
        }
    if "tokens" in logprobs:
        tokens = logprobs.get("tokens") or []
        values = logprobs.get("token_logprobs") or []
        tops = logprobs.get("top_logprobs") or []
        content = []
        for k, token in enumerate(tokens):
            alternatives = tops[k] if k < len(tops) and isinstance(tops[k], dict) else {}
            content.append(
                {
                    "token": token,
                    "logprob": values[k] if k < len(values) else None,
                    "bytes": list(token.encode()),
                    "top_logprobs": [
                        {"token": t, "logprob": v, "bytes": list(t.encode())}
                        for t, v in alternatives.items()
                    ],
                }
            )
        return {"content": _items(content, top), "refusal": None}
    return None


def _items(items, top=None):
    if items is None:
        return None

    def one(i):
        return {"token": i.get("token", ""), "logprob": i.get("logprob"), "bytes": i.get("bytes")}

    def alternatives(i):
        found = [one(t) for t in i.get("top_logprobs") or [] if isinstance(t, dict)]
        return found if top is None else found[:top]

    # Only the documented keys: llama.cpp adds token ids ("id").
    return [{**one(i), "top_logprobs": alternatives(i)} for i in items if isinstance(i, dict)]


def _offsets(tokens, start):
    offsets = []
    for token in tokens:
        offsets.append(start)
        start += len(token)
    return offsets
