"""Relation phrases: the automatic fallback, the shipped per-dataset tables and rule names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.data.relations import INTERACT
from kgrec.errors import ConfigError
from kgrec.explain.phrases import PhraseTable, fallback_phrase, with_also
from tests.conftest import SHARED_DATASETS, require_shared

SHIPPED = {
    "moviekg-omdb": ["acted_by", "directed_by", "has_genre"],
    "ml100k": [
        "film.film.country", "film.film.director", "film.film.genre", "film.film.language",
        "film.film.rating", "film.film.star", "film.film.writer", "has_genre",
    ],
    # every lastfm-kgcn relation with at least 20 triples
    "lastfm-kgcn": [
        "film.actor.film", "film.person_or_entity_appearing_in_film.film", "music.artist.origin",
        "people.person.place_of_birth", "film.distributor.film", "film.production_company.film",
        "music.artist.album", "music.musician.instruments_played", "cvg.publisher.games_published",
        "games.publisher.games_published", "people.deceased_person.place_of_death", "event.agent.performance",
        "award.competitor.award_nominations", "award.nominee.award_nominations", "music.artist.track",
        "film.director.film", "film.writer.film", "music.producer.tracks_produced", "people.person.profession",
        "music.album.genre", "film.film.genre", "film.producer.film", "award.competitor.awards_won",
        "award.winner.awards_won", "film.film.language", "film.film.actor",
    ],
    # every relation (the real data's list is checked in test_shipped_tables_on_the_real_relation_names),
    # and the listening itself ("you listened to", not "you liked")
    "lastfm-dbpedia": [
        "interact", "genre", "associatedBand", "associatedMusicalArtist", "bandMember", "formerBandMember", "hometown",
        "birthPlace", "instrument", "occupation", "recordLabel",
    ],
    "ml1m-dbpedia": [
        "directed_by_director", "starred_by_actor", "composed_by_composer", "wrote_by_writter", "produced_by_producer",
        "produced_by_prodcompany", "cinematography_by_cinematographer", "edited_by_editor", "produced_in_country",
        "belong_to_category", "related_to_wikipage",
    ],
}
# no phrase, noun or rule name of these tables may show a raw relation id, a prefix or an underscore
UNREADABLE = ("_", "dbo:", "dct:", "http", "%")


@pytest.fixture
def graph(five_node_dataset: RecDataset) -> CollaborativeKG:
    """relations: interact=0 directed_by=1 interact⁻¹=2 directed_by⁻¹=3 (u1-i2 held out)."""
    return CollaborativeKG.build(five_node_dataset, five_node_dataset.interactions.take(np.array([0, 1])))


# ---- automatic fallback ----------------------------------------------------------------------------------
def test_fallback_of_a_dotted_freebase_name() -> None:
    phrase = fallback_phrase("film.film.director")
    assert (phrase.noun, phrase.forward, phrase.inverse) == ("director", "has director", "is director of")
    assert phrase.same == "same director" and phrase.fallback


def test_fallback_of_a_passive_by_name() -> None:
    phrase = fallback_phrase("directed_by")
    assert (phrase.noun, phrase.forward, phrase.inverse) == ("director", "was directed by", "directed")
    assert phrase.tail_person
    written = fallback_phrase("written_by")
    assert (written.noun, written.forward, written.inverse) == ("writer", "was written by", "wrote")
    produced = fallback_phrase("produced_by")
    assert (produced.noun, produced.inverse) == ("producer", "produced")


def test_fallback_of_interact_has_and_underscores() -> None:
    interact = fallback_phrase("interact")
    assert (interact.forward, interact.inverse) == ("liked", "was liked by")
    genre = fallback_phrase("has_genre")
    assert (genre.noun, genre.forward, genre.inverse) == ("genre", "has genre", "is genre of")
    birth = fallback_phrase("people.person.place_of_birth")
    assert birth.noun == "place of birth"
    assert (birth.forward, birth.inverse) == ("has place of birth", "is place of birth of")
    uri = fallback_phrase("http://dbpedia.org/ontology/birthPlace")
    assert (uri.noun, uri.forward, uri.inverse) == ("birth place", "has birth place", "is birth place of")
    assert fallback_phrase("dbo:directedBy").forward == "was directed by"
    part = fallback_phrase("is_part_of")
    assert (part.noun, part.forward, part.inverse) == ("part", "is part of", "has part")


def test_fallback_of_readable_relation_names() -> None:
    wiki = fallback_phrase("related to (wiki link)")
    assert (wiki.noun, wiki.forward, wiki.inverse) == (
        "related to (wiki link)", "is related to (wiki link)", "is the target of “related to (wiki link)” from"
    )
    assert fallback_phrase("related_to_wikipage").forward == "is related to wikipage"
    camera = fallback_phrase("cinematography by")
    assert (camera.noun, camera.forward, camera.inverse) == ("cinematography", "has cinematography by", "did the cinematography of")
    assert fallback_phrase("music composed by").inverse == "composed the music of"


def test_with_also_goes_after_an_auxiliary() -> None:
    assert with_also("directed") == "also directed"
    assert with_also("was directed by") == "was also directed by"
    assert with_also("is the country of") == "is also the country of"
    assert with_also("has director") == "also has director"


# ---- shipped tables --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_table_loads_and_covers_its_relations(name: str) -> None:
    table = PhraseTable.load(name)
    assert table.dataset == name
    for raw in SHIPPED[name]:
        assert table.covers(raw), raw
        entry = table.entry(raw)
        assert not entry.fallback and entry.noun and entry.forward and entry.inverse


@pytest.mark.parametrize("name", ["lastfm-dbpedia", "ml1m-dbpedia"])
def test_dbpedia_tables_cover_exactly_their_relations_in_words(name: str) -> None:
    table = PhraseTable.load(name)
    assert sorted(table.entries) == sorted(SHIPPED[name])
    for raw, entry in table.entries.items():
        words = (entry.noun, entry.forward, entry.inverse) + ((entry.same, entry.shared) if raw != INTERACT else ())
        assert all(word and not any(bad in word for bad in UNREADABLE) for word in words), (raw, words)
        if not (raw.isalpha() and raw.islower()):  # "genre" may be a word of its phrases, "bandMember" not
            assert raw not in " ".join(words), raw


def test_dbpedia_table_phrases() -> None:
    lastfm, movies = PhraseTable.load("lastfm-dbpedia"), PhraseTable.load("ml1m-dbpedia")
    genre = lastfm.entry("genre")
    assert (genre.forward, genre.inverse, genre.same, genre.head_person, genre.tail_person) == (
        "plays", "is played by", "same genre", True, False
    )
    member = lastfm.entry("bandMember")
    assert (member.forward, member.inverse, member.tail_person) == ("has the member", "is a member of", True)
    director = movies.entry("directed_by_director")
    assert (director.noun, director.forward, director.inverse, director.tail_person) == (
        "director", "was directed by", "directed", True
    )
    assert movies.entry("wrote_by_writter").inverse == "wrote"
    assert movies.entry("related_to_wikipage").forward == "is related to"


def test_a_relation_without_an_entry_reads_its_datasets_own_name() -> None:
    interactions = pd.DataFrame({"user": ["u1", "u2"], "item": ["i1", "i2"]})
    triples = pd.DataFrame(
        {"head": ["e1", "e2", "e1"], "relation": ["related_to_wikipage"] * 2 + ["cinematography_by_cinematographer"],
         "tail": ["e3", "e3", "e4"]}
    )
    links = pd.DataFrame({"item": ["i1", "i2"], "entity": ["e1", "e2"]})
    names = {"related_to_wikipage": "related to (wiki link)", "cinematography_by_cinematographer": "cinematography by"}
    dataset = RecDataset.from_frames("wiki", interactions, triples, links, relation_names=names)
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    rel = {name: k for k, name in enumerate(graph.relation_names)}
    table = PhraseTable(dataset="wiki")
    assert table.phrase(graph, rel["related_to_wikipage"]) == "is related to (wiki link)"
    assert table.phrase(graph, rel["related_to_wikipage⁻¹"]) == "is the target of “related to (wiki link)” from"
    assert table.noun(graph, rel["related_to_wikipage"]) == "related to (wiki link)"
    assert table.phrase(graph, rel["cinematography_by_cinematographer"]) == "has cinematography by"
    assert table.phrase(graph, rel["cinematography_by_cinematographer⁻¹"]) == "did the cinematography of"
    assert table.is_fallback(graph, rel["related_to_wikipage"])
    assert table.pattern_text(graph, (rel["related_to_wikipage"], rel["related_to_wikipage⁻¹"])) == (
        "is related to (wiki link) → is the target of “related to (wiki link)” from"
    )
    assert table.phrase(graph, 0) == "liked"  # interact is never looked up among the dataset's relations
    # without the dataset's names the raw id is still turned into words, never shown as it is
    bare = RecDataset.from_frames("bare", interactions, triples, links)
    bare_graph = CollaborativeKG.build(bare, bare.interactions)
    assert table.phrase(bare_graph, rel["related_to_wikipage"]) == "is related to wikipage"


def test_moviekg_table_phrases(graph: CollaborativeKG) -> None:
    table = PhraseTable.load("moviekg-omdb")
    assert table.entry("directed_by").forward == "was directed by"
    assert table.entry("acted_by").inverse == "acted in"
    assert table.phrase(graph, 1) == "was directed by"
    assert table.phrase(graph, 3) == "directed"  # the inverse relation reads tail -> head
    assert table.phrase(graph, 0) == "liked" and table.phrase(graph, 2) == "was liked by"
    assert table.noun(graph, 3) == "director"
    assert not table.is_fallback(graph, 3) and table.is_fallback(graph, 0)
    assert table.target_is_person(graph, 1) and not table.target_is_person(graph, 3)


def test_unknown_dataset_gives_a_fallback_only_table(graph: CollaborativeKG) -> None:
    table = PhraseTable.load("no-such-dataset")
    assert table.dataset == "no-such-dataset" and not table.entries
    assert table.phrase(graph, 1) == "was directed by" and table.phrase(graph, 3) == "directed"
    assert table.is_fallback(graph, 1)
    assert not PhraseTable.load("../phrase_tables/ml100k").entries  # a path is not a dataset name


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, folders",
    [
        ("moviekg-omdb", ["moviekg-omdb"]), ("ml100k", ["ml-100k", "ml1m-satori-kg"]), ("lastfm-kgcn", ["lastfm-kgcn"]),
        ("lastfm-dbpedia", ["lastfm-dbpedia"]), ("ml1m-dbpedia", ["ml1m-dbpedia"]),
    ],
)
def test_shipped_tables_on_the_real_relation_names(name: str, folders: list[str], monkeypatch, tmp_path) -> None:
    require_shared(*folders)
    monkeypatch.setenv("KGREC_DATA_DIR", str(SHARED_DATASETS))
    monkeypatch.setenv("KGREC_CACHE_DIR", str(tmp_path / "cache"))
    from kgrec.data.load import load_dataset

    raw_names = [str(r) for r in load_dataset(name, download=False).relations.raw_ids]
    table = PhraseTable.load(name)
    assert set(table.entries) - {INTERACT} <= set(raw_names), "table keys that are not relations of the dataset"
    uncovered = [r for r in raw_names if not table.covers(r)]
    if name == "lastfm-kgcn":
        assert set(uncovered) <= {"type.object.key", "type.object.subject_key"}
    else:
        assert uncovered == []


# ---- rule names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["moviekg-omdb", "no-such-dataset"])
def test_rule_name_same_director(graph: CollaborativeKG, dataset: str) -> None:
    table = PhraseTable.load(dataset)
    assert table.rule_name(graph, (1, 3)) == "same director"
    assert table.rule_name(graph, (3, 1)) == "co-director"
    assert table.rule_name(graph, (1,)) == "was directed by"
    assert table.rule_name(graph, (1, 3, 0)) == "was directed by → directed → liked"
    assert table.rule_name(graph, (2, 0)) == "liked by the same user"


def test_pattern_label(graph: CollaborativeKG) -> None:
    assert PhraseTable.pattern_label(graph, (1, 3)) == "[directed_by, directed_by⁻¹]"
    assert PhraseTable.pattern_label(graph, [0]) == "[interact]"


# ---- custom tables ---------------------------------------------------------------------------------------
def test_table_from_file_and_overrides(tmp_path, graph: CollaborativeKG) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "dataset: mine\nrelations:\n  directed_by:\n    noun: filmmaker\n    forward: is a film by\n"
        "    inverse: made\n    same: same filmmaker\n",
        encoding="utf-8",
    )
    table = PhraseTable.from_file(path)
    assert table.dataset == "mine" and table.covers("directed_by")
    assert table.phrase(graph, 1) == "is a film by" and table.phrase(graph, 3) == "made"
    assert table.rule_name(graph, (1, 3)) == "same filmmaker"
    assert table.rule_name(graph, (3, 1)) == "co-filmmaker"  # default for "shared"
    assert table.entry("directed_by").tail_person is False  # "filmmaker" is not in the person nouns


@pytest.mark.parametrize(
    "text, message",
    [
        ("relations:\n  r: {noun: x, forward: y}\n", "'inverse' must be a non-empty string"),
        ("relations:\n  r: {noun: x, forward: y, inverse: z, colour: red}\n", "unknown key(s) ['colour']"),
        ("relations:\n  r: {noun: x, forward: y, inverse: z, tail_person: maybe}\n", "must be true or false"),
        ("relations: [a, b]\n", "'relations' must map"),
        ("relation: {}\n", "unknown top-level key(s) ['relation']"),
        ("relations: {r: [\n", "not valid YAML"),
    ],
)
def test_bad_tables_raise_config_errors(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        PhraseTable.from_file(path)
    assert message in str(error.value) and str(path) in str(error.value)
