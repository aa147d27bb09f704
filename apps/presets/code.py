""""View code": one request body as curl, Python (the official `openai` SDK)
and JavaScript (`fetch`).

The body is the exact clean body a run would send (model included), so the
snippets reproduce the request byte for byte in content. Keys never appear:
each snippet reads an environment variable. Where the request goes:

- an OpenAI-compatible provider: its base URL, `Authorization: Bearer $OPENAI_API_KEY`;
- Azure OpenAI: the deployment URL with `api-version`, the `api-key` header
  ($AZURE_OPENAI_API_KEY), and `AzureOpenAI` in Python;
- the embedded model (or a model deleted since): Playground's own gateway at
  `<host>/v1` with a gateway key ($PLAYGROUND_API_KEY), the model by its
  display name.
"""

import json
import shlex
from dataclasses import dataclass

from apps.inference.local import untranslate
from apps.providers.models import CATALOGUE_NAMES, Provider

# The request paths under a base URL (the SDK and the adapter use the same).
SUBPATHS = {"completions": "completions", "chat": "chat/completions"}
SDK_CALLS = {"completions": "client.completions.create", "chat": "client.chat.completions.create"}

# The keyword arguments the SDK's create() takes (openai 1.x-3.x); anything
# else in the body goes in extra_body, which the SDK merges into the JSON.
# A test checks these against the installed SDK.
SDK_PARAMS = {
    "completions": frozenset({
        "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
        "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
        "suffix", "temperature", "top_p", "user",
    }),
    "chat": frozenset({
        "model", "messages", "frequency_penalty", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "n", "parallel_tool_calls", "presence_penalty",
        "response_format", "seed", "stop", "stream", "stream_options", "temperature",
        "tool_choice", "tools", "top_logprobs", "top_p", "user",
        # OpenAI's newer fields (beyond the seed documents).
        "audio", "metadata", "modalities", "moderation", "prediction", "prompt_cache_key",
        "prompt_cache_options", "prompt_cache_retention", "reasoning_effort",
        "safety_identifier", "service_tier", "store", "verbosity", "web_search_options",
    }),
}


# A run on the embedded model records the body llama.cpp was sent, in which
# apps.inference.local.translate() renamed a few catalogue fields; the gateway
# takes the catalogue's names.
@dataclass(frozen=True)
class Destination:
    kind: str  # "openai", "azure" or "gateway"
    base_url: str
    key_env: str
    api_version: str = ""
    deployment: str = ""
    header_names: tuple = ()

    def url(self, endpoint):
        if self.kind == "azure":
            return (
                f"{self.base_url}/openai/deployments/{self.deployment}/{SUBPATHS[endpoint]}"
                f"?api-version={self.api_version}"
            )
        return f"{self.base_url}/{SUBPATHS[endpoint]}"


def destination(model, gateway_url):
    provider = model.provider if model is not None else None
    if provider is None or provider.kind == Provider.Kind.LOCAL:
        return Destination("gateway", gateway_url.rstrip("/"), "PLAYGROUND_API_KEY")
    names = tuple(provider.header_names() or ())
    base = provider.base_url.rstrip("/")
    if provider.kind == Provider.Kind.AZURE:
        return Destination(
            "azure", base, "AZURE_OPENAI_API_KEY", api_version=provider.api_version,
            deployment=model.upstream_id, header_names=names,
        )
    return Destination("openai", base, "OPENAI_API_KEY", header_names=names)


def sent_body(model, endpoint, body):
    """What a playground run of this clean body sends upstream, and so stores
    as its request: the adapter's body (fields the model does not accept
    dropped, its stream settings added). The gateway adapts a body itself, so
    code for the gateway sends the clean body."""
    if model is None or model.provider.kind == Provider.Kind.LOCAL:
        return body
    from apps.runs.engine import wire_body

    return wire_body(_target(model), endpoint, body)


def refusal(model, endpoint, body):
    """Why a run of this clean body would be refused before anything is sent
    (the adapter's own check: extras under the "refuse" policy, what the
    embedded model cannot do), or None. View code shows no request that
    would never go out."""
    from apps.inference import UpstreamError
    from apps.inference.client import check

    try:
        check(_target(model), endpoint, body)
    except UpstreamError as e:
        return e.message
    return None


def _target(model):
    from apps.inference.target import Target

    accepted = None if model.accepted_fields is None else frozenset(model.accepted_fields)
    # No key: only the body is needed, and it never holds one.
    # Extras are forwarded or dropped as the provider's policy says.
    return Target(kind=model.provider.kind, base_url=model.provider.base_url,
                  model=model.upstream_id, accepted_fields=accepted,
                  known_fields=CATALOGUE_NAMES, unknown_fields=model.provider.extras_policy)


def render_code(body, endpoint, model, gateway_url="http://127.0.0.1:8000/v1"):
    """{"curl", "python", "javascript"} for sending `body` (model included) to
    `endpoint` ("completions" or "chat") of `model` (a providers Model, or None
    when the model is gone: then the gateway, by name)."""
    dest = destination(model, gateway_url)
    if dest.kind == "gateway":
        body = untranslate(body)
        if model is not None:
            # The gateway knows models by display name (unique); upstream ids may repeat.
            body["model"] = model.display_name
    return {
        "curl": curl(body, endpoint, dest),
        "python": python(body, endpoint, dest),
        "javascript": javascript(body, endpoint, dest),
    }


