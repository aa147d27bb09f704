"""Every body field of POST /v1/completions and POST /v1/chat/completions.

One entry per (endpoint, field). Each entry records what every seed document
says about it (`sources`, the documents' own words) and which document the
validator's limits come from (`enforced_source`).

Where the documents disagree, the validator enforces OpenAI's schema (003):
it is the reference the gateway docs (000, 002) and the vendor (004) claim to
be compatible with, and every backend we route to accepts it. The other values
stay recorded and the form shows them.

    field               documents say                               enforced
    temperature         0..2 everywhere; default 1 (000, 003),      0..2
                        0 (004), "model default" (002)
    max_tokens          minimum 0 (003), minimum 1 (004)            >= 0: with echo, max_tokens 0
                                                                    scores a prompt without
                                                                    generating (003's use case)
    n                   1..128 (003), >= 1 with no maximum (004)    1..128
    logprobs            0..5 (003), no range (000)                  0..5
    best_of             0..20 (003); "must be greater than n"       0..20, and >= n when both
                                                                    are given (n = best_of = 1
                                                                    is OpenAI's own default)
    stop                1..4 strings (003), minItems 1 (004),       a string, or 1..4 strings
                        "up to 4" (002), "string or array" (000)
    repetition_penalty  > 0 (002), no range (000)                   > 0 on both endpoints
    seed                int64 (003)                                 int64

The chat document (002) states few ranges. For the fields chat shares with
completions (max_tokens, n, stop, seed, logit_bias) the chat entry applies
003's limit and cites it as "for /completions". max_completion_tokens is
undocumented beyond "alternative to max_tokens", so it gets max_tokens' limit.

`default` is the endpoint's documented default, shown as a placeholder: an
unset field is never sent, so the model's own default applies, except where
`applied_default` says otherwise (completions' max_tokens: OpenAI's 16 is sent,
because llama.cpp's own default is "until the context is full"). A required
prompt given as null gets its documented default, <|endoftext|> (003:
"nullable: true, default: <|endoftext|>").
"""

