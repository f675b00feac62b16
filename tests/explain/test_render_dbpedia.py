"""Explanations on the named DBpedia datasets read as plain English with real names.

A hand-made tiny lastfm-dbpedia (written as the dataset's own files and read by its parser, so the names are
the parser's: percent-decoded, ``_`` as spaces, disambiguations kept in the data) and a tiny ml1m-dbpedia
graph (names from ``dbpedia.display_name``): exact sentences, the disambiguation rule, and a property check
over every sentence, JSON text and HTML page of every path the tiny graphs have.
"""

from __future__ import annotations

import json
import re
from pathlib import Path as FilePath
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.formats import lastfm_dbpedia
from kgrec.data.formats.dbpedia import display_name
from kgrec.data.formats.ml1m_dbpedia import RELATION_NAMES
from kgrec.data.graph import CollaborativeKG
from kgrec.data.options import DataConfig
from kgrec.explain import render
from kgrec.explain.paths import PathFinder
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.types import Explanation, Path, Rule
from tests.conftest import SHARED_DATASETS, require_shared
from tests.dbpedia_files import write_lastfm_dbpedia

# artistID, the name in mappings.tsv (the item's name), the DBpedia resource
ARTISTS = [
    (1, "Muse", "Muse_(band)"),
    (2, "Radiohead", "Radiohead"),
    (3, "Sigur Rós", "Sigur_R%C3%B3s"),
    (4, "Björk", "Bj%C3%B6rk"),
    (5, "Aerosmith", "Aerosmith"),
    (6, "Orion the Hunter", "Orion_the_Hunter"),
    (7, "Foo Fighters", "Foo_Fighters"),
    (8, "Nirvana", "Nirvana_(band)"),
    (9, "Led Zeppelin", "Led_Zeppelin"),
    (10, "Them Crooked Vultures", "Them_Crooked_Vultures"),
]
# every relation of the dataset, one graphs/dbo:<relation>.edgelist each
GRAPHS = {
    "genre": [("Muse_(band)", "Alternative_rock"), ("Radiohead", "Alternative_rock"), ("Bj%C3%B6rk", "Pop_(music)")],
    "associatedBand": [("Orion_the_Hunter", "Boston_(band)")],
    "associatedMusicalArtist": [("Radiohead", "Thom_Yorke"), ("Bj%C3%B6rk", "Thom_Yorke")],
    "bandMember": [
        ("Them_Crooked_Vultures", "John_Paul_Jones_(musician)"), ("Them_Crooked_Vultures", "Dave_Grohl"),
        ("Foo_Fighters", "Dave_Grohl"), ("Sigur_R%C3%B3s", "J%C3%B3nsi"),
    ],
    "formerBandMember": [("Led_Zeppelin", "John_Paul_Jones_(musician)"), ("Nirvana_(band)", "Dave_Grohl")],
    "hometown": [
        ("Boston_(band)", "Boston"), ("Aerosmith", "Boston"), ("Bj%C3%B6rk", "Reykjav%C3%ADk"),
        ("Sigur_R%C3%B3s", "Reykjav%C3%ADk"),
    ],
    "birthPlace": [("Bj%C3%B6rk", "Reykjav%C3%ADk"), ("Dave_Grohl", "Warren,_Ohio")],
    "instrument": [("Dave_Grohl", "Drum_kit"), ("John_Paul_Jones_(musician)", "Bass_guitar")],
    "occupation": [("Dave_Grohl", "Singer-songwriter"), ("Bj%C3%B6rk", "Singer-songwriter")],
    "recordLabel": [("Muse_(band)", "Warner_Bros._Records"), ("Radiohead", "Parlophone"), ("Foo_Fighters", "RCA_Records")],
}
LISTENS = {2: [2, 4, 9, 6, 8], 3: [1, 2, 3, 5, 10, 7], 4: [4, 3, 1]}

FORBIDDEN = re.compile(r"_|%[0-9A-Fa-f]{2}|https?:|dbo:|dct:|dbp:|\bentity\b|⁻¹")
# sentences also drop the category prefix (the HTML path lines, like `kgrec paths`, keep full display names)
FORBIDDEN_IN_SENTENCES = re.compile(r"Category:")


