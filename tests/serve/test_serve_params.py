"""The ``remove`` syntax of the counterfactual endpoint, parsed."""

from __future__ import annotations

import pytest

from kgrec.serve.params import ParameterError, Removal, parse_removal


@pytest.mark.parametrize("text, kind, value, entry", [
    ("history:112", "history", "112", "history:112"),
    ("history:Star Wars: Episode IV", "history", "Star Wars: Episode IV", "history:Star Wars: Episode IV"),  # colons in a name
    (" relation: has_genre⁻¹ ", "relation", "has_genre⁻¹", "relation:has_genre⁻¹"),
    ("path:0", "path", "0", "path:0"),
    ("told", "told", "", "told"),
    ("edge:81-510", "edge", "81-510", "edge:81-510"),
])
def test_each_form_is_read(text: str, kind: str, value: str, entry: str) -> None:
    removal = parse_removal(text)
    assert removal == Removal(kind, value) and removal.entry == entry


@pytest.mark.parametrize("text, says", [
    ("", "expected history:<item>, relation:<name>, path:<k>, told or edge:<node>-<node>, got ''"),
    ("genre:Drama", "expected history:<item>"),
    ("history:", "expected history:<item>"),
    ("told:1", "expected history:<item>"),
    ("path:-1", "path:<k> needs a path index 0, 1, 2, ..., got 'path:-1'"),
    ("path:٣", "path:<k> needs a path index"),  # a digit, but not an ASCII one
    ("edge:81", "edge:<a>-<b> needs two node ids such as edge:81-510, got 'edge:81'"),
    ("edge:a-b", "edge:<a>-<b> needs two node ids"),
    ("edge:1-2-3", "edge:<a>-<b> needs two node ids"),
])
def test_a_malformed_entry_is_named_with_the_forms_expected(text: str, says: str) -> None:
    with pytest.raises(ParameterError, match="^remove: ") as error:
        parse_removal(text)
    assert says in str(error.value) and error.value.parameter == "remove"
