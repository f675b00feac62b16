"""Readable phrases for relations: a per-dataset table with an automatic fallback for unknown relations.

A relation ``r`` (head → tail) has a ``noun`` (what the tail is to the head: "director"), a ``forward``
phrase read head → tail ("was directed by") and an ``inverse`` phrase read tail → head ("directed"). In the
collaborative KG every relation also appears as its inverse ``r⁻¹``; :meth:`PhraseTable.phrase` of an
inverse relation id is the inverse phrase of ``r``.

Tables ship as YAML package data in ``kgrec/explain/phrase_tables/<dataset>.yaml`` (format in
``docs/explanations.md``); :meth:`PhraseTable.load` falls back to automatic phrases for relations (or
datasets) without an entry:

- the last dotted component (or after ``/``, ``#``, ``:``), underscores to spaces, camelCase split:
  ``film.film.director`` → noun "director", forward "has director", inverse "is director of";
- a trailing ``_by`` is a passive verb: ``directed_by`` → noun "director", forward "was directed by",
  inverse "directed";
- a leading ``has_``: ``has_genre`` → noun "genre", forward "has genre", inverse "is genre of";
- a leading ``is_``: ``is_part_of`` → noun "part", forward "is part of", inverse "has part";
- a participle and a preposition: ``related to (wiki link)`` → forward "is related to (wiki link)", inverse
  "is the target of “related to (wiki link)” from";
- ``interact`` (user → item) → forward "liked", inverse "was liked by".

By relation id (:meth:`PhraseTable.phrase` and friends), a relation without an entry is phrased from the
dataset's own readable relation name when it has one (``related_to_wikipage`` of ml1m-dbpedia → "related to
(wiki link)"), else from the raw name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from kgrec.config import parse_yaml, read_yaml_text, unknown_keys
from kgrec.data.relations import INTERACT, INVERSE_SUFFIX, RelationIds
from kgrec.errors import ConfigError
from kgrec.fields import brief_repr

TABLE_PACKAGE = "kgrec.explain"
TABLE_FOLDER = "phrase_tables"
ENTRY_KEYS = ("noun", "forward", "inverse", "same", "shared", "tail_person", "head_person")

# passive participles whose agent noun the "-or"/"-er" rule below gets wrong (or that do not end in -ed)
_AGENTS = {
    "written": "writer", "sung": "singer", "made": "maker", "drawn": "artist", "sold": "seller",
    "starred": "star", "hosted": "host", "led": "leader", "run": "runner", "taught": "teacher",
    "built": "builder", "founded": "founder", "owned": "owner", "authored": "author",
}
_PAST_TENSE = {
    "written": "wrote", "sung": "sang", "made": "made", "drawn": "drew", "sold": "sold", "led": "led",
    "run": "ran", "taught": "taught", "built": "built", "known": "knew", "given": "gave", "taken": "took",
    "shown": "showed", "seen": "saw", "held": "held", "won": "won", "begun": "began",
}
# nouns for which a tail entity is a person, so a sentence says "who" rather than "which"
_PERSON_NOUNS = {
    "actor", "actress", "artist", "author", "cast", "cast member", "character", "cinematographer", "composer",
    "creator", "designer", "director", "editor", "member", "musician", "performer", "person", "player",
    "producer", "singer", "star", "writer", "user", "host", "leader", "founder", "owner",
    "executive producer", "art director", "set designer", "lyricist", "songwriter", "conductor", "band",
}
_AUXILIARIES = ("is", "was", "are", "were", "has been", "have been")
_PREPOSITIONS = {"to", "in", "of", "from", "at", "on", "for", "with", "into"}


@dataclass(frozen=True)
class RelationPhrase:
    """How to say one raw relation ``r`` (head → tail).

    ``noun``: what the tail is to the head ("director"); ``forward``: head → tail ("was directed by");
    ``inverse``: tail → head ("directed"); ``same`` / ``shared``: names of the rules ``(r, r⁻¹)`` ("same
    director") and ``(r⁻¹, r)`` ("co-director"); ``tail_person`` / ``head_person``: whether tail / head
    entities are people (sentences then say "who", not "which"); ``fallback``: made up automatically.
    """

    noun: str
    forward: str
    inverse: str
    same: str = ""
    shared: str = ""
    tail_person: bool = False
    head_person: bool = False
    fallback: bool = False

    def __post_init__(self) -> None:
        if not self.same:
            object.__setattr__(self, "same", f"same {self.noun}")
        if not self.shared:
            object.__setattr__(self, "shared", f"co-{self.noun}")


def _words(raw: str) -> str:
    """The last component of a relation name (after ``.``, ``/``, ``#`` or ``:``) as lower-case words.

    Underscores and dashes become spaces and camelCase is split: ``dbo:birthPlace`` → "birth place".
    """
    last = re.split(r"[./#:]", raw.strip("./#: "))[-1]
    last = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", last)
    words = [w.lower() if w[:1].isupper() and w[1:].islower() else w for w in re.split(r"[_\-\s]+", last) if w]
    return " ".join(words) or raw.strip() or "related"


def _agent(participle: str) -> str:
    """'directed' → 'director', 'produced' → 'producer', 'written' → 'writer' (a heuristic, then a lexicon)."""
    if participle in _AGENTS:
        return _AGENTS[participle]
    if participle.endswith("ed") and len(participle) > 3:
        stem = participle[:-2]
        return stem + ("or" if stem.endswith(("ct", "at", "it", "ut")) else "er")
    return participle


@lru_cache(maxsize=4096)  # asked for every edge of every shown path; the phrase is immutable
def fallback_phrase(raw: str) -> RelationPhrase:
    """The automatic phrase of a raw relation name (see the module docstring for the rules)."""
    if raw == INTERACT:
        return RelationPhrase(
            "liked item", "liked", "was liked by", same="liked the same item", shared="liked by the same user",
            tail_person=False, head_person=True, fallback=True,
        )
    words = _words(raw)
    passive = re.fullmatch(r"(?:is |was )?(.+?) by", words)
    if passive:
        *prefix, last = passive.group(1).split()
        noun = _agent(last)
        past = last if last.endswith("ed") else _PAST_TENSE.get(last)
        if prefix:  # music_composed_by: "has music composed by" / "composed the music of"
            thing = " ".join(prefix)
            inverse = f"{past} the {thing} of" if past else f"is {noun} of"
            return RelationPhrase(noun, f"has {thing} {last} by", inverse, tail_person=True, fallback=True)
        if past is None and last not in _AGENTS:  # "cinematography by": "has cinematography by" / "did the ... of"
            return RelationPhrase(last, f"has {last} by", f"did the {last} of", tail_person=True, fallback=True)
        return RelationPhrase(noun, f"was {last} by", past or f"is {noun} of", tail_person=True, fallback=True)
    first, *rest = words.split()
    if rest and rest[0] in _PREPOSITIONS and (first.endswith("ed") or first in _PAST_TENSE):
        # related_to_wikipage / "related to (wiki link)": "is related to (wiki link)" / "is the target of ..."
        return RelationPhrase(
            words, f"is {words}", f"is the target of “{words}” from", same=f"same “{words}” target",
            shared=f"same “{words}” source", fallback=True,
        )
    if words.startswith("is ") and len(words) > 3:  # is_part_of: "is part of" / "has part"
        noun = re.sub(r" (of|in|at|on|to|from|for|with)$", "", words[3:])
        return RelationPhrase(noun, words, f"has {noun}", tail_person=noun in _PERSON_NOUNS, fallback=True)
    noun = words[4:] if words.startswith("has ") and len(words) > 4 else words
    return RelationPhrase(noun, f"has {noun}", f"is {noun} of", tail_person=noun in _PERSON_NOUNS, fallback=True)


def _entry(raw: str, values: Any, source: str) -> RelationPhrase:
    """One relation's phrases from its mapping in a table; a missing or mistyped key is a ConfigError."""
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"{source}: relation {raw!r}: expected a mapping with noun, forward, inverse, got {brief_repr(values)}"
        )
    unknown = unknown_keys(values, ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: relation {raw!r}: unknown key(s) {brief_repr(unknown)}; allowed: {', '.join(ENTRY_KEYS)}"
        )
    for key in ("noun", "forward", "inverse"):
        if not isinstance(values.get(key), str) or not values[key].strip():
            raise ConfigError(f"{source}: relation {raw!r}: {key!r} must be a non-empty string")
    for key in ("same", "shared"):
        if key in values and not (isinstance(values[key], str) and values[key].strip()):
            raise ConfigError(f"{source}: relation {raw!r}: {key!r} must be a non-empty string")
    for key in ("tail_person", "head_person"):
        if key in values and not isinstance(values[key], bool):
            raise ConfigError(f"{source}: relation {raw!r}: {key!r} must be true or false")
    noun = values["noun"].strip()
    return RelationPhrase(
        noun=noun,
        forward=values["forward"].strip(),
        inverse=values["inverse"].strip(),
        same=str(values.get("same", "")).strip(),
        shared=str(values.get("shared", "")).strip(),
        tail_person=values.get("tail_person", noun in _PERSON_NOUNS),
        head_person=values.get("head_person", False),
    )


@dataclass(frozen=True)
class PhraseTable:
    """Relation phrases of one dataset: table entries by raw relation name, automatic phrases otherwise."""

    dataset: str = ""
    entries: Mapping[str, RelationPhrase] = field(default_factory=dict)
    source: str = ""

    # ---- construction ------------------------------------------------------------------------------------
    @classmethod
    def load(cls, dataset_name: str) -> PhraseTable:
        """The shipped table of ``dataset_name``; a fallback-only table when none ships."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", dataset_name or ""):  # e.g. a user's directory path
            return cls(dataset=dataset_name)
        resource = resources.files(TABLE_PACKAGE).joinpath(TABLE_FOLDER, f"{dataset_name}.yaml")
        try:
            shipped = resource.is_file()
        except OSError:  # e.g. a name longer than the file system allows: no table ships under it
            shipped = False
        if not shipped:
            return cls(dataset=dataset_name)
        source = f"{TABLE_FOLDER}/{dataset_name}.yaml"
        return cls.from_yaml_text(resource.read_text(encoding="utf-8"), source, dataset_name)

    @classmethod
    def from_file(cls, path: str | Path) -> PhraseTable:
        """A table from a YAML file of the shipped format (for bring-your-own datasets)."""
        return cls.from_yaml_text(read_yaml_text(path, "phrase table"), str(path))

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "<phrase table>", dataset: str = "") -> PhraseTable:
        """A table from YAML text; bad YAML or a bad entry is a ConfigError naming ``source`` (and the line)."""
        document = parse_yaml(text, source)
        if document is None:
            document = {}
        if not isinstance(document, Mapping):
            raise ConfigError(f"{source}: expected a mapping with a 'relations' key, got {brief_repr(document)}")
        return cls.from_mapping(document, source, dataset)

    @classmethod
    def from_mapping(
        cls, document: Mapping[str, Any], source: str = "<phrase table>", dataset: str = ""
    ) -> PhraseTable:
        """A table from ``{"dataset": ..., "relations": {raw name: {noun, forward, inverse, ...}}}``."""
        unknown = unknown_keys(document, ("dataset", "relations"))
        if unknown:
            raise ConfigError(
                f"{source}: unknown top-level key(s) {brief_repr(unknown)}; expected 'dataset' and 'relations'"
            )
        relations = document.get("relations") or {}
        if not isinstance(relations, Mapping):
            raise ConfigError(f"{source}: 'relations' must map raw relation names to phrases")
        name = document.get("dataset") or dataset
        if isinstance(name, bool) or not isinstance(name, (str, int, float)):
            raise ConfigError(f"{source}: 'dataset' must be a name, got {brief_repr(name)}")
        entries = {str(raw): _entry(str(raw), values, source) for raw, values in relations.items()}
        return cls(dataset=str(name), entries=entries, source=source)

    def with_entries(self, entries: Mapping[str, RelationPhrase]) -> PhraseTable:
        """A copy with some entries added or replaced."""
        return replace(self, entries={**self.entries, **entries})

    # ---- by raw relation name ----------------------------------------------------------------------------
    def entry(self, raw: str) -> RelationPhrase:
        """The phrase of a raw (forward) relation name: the table's entry or the automatic fallback."""
        return self.entries.get(raw) or fallback_phrase(raw)

    def covers(self, raw: str) -> bool:
        """Whether the table has its own entry for ``raw`` (``interact`` has a built-in one)."""
        return raw in self.entries

    @staticmethod
    def split_name(name: str) -> tuple[str, bool]:
        """``("directed_by", True)`` for ``"directed_by⁻¹"``: the raw name and whether it is the inverse."""
        if name.endswith(INVERSE_SUFFIX):
            return name[: -len(INVERSE_SUFFIX)], True
        return name, False

    # ---- by relation id of a collaborative KG ------------------------------------------------------------
    def _lookup(self, graph: RelationIds, relation: int) -> tuple[RelationPhrase, bool]:
        raw, inverse = self.split_name(graph.relation_names[int(relation)])
        if raw in self.entries:
            return self.entries[raw], inverse
        return fallback_phrase(graph.relation_display_name(raw) or raw), inverse

    def phrase(self, graph: RelationIds, relation: int) -> str:
        """The phrase of a relation id read along the edge: the inverse phrase for an inverse relation."""
        entry, inverse = self._lookup(graph, relation)
        return entry.inverse if inverse else entry.forward

    def noun(self, graph: RelationIds, relation: int) -> str:
        """The noun of a relation id (an inverse relation has the noun of its forward relation)."""
        return self._lookup(graph, relation)[0].noun

    def target_is_person(self, graph: RelationIds, relation: int) -> bool:
        """Whether the node an edge of this relation id points to is a person ("who" rather than "which")."""
        entry, inverse = self._lookup(graph, relation)
        return entry.head_person if inverse else entry.tail_person

    def source_is_person(self, graph: RelationIds, relation: int) -> bool:
        """Whether the node an edge of this relation id starts from is a person."""
        entry, inverse = self._lookup(graph, relation)
        return entry.tail_person if inverse else entry.head_person

    def is_fallback(self, graph: RelationIds, relation: int) -> bool:
        """Whether the relation id's phrase is made up automatically (no table entry)."""
        return not self.covers(self.split_name(graph.relation_names[int(relation)])[0])

    def rule_name(self, graph: RelationIds, pattern: tuple[int, ...] | list[int]) -> str:
        """A short name of a relation pattern.

        ``(r, r⁻¹)`` → "same <noun>" (the entry's ``same``); ``(r⁻¹, r)`` → "co-<noun>" (the entry's
        ``shared``); one relation → its phrase; longer patterns → the phrases joined by " → ".
        """
        pattern = tuple(int(r) for r in pattern)
        if not pattern:
            return "direct link"
        if len(pattern) == 2 and pattern[1] == graph.inverse(pattern[0]):
            entry, inverse = self._lookup(graph, pattern[0])
            return entry.shared if inverse else entry.same
        return " → ".join(self.phrase(graph, r) for r in pattern)

    @staticmethod
    def pattern_label(graph: RelationIds, pattern: tuple[int, ...] | list[int]) -> str:
        """The raw relation names of a pattern: ``[film.film.director, film.film.director⁻¹]``."""
        return "[" + ", ".join(graph.relation_names[int(r)] for r in pattern) + "]"

    def pattern_text(self, graph: RelationIds, pattern: tuple[int, ...] | list[int]) -> str:
        """A pattern in words, for people (HTML cards): its phrases joined by " → " ("was directed by → directed")."""
        return " → ".join(self.phrase(graph, int(r)) for r in pattern) or "direct link"


def with_also(phrase: str) -> str:
    """Insert "also" into a verb phrase: "directed" → "also directed", "was directed by" → "was also directed by".

    "also" goes after a leading auxiliary (is, was, are, were, has been, have been), else in front.
    """
    for aux in _AUXILIARIES:
        if phrase.startswith(aux + " "):
            return f"{aux} also {phrase[len(aux) + 1:]}"
    return f"also {phrase}"


def path_line(names: Sequence[str], phrases: Sequence[str]) -> str:
    """A path as one line from its node names and its relations' phrases:
    "user u1 —liked→ Heat —was directed by→ Michael Mann —directed→ Collateral"."""
    return names[0] + "".join(f" —{phrase}→ {name}" for phrase, name in zip(phrases, names[1:]))