@pytest.fixture(scope="module")
def lastfm(tmp_path_factory: pytest.TempPathFactory) -> CollaborativeKG:
    folder = tmp_path_factory.mktemp("data") / "lastfm-dbpedia"
    write_lastfm_dbpedia(folder, ARTISTS, GRAPHS, LISTENS)
    dataset = lastfm_dbpedia.load({lastfm_dbpedia.FOLDER: folder}, DataConfig(name="lastfm-dbpedia"))
    return CollaborativeKG.build(dataset, dataset.interactions)


@pytest.fixture(scope="module")
def ml1m() -> CollaborativeKG:
    """Heat and Manhunter: directed by Michael_Mann_(director), shot by Dante Spinotti, one category; The Insider
    (MovieLens: "Insider, The (1999)") directed by Michael Mann too."""
    interactions = pd.DataFrame({"user": ["1", "2", "2", "2"], "item": ["6", "6", "2071", "3006"]})
    triples = pd.DataFrame(
        [
            (film, relation, tail)
            for film in ("Heat_(1995_film)", "Manhunter_(film)")
            for relation, tail in [
                ("directed_by_director", "Michael_Mann_(director)"),
                ("cinematography_by_cinematographer", "Dante_Spinotti"),
                ("belong_to_category", "Category:Films_directed_by_Michael_Mann"),
                ("related_to_wikipage", "Dante_Spinotti"),
            ]
        ]
        + [("Heat_(1995_film)", "starred_by_actor", "Al_Pacino"), ("Heat_(1995_film)", "produced_in_country", "United_States")]
        + [("The_Insider_(film)", "directed_by_director", "Michael_Mann_(director)")],
        columns=["head", "relation", "tail"],
    )
    links = pd.DataFrame(
        {"item": ["6", "2071", "3006"], "entity": ["Heat_(1995_film)", "Manhunter_(film)", "The_Insider_(film)"]}
    )
    entities = set(triples["head"]) | set(triples["tail"])
    dataset = RecDataset.from_frames(
        "ml1m-dbpedia", interactions, triples, links,
        item_names={"6": "Heat (1995)", "2071": "Manhunter (1986)", "3006": "Insider, The (1999)"},
        entity_names={uri: display_name(uri) for uri in entities},
        relation_names={raw: RELATION_NAMES[raw] for raw in set(triples["relation"])},
    )
    return CollaborativeKG.build(dataset, dataset.interactions)


def _nodes(graph: CollaborativeKG) -> dict[str, int]:
    return {graph.node_name(n): n for n in range(graph.num_nodes)}


def _relations(graph: CollaborativeKG) -> dict[str, int]:
    return {name: k for k, name in enumerate(graph.relation_names)}


def _walk(graph: CollaborativeKG, user: str, steps: list[tuple[str, str]]) -> Path:
    """A path from the user with this raw id along (relation name, node name) steps."""
    nodes, relations = _nodes(graph), _relations(graph)
    return Path(
        (graph.dataset.users.index(user), *(nodes[name] for _, name in steps)),
        tuple(relations[relation] for relation, _ in steps),
        0.5,
    )


def _text(graph: CollaborativeKG, path: Path, phrases: PhraseTable, rule: Rule | None = None) -> str:
    item = int(graph.node_index[path.nodes[-1]])
    expl = Explanation(int(path.nodes[0]), item, 1.0, 1, (path,), 0, rule)
    return render.explanation_text(expl, graph, phrases)


# ---- the tiny graphs are what the test means -------------------------------------------------------------
def test_the_tiny_lastfm_graph_has_parsed_names(lastfm: CollaborativeKG) -> None:
    entities = lastfm.dataset.entities
    names = {entities.raw(k): entities.name(k) for k in range(len(entities))}
    assert names["Sigur_R%C3%B3s"] == "Sigur Rós" and names["Reykjav%C3%ADk"] == "Reykjavík"
    assert names["Boston_(band)"] == "Boston (band)" and names["Warren,_Ohio"] == "Warren, Ohio"
    assert set(lastfm.relation_names[1 : 1 + len(lastfm_dbpedia.RELATIONS)]) == set(lastfm_dbpedia.RELATIONS)


# ---- exact sentences -------------------------------------------------------------------------------------
def _rule(graph: CollaborativeKG, *relations: str) -> Rule:
    rel = _relations(graph)
    return Rule(tuple(rel[r] for r in relations), support=12, connected=48, confidence=0.25, head_coverage=0.01, lift=2.0)


