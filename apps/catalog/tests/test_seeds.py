"""The catalogue against the seed documents it was written from.

Each document is parsed here with a few lines of plain Python (no YAML
library: the project does not depend on one), and every field a document
lists must be in the catalogue, cite that document, and record what it says.
Where the validator enforces a document's limits, they must match exactly.
"""

import re
from pathlib import Path

import pytest

from apps.catalog import ENDPOINTS, field, fields_for
from apps.catalog.schema import format_number

SEEDS = Path(__file__).resolve().parents[3].parent / "shared" / "seeds"


def seed(doc_id: str) -> str:
    found = sorted(SEEDS.glob(f"{doc_id}_*.txt"))
    if not found:
        pytest.fail(f"seed document {doc_id}_*.txt not found in {SEEDS}; the repository is "
                    "expected to be cloned with shared/ beside it")
    return found[0].read_text()


def body_table(text: str) -> dict[str, str]:
    """The "## Body" markdown table of a gateway page: name -> description."""
    section = text.split("## Body", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    table = {}
    for row in rows[2:]:  # after the header and the |---| line
        cells = [cell.strip().replace("\\_", "_") for cell in row.strip("|").split("|")]
        name, _type, _required, description = cells
        table[name] = description
    return table


def described_range(description: str):
    """(minimum, maximum, exclusive_minimum) when a description states a range."""
    if m := re.search(r"\((-?[\d.]+) to (-?[\d.]+)\)", description):
        return float(m[1]), float(m[2]), False
    if m := re.search(r"\((\d+)-(\d+)\)", description):
        return float(m[1]), float(m[2]), False
    if m := re.search(r"\(> (-?[\d.]+)\)", description):
        return float(m[1]), None, True
    return None


def openapi_properties(text: str, schema: str) -> dict[str, dict[str, str]]:
    """property -> {keyword: value} of components.schemas.<schema>.properties.

    Only the keywords directly under each property (indent 10), which is
    where the OpenAPI document states type, minimum, maximum and default.
    """
    lines = text.splitlines()
    start = lines.index("      properties:", lines.index(f"    {schema}:"))
    props, current = {}, None
    for line in lines[start + 1:]:
        if re.match(r"^ {0,6}\S", line):
            break  # the schema's next key (required:) or the next schema
        if m := re.match(r"^ {8}'?([a-z_]+)'?:\s*$", line):
            current = props[m[1]] = {}
        elif (m := re.match(r"^ {10}([\w$]+): (.+)$", line)) and current is not None:
            current[m[1]] = m[2].strip().strip("'")
    return props


def openapi_required(text: str, schema: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("      required:", lines.index(f"    {schema}:"))
    required = []
    for line in lines[start + 1:]:
        if not (m := re.match(r"^ {8}- (\w+)$", line)):
            break
        required.append(m[1])
    return required


def yaml_scalar(text: str):
    if re.fullmatch(r"-?[\d.]+", text):
        return float(text)
    return {"null": None, "true": True, "false": False}[text]


def vendor_constraints(text: str) -> dict[str, dict[str, str]]:
    """field -> {keyword: value} from the vendor page's "Constraints:" lines.

    The page lists each property as: [type], name, Optional|Required,
    [Constraints: key: value key: value ...].
    """
    lines = [line.strip() for line in text.splitlines()]
    body = lines[lines.index("Show optional properties"):lines.index("Authentication")]
    fields = {}
    for i, line in enumerate(body):
        if line in ("Optional", "Required") and re.fullmatch(r"[a-z_]+", body[i - 1]):
            following = body[i + 1] if i + 1 < len(body) else ""
            pairs = re.findall(r"(\w+): (\S+)", following.removeprefix("Constraints:"))
            fields[body[i - 1]] = dict(pairs) if following.startswith("Constraints:") else {}
    return fields


def says(f, doc_id):
    return [s.says for s in f.sources if s.doc == doc_id]


# --- the gateway pages (000 completions, 002 chat) --------------------------------------


@pytest.mark.parametrize(("doc_id", "endpoint"), [("000", "completions"), ("002", "chat")])
def test_it_lists_every_field_of_the_gateway_body_tables(doc_id, endpoint):
    table = body_table(seed(doc_id))
    assert len(table) >= 19, "the Body table was not parsed"
    names = {f.name for f in fields_for(endpoint)}
    assert sorted(set(table) - names) == []
    for name, description in table.items():
        # The document's own words are recorded, so the form can show them.
        assert description in says(field(endpoint, name), doc_id), name


@pytest.mark.parametrize(("doc_id", "endpoint"), [("000", "completions"), ("002", "chat")])
def test_it_enforces_the_ranges_the_gateway_tables_state(doc_id, endpoint):
    stated = {}
    for name, description in body_table(seed(doc_id)).items():
        if found := described_range(description):
            stated[name] = found
    assert stated, "no range was parsed"
    for name, (low, high, exclusive) in stated.items():
        f = field(endpoint, name)
        assert (f.minimum, f.maximum, f.exclusive_minimum) == (low, high, exclusive), name
    if endpoint == "chat":
        assert stated["top_logprobs"] == (0, 20, False)
        assert stated["repetition_penalty"] == (0, None, True)
    assert stated["temperature"] == (0, 2, False)


def test_it_matches_the_plain_text_copy_of_the_completions_page():
    # 001 is 000 as flattened text: each row is name+type+required+description.
    text = seed("001")
    for name, description in body_table(seed("000")).items():
        assert re.search(rf"^{name}(string|integer|float|boolean|object).*{re.escape(description)}",
                         text, re.M), name


# --- OpenAI's schema (003) ----------------------------------------------------------------


def test_it_lists_every_property_of_openais_completion_request():
    properties = openapi_properties(seed("003"), "CreateCompletionRequest")
    assert "temperature" in properties and "user" in properties, "the YAML was not parsed"
    names = {f.name for f in fields_for("completions")}
    assert sorted(set(properties) - names) == []
    for name in properties:
        assert says(field("completions", name), "003"), f"{name} does not cite 003"


def test_it_records_and_enforces_openais_ranges_and_defaults():
    properties = openapi_properties(seed("003"), "CreateCompletionRequest")
    checked = 0
    for name, keywords in properties.items():
        f = field("completions", name)
        (recorded,) = says(f, "003")
        for keyword in ("minimum", "maximum", "default"):
            if keyword in keywords:
                assert f"{keyword}: {keywords[keyword]}" in recorded, (name, keyword)
                checked += 1
        # Every limit 003 states is the one enforced (the module docstring's choice).
        if "minimum" in keywords or "maximum" in keywords:
            assert f.enforced_source == "003", name
            assert not f.exclusive_minimum
        if "minimum" in keywords:
            assert f.minimum == float(keywords["minimum"]), name
        if "maximum" in keywords:
            assert f.maximum == float(keywords["maximum"]), name
        if "nullable" in keywords or "type" in keywords:  # not a $ref
            assert f.nullable == (keywords.get("nullable") == "true"), name
        # The completions form shows OpenAI's defaults; prompt is required, so its
        # "<|endoftext|>" default is recorded but not shown.
        if "default" in keywords and name != "prompt":
            assert f.default == yaml_scalar(keywords["default"]), name
    assert checked >= 20
    logprobs = field("completions", "logprobs")
    assert (logprobs.minimum, logprobs.maximum) == (0, 5)
    assert field("completions", "n").maximum == 128
    assert field("completions", "temperature").maximum == 2


def test_it_records_openais_stop_limits_and_int64_seed():
    text = seed("003")
    stop = text.split("    StopConfiguration:", 1)[1].split("\n    Chat", 1)[0]
    min_items = int(re.search(r"minItems: (\d+)", stop)[1])
    max_items = int(re.search(r"maxItems: (\d+)", stop)[1])
    assert (min_items, max_items) == (1, 4)
    for endpoint in ENDPOINTS:
        f = field(endpoint, "stop")
        assert (f.min_items, f.max_items) == (min_items, max_items)
        assert f"maxItems: {max_items}" in says(f, "003")[0]

    assert openapi_properties(text, "CreateCompletionRequest")["seed"]["format"] == "int64"
    seed_field = field("completions", "seed")
    assert (seed_field.minimum, seed_field.maximum) == (-(2**63), 2**63 - 1)


def test_it_marks_openais_required_properties_as_required():
    required = openapi_required(seed("003"), "CreateCompletionRequest")
    assert required == ["model", "prompt"]
    assert {f.name for f in fields_for("completions") if f.required} == set(required)
    assert {f.name for f in fields_for("chat") if f.required} == {"model", "messages"}


# --- the vendor's constraints (004) ---------------------------------------------------------


def test_it_records_every_vendor_constraint():
    constraints = vendor_constraints(seed("004"))
    assert constraints["n"] == {"minimum": "1", "default": "1"}, "the page was not parsed"
    assert {"model", "prompt", "stream_options", "seed"} <= set(constraints)
    for name, keywords in constraints.items():
        f = field("completions", name)
        if not keywords:
            continue
        (recorded,) = says(f, "004")
        for keyword, value in keywords.items():
            assert f"{keyword}: {value}" in recorded, (name, keyword)


def test_it_enforces_the_vendor_limits_only_where_they_agree_with_openai():
    constraints = vendor_constraints(seed("004"))
    assert constraints["max_tokens"] == {"minimum": "1"}
    # Disagreement: the vendor's max_tokens minimum is 1, OpenAI's 0; 0 is enforced.
    assert field("completions", "max_tokens").minimum == 0
    assert field("completions", "max_tokens").enforced_source == "003"
    # Agreement: temperature 0..2, n >= 1, stop at least one item.
    temperature = field("completions", "temperature")
    assert float(constraints["temperature"]["maximum"]) == temperature.maximum
    assert float(constraints["n"]["minimum"]) == field("completions", "n").minimum
    assert int(constraints["stop"]["minItems"]) == field("completions", "stop").min_items


def test_it_formats_documented_numbers_like_the_documents():
    assert format_number(2.0) == "2"
    assert format_number(-2) == "-2"
    assert format_number(0.5) == "0.5"
