"""Fuzz the other file readers: KGE triples, YAML run configs, phrase tables and saved rules files.

Same corruptions and reporting as ``test_fuzz_parsers.py`` (shared in ``tests/data/fuzzing.py``), plus
structured documents drawn by Hypothesis. The contracts:

* ``load_triples`` (train/valid/test.txt, ``kgrec kge train``): a TripleSplit holding exactly the files' rows,
  or a DatasetError naming the file (and an existing line);
* ``load_run_config`` / ``from_yaml`` / ``read_yaml_mapping``: a config whose every field has its declared type
  (and the values written, for documents valid by construction), or a one-line ConfigError starting with the
  file name (and ``file:line:`` where a line applies);
* ``PhraseTable.from_file`` / ``from_yaml_text`` / ``load``: a table of non-empty phrases, or such a ConfigError;
* ``RuleSet.load``: rules with non-negative counts, finite measures and KG-relation patterns, or a DatasetError
  naming the file (and the line of a JSON syntax error).

Never another exception type, never a hang. ``load_split`` is fuzzed in ``test_fuzz_parsers.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tempfile
import types
import typing
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from kgrec.config import RunConfig, from_yaml, load_run_config, read_yaml_mapping
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.data.triples import TRIPLE_PARTS, TripleSplit, load_triples
from kgrec.errors import ConfigError, DatasetError
from kgrec.explain.phrases import PhraseTable, RelationPhrase
from kgrec.explain.rules import RuleSet
from tests.data.fuzzing import (
    TOKENS,
    Contents,
    Corruption,
    FileSet,
    check_error,
    clean,
    corrupt,
    corruptions,
    fuzz_settings,
    load_files,
    record,
    replace_line,
    report_generated_inputs,  # noqa: F401 - autouse: prints the counts at the end of the module
    time_limit,
    write_files,
)

# ---- KGE triples ---------------------------------------------------------------------------------------------

TRIPLE_FILES: FileSet = {
    ("kge", "train.txt"): (
        b"usa\tallied with\tuk\nuk\tallied with\tfrance\nfrance\ttrades_with\tusa\nusa\tembassy\tchina\n"
        b"brazil\ttrades_with\tbrazil\n",  # a self loop
        b"\t",
    ),
    ("kge", "valid.txt"): (b"usa\tallied with\tfrance\n", b"\t"),
    ("kge", "test.txt"): (b"china\tembassy\tusa\r\n", b"\t"),
}


def expected_rows(data: bytes) -> list[tuple[str, str, str]]:
    """The (head, relation, tail) rows a triples file holds: non-blank lines, fields stripped."""
    lines = re.split(r"\r?\n", data.decode("utf-8-sig"))
    return [tuple(field.strip() for field in line.split("\t")) for line in lines if line.strip()]  # type: ignore[misc]


def check_triples(split: TripleSplit, contents: Contents) -> None:
    """Every part holds exactly its file's rows, in order, on consistent entity and relation ids."""
    entities, relations = split.entities.raw_ids.tolist(), split.relations.raw_ids.tolist()
    assert len(set(entities)) == len(entities) and all(isinstance(e, str) and e.strip() for e in entities)
    assert len(set(relations)) == len(relations) and all(isinstance(r, str) and r.strip() for r in relations)
    seen_entities, seen_relations = set(), set()
    for part, tensor in zip(TRIPLE_PARTS, split.parts):
        assert tensor.ndim == 2 and tensor.shape[1] == 3
        rows = [(entities[h], relations[r], entities[t]) for h, r, t in tensor.tolist()]
        assert rows == expected_rows(contents[("kge", f"{part}.txt")] or b""), f"{part}.txt was not read as written"
        seen_entities |= {h for h, _, _ in rows} | {t for _, _, t in rows}
        seen_relations |= {r for _, r, _ in rows}
    assert seen_entities == set(entities) and seen_relations == set(relations), "ids that no triple uses"