def test_lastfm_dbpedia_sentences_exactly(lastfm: CollaborativeKG) -> None:
    phrases = PhraseTable.load("lastfm-dbpedia")
    muse = _walk(lastfm, "2", [("interact", "Radiohead"), ("genre", "Alternative rock"), ("genre⁻¹", "Muse")])
    assert _text(lastfm, muse, phrases, _rule(lastfm, "genre", "genre⁻¹")) == (
        "Recommended *Muse* because it plays Alternative rock, like *Radiohead*, which you listened to "
        "(rule `same genre`: lift 2, confidence 0.25 over 12 co-liked pairs)."
    )
    reykjavik = _walk(lastfm, "2", [("interact", "Björk"), ("hometown", "Reykjavík"), ("hometown⁻¹", "Sigur Rós")])
    assert _text(lastfm, reykjavik, phrases) == (  # a path that instantiates no rule is read from the user
        "Recommended *Sigur Rós* because you listened to *Björk*, who comes from Reykjavík, which is also the "
        "hometown of *Sigur Rós*."
    )
    born = _walk(lastfm, "2", [("interact", "Björk"), ("birthPlace", "Reykjavík"), ("hometown⁻¹", "Sigur Rós")])
    assert _text(lastfm, born, phrases, _rule(lastfm, "birthPlace", "hometown⁻¹")) == (
        "Recommended *Sigur Rós* because it comes from Reykjavík, which is the birthplace of *Björk*, which you "
        "listened to (rule `was born in → is the hometown of`: lift 2, confidence 0.25 over 12 co-liked pairs)."
    )
    # "John Paul Jones (musician)": the disambiguation adds nothing here and is dropped
    jones = _walk(
        lastfm, "2",
        [("interact", "Led Zeppelin"), ("formerBandMember", "John Paul Jones (musician)"),
         ("bandMember⁻¹", "Them Crooked Vultures")],
    )
    assert _text(lastfm, jones, phrases, _rule(lastfm, "formerBandMember", "bandMember⁻¹")).startswith(
        "Recommended *Them Crooked Vultures* because it has the member John Paul Jones, who was a member of "
        "*Led Zeppelin*, which you listened to (rule "
    )
    yorke = _walk(
        lastfm, "2",
        [("interact", "Radiohead"), ("associatedMusicalArtist", "Thom Yorke"), ("associatedMusicalArtist⁻¹", "Björk")],
    )
    assert _text(lastfm, yorke, phrases) == (
        "Recommended *Björk* because you listened to *Radiohead*, who is associated with the artist Thom Yorke, "
        "who is also associated with *Björk*."
    )


def test_a_disambiguation_stays_when_two_names_would_read_the_same(lastfm: CollaborativeKG) -> None:
    # the band Boston comes from the city Boston: "Boston (band)" keeps its disambiguation in this sentence
    path = _walk(
        lastfm, "2",
        [("interact", "Orion the Hunter"), ("associatedBand", "Boston (band)"), ("hometown", "Boston"),
         ("hometown⁻¹", "Aerosmith")],
    )
    assert _text(lastfm, path, PhraseTable.load("lastfm-dbpedia")) == (
        "Recommended *Aerosmith* because you listened to *Orion the Hunter*, who is associated with the band "
        "Boston (band), who comes from Boston, which is also the hometown of *Aerosmith*."
    )
    told = _text(lastfm, path, PhraseTable.load("lastfm-dbpedia"), _rule(lastfm, "associatedBand", "hometown", "hometown⁻¹"))
    assert told.startswith(  # the same rule read back from the recommended artist
        "Recommended *Aerosmith* because it comes from Boston, which is the hometown of Boston (band), who is "
        "associated with *Orion the Hunter*, which you listened to (rule "
    )
    names = render.sentence_names(lastfm, path.nodes)
    assert [names[n] for n in path.nodes[1:]] == ["Orion the Hunter", "Boston (band)", "Boston", "Aerosmith"]
    # the data keeps the full display names: JSON node names and the path line
    expl = Explanation(int(path.nodes[0]), int(lastfm.node_index[path.nodes[-1]]), 1.0, 1, (path,), 0)
    node_names = [n["name"] for n in render.explanation_dict(expl, lastfm, PhraseTable.load("lastfm-dbpedia"))["paths"][0]["node_info"]]
    assert node_names == ["user 2", "Orion the Hunter", "Boston (band)", "Boston", "Aerosmith"]


