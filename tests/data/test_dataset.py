"""RecDataset and IdMap: contiguous ids, names, de-duplication, filters, immutability, stats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data.dataset import IdMap, RecDataset, natural_order
from kgrec.errors import DatasetError, UnknownIdError


def test_natural_order_numeric_and_mixed() -> None:
    assert natural_order(["10", "9", "100", "9"]) == ["9", "10", "100"]
    assert natural_order(["u_10", "u_2", "p_1"]) == ["p_1", "u_2", "u_10"]


def test_natural_order_merges_names_with_and_without_digits() -> None:
    # names without a digit are sorted as strings, then merged with the others; equal keys keep their order
    raw = ["b", "a10", "Muse", "a2", "a", "7b", "a02", "²", "a 1", ""]
    assert natural_order(raw) == ["", "7b", "Muse", "a", "a2", "a02", "a10", "a 1", "b", "²"]


def test_idmap_lookups_and_names() -> None:
    ids = IdMap.from_raw("item", ["b", "a", "c"], {"a": "Alpha"})
    assert list(ids.raw_ids) == ["a", "b", "c"]
    assert ids.index("c") == 2 and ids.raw(1) == "b"
    assert ids.lookup(["c", "zz", "a"]).tolist() == [2, -1, 0]
    assert ids.name(0) == "Alpha" and ids.name(1) == "item b"  # never an empty name
    with pytest.raises(UnknownIdError, match="unknown item id 'zz'"):
        ids.index("zz")


def test_from_frames_collapses_repeated_pairs_to_highest_rating() -> None:
    frame = pd.DataFrame(
        {"user": ["u", "u", "u", "v"], "item": ["a", "a", "b", "a"], "rating": [2.0, 5.0, 3.0, 1.0], "timestamp": [1, 2, 3, 4]}
    )
    dataset = RecDataset.from_frames("d", frame)
    got = dataset.interactions.to_frame()
    assert got.values.tolist() == [[0, 0, 5.0, 2], [0, 1, 3.0, 3], [1, 0, 1.0, 4]]


def test_from_frames_dedups_triples_and_links_items_to_entities() -> None:
    dataset = RecDataset.from_frames(
        "d",
        pd.DataFrame({"user": ["u"], "item": ["a"]}),
        pd.DataFrame({"head": ["ea", "ea", "x"], "relation": ["r", "r", "s"], "tail": ["x", "x", "y"]}),
        pd.DataFrame({"item": ["a"], "entity": ["ea"]}),
        item_catalogue=["a", "b"],
    )
    stats = dataset.stats()
    assert (stats.users, stats.items, stats.interactions, stats.entities, stats.relations, stats.triples) == (1, 2, 1, 3, 2, 2)
    assert stats.linked_items == 1 and stats.per_relation == {"r": 1, "s": 1}
    assert dataset.item_entity.tolist() == [dataset.entities.index("ea"), -1]
    assert stats.density == pytest.approx(0.5)


def test_item_linked_to_two_entities_is_an_error() -> None:
    with pytest.raises(DatasetError, match="more than one entity"):
        RecDataset.from_frames(
            "d", pd.DataFrame({"user": ["u"], "item": ["a"]}), links=pd.DataFrame({"item": ["a", "a"], "entity": ["x", "y"]})
        )


def test_arrays_are_read_only() -> None:
    dataset = RecDataset.from_frames("d", pd.DataFrame({"user": ["u"], "item": ["a"]}))
    with pytest.raises(ValueError):
        dataset.interactions.user[0] = 3
    with pytest.raises(AttributeError):
        dataset.name = "other"  # type: ignore[misc]


def _chain() -> RecDataset:
    # u1: a b c   u2: a b   u3: a   -> item c has 1 interaction, u3 has 1
    frame = pd.DataFrame({"user": ["u1", "u1", "u1", "u2", "u2", "u3"], "item": ["a", "b", "c", "a", "b", "a"]})
    return RecDataset.from_frames("chain", frame)


def test_filter_once_and_to_fixed_point() -> None:
    once = _chain().filter(min_user_interactions=2, min_item_interactions=2)
    assert list(once.users.raw_ids) == ["u1", "u2"] and list(once.items.raw_ids) == ["a", "b"]
    assert len(once.interactions) == 4
    # u1: a b   u2: b c   u3: c   u4: b c  -> one pass drops u3 and a, which leaves u1 with one interaction
    frame = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3", "u4", "u4"], "item": ["a", "b", "b", "c", "c", "b", "c"]})
    chained = RecDataset.from_frames("c", frame)
    one_pass = chained.filter(min_user_interactions=2, min_item_interactions=2)
    assert list(one_pass.users.raw_ids) == ["u1", "u2", "u4"] and len(one_pass.interactions) == 5
    fixed = chained.filter(min_user_interactions=2, min_item_interactions=2, iterate=True)
    assert list(fixed.users.raw_ids) == ["u2", "u4"] and list(fixed.items.raw_ids) == ["b", "c"]
    assert len(fixed.interactions) == 4


def test_subset_reindexes_and_keeps_the_kg() -> None:
    dataset = RecDataset.from_frames(
        "s",
        pd.DataFrame({"user": ["u1", "u2"], "item": ["a", "b"]}),
        pd.DataFrame({"head": ["ea"], "relation": ["r"], "tail": ["eb"]}),
        pd.DataFrame({"item": ["a", "b"], "entity": ["ea", "eb"]}),
    )
    sub = dataset.subset(users=np.array([1]), items=np.array([1]))
    assert list(sub.users.raw_ids) == ["u2"] and list(sub.items.raw_ids) == ["b"]
    assert sub.interactions.to_frame().values.tolist() == [[0, 0]]
    assert sub.item_entity.tolist() == [sub.entities.index("eb")]
    assert len(sub.triples) == 1