@pytest.mark.fuzz
@fuzz_settings(0.6)
@given(changes=st.lists(corruptions(list(TRIPLE_FILES)), min_size=1, max_size=3))
def test_fuzz_load_triples(changes: list[Corruption]) -> None:
    contents = corrupt(TRIPLE_FILES, changes)
    split = load_files("load_triples", contents, lambda root: load_triples(root / "kge"))
    if not isinstance(split, DatasetError):
        check_triples(split, contents)


def test_tiny_triples_load(tmp_path: Path) -> None:
    write_files(tmp_path, clean(TRIPLE_FILES))
    split = load_triples(tmp_path / "kge")
    check_triples(split, clean(TRIPLE_FILES))
    assert split.summary() == {"entities": 5, "relations": 3, "train": 5, "valid": 1, "test": 1}
    assert "allied with" in split.relations.raw_ids.tolist()  # a relation with a space


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"usa\tallied with", "found 2 field(s)"),
        (b"usa\tallied with\tfrance\textra", "found 4 field(s)"),
        (b"usa\t \tfrance", "relation must not be empty"),
        (b"usa,allied with,france", "found 1 field(s)"),
        (b"usa\tallied\xe9\tfrance", "not valid utf-8"),  # a Latin-1 byte in a UTF-8 file
        (b"usa\tallied\rwith\tfrance", "stray carriage return"),
    ],
)
def test_bad_triple_line_names_file_and_line(line: bytes, expected: str, tmp_path: Path) -> None:
    contents = replace_line(TRIPLE_FILES, ("kge", "train.txt"), 3, line)
    write_files(tmp_path, contents)
    with pytest.raises(DatasetError) as info:
        load_triples(tmp_path / "kge")
    assert (Path(info.value.path).name, info.value.line) == ("train.txt", 3) and expected in str(info.value)
    assert str(info.value).startswith(f"{tmp_path / 'kge' / 'train.txt'}:3: ")


# ---- YAML shared by configs and phrase tables ------------------------------------------------------------------

YAML_TOKENS = [
    "1.0e400", ".inf", "-.inf", ".nan", "2001-02-30", "2001-12-14 99:59:43", "2001-12-14t21:59:43.10-99:00",
    "9" * 5000, "0x" + "f" * 5000, "0b" + "1" * 20000, "1" + "0" * 400, "&a [*a]", "*undefined", "[" * 2000,
    "{a: 1, a: 2}", "!!python/object:os.system ls", "!!binary zzz", "!!int abc", "!!float x", "!!set {a, b}",
    "!!omap [a: 1]", "? [a]", "~", "null", "yes", "on", "0o17", "1:30", "'unterminated", '"\\x"', "- a",
    "a: b: c", "|", ">", "@", "`", "%YAML 1.1", "---", "...", "\t", "<<: *a", "{1: 2, null: 3, 2001-01-01: 4}",
    "[[1, 2], [3]]", "\x00", "\x1b", "\ufeff",
]
YAML_CHANGES = st.sampled_from(TOKENS + YAML_TOKENS).map(lambda token: token.encode("utf-8", "surrogatepass"))


@st.composite
def yaml_corruptions(draw: st.DrawFn, files: FileSet) -> list[Corruption]:
    """One to three byte-level changes of a YAML file, half of them replacing a value by a tricky token."""
    changes = draw(st.lists(corruptions(list(files)), min_size=1, max_size=3))
    return [
        change._replace(op="replace_field", payload=draw(YAML_CHANGES)) if draw(st.booleans()) else change
        for change in changes
    ]


def check_config_error(error: ConfigError, source: str, data: bytes | None) -> None:
    """A ConfigError is one line starting with the file name; a ``file:N:`` prefix names an existing line."""
    message = str(error)
    assert message.startswith(source), f"ConfigError does not start with {source}: {message}"
    assert "\n" not in message, f"a ConfigError message is one line: {message!r}"
    assert len(message) < 1000, f"a ConfigError message of {len(message)} characters"
    line = re.match(re.escape(source) + r":(\d+): ", message)
    if line is not None:
        assert data is not None and 1 <= int(line.group(1)) <= data.count(b"\n") + 1, message


# ---- run configs ---------------------------------------------------------------------------------------------

