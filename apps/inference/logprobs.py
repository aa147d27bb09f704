"""Logprobs in each endpoint's documented shape, whatever the backend sends.

Completions (seed 003): the legacy
    {tokens: [str], token_logprobs: [float], top_logprobs: [{token: logprob}],
     text_offset: [int]}
Chat: {content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}

llama.cpp (the embedded model) answers /v1/completions with the chat shape, so
both converters accept either shape.

text_offset follows OpenAI's legacy models: a character offset into the prompt
followed by the completion, so with a string prompt the first generated token
starts at len(prompt) (with or without echo). Where the prompt is not one
string (a list of prompts, token ids) offsets start at 0. A stream carries the
offset from one chunk to the next per choice.
"""


def completion_logprobs(logprobs, offset: int = 0) -> tuple[dict | None, int]:
    """(legacy logprobs, offset after the last token)."""
    if not isinstance(logprobs, dict):
        return None, offset
    if "tokens" in logprobs:
        tokens = list(logprobs.get("tokens") or [])
        offsets = logprobs.get("text_offset") or _offsets(tokens, offset)
        legacy = {
            "tokens": tokens,
            "token_logprobs": list(logprobs.get("token_logprobs") or []),
            "top_logprobs": list(logprobs.get("top_logprobs") or []),
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
            "top_logprobs": [
                {t.get("token", ""): t.get("logprob") for t in i.get("top_logprobs") or []}
                for i in items
            ],
            "text_offset": _offsets(tokens, offset),
        }
        return legacy, offset + sum(len(t) for t in tokens)
    return None, offset


def chat_logprobs(logprobs) -> dict | None:
    if not isinstance(logprobs, dict):
        return None
    if "content" in logprobs or "refusal" in logprobs:
        result = {"content": _items(logprobs.get("content"))}
        if logprobs.get("refusal") is not None:
            result["refusal"] = _items(logprobs["refusal"])
        return result
    if "tokens" in logprobs:
        tokens = logprobs.get("tokens") or []
        values = logprobs.get("token_logprobs") or []
        tops = logprobs.get("top_logprobs") or []
        content = []
        for k, token in enumerate(tokens):
            top = tops[k] if k < len(tops) and isinstance(tops[k], dict) else {}
            content.append(
                {
                    "token": token,
                    "logprob": values[k] if k < len(values) else None,
                    "bytes": list(token.encode()),
                    "top_logprobs": [
                        {"token": t, "logprob": v, "bytes": list(t.encode())}
                        for t, v in top.items()
                    ],
                }
            )
        return {"content": content}
    return None


def _items(items):
    if items is None:
        return None

    def one(i):
        return {"token": i.get("token", ""), "logprob": i.get("logprob"), "bytes": i.get("bytes")}

    # Only the documented keys: llama.cpp adds token ids ("id").
    return [
        {**one(i), "top_logprobs": [one(t) for t in i.get("top_logprobs") or []]}
        for i in items
        if isinstance(i, dict)
    ]


def _offsets(tokens, start):
    offsets = []
    for token in tokens:
        offsets.append(start)
        start += len(token)
    return offsets
