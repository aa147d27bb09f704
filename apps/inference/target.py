"""What the adapter needs to reach one model: plain data, no ORM.

`apps.providers.models.Model.target()` builds one from the database; tests
build them directly.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    # A slow model on a CPU can take a while to produce its first token.
    first_byte: float = 120.0
    between_chunks: float = 60.0
    total: float = 600.0


@dataclass(frozen=True)
class Target:
    # "openai" (any OpenAI-compatible base URL), "azure", or "local" (the
    # embedded llama.cpp server; base_url is found when it starts).
    kind: str
    base_url: str
    model: str  # the upstream model id (Azure: the deployment name)
    api_key: str | None = field(default=None, repr=False)
    headers: dict = field(default_factory=dict, repr=False)
    api_version: str | None = None  # Azure only
    timeouts: Timeouts = Timeouts()
    # Catalogue fields this backend accepts; None means all of them. Others
    # are dropped from the body with a Notice instead of failing upstream.
    accepted_fields: frozenset | None = None
    # The catalogue's field names per endpoint ({"chat": frozenset(...)}): a
    # body key outside them is an extra (a provider's own field, like top_k),
    # which `unknown_fields` governs: "forward" sends it, "drop" leaves it out
    # with a Notice, "refuse" fails the request naming it (a 400 at the
    # gateway). None: every key is treated as a catalogue field.
    known_fields: dict | None = field(default=None, repr=False)
    unknown_fields: str = "forward"
