"""Cards of explained recommendations show names and phrases, never ids, on DBpedia-named data.

Two tiny graphs: a lastfm-dbpedia written as the dataset's own files and read by its parser (artist ids that
no other number on a card can pass for; resources such as ``Muse_(band)``, ``AC%2FDC``, ``Sigur_R%C3%B3s``),
and one whose raw ids are DBpedia IRIs (items and entities ``http://dbpedia.org/resource/…``, relations
``http://dbpedia.org/ontology/genre`` and ``dbo:hometown``, no phrase table). For both, the visible text of
``explanations_html`` and of the report's gallery (HTML and Markdown) holds no IRI, prefix, percent-escape
or raw item, entity or relation id, and the score line names the item.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path as FilePath

import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.formats import lastfm_dbpedia
from kgrec.data.formats.dbpedia import display_name
from kgrec.data.graph import CollaborativeKG
from kgrec.data.options import DataConfig
from kgrec.explain import render
from kgrec.explain.paths import PathFinder
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.types import Explanation, Rule
from kgrec.report import build_report, gallery_picture_name
from tests.dbpedia_files import RESOURCE, write_lastfm_dbpedia

ONTOLOGY = "http://dbpedia.org/ontology/"
# artistID (no other number on a card looks like one), the name in mappings.tsv, the DBpedia resource
ARTISTS = [
    (90011, "Muse", "Muse_(band)"),
    (90012, "Radiohead", "Radiohead"),
    (90013, "AC/DC", "AC%2FDC"),
    (90014, "Sigur Rós", "Sigur_R%C3%B3s"),
    (90015, "Björk", "Bj%C3%B6rk"),
    (90016, "Foo Fighters", "Foo_Fighters"),
]
GRAPHS = {  # one edge list per relation of the dataset (the parser reads all ten)
    "genre": [("Muse_(band)", "Alternative_rock"), ("Radiohead", "Alternative_rock"), ("Foo_Fighters", "Alternative_rock"),
              ("AC%2FDC", "Hard_rock"), ("Foo_Fighters", "Hard_rock")],
    "hometown": [("Sigur_R%C3%B3s", "Reykjav%C3%ADk"), ("Bj%C3%B6rk", "Reykjav%C3%ADk")],
    "associatedMusicalArtist": [("Radiohead", "Thom_Yorke"), ("Bj%C3%B6rk", "Thom_Yorke")],
    "recordLabel": [("Muse_(band)", "Warner_Bros._Records"), ("Foo_Fighters", "Warner_Bros._Records")],
    "associatedBand": [("Foo_Fighters", "Nirvana_(band)")],
    "bandMember": [("Foo_Fighters", "Dave_Grohl")],
    "formerBandMember": [("Nirvana_(band)", "Dave_Grohl")],
    "birthPlace": [("Dave_Grohl", "Warren,_Ohio")],
    "instrument": [("Dave_Grohl", "Drum_kit")],
    "occupation": [("Bj%C3%B6rk", "Singer-songwriter")],
}
LISTENS = {70001: [90012, 90015, 90016], 70002: [90011, 90012, 90013, 90014], 70003: [90013, 90016, 90014]}
IRI_RELATIONS = {"genre": f"{ONTOLOGY}genre", "hometown": "dbo:hometown"}
BLOCKS = {"section", "div", "h1", "h2", "h3", "h4", "p", "table", "tr", "td", "th", "figure", "img", "figcaption"}
UNREADABLE = re.compile(r"https?://|dbpedia\.org|\bdb[op]:|\bdct:|%[0-9A-Fa-f]{2}|⁻¹")


def _lastfm(folder: FilePath) -> RecDataset:
    write_lastfm_dbpedia(folder, ARTISTS, GRAPHS, LISTENS)
    return lastfm_dbpedia.load({lastfm_dbpedia.FOLDER: folder}, DataConfig(name="lastfm-dbpedia"))


def _iri() -> RecDataset:
    """Raw ids are IRIs: items and entities DBpedia resources, relations ontology properties."""
    artist = {number: f"{RESOURCE}{uri}" for number, _, uri in ARTISTS}
    interactions = pd.DataFrame(
        [(f"listener-{user}", artist[a]) for user, artists in LISTENS.items() for a in artists], columns=["user", "item"]
    )
    triples = pd.DataFrame(
        [(f"{RESOURCE}{head}", IRI_RELATIONS[relation], f"{RESOURCE}{tail}")
         for relation in IRI_RELATIONS for head, tail in GRAPHS[relation]],
        columns=["head", "relation", "tail"],
    )
    links = pd.DataFrame({"item": list(artist.values()), "entity": list(artist.values())})
    entities = set(triples["head"]) | set(triples["tail"])
    return RecDataset.from_frames(
        "dbpedia-iri", interactions, triples, links,
        item_names={iri: display_name(iri) for iri in artist.values()},
        entity_names={iri: display_name(iri) for iri in entities},
    )


@pytest.fixture(scope="module", params=["lastfm-dbpedia", "dbpedia-iri"])
def named(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[CollaborativeKG, PhraseTable]:
    if request.param == "lastfm-dbpedia":
        dataset = _lastfm(tmp_path_factory.mktemp("data") / "lastfm-dbpedia")
        phrases = PhraseTable.load("lastfm-dbpedia")
    else:
        dataset, phrases = _iri(), PhraseTable(dataset="dbpedia-iri")
    return CollaborativeKG.build(dataset, dataset.interactions), phrases


def _explanations(graph: CollaborativeKG, user: int) -> list[Explanation]:
    """One explanation per item the user reaches (its four heaviest paths, a rule on the told path's KG
    pattern), then a popularity fallback."""
    found = PathFinder(graph, None, max_len=3, max_paths=50).paths_for_items(user, list(range(graph.n_items)))
    out: list[Explanation] = []
    for item, paths in sorted(found.items()):
        paths = sorted(paths, key=lambda p: (-p.weight, not p.kg_pattern))[:4]  # KG paths before co-likes
        if paths:
            rule = Rule(paths[0].kg_pattern, 3, 9, 1 / 3, 0.1, 1.5) if paths[0].kg_pattern else None
            out.append(Explanation(user, item, 1.25, len(out) + 1, tuple(paths), 0, rule))
    interactions = graph.dataset.interactions
    liked = {int(i) for i in interactions.item[interactions.user == user]}
    unseen = next(i for i in range(graph.n_items) if i not in liked)
    return out + [Explanation(user, unseen, 0.5, len(out) + 1, fallback=True)]


class _Visible(HTMLParser):
    """The text a reader sees (and image alt texts), of the whole page or of one ``<section id=…>``."""

    def __init__(self, page: str, section: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.section, self.inside, self.hidden = section, section is None, 0
        self.parts: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and self.section is not None:
            self.inside = values.get("id") == self.section
        self.hidden += tag in ("style", "title")
        if tag in BLOCKS and self.inside:
            self.parts.append("\n")
        if tag == "img" and self.inside:
            self.parts.append(values.get("alt") or "")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if self.inside and not self.hidden:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _raw_ids(graph: CollaborativeKG) -> list[str]:
    """Raw item, entity and relation ids a reader could tell from a name (not "Radiohead" or "genre", which
    are their own names; the users' "user 70001" is how an unnamed user is named)."""
    dataset = graph.dataset
    ids = [dataset.items.raw(k) for k in range(len(dataset.items))]
    ids += [raw for raw in (dataset.entities.raw(k) for k in range(len(dataset.entities))) if raw != display_name(raw)]
    return ids + [name for name in graph.relation_names if not re.fullmatch(r"[a-z]+", name)]


def _assert_readable(text: str, graph: CollaborativeKG, where: str) -> None:
    found = UNREADABLE.search(text)
    assert found is None, f"{where}: {found.group()!r} in {text!r}"
    for raw in _raw_ids(graph):
        assert raw not in text, f"{where}: raw id {raw!r} in {text!r}"


def test_the_html_page_shows_names_not_ids(named: tuple[CollaborativeKG, PhraseTable], tmp_path: FilePath) -> None:
    graph, phrases = named
    for user in range(graph.n_users):
        explanations = _explanations(graph, user)
        assert len(explanations) >= 3 and any(e.rule is not None for e in explanations)
        pictures = tmp_path / str(user)
        pictures.mkdir()
        page = render.explanations_html(
            graph.dataset.users.name(user), explanations, graph, phrases, tmp_path / f"{user}.html", png_dir=pictures
        ).read_text(encoding="utf-8")
        text = _Visible(page).text
        _assert_readable(text, graph, f"HTML page of user {user}")
        first = explanations[0]
        assert f"score 1.25 for {graph.dataset.items.name(first.item)}" in text
        assert f"score 0.5 for {graph.dataset.items.name(explanations[-1].item)} · popularity fallback" in text
        # the picture files keep their names: rank and raw item id
        assert {p.name for p in pictures.iterdir()} == {render.picture_name(e, graph) for e in explanations if e.paths}


def test_the_report_gallery_shows_names_not_ids(named: tuple[CollaborativeKG, PhraseTable], tmp_path: FilePath) -> None:
    graph, phrases = named
    run_dir = tmp_path / "run"
    (run_dir / "gallery").mkdir(parents=True)
    documents = []
    for user in range(graph.n_users):
        explanations = _explanations(graph, user)
        documents.append(render.recommendations_document(user, explanations, graph, phrases))
        first = explanations[0]
        picture = gallery_picture_name(graph.dataset.users.raw(user), first.rank, graph.dataset.items.raw(first.item))
        render.draw_subgraph(render.explanation_subgraph(first, graph, phrases), run_dir / "gallery" / picture)
    (run_dir / "gallery.json").write_text(json.dumps({"users": documents}, ensure_ascii=False), encoding="utf-8")
    html_path, md_path = build_report(run_dir)

    visible = _Visible(html_path.read_text(encoding="utf-8"), "gallery")
    _assert_readable(visible.text, graph, "report gallery (HTML)")
    assert sum(part.startswith("explanation subgraph for ") for part in visible.parts) == graph.n_users
    md = md_path.read_text(encoding="utf-8")
    gallery_md = md.split("## Gallery of explained recommendations", 1)[1].split("\n## ", 1)[0]
    _assert_readable(re.sub(r"\]\([^)]*\)", "]", gallery_md), graph, "report gallery (Markdown)")
    for document in documents:
        assert f"score 1.25 for {document['recommendations'][0]['item_name']}" in visible.text
    if graph.dataset.name == "dbpedia-iri":  # the rule by its relations' phrases, not [http://…/genre, …⁻¹]
        assert "Rule same genre (has genre → is genre of): confidence 0.333" in visible.text
