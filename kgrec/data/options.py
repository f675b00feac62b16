"""The data sections of a run's configuration: which dataset, how positives are chosen, how it is split.

They live with the data layer, which reads them; :mod:`kgrec.config` gathers them with the other sections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kgrec.errors import ConfigError
from kgrec.fields import NON_EMPTY, at_least, between, brief_repr, check_fields, checked, one_of

DATA_FORMATS = ("tsv", "kgat", "recbole")


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to load and how to turn its raw files into positives.

    ``name`` is a registered dataset (``kgrec data list``) or, with ``format``, a path to a user's files.
    ``threshold`` = None takes the dataset's default; 0 keeps every rating as a positive.
    """

    name: str = checked("lastfm-kgcn", NON_EMPTY)
    format: str | None = checked(None, one_of(*DATA_FORMATS))
    threshold: float | None = checked(None, at_least(0))
    keep_unlinked_items: bool = False
    min_user_interactions: int = checked(0, at_least(0))
    min_item_interactions: int = checked(0, at_least(0))
    iterative_filter: bool = False
    download: bool = True
    verify_checksums: bool = True

    def __post_init__(self) -> None:
        check_fields(self)


SPLIT_SCHEMES = ("ratio", "loo", "temporal", "random", "predefined")


@dataclass(frozen=True)
class SplitConfig:
    """How interactions are divided into train / valid / test.

    ``scheme``: ``ratio`` (per user), ``loo`` (leave-one-out), ``temporal`` (global time cut), ``random``
    (global random cut, KGCN's CTR protocol) or ``predefined`` (the dataset's own split, or the TSV files in
    ``split_dir``). ``ratios``: train, valid and test shares, summing to 1, train above 0.
    """

    scheme: str = checked("ratio", one_of(*SPLIT_SCHEMES))
    ratios: tuple[float, float, float] = checked((0.7, 0.1, 0.2), between(0, 1))
    seed: int = checked(2026, at_least(0))
    split_dir: str | None = checked(None, NON_EMPTY)

    def __post_init__(self) -> None:
        check_fields(self)
        if not math.isclose(sum(self.ratios), 1.0, abs_tol=1e-6) or self.ratios[0] <= 0:
            raise ConfigError(
                f"ratios: expected train, valid, test shares summing to 1 with train above 0, got {brief_repr(self.ratios)}"
            )
