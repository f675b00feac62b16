"""RecDataset: an immutable interaction dataset with a knowledge graph, on contiguous ids.

Raw ids and display names live only in :class:`IdMap` objects; everything else is integer arrays, so models
and evaluators never see a string. Parsers build datasets with :meth:`RecDataset.from_frames`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from kgrec.errors import DatasetError, UnknownIdError

PART_NAMES = ("train", "valid", "test")


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def _number(digits: str) -> int | Decimal:
    """The value of an integer string; a Decimal past int()'s 4300-digit limit (a huge id must not crash)."""
    return int(digits) if len(digits) < 4300 else Decimal(digits)


_INTEGER = re.compile(r"-?\d+")
_DIGITS = re.compile(r"(\d+)")


def _natural_key(raw: str) -> list[tuple[int, int | Decimal, str]]:
    """The sort key of ``raw`` in natural order: its runs of digits as numbers, the text between as text."""
    if _DIGITS.search(raw) is None:
        return [(1, 0, raw)]
    # isdecimal, not isdigit: "²" is a digit that int() refuses, and \d+ never matches it
    return [(0, _number(t), "") if t.isdecimal() else (1, 0, t) for t in _DIGITS.split(raw)]


def natural_order(raw_ids: Iterable[str]) -> list[str]:
    """Distinct raw ids sorted numerically when all are integers, else in natural order ("u_2" < "u_10").

    Ids without a digit (most KG names) compare among themselves as plain strings, and never equal to an id
    with one: they are sorted as strings, which is fast, and merged with the others sorted by key."""
    distinct = list(dict.fromkeys(raw_ids))
    if all(_INTEGER.fullmatch(raw) for raw in distinct):
        return sorted(distinct, key=_number)
    plain = sorted(raw for raw in distinct if _DIGITS.search(raw) is None)
    numbered = sorted((raw for raw in distinct if _DIGITS.search(raw) is not None), key=_natural_key)
    return list(heapq.merge(plain, numbered, key=_natural_key))