def _headers_note(dest, comment):
    if not dest.header_names:
        return ""
    return (
        f"{comment} This provider is also sent these headers (values not shown): "
        f"{', '.join(dest.header_names)}\n"
    )


# --- curl ----------------------------------------------------------------------


def curl(body, endpoint, dest):
    auth = (
        f'-H "api-key: ${dest.key_env}"' if dest.kind == "azure"
        else f'-H "Authorization: Bearer ${dest.key_env}"'
    )
    # A quoted heredoc: the JSON goes through untouched, whatever quotes it holds.
    # A JSON text never has a line that is just JSON, so the delimiter is safe.
    lines = [
        f"curl {'-N ' if body.get('stream') else ''}{shlex.quote(dest.url(endpoint))} \\",
        '  -H "Content-Type: application/json" \\',
        f"  {auth} \\",
        "  --data-binary @- <<'JSON'",
        json.dumps(body, indent=2, ensure_ascii=False),
        "JSON",
    ]
    return _headers_note(dest, "#") + "\n".join(lines) + "\n"


# --- Python ----------------------------------------------------------------------


def _py_inline(value):
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_py_inline(v) for v in value) + "]"
    return "{" + ", ".join(f"{_py_inline(str(k))}: {_py_inline(v)}" for k, v in value.items()) + "}"


def _py(value, level):
    """A Python literal equal to the JSON value, indented like black would."""
    inline = _py_inline(value)
    if not isinstance(value, list | dict) or not value or len(inline) + 4 * level <= 88:
        return inline
    pad, end = "    " * (level + 1), "    " * level
    if isinstance(value, list):
        items = [f"{pad}{_py(v, level + 1)},\n" for v in value]
        return "[\n" + "".join(items) + end + "]"
    items = [f"{pad}{_py_inline(str(k))}: {_py(v, level + 1)},\n" for k, v in value.items()]
    return "{\n" + "".join(items) + end + "}"


def python(body, endpoint, dest):
    known = SDK_PARAMS[endpoint]
    kwargs = [f"    {k}={_py(v, 1)},\n" for k, v in body.items() if k in known]
    extra = {k: v for k, v in body.items() if k not in known}
    if extra:
        # Fields the SDK has no argument for (vendor extensions) still go in the body.
        kwargs.append(f"    extra_body={_py(extra, 1)},\n")

    if dest.kind == "azure":
        client = (
            "from openai import AzureOpenAI\n\n"
            "client = AzureOpenAI(\n"
            f"    azure_endpoint={_py_inline(dest.base_url)},\n"
            f'    api_key=os.environ["{dest.key_env}"],\n'
            f"    api_version={_py_inline(dest.api_version)},\n"
            ")\n"
        )
    else:
        client = (
            "from openai import OpenAI\n\n"
            "client = OpenAI(\n"
            f"    base_url={_py_inline(dest.base_url)},\n"
            f'    api_key=os.environ["{dest.key_env}"],\n'
            ")\n"
        )
    streaming = body.get("stream") is True
    result = "stream" if streaming else "response"
    call = f"{result} = {SDK_CALLS[endpoint]}(\n" + "".join(kwargs) + ")\n"
    if streaming:
        piece = "choice.delta.content or \"\"" if endpoint == "chat" else "choice.text"
        show = (
            "for chunk in stream:\n"
            "    for choice in chunk.choices:\n"
            f"        print({piece}, end=\"\", flush=True)\n"
            "print()\n"
        )
    elif endpoint == "chat":
        show = "print(response.choices[0].message.content)\n"
    else:
        show = "print(response.choices[0].text)\n"
    return "import os\n\n" + client + "\n" + _headers_note(dest, "#") + call + show


# --- JavaScript ---------------------------------------------------------------------


def javascript(body, endpoint, dest):
    auth = (
        f'"api-key": process.env.{dest.key_env},' if dest.kind == "azure"
        else f"Authorization: `Bearer ${{process.env.{dest.key_env}}}`,"
    )
    head = (
        "// Node 18+ (save as request.mjs: it uses top-level await).\n"
        + _headers_note(dest, "//")
        + f"const body = {json.dumps(body, indent=2, ensure_ascii=False)};\n\n"
        + f"const response = await fetch({json.dumps(dest.url(endpoint))}, {{\n"
        + '  method: "POST",\n'
        + "  headers: {\n"
        + '    "Content-Type": "application/json",\n'
        + f"    {auth}\n"
        + "  },\n"
        + "  body: JSON.stringify(body),\n"
        + "});\n"
        + "if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);\n"
    )
    if body.get("stream") is True:
        piece = 'choice.delta?.content ?? ""' if endpoint == "chat" else 'choice.text ?? ""'
        show = (
            "\n// Server-sent events: one JSON chunk per `data:` line, then [DONE].\n"
            "const decoder = new TextDecoder();\n"
            'let buffer = "";\n'
            "for await (const bytes of response.body) {\n"
            "  buffer += decoder.decode(bytes, { stream: true });\n"
            '  const lines = buffer.split("\\n");\n'
            "  buffer = lines.pop();\n"
            "  for (const line of lines) {\n"
            '    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;\n'
            "    const chunk = JSON.parse(line.slice(6));\n"
            f"    for (const choice of chunk.choices ?? []) process.stdout.write({piece});\n"
            "  }\n"
            "}\n"
            'process.stdout.write("\\n");\n'
        )
    else:
        value = "message.content" if endpoint == "chat" else "text"
        show = f"\nconst data = await response.json();\nconsole.log(data.choices[0].{value});\n"
    return head + show