CONFIG_FILES: FileSet = {
    ("cfg", "run.yaml"): (
        b"data:\n  name: ml100k\n  threshold: 4.0\n  keep_unlinked_items: false\n"
        b"split:\n  scheme: ratio\n  ratios: [0.7, 0.1, 0.2]\n  seed: 7\n  split_dir: null\n"
        b"model:\n  model: kgrec\n  dim: 16\n  aggregator: bi\n"
        b"train:\n  epochs: 3\n  lr: 0.01\n  metric: ndcg@20\n"
        b"eval:\n  ks: [10, 20]\n"
        b"explain:\n  max_len: 3\n  rule_weight: 0.5\n"
        b"pipeline:\n  compare: &models [pop, bprmf]\n  report: true\n",
        b": ",
    ),
}
SECTIONS = {f.name: typing.get_type_hints(RunConfig)[f.name] for f in dataclasses.fields(RunConfig)}
FIELD_HINTS = {name: typing.get_type_hints(cls) for name, cls in SECTIONS.items()}
SAFE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**400), 10**400), st.floats(), SAFE_TEXT,
    st.sampled_from(["ml100k", "ratio", "kgrec", "ndcg@20", "pop", "1e3", "yes", "null"]),
)
ANY_VALUE = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(SCALARS, inner, max_size=3)),
    max_leaves=6,
)