@dataclass(frozen=True, eq=False)
class IdMap:
    """Contiguous ids ``0..n-1`` of one kind (user, item, entity, relation) and their raw ids and names."""

    kind: str
    raw_ids: np.ndarray
    names: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        raw = np.asarray(self.raw_ids, dtype=object)
        names = np.full(len(raw), "", dtype=object) if self.names is None else np.asarray(self.names, dtype=object)
        if len(names) != len(raw):
            raise ValueError(f"{self.kind} IdMap: {len(names)} names for {len(raw)} ids")
        object.__setattr__(self, "raw_ids", _frozen(raw))
        object.__setattr__(self, "names", _frozen(names))

    @classmethod
    def from_raw(cls, kind: str, raw_ids: Iterable[str], names: Mapping[str, str] | None = None) -> IdMap:
        """Build a map over the distinct ``raw_ids`` in natural order, with optional display names."""
        ordered = natural_order(raw_ids)
        names = names or {}
        return cls(kind, np.array(ordered, dtype=object), np.array([names.get(r, "") for r in ordered], dtype=object))

    def __len__(self) -> int:
        return len(self.raw_ids)

    @cached_property
    def _index(self) -> pd.Index:
        """The raw ids as a hash index of Python strings (object dtype: looking up an array of raw ids then
        needs no conversion to and from arrow strings)."""
        return pd.Index(self.raw_ids, dtype=object)

    def index(self, raw_id: str) -> int:
        """Contiguous id of ``raw_id``; UnknownIdError if it is not in the dataset."""
        position = self._index.get_indexer([str(raw_id)])[0]
        if position < 0:
            raise UnknownIdError(f"unknown {self.kind} id {raw_id!r} (the dataset has {len(self)} {self.kind}s)")
        return int(position)

    def lookup(self, raw_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Contiguous ids of many raw ids, -1 where unknown (vectorised)."""
        return self._index.get_indexer(pd.Index(np.asarray(raw_ids, dtype=object), dtype=object)).astype(np.int64)

    def raw(self, index: int) -> str:
        """Raw id of a contiguous id."""
        return str(self.raw_ids[index])

    def name(self, index: int) -> str:
        """Display name; falls back to "<kind> <raw id>" so that a name is never empty."""
        return str(self.names[index]) if self.has_name(index) else f"{self.kind} {self.raw_ids[index]}"

    def has_name(self, index: int) -> bool:
        """Whether the data gives this id a display name (:meth:`name` falls back to the raw id otherwise)."""
        return bool(self.names[index])

    @property
    def has_names(self) -> bool:
        return bool(np.any(self.names != ""))

    def take(self, indices: np.ndarray) -> IdMap:
        """The sub-map of the given contiguous ids, re-indexed in that order."""
        return IdMap(self.kind, self.raw_ids[indices], self.names[indices])


@dataclass(frozen=True, eq=False)
class Interactions:
    """User–item pairs on contiguous ids, with ratings and timestamps when the source has them."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray | None = None
    timestamp: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("user", "item", "rating", "timestamp"):
            value = getattr(self, name)
            if value is not None:
                dtype = np.float64 if name == "rating" else np.int64
                object.__setattr__(self, name, _frozen(np.asarray(value, dtype=dtype)))
        if len(self.user) != len(self.item):
            raise ValueError("user and item arrays differ in length")

    def __len__(self) -> int:
        return len(self.user)

    def take(self, rows: np.ndarray) -> Interactions:
        """The interactions at the given row indices or boolean mask."""
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return Interactions(self.user[rows], self.item[rows], pick(self.rating), pick(self.timestamp))

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame with columns user, item and, when present, rating and timestamp."""
        columns: dict[str, np.ndarray] = {"user": self.user, "item": self.item}
        if self.rating is not None:
            columns["rating"] = self.rating
        if self.timestamp is not None:
            columns["timestamp"] = self.timestamp
        return pd.DataFrame(columns)

    def pair_keys(self, n_items: int) -> np.ndarray:
        """One int64 per (user, item) pair, for fast set operations."""
        return self.user * np.int64(n_items) + self.item


@dataclass(frozen=True)
class DatasetStats:
    """Summary counts of a dataset, as printed by ``kgrec data stats``."""

    name: str
    users: int
    items: int
    interactions: int
    density: float
    entities: int
    relations: int
    triples: int
    linked_items: int
    has_ratings: bool
    has_timestamps: bool
    per_relation: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, eq=False)
class RecDataset:
    """An immutable recommendation dataset with a knowledge graph.

    Items and KG entities have separate id spaces joined by ``item_entity`` (item id -> entity id, -1 when
    the item has no KG entity). ``triples`` holds ``(head, relation, tail)`` rows of entity and relation ids.
    ``split_labels`` (0 train, 1 valid, 2 test per interaction) is set when the source ships its own split.
    """

    name: str
    users: IdMap
    items: IdMap
    entities: IdMap
    relations: IdMap
    interactions: Interactions
    triples: np.ndarray
    item_entity: np.ndarray
    split_labels: np.ndarray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "triples", _frozen(np.asarray(self.triples, dtype=np.int64).reshape(-1, 3)))
        object.__setattr__(self, "item_entity", _frozen(np.asarray(self.item_entity, dtype=np.int64)))
        if self.split_labels is not None:
            object.__setattr__(self, "split_labels", _frozen(np.asarray(self.split_labels, dtype=np.int8)))
        object.__setattr__(self, "info", dict(self.info))

    # ---- sizes -------------------------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_entities(self) -> int:
        return len(self.entities)

    @property
    def n_relations(self) -> int:
        return len(self.relations)

    def stats(self) -> DatasetStats:
        """Counts of users, items, interactions, KG entities, relations, triples and linked items."""
        per_relation = np.bincount(self.triples[:, 1], minlength=self.n_relations) if len(self.triples) else np.zeros(
            self.n_relations, dtype=np.int64
        )
        n_pairs = self.n_users * self.n_items
        return DatasetStats(
            name=self.name,
            users=self.n_users,
            items=self.n_items,
            interactions=len(self.interactions),
            density=len(self.interactions) / n_pairs if n_pairs else 0.0,
            entities=self.n_entities,
            relations=self.n_relations,
            triples=len(self.triples),
            linked_items=int(np.count_nonzero(self.item_entity >= 0)),
            has_ratings=self.interactions.rating is not None,
            has_timestamps=self.interactions.timestamp is not None,
            per_relation={self.relations.raw(r): int(c) for r, c in enumerate(per_relation)},
        )

    # ---- derived datasets --------------------------------------------------------------------------------
    def subset(self, users: np.ndarray | None = None, items: np.ndarray | None = None) -> RecDataset:
        """Keep only the given user and item ids (re-indexed); interactions of dropped ones go too.

        The knowledge graph is kept whole: entities of dropped items stay as plain entities.
        """
        users = np.arange(self.n_users) if users is None else np.unique(np.asarray(users, dtype=np.int64))
        items = np.arange(self.n_items) if items is None else np.unique(np.asarray(items, dtype=np.int64))
        new_user = np.full(self.n_users, -1, dtype=np.int64)
        new_user[users] = np.arange(len(users))
        new_item = np.full(self.n_items, -1, dtype=np.int64)
        new_item[items] = np.arange(len(items))
        keep = (new_user[self.interactions.user] >= 0) & (new_item[self.interactions.item] >= 0)
        kept = self.interactions.take(keep)
        interactions = Interactions(new_user[kept.user], new_item[kept.item], kept.rating, kept.timestamp)
        return replace(
            self,
            users=self.users.take(users),
            items=self.items.take(items),
            interactions=interactions,
            item_entity=self.item_entity[items],
            split_labels=None if self.split_labels is None else self.split_labels[keep],
        )

    def filter(self, min_user_interactions: int = 0, min_item_interactions: int = 0, iterate: bool = False) -> RecDataset:
        """Drop users and items with fewer interactions than the minimums.

        With ``iterate`` the filter repeats until no user or item falls below its minimum (a k-core).
        """
        dataset = self
        while True:
            user_counts = np.bincount(dataset.interactions.user, minlength=dataset.n_users)
            item_counts = np.bincount(dataset.interactions.item, minlength=dataset.n_items)
            keep_users = np.flatnonzero(user_counts >= min_user_interactions)
            keep_items = np.flatnonzero(item_counts >= min_item_interactions)
            if len(keep_users) == dataset.n_users and len(keep_items) == dataset.n_items:
                return dataset
            dataset = dataset.subset(keep_users, keep_items)
            if not iterate:
                return dataset

    # ---- construction ------------------------------------------------------------------------------------
    @classmethod
    def from_frames(
        cls,
        name: str,
        interactions: pd.DataFrame,
        triples: pd.DataFrame | None = None,
        links: pd.DataFrame | None = None,
        *,
        item_catalogue: Sequence[str] | None = None,
        item_names: Mapping[str, str] | None = None,
        entity_names: Mapping[str, str] | None = None,
        user_names: Mapping[str, str] | None = None,
        relation_names: Mapping[str, str] | None = None,
        split_labels: np.ndarray | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> RecDataset:
        """Build a dataset from raw-id frames, de-duplicating interactions and triples.

        ``interactions`` has string columns user, item and optionally float rating / int timestamp;
        ``triples`` head, relation, tail; ``links`` item, entity (each item at most one entity).
        Repeated (user, item) pairs are collapsed to the row with the highest rating, then the latest
        timestamp. Items are the ``item_catalogue`` (if given) plus every interacted item.
        """
        frame = interactions.reset_index(drop=True).copy()
        if split_labels is not None:
            frame["__part__"] = np.asarray(split_labels, dtype=np.int8)
        sort_keys = [c for c in ("rating", "timestamp") if c in frame]
        if sort_keys:
            frame = frame.sort_values(sort_keys, kind="stable")
        frame = frame.drop_duplicates(["user", "item"], keep="last").sort_index(kind="stable")

        triples = (triples if triples is not None else pd.DataFrame(columns=["head", "relation", "tail"])).astype(str)
        triples = triples[["head", "relation", "tail"]].drop_duplicates()
        links = (links if links is not None else pd.DataFrame(columns=["item", "entity"])).astype(str)
        links = links[["item", "entity"]].drop_duplicates()
        duplicated = links["item"].duplicated(keep=False)
        if duplicated.any():
            raise DatasetError(f"item {links['item'][duplicated].iloc[0]!r} is linked to more than one entity")

        users = IdMap.from_raw("user", frame["user"].tolist(), user_names)
        items = IdMap.from_raw("item", list(item_catalogue or []) + frame["item"].tolist(), item_names)
        entities = IdMap.from_raw(
            "entity", pd.concat([triples["head"], triples["tail"], links["entity"]]).tolist(), entity_names
        )
        relations = IdMap.from_raw("relation", triples["relation"].tolist(), relation_names)

        item_entity = np.full(len(items), -1, dtype=np.int64)
        linked_items = items.lookup(links["item"].to_numpy())
        known = linked_items >= 0
        item_entity[linked_items[known]] = entities.lookup(links["entity"].to_numpy()[known])

        inter = Interactions(
            users.lookup(frame["user"].to_numpy()),
            items.lookup(frame["item"].to_numpy()),
            frame["rating"].to_numpy(dtype=np.float64) if "rating" in frame else None,
            frame["timestamp"].to_numpy(dtype=np.int64) if "timestamp" in frame else None,
        )
        triple_ids = np.stack(
            [
                entities.lookup(triples["head"].to_numpy()),
                relations.lookup(triples["relation"].to_numpy()),
                entities.lookup(triples["tail"].to_numpy()),
            ],
            axis=1,
        ) if len(triples) else np.zeros((0, 3), dtype=np.int64)
        return cls(
            name=name,
            users=users,
            items=items,
            entities=entities,
            relations=relations,
            interactions=inter,
            triples=triple_ids,
            item_entity=item_entity,
            split_labels=frame["__part__"].to_numpy() if split_labels is not None else None,
            info=info or {},
        )
