"""Rendering a finished run: sanitized markdown and the metrics line. (Used by
every page that shows a run: the playground, compare, snapshots.)"""

import json

import markdown
import nh3

# Markdown is rendered, then everything outside a small allow-list is stripped:
# model output is untrusted (it may contain <script>, onerror=, javascript:).
ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "del",
    "sup",
    "sub",
}


def render_markdown(text):
    html = markdown.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "code": {"class"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def result_context(run):
    choices = []
    response = run.response or {}
    for choice in response.get("choices", []):
        if run.endpoint == "chat":
            message = choice.get("message") or {}
            content = message.get("content") or ""
            calls = [
                {
                    "id": call.get("id"),
                    "name": (call.get("function") or {}).get("name"),
                    "arguments": _pretty(((call.get("function") or {}).get("arguments")) or ""),
                }
                for call in message.get("tool_calls") or []
            ]
            choices.append(
                {
                    "index": choice.get("index", 0),
                    "html": render_markdown(content),
                    "finish_reason": choice.get("finish_reason"),
                    "tool_calls": calls,
                }
            )
        else:
            choices.append(
                {
                    "index": choice.get("index", 0),
                    "text": choice.get("text", ""),
                    "finish_reason": choice.get("finish_reason"),
                }
            )
    return {"run": run, "choices": choices, "usage": response.get("usage")}


def _pretty(arguments):
    # Tool-call arguments are a JSON string; show them indented when they parse.
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return arguments
