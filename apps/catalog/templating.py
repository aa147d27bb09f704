"""Prompt templates: `{{name}}` placeholders in the prompt, the suffix and
every message's content, filled from a dict of values. Pure functions, no
database: the page, the run engine's specs and the batch runner share them.

Syntax:
- `{{name}}` (spaces inside allowed: `{{ name }}`) is a variable; a name is
  a letter or `_` then letters, digits or `_`.
- `\\{{` is a literal `{{` (the backslash is dropped), so `\\{{name}}`
  renders as the text `{{name}}`.
- Anything else (`{{`, `{{ 1 }}`, a lone `}}`) is plain text.
A variable without a value is an error naming the variable and the field.
"""

import copy
import re

# The escape first, so `\{{x}}` is never read as a variable.
TOKEN = re.compile(r"\\\{\{|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_NAME = 64


class MissingVariable(Exception):
    def __init__(self, name, field):
        super().__init__(f'{field}: the template variable "{name}" has no value')
        self.name = name
        self.field = field
        self.message = str(self)


def names(text):
    """The variables of `text`, in order of first appearance."""
    if not isinstance(text, str):
        return []
    seen = {}
    for m in TOKEN.finditer(text):
        if m.group(1):
            seen.setdefault(m.group(1), None)
    return list(seen)


def render(text, values, field="prompt"):
    """`text` with every variable replaced by its value (as text)."""
    if not isinstance(text, str):
        return text

    def replace(m):
        name = m.group(1)
        if name is None:
            return "{{"
        if name not in values or values[name] is None:
            raise MissingVariable(name, field)
        value = values[name]
        return value if isinstance(value, str) else str(value)

    return TOKEN.sub(replace, text)


def _texts(body):
    """(field, getter, setter) for every templated string of a body."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        yield "prompt", prompt, lambda v: body.__setitem__("prompt", v)
    elif isinstance(prompt, list):
        for i, p in enumerate(prompt):
            if isinstance(p, str):
                yield f"prompt[{i}]", p, lambda v, i=i: prompt.__setitem__(i, v)
    if isinstance(body.get("suffix"), str):
        yield "suffix", body["suffix"], lambda v: body.__setitem__("suffix", v)
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                continue
            content = m.get("content")
            if isinstance(content, str):
                yield f"messages[{i}].content", content, lambda v, m=m: m.__setitem__("content", v)
            elif isinstance(content, list):
                for j, block in enumerate(content):
                    if isinstance(block, dict) and isinstance(block.get("text"), str):
                        yield (f"messages[{i}].content[{j}].text", block["text"],
                               lambda v, b=block: b.__setitem__("text", v))


def body_names(body):
    """Every variable of a request body (prompt, suffix, message contents)."""
    seen = {}
    for _, text, _ in _texts(body):
        for name in names(text):
            seen.setdefault(name, None)
    return list(seen)


def render_body(body, values):
    """A copy of `body` with its templated strings rendered. Raises
    MissingVariable (the first one, naming its field)."""
    rendered = copy.deepcopy(body)
    for field, text, put in list(_texts(rendered)):
        put(render(text, values, field))
    return rendered


def is_template(body):
    """Whether a body has any variable or escape to render."""
    return any(TOKEN.search(text) for _, text, _ in _texts(body))