def test_items_keep_their_names_entities_lose_their_disambiguation(lastfm: CollaborativeKG) -> None:
    nodes = _nodes(lastfm)
    pop, jones, muse = nodes["Pop (music)"], nodes["John Paul Jones (musician)"], nodes["Muse"]
    assert render.sentence_names(lastfm, [pop, jones, muse]) == {pop: "Pop", jones: "John Paul Jones", muse: "Muse"}
    assert render.short_name("Category:Films set in Seattle") == "Films set in Seattle"
    assert render.short_name("Add N to (X)") == "Add N to" and render.short_name("(band)") == "(band)"
    assert render.title_name("Matrix, The (1999)") == "The Matrix (1999)"
    assert render.title_name("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == (
        "The City of Lost Children (Cité des enfants perdus, La) (1995)"
    )
    assert render.title_name("Add N to (X)") == "Add N to (X)" and render.title_name("Heat (1995)") == "Heat (1995)"


def test_a_rule_with_a_constant_names_the_node_by_its_short_name(ml1m: CollaborativeKG) -> None:
    phrases, rel, nodes = PhraseTable.load("ml1m-dbpedia"), _relations(ml1m), _nodes(ml1m)
    director = Rule(
        (rel["directed_by_director"], rel["directed_by_director⁻¹"]), support=12, connected=48, confidence=0.25,
        head_coverage=0.01, lift=2.0, constant=nodes["Michael Mann (director)"], popularity_lift=1.8, p_value=0.001,
    )
    assert render.rule_name(director, ml1m, phrases) == "same director: Michael Mann"
    category = Rule(
        (rel["belong_to_category"], rel["belong_to_category⁻¹"]), support=12, connected=48, confidence=0.25,
        head_coverage=0.01, lift=2.0, constant=nodes["Category:Films directed by Michael Mann"],
    )
    assert render.rule_name(category, ml1m, phrases) == "same category: Films directed by Michael Mann"
    mann = _walk(
        ml1m, "1",
        [("interact", "Heat (1995)"), ("directed_by_director", "Michael Mann (director)"),
         ("directed_by_director⁻¹", "Manhunter (1986)")],
    )
    assert _text(ml1m, mann, phrases, director).endswith(
        "(rule `same director: Michael Mann`: lift 2, 1.8 against equally popular items, confidence 0.25 over "
        "12 co-liked pairs)."
    )
    # the JSON keeps the node's full display name
    expl = Explanation(0, int(ml1m.node_index[mann.nodes[-1]]), 1.0, 1, (mann,), 0, director)
    assert render.explanation_dict(expl, ml1m, phrases)["rule_info"]["constant"]["name"] == "Michael Mann (director)"


def test_ml1m_dbpedia_sentences_exactly(ml1m: CollaborativeKG) -> None:
    phrases = PhraseTable.load("ml1m-dbpedia")
    rel = _relations(ml1m)
    director = Rule(
        (rel["directed_by_director"], rel["directed_by_director⁻¹"]),
        support=1204, connected=3884, confidence=0.31, head_coverage=0.02, lift=3.5,
    )
    mann = _walk(
        ml1m, "1",
        [("interact", "Heat (1995)"), ("directed_by_director", "Michael Mann (director)"),
         ("directed_by_director⁻¹", "Manhunter (1986)")],
    )
    assert _text(ml1m, mann, phrases, director) == (
        "Recommended *Manhunter (1986)* because it was directed by Michael Mann, like *Heat (1995)*, which you liked "
        "(rule `same director`: lift 3.5, confidence 0.31 over 1,204 co-liked pairs)."
    )
    insider = _walk(
        ml1m, "1",
        [("interact", "Heat (1995)"), ("directed_by_director", "Michael Mann (director)"),
         ("directed_by_director⁻¹", "Insider, The (1999)")],
    )
    assert _text(ml1m, insider, phrases) == (
        "Recommended *The Insider (1999)* because you liked *Heat (1995)*, which was directed by Michael Mann, who also "
        "directed *The Insider (1999)*."
    )
    expl = Explanation(0, int(ml1m.node_index[insider.nodes[-1]]), 1.0, 1, (insider,), 0)
    assert render.explanation_dict(expl, ml1m, phrases)["item_name"] == "Insider, The (1999)"  # the data keeps it
    category = _walk(
        ml1m, "1",
        [("interact", "Heat (1995)"), ("belong_to_category", "Category:Films directed by Michael Mann"),
         ("belong_to_category⁻¹", "Manhunter (1986)")],
    )
    assert _text(ml1m, category, phrases) == (
        "Recommended *Manhunter (1986)* because you liked *Heat (1995)*, which is in the category Films directed by "
        "Michael Mann, which also includes *Manhunter (1986)*."
    )
    spinotti = _walk(
        ml1m, "1",
        [("interact", "Heat (1995)"), ("cinematography_by_cinematographer", "Dante Spinotti"),
         ("cinematography_by_cinematographer⁻¹", "Manhunter (1986)")],
    )
    assert _text(ml1m, spinotti, phrases) == (
        "Recommended *Manhunter (1986)* because you liked *Heat (1995)*, which was shot by Dante Spinotti, who also "
        "shot *Manhunter (1986)*."
    )
    wiki = _walk(
        ml1m, "1",
        [("interact", "Heat (1995)"), ("related_to_wikipage", "Dante Spinotti"), ("related_to_wikipage⁻¹", "Manhunter (1986)")],
    )
    assert _text(ml1m, wiki, phrases) == (
        "Recommended *Manhunter (1986)* because you liked *Heat (1995)*, which is related to Dante Spinotti, which is "
        "also related to *Manhunter (1986)*."
    )
    # without a table entry the relation is phrased from the dataset's readable name, never its raw id
    assert _text(ml1m, wiki, PhraseTable(dataset="ml1m-dbpedia")) == (
        "Recommended *Manhunter (1986)* because you liked *Heat (1995)*, which is related to (wiki link) Dante Spinotti, "
        "which is also the target of “related to (wiki link)” from *Manhunter (1986)*."
    )
    assert PhraseTable(dataset="ml1m-dbpedia").rule_name(ml1m, (rel["related_to_wikipage"],)) == "is related to (wiki link)"