from .schema import BEYOND_SEEDS, ENDPOINTS, GROUPS, PATHS, Field, Source

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_COMPLETIONS = [
    # input
    Field(
        "model", "completions", "string", "input",
        required=True, nullable=False,
        help="ID of the model to use.",
        sources=(
            Source("000", "Model identifier to use for completion"),
            Source("003", "string, required"),
            Source("004", "string, required: ID of the completions model to use."),
        ),
    ),
    Field(
        "prompt", "completions", "prompt", "input",
        required=True, default="<|endoftext|>",
        help="The prompt(s) to complete: a string, an array of strings, an array of "
        "token ids, or an array of token-id arrays. null: <|endoftext|>, the document "
        "separator, so the model writes as from the start of a new document.",
        sources=(
            Source("000", "Text prompt(s) to complete. Can be a single string or array of strings"),
            Source(
                "003",
                "string, array of strings, array of tokens (minItems: 1), or array of "
                "token arrays (minItems: 1); default: <|endoftext|>, nullable: true, required",
            ),
            Source("004", "string, required"),
        ),
    ),
    Field(
        "suffix", "completions", "string", "input",
        help="The text that comes after the inserted completion (insert mode). "
        "Not every model supports it.",
        sources=(
            Source("000", "Text to append after completion for insert mode"),
            Source("003", "string, default: null, nullable: true; only gpt-3.5-turbo-instruct"),
        ),
    ),
    # sampling
    Field(
        "temperature", "completions", "number", "sampling",
        minimum=0, maximum=2, default=1, enforced_source="003",
        help="Sampling temperature, 0 to 2. Higher is more random, lower more focused. "
        "Alter this or top_p, not both.",
        sources=(
            Source("000", "Sampling temperature (0.0 to 2.0). Default: 1.0"),
            Source("003", "number, minimum: 0, maximum: 2, default: 1, nullable: true"),
            Source("004", "number, minimum: 0, maximum: 2, default: 0"),
        ),
    ),
    Field(
        "top_p", "completions", "number", "sampling",
        minimum=0, maximum=1, default=1, enforced_source="003",
        label="Top P",
        help="Nucleus sampling: only the tokens in the top_p probability mass are "
        "considered (0.1 = the top 10%).",
        sources=(
            Source("000", "Nucleus sampling parameter. Default: 1.0"),
            Source("003", "number, minimum: 0, maximum: 1, default: 1, nullable: true"),
        ),
    ),
    Field(
        "seed", "completions", "integer", "sampling",
        minimum=INT64_MIN, maximum=INT64_MAX, enforced_source="003",
        help="Sample deterministically as far as possible: the same seed and parameters "
        "should give the same result.",
        sources=(
            Source("000", "Random seed for deterministic sampling"),
            Source("003", "integer, format: int64, nullable: true"),
            Source("004", "integer; in beta for most inference servers"),
        ),
    ),
    # length
    Field(
        "max_tokens", "completions", "integer", "length",
        minimum=0, default=16, applied_default=16, enforced_source="003",
        help="Maximum number of tokens to generate. Prompt plus max_tokens must fit the "
        "model's context length. Unset: 16, the documented default, is sent (some "
        "backends would otherwise generate until the context is full).",
        sources=(
            Source("000", "Maximum tokens to generate. Default: 16"),
            Source("003", "integer, minimum: 0, default: 16, nullable: true"),
            Source("004", "integer, minimum: 1"),
        ),
    ),
    Field(
        "stop", "completions", "stop", "length",
        min_items=1, max_items=4, enforced_source="003",
        help="Up to 4 sequences where generation stops. The returned text does not "
        "contain them.",
        sources=(
            Source("000", "Sequences where the API will stop generating"),
            Source(
                "003",
                "string, or array of strings with minItems: 1, maxItems: 4; default: null, "
                "nullable: true",
            ),
            Source("004", "array of string, minItems: 1"),
        ),
    ),
    Field(
        "ignore_eos", "completions", "boolean", "length",
        default=False,
        label="Ignore EOS",
        help="Keep generating past the end-of-sequence token until max_tokens is reached.",
        sources=(
            Source("000", "Continue generating until max_tokens is reached. Default: false"),
        ),
    ),
    # penalties
    Field(
        "presence_penalty", "completions", "number", "penalties",
        minimum=-2, maximum=2, default=0, enforced_source="003",
        help="-2 to 2. Positive values penalize tokens that already appear, nudging the "
        "model toward new topics.",
        sources=(
            Source("000", "Penalize new tokens based on presence (-2.0 to 2.0). Default: 0"),
            Source("003", "number, minimum: -2, maximum: 2, default: 0, nullable: true"),
        ),
    ),
    Field(
        "frequency_penalty", "completions", "number", "penalties",
        minimum=-2, maximum=2, default=0, enforced_source="003",
        help="-2 to 2. Positive values penalize tokens by how often they already appear, "
        "making verbatim repetition less likely.",
        sources=(
            Source("000", "Penalize new tokens based on frequency (-2.0 to 2.0). Default: 0"),
            Source("003", "number, minimum: -2, maximum: 2, default: 0, nullable: true"),
        ),
    ),
    Field(
        "repetition_penalty", "completions", "number", "penalties",
        minimum=0, exclusive_minimum=True, default=1, enforced_source="002",
        help="Penalize token repetition. Greater than 0; default 1.0.",
        sources=(
            Source("000", "Penalize token repetition. Default: 1.0"),
            Source("002", "for /chat/completions: Penalize token repetition (> 0.0). Default: 1.0"),
        ),
    ),
    Field(
        "logit_bias", "completions", "logit_bias", "penalties",
        minimum=-100, maximum=100, enforced_source="003",
        help='Map of token id to a bias from -100 to 100 added to its logit; '
        '{"50256": -100} bans that token.',
        sources=(
            Source("000", "Modify likelihood of specified tokens"),
            Source(
                "003",
                "object mapping token ids to integers, bias value from -100 to 100; "
                "default: null, nullable: true",
            ),
        ),
    ),
    # output
    Field(
        "n", "completions", "integer", "output",
        minimum=1, maximum=128, default=1, enforced_source="003",
        label="N (choices)",
        help="How many completions to generate for each prompt.",
        sources=(
            Source("000", "Number of completions to generate. Default: 1"),
            Source("003", "integer, minimum: 1, maximum: 128, default: 1, nullable: true"),
            Source("004", "integer, minimum: 1, default: 1"),
        ),
    ),
    Field(
        "best_of", "completions", "integer", "output",
        minimum=0, maximum=20, default=1, enforced_source="003",
        help="Generate best_of completions server-side and return the best (highest log "
        "probability per token). At least n; cannot be streamed.",
        sources=(
            Source("000", "Generate n completions server-side and return the best"),
            Source(
                "003",
                "integer, minimum: 0, maximum: 20, default: 1, nullable: true; best_of must "
                "be greater than n; results cannot be streamed",
            ),
        ),
    ),
    Field(
        "stream", "completions", "boolean", "output",
        default=False,
        help="Stream back partial progress as server-sent events.",
        sources=(
            Source("000", "Enable streaming response. Default: false"),
            Source("003", "boolean, default: false, nullable: true"),
            Source("004", "boolean"),
        ),
    ),
    Field(
        "stream_options", "completions", "stream_options", "output",
        help='Streaming options, e.g. {"include_usage": true}. Only with stream on.',
        sources=(
            Source(
                "003",
                "object {include_usage: boolean}, default: null, nullable: true; only set "
                "this when you set stream: true",
            ),
            Source("004", "{include_usage: boolean}; only set this when you set stream: true"),
        ),
    ),
    Field(
        "echo", "completions", "boolean", "output",
        default=False,
        help="Echo back the prompt in addition to the completion.",
        sources=(
            Source("000", "Echo back the prompt in addition to completion. Default: false"),
            Source("003", "boolean, default: false, nullable: true"),
        ),
    ),
    Field(
        "logprobs", "completions", "integer", "output",
        minimum=0, maximum=5, enforced_source="003",
        help="Return the log probabilities of the logprobs most likely tokens at each "
        "position (at most 5).",
        sources=(
            Source("000", "Include log probabilities on the most likely tokens"),
            Source("003", "integer, minimum: 0, maximum: 5, default: null, nullable: true"),
        ),
    ),
    # advanced
    Field(
        "user", "completions", "string", "advanced",
        nullable=False,
        help="A unique identifier for your end-user, to help detect abuse.",
        sources=(
            Source("000", "Unique identifier representing your end-user"),
            Source("003", "string"),
        ),
    ),
]

