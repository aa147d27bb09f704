"""Test cases from CSV and JSONL: every bad row named by its line, nothing
half-imported."""

import pytest

from apps.cases.io import ImportRefused, parse_csv, parse_jsonl, to_csv, to_jsonl


def test_it_reads_csv_rows_with_an_expected_column():
    rows = parse_csv(b'city,country,expected\nParis,France,"yes, it is"\nLyon,France,\n')
    assert rows == [
        {"city": "Paris", "country": "France", "expected": "yes, it is"},
        {"city": "Lyon", "country": "France", "expected": ""},
    ]


def test_it_refuses_a_csv_with_bad_rows_naming_their_lines():
    raw = b"city,country\nParis,France\nLyon\nNice,France,extra\n\nRome,Italy\n"
    with pytest.raises(ImportRefused) as e:
        parse_csv(raw)
    assert e.value.errors == [
        "line 3: 1 fields, the header has 2",
        "line 4: 3 fields, the header has 2",
    ]


def test_it_refuses_a_csv_header_that_is_not_variable_names():
    with pytest.raises(ImportRefused) as e:
        parse_csv(b"1st,city\na,b\n")
    assert e.value.errors[0].startswith('line 1: column "1st" is not a variable name')


def test_it_counts_lines_inside_quoted_values():
    with pytest.raises(ImportRefused) as e:
        parse_csv(b'q,expected\n"two\nlines",x\nbad\n')
    assert e.value.errors == ["line 4: 1 fields, the header has 2"]


def test_it_reads_jsonl_and_refuses_bad_lines():
    assert parse_jsonl(b'{"q": "hi", "n": 2}\n\n{"q": "yo", "expected": "x"}\n') == [
        {"q": "hi", "n": "2"}, {"q": "yo", "expected": "x"},
    ]
    with pytest.raises(ImportRefused) as e:
        parse_jsonl(b'{"q": "ok"}\n{"q": \n[1]\n{"q": null}\n')
    assert [err.split(":")[0] for err in e.value.errors] == ["line 2", "line 3", "line 4"]


def test_it_refuses_an_empty_file():
    with pytest.raises(ImportRefused, match="no test cases"):
        parse_csv(b"q,expected\n")


def test_it_exports_what_it_imports():
    rows = [{"q": "a,b", "expected": "x"}, {"q": 'say "hi"'}]
    assert parse_csv(to_csv(rows, ["q"]).encode()) == [
        {"q": "a,b", "expected": "x"}, {"q": 'say "hi"', "expected": ""},
    ]
    assert parse_jsonl(to_jsonl(rows).encode()) == rows