def valid_value(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a config field's type (floats may be written as ints); counts are positive, as checks require."""
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(1, 10**12)
    if hint is float:
        return st.one_of(st.floats(allow_nan=False), st.integers(-(10**6), 10**6))
    if hint is str:
        return SAFE_TEXT
    args = typing.get_args(hint)
    if type(None) in args:
        return st.one_of(st.none(), valid_value(next(a for a in args if a is not type(None))))
    if len(args) == 2 and args[1] is Ellipsis:
        return st.lists(valid_value(args[0]), min_size=1, max_size=4)
    return st.tuples(*(valid_value(a) for a in args)).map(list)


def converted(value: Any, hint: Any) -> Any:
    """What the config holds for a valid written value: floats for ints in float fields, tuples for lists."""
    if isinstance(value, list):
        if typing.get_origin(hint) is types.UnionType:  # tuple[...] | None: the tuple
            hint = next(h for h in typing.get_args(hint) if typing.get_origin(h) is tuple)
        args = typing.get_args(hint)
        hints = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        return tuple(converted(v, h) for v, h in zip(value, hints))
    if float in (hint, *typing.get_args(hint)) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


VALID_SECTIONS = st.fixed_dictionaries(
    {},
    optional={
        section: st.fixed_dictionaries({}, optional={key: valid_value(hint) for key, hint in hints.items()})
        for section, hints in FIELD_HINTS.items()
    },
)
KEYS = st.one_of(st.sampled_from([k for hints in FIELD_HINTS.values() for k in hints]), SCALARS)
ANY_SECTIONS = st.dictionaries(
    st.one_of(st.sampled_from(sorted(SECTIONS)), SCALARS),
    st.one_of(st.dictionaries(KEYS, st.one_of(ANY_VALUE, SAFE_TEXT), max_size=4), ANY_VALUE),
    max_size=4,
)


def check_config(config: RunConfig) -> None:
    """Every field of every section has its declared type."""
    assert isinstance(config, RunConfig)
    for section, hints in FIELD_HINTS.items():
        for key, hint in hints.items():
            value = getattr(getattr(config, section), key)
            assert has_type(value, hint), f"{section}.{key} = {value!r} is not a {hint}"


def has_type(value: Any, hint: Any) -> bool:
    args = typing.get_args(hint)
    if hint in (bool, int, float, str):
        return type(value) is hint
    if type(None) in args:
        return value is None or any(has_type(value, a) for a in args if a is not type(None))
    if not isinstance(value, tuple):
        return False
    if len(args) == 2 and args[1] is Ellipsis:
        return len(value) > 0 and all(has_type(v, args[0]) for v in value)
    return len(value) == len(args) and all(has_type(v, a) for v, a in zip(value, args))


CONFIG_READERS: dict[str, Callable[[Path], Any]] = {
    "load_run_config": load_run_config,
    "from_yaml": lambda path: from_yaml(SECTIONS["split"], path, "split"),
    "read_yaml_mapping": read_yaml_mapping,
}


def run_config_reader(reader: str, data: bytes) -> Any:
    """Write ``data`` as a config file and read it with ``reader``; check the result or the ConfigError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.yaml"
        path.write_bytes(data)
        try:
            with time_limit(20):
                result = CONFIG_READERS[reader](path)
        except ConfigError as error:
            record(f"config: {reader}", "ConfigError")
            check_config_error(error, str(path), data)
            return error
    record(f"config: {reader}", "loaded")
    if isinstance(result, RunConfig):
        check_config(result)
    elif reader == "from_yaml":
        assert isinstance(result, SECTIONS["split"])
    else:
        assert isinstance(result, dict)
    return result


def dump(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


@pytest.mark.fuzz
@fuzz_settings(0.1)
@given(changes=yaml_corruptions(CONFIG_FILES))
@pytest.mark.parametrize("reader", sorted(CONFIG_READERS))
def test_fuzz_corrupted_config_file(reader: str, changes: list[Corruption]) -> None:
    run_config_reader(reader, corrupt(CONFIG_FILES, changes)[("cfg", "run.yaml")] or b"")


@pytest.mark.fuzz
@fuzz_settings(0.2)
@given(document=ANY_SECTIONS)
def test_fuzz_config_documents(document: dict[Any, Any]) -> None:
    run_config_reader("load_run_config", dump(document))


@pytest.mark.fuzz
@fuzz_settings(0.2)
@given(document=VALID_SECTIONS)
@example(document={"pipeline": {"baseline_set": ["", "", ""]}})  # a list in a tuple[...] | None field (CI found it)
@example(document={"train": {"metric": "ndcg@5"}})  # refused by a check across sections (eval.ks)
def test_fuzz_valid_config_documents_load_as_written(document: dict[str, dict[str, Any]]) -> None:
    """Values of the right types load as written, unless a check of the config refuses one of them by name."""
    config = run_config_reader("load_run_config", dump(document))
    if isinstance(config, ConfigError):
        named = [(f"{section}.{key}", f"{section}: {key}:") for section, values in document.items() for key in values]
        assert any(dotted in str(config) or checked in str(config) for dotted, checked in named), f"a config of valid types was refused: {config}"
        return
    for section, values in document.items():
        for key, value in values.items():
            assert getattr(getattr(config, section), key) == converted(value, FIELD_HINTS[section][key])


def config_error(text: str | bytes, tmp_path: Path) -> ConfigError:
    path = tmp_path / "run.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    check_config_error(info.value, str(path), path.read_bytes())
    return info.value


BOMB = "".join(f"  - &{a} [{', '.join([f'*{b}' if b else '1'] * 9)}]\n" for a, b in zip("abcdefgh", ["", *"abcdefg"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data:\n  threshold: 2001-02-30\n", ":2: not valid YAML (cannot read this value (day is out of range"),
        ("split:\n  seed: " + "9" * 5000 + "\n", ":2: not valid YAML (cannot read this value (Exceeds the limit"),
        ("data:\n  threshold: 1" + "0" * 400 + "\n", "run.yaml: data.threshold: number <a 1329-bit integer> is too"),
        ("data:\n  threshold: 0b" + "1" * 20000 + "\n", "data.threshold: number <a 20000-bit integer> is too large"),
        ("data: " + "[" * 3000 + "]" * 3000 + "\n", "run.yaml: not valid YAML (nested too deeply)"),
        ("data:\n  1: x\n  name: ml100k\n", "run.yaml: data: unknown key 1;"),
        ("data: ml100k\nsplit: {seed: 1}\n", "run.yaml: data: expected a mapping of keys to values, got 'ml100k'"),
        ("null: 1\ndata: {}\n", "run.yaml: unknown section None;"),
        ("data:\n  name: x\x00\n", ":2: not valid YAML (character U+0000 is not allowed"),
        (b"data:\n  name: caf\xe9\n", "run.yaml:2: byte 0xe9 is not valid UTF-8 text"),
        ("data:\n  name: [unclosed\n", "run.yaml:3: not valid YAML ("),
        ("pipeline:\n  compare:\n" + BOMB + "data:\n  threshold: *h\n", "data.threshold: expected a number, got [["),
    ],
    ids=["bad-date", "5000-digits", "float-overflow", "binary-overflow", "deep-nesting", "int-key",
         "section-not-mapping", "null-section", "nul", "latin-1", "unclosed", "alias-bomb"],
)
def test_config_errors_name_file_and_line_or_key(text: str | bytes, expected: str, tmp_path: Path) -> None:
    with time_limit(10):
        error = config_error(text, tmp_path)
    assert expected in str(error)


def test_dotted_override_with_an_impossible_date_is_a_config_error() -> None:
    from kgrec.config import with_overrides

    with pytest.raises(ConfigError, match=r"^--set 'split.seed=2001-02-30':1: not valid YAML"):
        with_overrides(RunConfig(), ["split.seed=2001-02-30"])


def test_config_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the config file"):
        load_run_config(tmp_path)


# ---- phrase tables -------------------------------------------------------------------------------------------

PHRASE_FILES: FileSet = {
    ("tables", "toy.yaml"): (
        b"dataset: toy\nrelations:\n"
        b"  directed_by:\n    noun: director\n    forward: was directed by\n    inverse: directed\n"
        b"    tail_person: true\n"
        b"  film.film.genre:\n    noun: genre\n    forward: has genre\n    inverse: is the genre of\n"
        b"    same: same genre\n    shared: co-genre\n    head_person: false\n",
        b": ",
    ),
}
PHRASE_KEYS = ("noun", "forward", "inverse", "same", "shared", "tail_person", "head_person")
PHRASE_ENTRY = st.dictionaries(
    st.one_of(st.sampled_from(PHRASE_KEYS), SCALARS), st.one_of(SAFE_TEXT, st.booleans(), ANY_VALUE), max_size=7
)
PHRASE_DOCUMENTS = st.dictionaries(
    st.one_of(st.sampled_from(["dataset", "relations"]), SCALARS),
    st.one_of(
        st.dictionaries(st.one_of(SAFE_TEXT, SCALARS), st.one_of(PHRASE_ENTRY, ANY_VALUE), max_size=3), ANY_VALUE
    ),
    max_size=3,
)


def check_table(table: PhraseTable) -> None:
    assert isinstance(table, PhraseTable) and isinstance(table.dataset, str)
    for raw, entry in table.entries.items():
        assert isinstance(raw, str) and isinstance(entry, RelationPhrase) and not entry.fallback
        for text in (entry.noun, entry.forward, entry.inverse, entry.same, entry.shared):
            assert isinstance(text, str) and text.strip() == text and text, f"phrase {text!r} of {raw!r}"
        assert isinstance(entry.tail_person, bool) and isinstance(entry.head_person, bool)


def run_phrase_table(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "toy.yaml"
        path.write_bytes(data)
        try:
            with time_limit(20):
                table = PhraseTable.from_file(path)
        except ConfigError as error:
            record("phrase table: from_file", "ConfigError")
            check_config_error(error, str(path), data)
        else:
            record("phrase table: from_file", "loaded")
            check_table(table)


@pytest.mark.fuzz
@fuzz_settings(0.2)
@given(changes=yaml_corruptions(PHRASE_FILES))
def test_fuzz_corrupted_phrase_table(changes: list[Corruption]) -> None:
    run_phrase_table(corrupt(PHRASE_FILES, changes)[("tables", "toy.yaml")] or b"")


@pytest.mark.fuzz
@fuzz_settings(0.2)
@given(document=PHRASE_DOCUMENTS)
def test_fuzz_phrase_table_documents(document: dict[Any, Any]) -> None:
    run_phrase_table(dump(document))


SHIPPED = sorted(
    table.name.removesuffix(".yaml") for table in resources.files("kgrec.explain").joinpath("phrase_tables").iterdir()
)


@pytest.mark.fuzz
@fuzz_settings(0.2)
@given(name=st.one_of(st.text(max_size=20), st.sampled_from(SHIPPED), st.integers(1, 20_000).map(lambda n: "a" * n)))
def test_fuzz_phrase_table_load_by_dataset_name(name: str) -> None:
    """Any dataset name (a user's directory path, say) gives its shipped table or a fallback-only one."""
    with time_limit(20):
        table = PhraseTable.load(name)
    record("phrase table: load", "loaded")
    check_table(table)
    assert bool(table.entries) == (name in SHIPPED) and table.dataset == name


def test_phrase_table_errors_are_config_errors_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "toy.yaml"
    for data, expected in [
        (b"relations:\n  r: {noun: caf\xe9}\n", f"{path}:2: byte 0xe9 is not valid UTF-8 text"),
        (b"relations:\n  r: {noun: x, 1: y}\n", "unknown key(s) [1]"),
        (b"1: x\nrelations: {}\n", "unknown top-level key(s) [1]"),
        (b"dataset: [a]\nrelations: {}\n", "'dataset' must be a name, got ['a']"),
        (b"relations:\n  r:\n    noun: 2001-02-30\n", f"{path}:3: not valid YAML (cannot read this value"),
        (b"relations:\n  r: " + b"[" * 3000, f"{path}: not valid YAML (nested too deeply)"),
    ]:
        path.write_bytes(data)
        with pytest.raises(ConfigError) as info:
            PhraseTable.from_file(path)
        assert str(info.value).startswith(str(path)) and expected in str(info.value)
    with pytest.raises(ConfigError, match="cannot read the phrase table"):
        PhraseTable.from_file(tmp_path)


def test_phrase_table_alias_bomb_fails_fast() -> None:
    """Printing a value of nested aliases in full would take 9^8 items; the error shows a short repr."""
    bomb = "relations:\n  r:\n" + BOMB.replace("  - ", "    - ")
    with time_limit(10), pytest.raises(ConfigError, match=r"^toy.yaml: 'dataset' must be a name, got \[\[\["):
        PhraseTable.from_yaml_text(bomb + "dataset: *h\n", "toy.yaml")
    with time_limit(10), pytest.raises(ConfigError, match=r"^toy.yaml: relation 'r': expected a mapping .*, got \[\["):
        PhraseTable.from_yaml_text(bomb, "toy.yaml")


def test_very_long_dataset_name_gets_a_fallback_table() -> None:
    assert PhraseTable.load("a" * 5000).entries == {}


# ---- saved rules files ---------------------------------------------------------------------------------------


def rules_graph() -> CollaborativeKG:
    """Two users, two items linked to e1 / e2, both directed by e3 (relations interact, directed_by, inverses)."""
    interactions = pd.DataFrame({"user": ["u1", "u2", "u1"], "item": ["i1", "i2", "i2"]})
    triples = pd.DataFrame({"head": ["e1", "e2"], "relation": ["directed_by"] * 2, "tail": ["e3", "e3"]})
    links = pd.DataFrame({"item": ["i1", "i2"], "entity": ["e1", "e2"]})
    dataset = RecDataset.from_frames("five", interactions, triples, links)
    return CollaborativeKG.build(dataset, dataset.interactions)


GRAPH = rules_graph()
RULES_DOCUMENT = {
    "format": "kgrec-rules", "version": 2, "n_items": 2, "n_coliked": 2, "base_rate": 1.0,
    "relation_names": list(GRAPH.relation_names),
    "rules": [
        {"pattern": [1, 3], "support": 2, "connected": 2, "confidence": 1.0, "head_coverage": 1.0, "lift": 1.0,
         "test_precision": None, "pattern_names": ["directed_by", "directed_by\u207b\u00b9"], "constant": None,
         "popularity_lift": 1.0, "p_value": 0.26},
        {"pattern": [1], "support": 0, "connected": 0, "confidence": 0.0, "head_coverage": 0.0, "lift": 0.0,
         "popularity_lift": None, "p_value": None},
    ],
    "constant_rules": [
        {"pattern": [1, 3], "support": 2, "connected": 2, "confidence": 1.0, "head_coverage": 1.0, "lift": 1.0,
         "constant": 4, "popularity_lift": 1.0, "p_value": 0.26, "constant_name": "entity e3"},
    ],
}
RULES_FILES: FileSet = {
    ("run", "rules.json"): (json.dumps(RULES_DOCUMENT, indent=1, ensure_ascii=False).encode(), b", "),
}
JSON_TOKENS = [
    "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "9" * 5000, "[" * 100_000, "null", "true", '"1"', "{}",
    "[]", "-1", "1.5", "3.0", "0", "[0]", "[2]", "[1, 3]", "[-1]", '["1"]', "[1e400]", "[true]", '"x"', "1 2",
    "\"\\ud800\"", '{"pattern": [1]}',
]
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=5,
)


@st.composite
def rules_files(draw: st.DrawFn) -> bytes:
    """A saved rules file with some fields replaced or deleted, then maybe corrupted byte-wise."""
    document = json.loads(json.dumps(RULES_DOCUMENT))
    for _ in range(draw(st.integers(0, 3))):
        rules = document.get("rules")
        in_rule = isinstance(rules, list) and all(isinstance(rule, dict) for rule in rules) and draw(st.booleans())
        target = rules[draw(st.integers(0, len(rules) - 1))] if in_rule and rules else document
        key = draw(st.sampled_from(sorted(target) + ["extra"]))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            tricky = st.sampled_from([[1], [3], [2], [0], [1, 1, 3], 2, 0, -1, 1e300, 10**400, [10**400]])
            target[key] = draw(st.one_of(JSON_VALUES, tricky))
    data = json.dumps(document, indent=1).encode()
    files: FileSet = {("run", "rules.json"): (data, b", ")}
    changes = draw(st.lists(corruptions(list(files)), max_size=2))
    tokens = st.sampled_from(JSON_TOKENS).map(str.encode)
    changes = [c._replace(op="replace_field", payload=draw(tokens)) if draw(st.booleans()) else c for c in changes]
    return corrupt(files, changes)[("run", "rules.json")] or b""


def check_rules(rules: RuleSet, graph: CollaborativeKG | None) -> None:
    """Loaded rules are usable: counts are non-negative ints, measures finite, patterns KG relations."""
    assert isinstance(rules, RuleSet)
    every = (*rules.rules, *rules.constants)
    counts = (rules.n_items, rules.n_coliked, *(c for r in every for c in (r.support, r.connected)))
    for count in counts:
        assert type(count) is int and count >= 0
    for value in (rules.base_rate, *(m for r in every for m in (r.confidence, r.head_coverage, r.lift))):
        assert type(value) is float and math.isfinite(value)
    for value in (m for r in every for m in (r.popularity_lift, r.p_value) if m is not None):
        assert type(value) is float and math.isfinite(value)
    for rule in rules.constants:
        assert len(rule.pattern) == 2 and type(rule.constant) is int and rule.constant >= 0
        assert graph is None or graph.n_users <= rule.constant < graph.num_nodes
    for rule in every:
        assert rule.pattern and all(type(r) is int and r >= 0 for r in rule.pattern)
        if rules.relation_names:
            half = len(rules.relation_names) // 2
            assert all(r < len(rules.relation_names) and r not in (0, half) for r in rule.pattern)
    if graph is not None:
        assert rules.n_items == graph.n_items
        assert all(set(rule.pattern) <= set(graph.kg_relations()) for rule in every)


@pytest.mark.fuzz
@fuzz_settings(0.4)
@given(data=rules_files(), with_graph=st.booleans())
def test_fuzz_rules_file(data: bytes, with_graph: bool) -> None:
    graph = GRAPH if with_graph else None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_files(root, {("run", "rules.json"): data})
        try:
            with time_limit(20):
                rules = RuleSet.load(root / "run" / "rules.json", graph)
        except DatasetError as error:
            record("rules file: RuleSet.load", "DatasetError")
            check_error(error, root, {("run", "rules.json"): data})
        else:
            record("rules file: RuleSet.load", "loaded")
            check_rules(rules, graph)


def test_tiny_rules_file_loads(tmp_path: Path) -> None:
    write_files(tmp_path, clean(RULES_FILES))
    rules = RuleSet.load(tmp_path / "run" / "rules.json", GRAPH)
    check_rules(rules, GRAPH)
    assert [rule.pattern for rule in rules.rules] == [(1, 3), (1,)]
    assert rules.label((1, 3)) == "directed_by → directed_by⁻¹"
    assert [rule.key for rule in rules.constants] == [((1, 3), 4)]
    assert rules.label((1, 3), 4) == "directed_by → entity e3 → directed_by⁻¹"


def rules_error(document: Any, tmp_path: Path, graph: CollaborativeKG | None = None) -> DatasetError:
    path = tmp_path / "rules.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        RuleSet.load(path, graph)
    assert info.value.path == str(path) and str(info.value).startswith(f"{path}:")
    return info.value


def with_rule(**changes: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(RULES_DOCUMENT))
    document["rules"][0].update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (with_rule(support=float("inf")), "support must be a non-negative integer, got inf"),
        (with_rule(pattern=[1e400]), "relation id must be a non-negative integer, got inf"),
        (with_rule(pattern=[True]), "relation id must be a non-negative integer, got True"),
        (with_rule(pattern=["1"]), "relation id must be a non-negative integer, got '1'"),
        (with_rule(pattern=[2]), "pattern [2] is empty or has ids that are not KG relations"),  # interact⁻¹
        (with_rule(support=-1), "support must be a non-negative integer, got -1"),
        ({**RULES_DOCUMENT, "rules": ["not a rule"]}, "a rule must be a JSON object, got 'not a rule'"),
        ({**RULES_DOCUMENT, "rules": {"pattern": [1]}}, "rules must be a JSON array"),
        ({**RULES_DOCUMENT, "relation_names": "interact"}, "relation_names must be a JSON array"),
        ({**RULES_DOCUMENT, "n_items": 1e400}, "n_items must be a non-negative integer, got inf"),
        ({**RULES_DOCUMENT, "base_rate": 10**400}, "base_rate must be a finite number, got <a 1329-bit integer>"),
        ('{"format": "kgrec-rules", "n_items": ' + "9" * 5000 + "}", "Exceeds the limit"),
        ("[" * 100_000, "maximum recursion depth"),
    ],
)
def test_corrupt_rules_fields_are_dataset_errors(document: Any, expected: str, tmp_path: Path) -> None:
    assert expected in str(rules_error(document, tmp_path))