_CHAT = [
    # input
    Field(
        "model", "chat", "string", "input",
        required=True, nullable=False,
        help="Model identifier (deployment name, adapter name, or routing).",
        sources=(Source("002", "Model identifier (deployment name, adapter name, or routing)"),),
    ),
    Field(
        "messages", "chat", "messages", "input",
        required=True,
        help="The conversation: messages with a role (developer or system, user, "
        "assistant, tool) and content.",
        sources=(
            Source("002", "Array of message objects forming the conversation"),
            Source(
                "002",
                "Message Object: role: system | user | assistant | tool; content: string or "
                "array of content blocks; name; tool_calls (for assistant messages); "
                "tool_call_id (for tool messages)",
            ),
        ),
    ),
    # sampling
    Field(
        "temperature", "chat", "number", "sampling",
        minimum=0, maximum=2, enforced_source="002",
        help="Sampling temperature, 0 to 2. Higher is more random, lower more focused. "
        "Unset: the model's default.",
        sources=(Source("002", "Sampling temperature (0.0 to 2.0). Default: model default"),),
    ),
    Field(
        "top_p", "chat", "number", "sampling",
        minimum=0, maximum=1, default=1, enforced_source="002",
        label="Top P",
        help="Nucleus sampling: only the tokens in the top_p probability mass are "
        "considered (0.1 = the top 10%).",
        sources=(Source("002", "Nucleus sampling parameter (0.0 to 1.0). Default: 1.0"),),
    ),
    Field(
        "seed", "chat", "integer", "sampling",
        minimum=INT64_MIN, maximum=INT64_MAX, enforced_source="003",
        help="Sample deterministically as far as possible: the same seed and parameters "
        "should give the same result.",
        sources=(
            Source("002", "Random seed for deterministic sampling"),
            Source("003", "for /completions: integer, format: int64"),
        ),
    ),
    # length
    Field(
        "max_tokens", "chat", "integer", "length",
        minimum=0, enforced_source="003",
        help="Maximum number of tokens to generate. Unset: the model's default.",
        sources=(
            Source("002", "Maximum tokens to generate. Default: model default"),
            Source("003", "for /completions: integer, minimum: 0"),
        ),
    ),
    Field(
        "max_completion_tokens", "chat", "integer", "length",
        minimum=0, enforced_source="003",
        help="Maximum number of tokens to generate (alternative to max_tokens).",
        sources=(
            Source("002", "Maximum tokens to generate (alternative to max_tokens)"),
            Source("003", "for /completions, max_tokens: integer, minimum: 0"),
        ),
    ),
    Field(
        "stop", "chat", "stop", "length",
        min_items=1, max_items=4, enforced_source="003",
        help="Up to 4 sequences where generation stops.",
        sources=(
            Source("002", "Up to 4 sequences where the API will stop generating"),
            Source("003", "for /completions: string, or array of strings with minItems: 1, "
                   "maxItems: 4"),
        ),
    ),
    # penalties
    Field(
        "presence_penalty", "chat", "number", "penalties",
        minimum=-2, maximum=2, default=0, enforced_source="002",
        help="-2 to 2. Positive values penalize tokens that already appear, nudging the "
        "model toward new topics.",
        sources=(
            Source("002", "Penalize tokens based on presence (-2.0 to 2.0). Default: 0.0"),
        ),
    ),
    Field(
        "frequency_penalty", "chat", "number", "penalties",
        minimum=-2, maximum=2, default=0, enforced_source="002",
        help="-2 to 2. Positive values penalize tokens by how often they already appear, "
        "making verbatim repetition less likely.",
        sources=(
            Source("002", "Penalize tokens based on frequency (-2.0 to 2.0). Default: 0.0"),
        ),
    ),
    Field(
        "repetition_penalty", "chat", "number", "penalties",
        minimum=0, exclusive_minimum=True, default=1, enforced_source="002",
        help="Penalize token repetition. Greater than 0; default 1.0.",
        sources=(Source("002", "Penalize token repetition (> 0.0). Default: 1.0"),),
    ),
    Field(
        "logit_bias", "chat", "logit_bias", "penalties",
        minimum=-100, maximum=100, enforced_source="003",
        help='Map of token id to a bias from -100 to 100 added to its logit; '
        '{"50256": -100} bans that token.',
        sources=(
            Source("002", "Modify likelihood of specified tokens appearing"),
            Source("003", "for /completions: object mapping token ids to integers, bias value "
                   "from -100 to 100"),
        ),
    ),
    # output
    Field(
        "n", "chat", "integer", "output",
        minimum=1, maximum=128, default=1, enforced_source="003",
        label="N (choices)",
        help="Number of chat completion choices to generate.",
        sources=(
            Source("002", "Number of chat completion choices to generate. Default: 1"),
            Source("003", "for /completions: integer, minimum: 1, maximum: 128"),
        ),
    ),
    Field(
        "stream", "chat", "boolean", "output",
        default=False,
        help="Stream back partial progress as server-sent events.",
        sources=(Source("002", "Enable streaming response. Default: `false`"),),
    ),
    Field(
        "stream_options", "chat", "stream_options", "output",
        help='Streaming options, e.g. {"include_usage": true}. Only with stream on.',
        sources=(
            Source("002", 'Streaming options (e.g., `{"include_usage": true}`)'),
            Source("003", "for /completions: only set this when you set stream: true"),
        ),
    ),
    Field(
        "logprobs", "chat", "boolean", "output",
        default=False,
        help="Include the log probabilities of the output tokens in the response.",
        sources=(Source("002", "Include log probabilities in response. Default: `false`"),),
    ),
    Field(
        "top_logprobs", "chat", "integer", "output",
        minimum=0, maximum=20, enforced_source="002",
        help="Number of most likely tokens to return at each position (0-20). Needs logprobs.",
        sources=(Source("002", "Number of most likely tokens to return (0-20)"),),
    ),
    Field(
        "response_format", "chat", "response_format", "output",
        choices=("text", "json_object", "json_schema"),
        help='Response format: {"type": "json_object"}, or "json_schema" with a '
        "json_schema {name, schema}.",
        sources=(
            Source("002", 'Response format specification (e.g., `{"type": "json_object"}`)'),
        ),
    ),
    # advanced
    Field(
        "tools", "chat", "tools", "advanced",
        help="Tool (function) definitions the model may call.",
        sources=(Source("002", "Available tool/function definitions"),),
    ),
    Field(
        "tool_choice", "chat", "tool_choice", "advanced",
        choices=("none", "auto", "required"),
        help='How the model picks a tool: auto, none, required, or {"type": "function", '
        '"function": {"name": ...}}.',
        sources=(
            Source(
                "002",
                "Tool selection strategy. Options: `auto`, `none`, `required`, or specific tool",
            ),
        ),
    ),
    Field(
        "parallel_tool_calls", "chat", "boolean", "advanced",
        default=True,
        help="Allow the model to call several tools at once.",
        sources=(Source("002", "Allow parallel tool calls. Default: `true`"),),
    ),
    Field(
        "user", "chat", "string", "advanced",
        help="A unique identifier for your end-user, to help detect abuse.",
        sources=(Source("002", "Unique identifier representing your end-user"),),
    ),
]


