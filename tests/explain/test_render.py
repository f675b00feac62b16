"""Renderings of an Explanation: the sentence, the JSON object and its schema, the subgraph, PNG and HTML."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path as FilePath
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.explain import render
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.types import Explanation, Path, Rule

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXAMPLE = (
    "Recommended *Collateral* because it was directed by Michael Mann, like *Heat*, which you liked "
    "(rule `same director`: lift 3.5, confidence 0.31 over 1,204 co-liked pairs)."
)
# five-node graph: users u1=0 u2=1 | items Heat=2 Collateral=3 | Michael Mann=4
# relations: interact=0 directed_by=1 interact⁻¹=2 directed_by⁻¹=3
U1, U2, HEAT, COLLATERAL, MANN = 0, 1, 2, 3, 4
INTERACT, DIRECTED_BY, INTERACT_INV, DIRECTED_BY_INV = 0, 1, 2, 3


def _graph(dataset: RecDataset, rows: list[int]) -> CollaborativeKG:
    return CollaborativeKG.build(dataset, dataset.interactions.take(np.array(rows)))


@pytest.fixture
def graph(five_node_dataset: RecDataset) -> CollaborativeKG:
    """Train = u1-Heat, u2-Collateral; u1-Collateral is the held-out interaction we explain."""
    return _graph(five_node_dataset, [0, 1])


@pytest.fixture
def phrases() -> PhraseTable:
    return PhraseTable.load("moviekg-omdb")


def _ids(graph: CollaborativeKG) -> None:
    """The ids the module constants assume (fail loudly if the graph's numbering ever changes)."""
    assert graph.relation_names == ("interact", "directed_by", "interact⁻¹", "directed_by⁻¹")
    assert [graph.node_name(n) for n in range(5)] == ["user u1", "user u2", "Heat", "Collateral", "Michael Mann"]


def _kg_path(weight: float = 0.5) -> Path:
    return Path((U1, HEAT, MANN, COLLATERAL), (INTERACT, DIRECTED_BY, DIRECTED_BY_INV), weight)


def _rule() -> Rule:
    pattern = (DIRECTED_BY, DIRECTED_BY_INV)
    return Rule(pattern, support=1204, connected=3884, confidence=0.31, head_coverage=0.02, lift=3.5)


def _explanation(**changes: Any) -> Explanation:
    values: dict[str, Any] = dict(user=0, item=1, score=2.5, rank=1, paths=(_kg_path(),), chosen=0, rule=_rule(), told_share=1.0)
    values.update(changes)
    return Explanation(**values)


# ---- sentences -------------------------------------------------------------------------------------------
def test_the_example_sentence_exactly(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    _ids(graph)
    assert render.explanation_text(_explanation(), graph, phrases) == EXAMPLE
    # the automatic phrases of directed_by read the same
    assert render.explanation_text(_explanation(), graph, PhraseTable.load("no-such-dataset")) == EXAMPLE


def _measured_rule(**changes: Any) -> Rule:
    """The example rule with a popularity lift of 2.14 and a p-value of 0.00001 (as mined rules have)."""
    return replace(_rule(), **{"popularity_lift": 2.14, "p_value": 1e-5, **changes})


def test_a_rule_with_a_constant_is_named_after_its_node(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    _ids(graph)
    assert render.rule_name(_rule(), graph, phrases) == "same director"
    assert render.rule_name(replace(_rule(), constant=MANN), graph, phrases) == "same director: Michael Mann"
    assert render.rule_row(replace(_rule(), constant=MANN), graph, phrases)["name"] == "same director: Michael Mann"


def test_the_sentence_tells_the_popularity_lift_only_when_measured(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    told = render.explanation_text(_explanation(rule=_measured_rule()), graph, phrases)
    assert told == EXAMPLE.replace("lift 3.5,", "lift 3.5, 2.1 against equally popular items,")
    assert "against equally popular items" not in render.explanation_text(_explanation(), graph, phrases)
    constant = render.explanation_text(_explanation(rule=_measured_rule(constant=MANN, popularity_lift=12.4)), graph, phrases)
    assert constant.endswith(
        "(rule `same director: Michael Mann`: lift 3.5, 12 against equally popular items, confidence 0.31 over "
        "1,204 co-liked pairs)."
    )


def test_collaborative_path_sentence(five_node_dataset: RecDataset, phrases: PhraseTable) -> None:
    # u2 liked both Heat and Collateral: u1 -> Heat <- u2 -> Collateral
    frame = pd.DataFrame({"user": ["u1", "u2", "u2", "u1"], "item": ["i1", "i1", "i2", "i2"]})
    dataset = RecDataset.from_frames("co", frame, item_names={"i1": "Heat", "i2": "Collateral"})
    graph = _graph(dataset, [0, 1, 2])
    interact, back = 0, graph.inverse(0)
    heat, collateral = graph.item_node(0), graph.item_node(1)
    assert {(0, heat), (1, heat), (1, collateral)} <= set(zip(*graph.data.edge_index.tolist()))
    path = Path((0, heat, 1, collateral), (interact, back, interact), 0.2)
    expl = Explanation(user=0, item=1, score=1.0, rank=1, paths=(path,), chosen=0)
    assert render.explanation_text(expl, graph, phrases) == (
        "Recommended *Collateral* because you liked *Heat*, and user u2, who also liked *Heat*, liked *Collateral*."
    )


def test_unnamed_entity_shows_its_raw_id(phrases: PhraseTable) -> None:
    interactions = pd.DataFrame({"user": ["u1", "u2"], "item": ["i1", "i2"]})
    triples = pd.DataFrame({"head": ["e1", "e2"], "relation": ["directed_by"] * 2, "tail": ["e3", "e3"]})
    links = pd.DataFrame({"item": ["i1", "i2"], "entity": ["e1", "e2"]})
    names = {"i1": "Heat", "i2": "Collateral"}
    dataset = RecDataset.from_frames("unnamed", interactions, triples, links, item_names=names)
    graph = _graph(dataset, [0, 1])
    text = render.explanation_text(_explanation(rule=None), graph, phrases)
    assert text == (
        "Recommended *Collateral* because you liked *Heat*, which was directed by entity e3, "
        "who also directed *Collateral*."
    )


def test_walks_of_length_two_and_four_read_naturally() -> None:
    # A --sequel_of--> B ; A --directed_by--> Dan --works_for--> Acme <--produced_by-- C
    interactions = pd.DataFrame({"user": ["u1", "u2", "u2"], "item": ["a", "b", "c"]})
    triples = pd.DataFrame(
        {
            "head": ["ea", "ea", "dan", "ec"],
            "relation": ["sequel_of", "directed_by", "works_for", "produced_by"],
            "tail": ["eb", "dan", "acme", "acme"],
        }
    )
    links = pd.DataFrame({"item": ["a", "b", "c"], "entity": ["ea", "eb", "ec"]})
    dataset = RecDataset.from_frames(
        "walks", interactions, triples, links, item_names={"a": "Alpha", "b": "Beta", "c": "Gamma"},
        entity_names={"dan": "Dan", "acme": "Acme"},
    )
    graph = _graph(dataset, [0, 1, 2])
    phrases = PhraseTable.from_mapping(
        {
            "relations": {
                "sequel_of": {"noun": "original", "forward": "is a sequel to", "inverse": "has the sequel"},
                "works_for": {"noun": "employer", "forward": "works for", "inverse": "employs", "head_person": True},
                "produced_by": {
                    "noun": "producer", "forward": "was produced by", "inverse": "produced", "tail_person": False
                },
            }
        }
    )
    rel = {name: k for k, name in enumerate(graph.relation_names)}
    node = {graph.node_name(n): n for n in range(graph.num_nodes)}
    two = Path((0, node["Alpha"], node["Beta"]), (0, rel["sequel_of"]), 0.4)
    expl = Explanation(user=0, item=1, score=1.0, rank=1, paths=(two,), chosen=0)
    assert render.explanation_text(expl, graph, phrases) == (
        "Recommended *Beta* because you liked *Alpha*, which is a sequel to *Beta*."
    )
    four = Path(
        (0, node["Alpha"], node["Dan"], node["Acme"], node["Gamma"]),
        (0, rel["directed_by"], rel["works_for"], rel["produced_by⁻¹"]),
        0.1,
    )
    expl = Explanation(user=0, item=2, score=1.0, rank=2, paths=(four,), chosen=0)
    assert render.explanation_text(expl, graph, phrases) == (
        "Recommended *Gamma* because you liked *Alpha*, which was directed by Dan, who works for Acme, "
        "which produced *Gamma*."
    )


def test_no_rule_no_path_and_fallback_sentences(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    no_rule = render.explanation_text(_explanation(rule=None), graph, phrases)  # a path that instantiates no rule
    assert no_rule == "Recommended *Collateral* because you liked *Heat*, which was directed by Michael Mann, who also directed *Collateral*."
    no_path = render.explanation_text(_explanation(paths=(), chosen=None, rule=None), graph, phrases)
    assert no_path == (
        "Recommended *Collateral* for its similarity to your history in the model; "
        "no connecting path was found in the knowledge graph."
    )
    fallback = render.explanation_text(Explanation(user=0, item=1, score=7.0, rank=1, fallback=True), graph, phrases)
    assert fallback == (
        "Popular item: *Collateral* (the user has no training history, so this is a popularity fallback, "
        "not a personalised recommendation)."
    )


def test_unchosen_paths_tell_the_heaviest(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    light = Path((U1, HEAT, U2, COLLATERAL), (INTERACT, INTERACT_INV, INTERACT), 0.1)
    expl = _explanation(paths=(light, _kg_path(0.9)), chosen=None)
    assert render.explanation_text(expl, graph, phrases) == EXAMPLE


def test_confidence_and_support_formatting(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    rule = Rule((DIRECTED_BY, DIRECTED_BY_INV), support=1, connected=250, confidence=0.004, head_coverage=0.0, lift=1.0)
    text = render.explanation_text(_explanation(rule=rule), graph, phrases)
    assert text.endswith("(rule `same director`: lift 1, confidence 0.004 over 1 co-liked pair).")
    assert [render.format_lift(x) for x in (48.03, 12.5, 9.96, 3.456, 2.0)] == ["48", "12", "10", "3.5", "2"]


# ---- JSON ------------------------------------------------------------------------------------------------
class SchemaError(AssertionError):
    pass


def validate(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, where: str = "$") -> None:
    """A small JSON Schema checker for the keywords explanation.schema.json uses (jsonschema is not installed)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return validate(instance, root["$defs"][name], root, where)
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            try:
                return validate(instance, option, root, where)
            except SchemaError:
                pass
        raise SchemaError(f"{where}: matches none of anyOf")
    if "const" in schema and instance != schema["const"]:
        raise SchemaError(f"{where}: {instance!r} != {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        raise SchemaError(f"{where}: {instance!r} not in {schema['enum']}")
    types = {
        "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool), "null": lambda v: v is None,
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    }
    if "type" in schema and not types[schema["type"]](instance):
        raise SchemaError(f"{where}: {instance!r} is not of type {schema['type']}")
    if "minimum" in schema and instance < schema["minimum"]:
        raise SchemaError(f"{where}: {instance} < {schema['minimum']}")
    if "maximum" in schema and instance > schema["maximum"]:
        raise SchemaError(f"{where}: {instance} > {schema['maximum']}")
    if "minLength" in schema and len(instance) < schema["minLength"]:
        raise SchemaError(f"{where}: shorter than {schema['minLength']}")
    if "minItems" in schema and len(instance) < schema["minItems"]:
        raise SchemaError(f"{where}: fewer than {schema['minItems']} items")
    if isinstance(instance, dict):
        missing = set(schema.get("required", [])) - set(instance)
        if missing:
            raise SchemaError(f"{where}: missing {sorted(missing)}")
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False and set(instance) - set(properties):
            raise SchemaError(f"{where}: unexpected {sorted(set(instance) - set(properties))}")
        for key, value in instance.items():
            if key in properties:
                validate(value, properties[key], root, f"{where}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for k, value in enumerate(instance):
            validate(value, schema["items"], root, f"{where}[{k}]")
    return None


def _document(graph: CollaborativeKG, phrases: PhraseTable) -> dict[str, Any]:
    collaborative = Path((U1, HEAT, U2, COLLATERAL), (INTERACT, INTERACT_INV, INTERACT), np.float32(0.25))
    explanations = [
        _explanation(paths=(_kg_path(), collaborative), score=np.float64(2.5), extra={"model": "kgrec"}),
        _explanation(item=0, rank=2, paths=(), chosen=None, rule=None, text="stored text"),
        Explanation(user=0, item=1, score=0.5, rank=3, fallback=True),
    ]
    return render.recommendations_document(0, explanations, graph, phrases, meta={"run": "runs/x", "k": np.int64(3)})


def test_explanation_dict_names_and_round_trip(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    expl = _explanation(extra={"fidelity": 0.5})
    values = render.explanation_dict(expl, graph, phrases)
    plain = {**values, "paths": [{k: p[k] for k in ("nodes", "relations", "weight")} for p in values["paths"]]}
    assert {k: plain[k] for k in expl.to_dict()} == expl.to_dict()
    assert Explanation.from_dict(json.loads(json.dumps(values))) == expl
    names = (values["user_raw"], values["user_name"], values["item_raw"], values["item_name"])
    assert names == ("u1", "user u1", "i2", "Collateral")
    assert values["item_node"] == COLLATERAL and values["sentence"] == EXAMPLE
    path = values["paths"][0]
    assert path["node_info"] == [
        {"id": U1, "kind": "user", "raw": "u1", "name": "user u1"},
        {"id": HEAT, "kind": "item", "raw": "i1", "name": "Heat"},
        {"id": MANN, "kind": "entity", "raw": "e3", "name": "Michael Mann"},
        {"id": COLLATERAL, "kind": "item", "raw": "i2", "name": "Collateral"},
    ]
    assert path["relation_info"] == [
        {"id": 0, "name": "interact", "phrase": "liked"},
        {"id": 1, "name": "directed_by", "phrase": "was directed by"},
        {"id": 3, "name": "directed_by⁻¹", "phrase": "directed"},
    ]
    assert values["rule_info"] == {
        "name": "same director",
        "pattern_label": "[directed_by, directed_by⁻¹]",
        "relations": path["relation_info"][1:],
        "constant": None,
    }


def test_document_validates_against_the_schema(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    document = json.loads(json.dumps(_document(graph, phrases), ensure_ascii=False))  # numpy scalars made plain
    schema = render.explanation_schema()
    validate(document, schema)
    assert list(document) == ["schema_version", "dataset", "user", "recommendations", "meta"]
    assert document["schema_version"] == 1 and document["dataset"] == "five"
    assert document["user"] == {"id": 0, "node": 0, "raw": "u1", "name": "user u1"}
    assert document["meta"] == {"run": "runs/x", "k": 3}
    assert [r["rank"] for r in document["recommendations"]] == [1, 2, 3]
    assert document["recommendations"][1]["text"] == "stored text"
    assert document["recommendations"][1]["rule_info"] is None
    for values in document["recommendations"]:
        validate(values, {"$ref": "#/$defs/explanation"}, schema)
        restored = Explanation.from_dict(values)
        assert render.explanation_dict(restored, graph, phrases) == values


def test_a_rule_with_a_constant_in_the_json_follows_the_schema(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    expl = _explanation(rule=_measured_rule(constant=MANN))
    document = json.loads(json.dumps(render.recommendations_document(0, [expl], graph, phrases), ensure_ascii=False))
    validate(document, render.explanation_schema())
    (values,) = document["recommendations"]
    assert values["rule"]["constant"] == MANN
    assert (values["rule"]["popularity_lift"], values["rule"]["p_value"]) == (2.14, 1e-5)
    assert values["rule_info"]["name"] == "same director: Michael Mann"
    assert values["rule_info"]["constant"] == {"id": MANN, "kind": "entity", "raw": "e3", "name": "Michael Mann"}
    assert Explanation.from_dict(values) == expl
    values["rule"]["p_value"] = 1.5  # a p-value is a probability
    with pytest.raises(SchemaError):
        validate(document, render.explanation_schema())


def test_the_documented_example_is_the_real_output(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    docs = FilePath(__file__).resolve().parents[2] / "docs" / "explanations.md"
    example = re.search(r"### Example\n\n```json\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    assert example, "docs/explanations.md lost its JSON example"
    documented = json.loads(example.group(1))
    validate(documented, render.explanation_schema())
    assert documented == json.loads(json.dumps(render.recommendations_document(0, [_explanation()], graph, phrases)))


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("dataset"),
        lambda d: d["recommendations"][0].update(rank=0),
        lambda d: d["recommendations"][0]["paths"][0]["node_info"][0].update(kind="film"),
        lambda d: d["recommendations"][0].update(unexpected=1),
        lambda d: d["recommendations"][0]["rule"].update(support="many"),
        lambda d: d["recommendations"][0]["rule_info"].update(name=""),
    ],
)
def test_the_schema_check_catches_broken_documents(graph: CollaborativeKG, phrases: PhraseTable, breakage) -> None:
    document = json.loads(json.dumps(_document(graph, phrases)))
    breakage(document)
    with pytest.raises(SchemaError):
        validate(document, render.explanation_schema())


def test_document_refuses_other_users(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    with pytest.raises(ValueError, match="user"):
        render.recommendations_document(1, [_explanation()], graph, phrases)


# ---- subgraph, PNG, HTML ---------------------------------------------------------------------------------
def test_subgraph_nodes_and_edges_exactly(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    collaborative = Path((U1, HEAT, U2, COLLATERAL), (INTERACT, INTERACT_INV, INTERACT), 0.2)
    subgraph = render.explanation_subgraph(_explanation(paths=(_kg_path(0.5), collaborative)), graph, phrases)
    assert dict(subgraph.nodes(data=True)) == {
        U1: {"kind": "user", "raw": "u1", "name": "user u1", "role": "user", "layer": 0},
        HEAT: {"kind": "item", "raw": "i1", "name": "Heat", "role": "history", "layer": 1},
        MANN: {"kind": "entity", "raw": "e3", "name": "Michael Mann", "role": "other", "layer": 2},
        U2: {"kind": "user", "raw": "u2", "name": "user u2", "role": "other", "layer": 2},
        COLLATERAL: {"kind": "item", "raw": "i2", "name": "Collateral", "role": "recommended", "layer": 3},
    }
    edges = {
        (s, t, k): (d["label"], d["weight"], d["relation_name"]) for s, t, k, d in subgraph.edges(keys=True, data=True)
    }
    assert edges == {
        (U1, HEAT, INTERACT): ("liked", 0.5, "interact"),  # shared by both paths: the larger weight
        (HEAT, MANN, DIRECTED_BY): ("was directed by", 0.5, "directed_by"),
        (MANN, COLLATERAL, DIRECTED_BY_INV): ("directed", 0.5, "directed_by⁻¹"),
        (HEAT, U2, INTERACT_INV): ("was liked by", 0.2, "interact⁻¹"),
        (U2, COLLATERAL, INTERACT): ("liked", 0.2, "interact"),
    }
    lone = render.explanation_subgraph(_explanation(paths=(), chosen=None), graph, phrases)
    assert sorted(lone.nodes) == [U1, COLLATERAL] and lone.number_of_edges() == 0


def test_draw_subgraph_writes_a_png(graph: CollaborativeKG, phrases: PhraseTable, tmp_path) -> None:
    subgraph = render.explanation_subgraph(_explanation(), graph, phrases)
    target = tmp_path / "pictures" / "heat.png"
    render.draw_subgraph(subgraph, target)
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    assert [p.name for p in target.parent.iterdir()] == ["heat.png"]  # no temporary file left behind


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cards = 0
        self.images: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        if tag == "section" and values.get("class") == "card":
            self.cards += 1
        if tag == "img":
            self.images.append(values.get("src") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_rule_table_shows_the_popularity_measures(graph: CollaborativeKG, phrases: PhraseTable) -> None:
    measured = render._rule_html(_measured_rule(constant=MANN), graph, phrases)
    assert "<h3>Rule <code>same director: Michael Mann</code></h3>" in measured
    assert "<tr><th>popularity lift</th><td>2.14</td></tr><tr><th>p-value</th><td>1.0e-05</td></tr>" in measured
    unmeasured = render._rule_html(_rule(), graph, phrases)
    assert "<tr><th>popularity lift</th><td>not measured</td></tr><tr><th>p-value</th><td>not measured</td></tr>" in unmeasured


def test_html_page_with_cards_inline_pictures_and_png_files(tmp_path) -> None:
    interactions = pd.DataFrame({"user": ["u1", "u2"], "item": ["i1", "i2/x"]})
    triples = pd.DataFrame({"head": ["e1", "e2"], "relation": ["directed_by"] * 2, "tail": ["e3", "e3"]})
    links = pd.DataFrame({"item": ["i1", "i2/x"], "entity": ["e1", "e2"]})
    dataset = RecDataset.from_frames(
        "html", interactions, triples, links,
        item_names={"i1": "Heat <b>&</b>", "i2/x": "Ke$ha's <script>alert(1)</script>"},
        entity_names={"e3": "Michael $Mann$"},
    )
    graph = _graph(dataset, [0, 1])
    phrases = PhraseTable.load("moviekg-omdb")
    explanations = [
        _explanation(),
        _explanation(item=0, rank=2, paths=(), chosen=None, rule=None),
        Explanation(user=0, item=1, score=0.5, rank=3, fallback=True),
    ]
    target = tmp_path / "report" / "u1.html"
    out = render.explanations_html("user <u1>", explanations, graph, phrases, target, png_dir=tmp_path / "png")
    assert out == tmp_path / "report" / "u1.html"
    page = out.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.cards == 3
    assert "script" not in parser.tags and "b" not in parser.tags  # names are escaped, not markup
    text = "".join(parser.text)
    assert "Ke$ha's <script>alert(1)</script>" in text and "Heat <b>&</b>" in text
    assert "Recommendations for user <u1>" in text
    assert '<img src="data:image/png;base64,' in page
    assert len(parser.images) == 1  # only the card with a path has a picture
    assert base64.b64decode(parser.images[0].removeprefix("data:image/png;base64,")).startswith(PNG_SIGNATURE)
    assert "same director" in text and "1,204" in text and "No mined rule applies." in text
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page  # self-contained, no JS
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == ["1-i2_x.png"]
    assert (tmp_path / "png" / "1-i2_x.png").read_bytes().startswith(PNG_SIGNATURE)
