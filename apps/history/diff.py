"""A word-level diff of two outputs (difflib, the standard library's).

One diff for every page that shows one (compare's panes, the playground's
candidates, a replay against its original): rendered by
templates/history/_diff.html from `diff_context()`.
"""

import difflib
import re

# Words with the whitespace after them (and leading whitespace alone), so
# the diff keeps the text's spacing and a changed word reads as one change.
TOKENS = re.compile(r"\S+\s*|\s+")
# SequenceMatcher is quadratic in words (autojunk off, so common words still
# match): 1.6 s for 5,000 words, 22 s for 20,000. The diff runs after every
# n>=2 run and replay, so it looks at the first MAX_WORDS words of each side
# and says so.
MAX_WORDS = 5_000


def word_diff(a, b, limit=None):
    """[(op, text)] that turns `a` into `b`: op is "equal", "delete" (only in
    a) or "insert" (only in b); a replaced run is a delete then an insert.
    With a limit, only the first `limit` words of each side are compared."""
    old, new = TOKENS.findall(a or "")[:limit], TOKENS.findall(b or "")[:limit]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    segments = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("equal", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("delete", "".join(old[i1:i2])))
        if j2 > j1:
            segments.append(("insert", "".join(new[j1:j2])))
    return segments


def diff_context(a, b, label_a="A", label_b="B"):
    """The context of templates/history/_diff.html for texts a and b."""
    segments = word_diff(a, b, MAX_WORDS)
    longest = max(len(TOKENS.findall(a or "")), len(TOKENS.findall(b or "")))
    return {
        "segments": segments,
        "identical": a == b,
        "truncated_after": MAX_WORDS if longest > MAX_WORDS else None,
        "label_a": label_a,
        "label_b": label_b,
        "removed": sum(len(t.split()) for op, t in segments if op == "delete"),
        "added": sum(len(t.split()) for op, t in segments if op == "insert"),
    }


def choice_text(run, index):
    """The text of one choice of a run's stored response ("" if absent)."""
    for choice in (run.response or {}).get("choices", []):
        if choice.get("index", 0) != index:
            continue
        if run.endpoint == "chat":
            content = (choice.get("message") or {}).get("content") or ""
            if isinstance(content, list):  # content blocks: their text parts
                content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
            return content
        return choice.get("text") or ""
    return ""