def _newer(name, kind, says, help, **kw):
    """A chat field beyond the seed documents: OpenAI's current API reference
    (as the `openai` SDK types it) is its only source, and its limits'."""
    return Field(
        name, "chat", kind, "newer",
        help=help, sources=(Source(BEYOND_SEEDS, says),),
        enforced_source=BEYOND_SEEDS, **kw,
    )


# OpenAI's newer chat fields (no seed document has them; /v1/completions has
# none). Sent only when set, like every field; a model that does not take
# them drops them with a notice (its accepted fields, see apps.providers).
_CHAT_NEWER = [
    _newer(
        "metadata", "metadata",
        "Set of 16 key-value pairs; keys are strings of at most 64 characters, values "
        "strings of at most 512 characters",
        "Up to 16 key-value pairs (strings) stored with the completion, to query it later.",
        max_items=16, max_length=512,
    ),
    _newer(
        "store", "boolean",
        "boolean, nullable; whether to store the output for model distillation or evals",
        "Whether the provider stores this completion (OpenAI: for distillation and evals).",
        default=False,
    ),
    _newer(
        "reasoning_effort", "enum",
        "none, minimal, low, medium, high, xhigh or max; not all reasoning models support "
        "every value",
        "Reasoning models: how much effort to spend on reasoning (less is faster and "
        "cheaper).",
        choices=("none", "minimal", "low", "medium", "high", "xhigh", "max"),
    ),
    _newer(
        "verbosity", "enum",
        "low, medium or high; default medium",
        "How verbose the answer is: low, medium (default) or high.",
        choices=("low", "medium", "high"), default="medium",
    ),
    _newer(
        "service_tier", "enum",
        "auto, default, flex, scale, priority or fast",
        "The processing tier: auto (the project's setting), default, flex, scale, priority "
        "or fast.",
        choices=("auto", "default", "flex", "scale", "priority", "fast"),
    ),
    _newer(
        "prediction", "prediction",
        '{"type": "content", "content": string or array of text content parts}',
        "Predicted output (e.g. the file being edited), so matching tokens come back "
        'faster: {"type": "content", "content": "..."}.',
    ),
    _newer(
        "modalities", "modalities",
        'array of "text" and "audio"; default ["text"]',
        'Output types to generate: ["text"], or ["text", "audio"] with audio set.',
        choices=("text", "audio"), min_items=1, max_items=2,
    ),
    _newer(
        "audio", "audio",
        "{voice (a name or {id}), format: wav, aac, mp3, flac, opus or pcm16}; required "
        'with modalities ["audio"]',
        'Audio output parameters: {"voice": "alloy", "format": "wav"}.',
        choices=("wav", "aac", "mp3", "flac", "opus", "pcm16"),
    ),
    _newer(
        "prompt_cache_key", "string",
        "string; used to cache responses for similar requests, replaces user",
        "A key that groups similar requests for prompt caching (replaces user).",
    ),
    _newer(
        "prompt_cache_retention", "enum",
        "in_memory or 24h (deprecated for prompt_cache_options.ttl)",
        "How long cached prompt prefixes are kept: in_memory or 24h.",
        choices=("in_memory", "24h"),
    ),
    _newer(
        "prompt_cache_options", "prompt_cache_options",
        "{mode: implicit or explicit, ttl: 30m}",
        'Prompt caching options: {"mode": "implicit" | "explicit", "ttl": "30m"}.',
    ),
    _newer(
        "safety_identifier", "string",
        "string, at most 128 characters; a stable id of your end-user (hashed)",
        "A stable (hashed) id of your end-user, to help detect abuse. At most 128 "
        "characters.",
        max_length=128,
    ),
    _newer(
        "moderation", "moderation",
        '{model (required), policy: {input: {mode: score or block}, output: {mode}}}',
        'Moderation of input and output: {"model": "omni-moderation-latest"}.',
        choices=("score", "block"),
    ),
    _newer(
        "web_search_options", "web_search_options",
        "{search_context_size: low, medium or high; user_location: {type: approximate, "
        "approximate: {city, country, region, timezone}}}",
        'Web search for search models: {"search_context_size": "medium"}.',
        choices=("low", "medium", "high"),
    ),
]