def test_rules_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = json.dumps(RULES_DOCUMENT, indent=1).replace('"n_coliked": 2', '"n_coliked": 2,,')
    error = rules_error(text, tmp_path)
    assert error.line == 5 and str(error).startswith(f"{tmp_path / 'rules.json'}:5: not valid JSON")


def test_rules_without_names_are_checked_against_the_graph(tmp_path: Path) -> None:
    document = {**RULES_DOCUMENT, "relation_names": [], "rules": [with_rule(pattern=[7])["rules"][0]]}
    path = tmp_path / "unnamed.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert RuleSet.load(path).rules[0].pattern == (7,)  # without a graph there is nothing to check against
    error = rules_error(document, tmp_path, GRAPH)
    assert "rule pattern [7] uses relation ids that are not KG relations of the graph" in str(error)


def test_config_check_of_the_dataclass_names_the_file() -> None:
    """A ConfigError raised by a config's own checks (``__post_init__``) is prefixed with the file and section."""
    from kgrec.config import from_dict

    @dataclasses.dataclass(frozen=True)
    class Checked:
        count: int = 1

        def __post_init__(self) -> None:
            if self.count < 1:
                raise ConfigError(f"count: expected at least 1, got {self.count}")

    with pytest.raises(ConfigError, match=r"^run\.yaml:section\.count: expected at least 1, got 0$"):
        from_dict(Checked, {"count": 0}, where="run.yaml:section")