# ---- nothing unreadable anywhere -------------------------------------------------------------------------
def _every_explanation(graph: CollaborativeKG, phrases: PhraseTable) -> dict[int, list[Explanation]]:
    """Per user, one explanation per (item, path) of every path up to 4 edges, each with a rule on its pattern."""
    finder = PathFinder(graph, None, max_len=4, max_paths=500)
    out: dict[int, list[Explanation]] = {}
    for user in range(graph.n_users):
        for item, paths in finder.paths_for_items(user, list(range(graph.n_items))).items():
            for path in paths:
                rule = Rule(path.kg_pattern, 3, 9, 1 / 3, 0.1, 1.5) if path.kg_pattern else None
                expl = Explanation(user, item, 1.0, len(out.get(user, [])) + 1, (path,), 0, rule)
                out.setdefault(user, []).append(expl)
    assert sum(len(v) for v in out.values()) > 10, "the tiny graph should have many paths"
    return out


def _raw_entity_ids(graph: CollaborativeKG) -> list[str]:
    """Raw entity ids that are not their own readable name ("Muse_(band)", "Sigur_R%C3%B3s"); ids equal to their
    name ("Radiohead") are words, numeric ids (ml1m-dbpedia's) cannot be told from numbers in names, and an
    unnamed entity's "entity <id>" is caught by FORBIDDEN."""
    entities = graph.dataset.entities
    pairs = ((entities.raw(k), entities.name(k)) for k in range(len(entities)))
    return [raw for raw, name in pairs if raw != name and not raw.isdigit()]


def _assert_readable(text: str, graph: CollaborativeKG, where: str, sentence: bool = True, ids: bool = True) -> None:
    for pattern in (FORBIDDEN, FORBIDDEN_IN_SENTENCES) if sentence else (FORBIDDEN,):
        found = pattern.search(text)
        assert found is None, f"{where}: {found.group()!r} in {text!r}"
    for raw in _raw_entity_ids(graph) if ids else ():
        assert raw not in text, f"{where}: entity id {raw!r} in {text!r}"
    for name in graph.relation_names[1 : graph.num_forward_relations]:
        if not re.fullmatch(r"[a-z]+", name):  # one plain word ("genre") may be a phrase's word too
            assert name not in text, f"{where}: relation id {name!r} in {text!r}"


