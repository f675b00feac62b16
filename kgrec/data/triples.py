"""Knowledge-graph triples on their own: train / valid / test splits for link prediction.

Either read from a directory of ``train.txt``, ``valid.txt`` and ``test.txt`` (TSV ``head<TAB>relation<TAB>tail``
with string names, the layout of the classic Nations / UMLS / Kinships / FB15k-237 benchmarks) with
:func:`load_triples`, or cut at random from a recommendation dataset's KG with :func:`triples_from_dataset`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from kgrec.data.dataset import IdMap, RecDataset
from kgrec.data.readers import read_table, require_nonempty
from kgrec.errors import ConfigError, DatasetError

TRIPLE_PARTS = ("train", "valid", "test")
TRIPLE_COLUMNS = ("head", "relation", "tail")


@dataclass(frozen=True, eq=False)
class TripleSplit:
    """Entity and relation id maps and three ``LongTensor[n, 3]`` of ``(head, relation, tail)`` ids."""

    entities: IdMap
    relations: IdMap
    train: Tensor
    valid: Tensor
    test: Tensor
    name: str = "triples"

    def __post_init__(self) -> None:
        for part in TRIPLE_PARTS:
            tensor = torch.as_tensor(getattr(self, part), dtype=torch.long).reshape(-1, 3)
            object.__setattr__(self, part, tensor)

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def parts(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(train, valid, test)``: every known true triple, for filtered evaluation."""
        return self.train, self.valid, self.test

    def summary(self) -> dict[str, int]:
        return {
            "entities": self.num_entities,
            "relations": self.num_relations,
            **{part: int(getattr(self, part).size(0)) for part in TRIPLE_PARTS},
        }


def load_triples(directory: str | PathLike[str], name: str | None = None) -> TripleSplit:
    """Read ``train.txt``, ``valid.txt`` and ``test.txt`` (TSV head, relation, tail; string names).

    Entity and relation ids come from the union of the three files, in natural order of their names. A
    missing or empty file, a row without exactly three fields or an empty name is a DatasetError naming file
    and line.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError("expected a directory with train.txt, valid.txt and test.txt", directory)
    frames: dict[str, pd.DataFrame] = {}
    for part in TRIPLE_PARTS:
        path = directory / f"{part}.txt"
        frame = read_table(path, TRIPLE_COLUMNS)
        for column in TRIPLE_COLUMNS:
            frame[column] = frame[column].str.strip()
        require_nonempty(frame, TRIPLE_COLUMNS, path)
        frames[part] = frame
    everything = pd.concat(frames.values(), ignore_index=True)
    entities = IdMap.from_raw("entity", pd.concat([everything["head"], everything["tail"]]).tolist())
    relations = IdMap.from_raw("relation", everything["relation"].tolist())
    tensors = {part: _ids(frame, entities, relations) for part, frame in frames.items()}
    return TripleSplit(entities, relations, tensors["train"], tensors["valid"], tensors["test"], name or directory.name)


def _ids(frame: pd.DataFrame, entities: IdMap, relations: IdMap) -> Tensor:
    columns = [
        entities.lookup(frame["head"].to_numpy()),
        relations.lookup(frame["relation"].to_numpy()),
        entities.lookup(frame["tail"].to_numpy()),
    ]
    if not len(frame):
        return torch.zeros(0, 3, dtype=torch.long)
    return torch.from_numpy(np.stack(columns, axis=1).astype(np.int64))


def triples_from_dataset(
    dataset: RecDataset, seed: int, ratios: Sequence[float] = (0.8, 0.1, 0.1)
) -> TripleSplit:
    """A seeded random split of ``dataset.triples`` into train / valid / test, on the dataset's entity ids.

    The triples are shuffled by ``numpy.random.default_rng(seed)``; valid and test get round(ratio·n) each (at
    least one when their ratio is positive), in that order after train, which keeps the rest (at least one).
    Entities that occur only in valid/test keep their ids (their embeddings stay untrained).
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConfigError(f"ratios must be three non-negative numbers (train, valid, test), got {list(ratios)}")
    triples = np.asarray(dataset.triples, dtype=np.int64).reshape(-1, 3)
    if len(triples) == 0:
        raise DatasetError(f"dataset {dataset.name!r} has no knowledge-graph triples")
    total = float(sum(ratios))
    n = len(triples)
    n_valid = max(1, round(ratios[1] / total * n)) if ratios[1] > 0 else 0
    n_test = max(1, round(ratios[2] / total * n)) if ratios[2] > 0 else 0
    if n - n_test - n_valid < 1:
        raise ConfigError(f"ratios {list(ratios)} leave no training triples out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    shuffled = torch.from_numpy(triples[order])
    n_train = n - n_valid - n_test
    train, valid, test = shuffled[:n_train], shuffled[n_train : n_train + n_valid], shuffled[n_train + n_valid :]
    return TripleSplit(dataset.entities, dataset.relations, train, valid, test, dataset.name)