# OpenAI's deprecated predecessors of tools/tool_choice. Refused with what to
# send instead rather than mapped: a client that sends `functions` reads the
# answer's message.function_call, and a mapped request answers in
# message.tool_calls, which such a client never looks at (its call would be
# lost without an error). Any upstream we route to takes tools.
LEGACY_FIELDS = {
    "chat": {
        "functions": 'functions is deprecated; send tools instead: [{"type": "function", '
        '"function": {...}}] for each function',
        "function_call": 'function_call is deprecated; send tool_choice instead: "none", '
        '"auto", or {"type": "function", "function": {"name": ...}}',
    },
    "completions": {},
}


def _form_order(fields):
    # Stable: within a group, fields keep their order in the table above.
    return sorted(fields, key=lambda f: GROUPS.index(f.group))


FIELDS: tuple[Field, ...] = tuple(
    _form_order(_COMPLETIONS) + _form_order(_CHAT + _CHAT_NEWER)
)

_BY_KEY = {(f.endpoint, f.name): f for f in FIELDS}
assert len(_BY_KEY) == len(FIELDS), "a field is declared twice for one endpoint"
_NAMES = {e: frozenset(f.name for f in FIELDS if f.endpoint == e) for e in ENDPOINTS}
# Computed once: the validator runs on every gateway request.
_FOR = {e: tuple(f for f in FIELDS if f.endpoint == e) for e in ENDPOINTS}
# The fields that matter when a body leaves them out (required, or an applied
# default); the validator skips every other absent field without a look.
_WHEN_ABSENT = {
    e: frozenset(f.name for f in _FOR[e] if f.required or f.applied_default is not None)
    for e in ENDPOINTS
}


def validation_plan(endpoint: str):
    """(fields in form order, their names, names that matter when absent)."""
    _check_endpoint(endpoint)
    return _FOR[endpoint], _NAMES[endpoint], _WHEN_ABSENT[endpoint]


def _check_endpoint(endpoint):
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")


def fields_for(endpoint: str) -> list[Field]:
    """The endpoint's fields in form order (grouped as GROUPS)."""
    _check_endpoint(endpoint)
    return list(_FOR[endpoint])


def names_for(endpoint: str) -> frozenset:
    """The endpoint's field names: any other top-level key is an extra."""
    _check_endpoint(endpoint)
    return _NAMES[endpoint]


def field(endpoint: str, name: str) -> Field:
    _check_endpoint(endpoint)
    try:
        return _BY_KEY[(endpoint, name)]
    except KeyError:
        raise KeyError(f"{name} is not a field of {PATHS[endpoint]}") from None