@pytest.mark.parametrize("which", ["lastfm", "ml1m", "ml1m-no-table"])
def test_every_rendering_of_every_path_is_readable(which: str, request: pytest.FixtureRequest, tmp_path) -> None:
    graph: CollaborativeKG = request.getfixturevalue(which.split("-")[0])
    phrases = PhraseTable(dataset=graph.dataset.name) if which.endswith("no-table") else PhraseTable.load(graph.dataset.name)
    for user, explanations in _every_explanation(graph, phrases).items():
        for expl in explanations:
            _assert_readable(render.explanation_text(expl, graph, phrases), graph, "sentence")
        document = render.recommendations_document(user, explanations, graph, phrases)
        for value in document["recommendations"]:
            _assert_readable(value["sentence"], graph, "JSON sentence")
            _assert_readable(value["rule_info"]["name"], graph, "JSON rule name")
        json.dumps(document)
        page = render.explanations_html(
            graph.dataset.users.name(user), explanations[:6], graph, phrases, tmp_path / f"{which}-{user}.html"
        ).read_text(encoding="utf-8")
        visible = re.sub(r'<img src="data:image/png;base64,[^"]*"', "<img", page)
        visible = re.sub(r"<style>.*?</style>", "", visible, flags=re.DOTALL)
        visible = re.sub(r"\sid=\"rec-\d+\"|\sclass=\"[^\"]*\"", "", visible)
        _assert_readable(visible, graph, "HTML page", sentence=False)
        for sentence in re.findall(r"<p>(Recommended .*?)</p>", visible):
            _assert_readable(sentence, graph, "HTML sentence")


def test_sentences_shorten_but_the_data_keeps_full_names(lastfm: CollaborativeKG) -> None:
    phrases = PhraseTable.load("lastfm-dbpedia")
    path = _walk(
        lastfm, "2",
        [("interact", "Led Zeppelin"), ("formerBandMember", "John Paul Jones (musician)"),
         ("bandMember⁻¹", "Them Crooked Vultures")],
    )
    assert render.path_text(path, lastfm, phrases) == (
        "user 2 —listened to→ Led Zeppelin —had the member→ John Paul Jones (musician) —is a member of→ Them Crooked Vultures"
    )
    expl = Explanation(int(path.nodes[0]), int(lastfm.node_index[path.nodes[-1]]), 1.0, 1, (path,), 0)
    values: dict[str, Any] = render.explanation_dict(expl, lastfm, phrases)
    assert values["paths"][0]["node_info"][2] == {
        "id": int(path.nodes[2]), "kind": "entity", "raw": "John_Paul_Jones_(musician)", "name": "John Paul Jones (musician)",
    }
    assert "John Paul Jones, who" in values["sentence"]
    assert [r["phrase"] for r in values["paths"][0]["relation_info"]] == ["listened to", "had the member", "is a member of"]


# ---- the real datasets -----------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["lastfm-dbpedia", "ml1m-dbpedia"])
def real(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> CollaborativeKG:
    """The real dataset's graph over all its interactions, loaded once per module (ml1m-dbpedia takes ~6 s)."""
    require_shared(request.param)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KGREC_DATA_DIR", str(SHARED_DATASETS))
        patch.setenv("KGREC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        from kgrec.data.load import load_dataset

        dataset = load_dataset(request.param, download=False)
    return CollaborativeKG.build(dataset, dataset.interactions)


@pytest.mark.slow
def test_real_sentences_read_as_words(real: CollaborativeKG) -> None:
    """Sampled paths of ≤ 3 edges on the real data: every sentence's own words and entity names are readable
    (item names are the dataset's titles and may hold anything, e.g. the artist "__MaX__")."""
    phrases = PhraseTable.load(real.dataset.name)
    finder = PathFinder(real, None, max_len=3, max_paths=10, collaborative=False)
    rng = np.random.default_rng(2026)
    told, relations = 0, set()
    for user in rng.choice(real.n_users, 8, replace=False):
        items = [int(i) for i in rng.choice(real.n_items, 40, replace=False)]
        for item, paths in finder.paths_for_items(int(user), items).items():
            for path in paths:
                expl = Explanation(int(user), item, 1.0, 1, (path,), 0)
                segments = render.explanation_segments(expl, real, phrases)
                words = "".join(text for style, text in segments if style != "item")
                _assert_readable(words, real, "sentence", ids=False)  # ids hold "_" or "%": FORBIDDEN finds them
                names = [text for style, text in segments if style == "item"]
                assert all(name == render.title_name(real.node_name(real.item_node(item))) for name in names[:1])
                relations.update(real.forward(r) for r in path.relations[1:])
                told += 1
    assert told > 100 and len(relations) >= 3, (told, relations)
