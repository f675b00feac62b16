"""Configuration: frozen dataclasses per stage, built from YAML or dicts with every key and type checked."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from kgrec.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to load and how to turn its raw files into positives.

    ``name`` is a registered dataset (``kgrec data list``) or, with ``format``, a path to a user's files.
    ``threshold`` = None takes the dataset's default; 0 keeps every rating as a positive.
    """

    name: str = "lastfm-kgcn"
    format: str | None = None
    threshold: float | None = None
    keep_unlinked_items: bool = False
    min_user_interactions: int = 0
    min_item_interactions: int = 0
    iterative_filter: bool = False
    download: bool = True
    verify_checksums: bool = True


@dataclass(frozen=True)
class SplitConfig:
    """How interactions are divided into train / valid / test.

    ``scheme``: ``ratio`` (per user), ``loo`` (leave-one-out), ``temporal`` (global time cut), ``random``
    (global random cut, KGCN's CTR protocol) or ``predefined`` (the dataset's own split, or the TSV files in ``split_dir``).
    """

    scheme: str = "ratio"
    ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)
    seed: int = 2026
    split_dir: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    """Which recommender and its architecture.

    ``model``: ``kgrec`` (the joint TransH + knowledge-aware GNN), ``lightgcn``, ``bprmf`` or ``pop``.
    Ablation switches of kgrec: ``use_kg`` (False = pure CF over interact edges), ``attention`` (False =
    uniform weights), ``kge`` (``transh`` or ``transe``) and ``lambda_kg`` (0 = no KG embedding loss).
    ``aggregator``: ``bi`` (KGAT's bi-interaction), ``sum`` (GCN-style) or ``mean`` (parameter-free).
    """

    model: str = "kgrec"
    dim: int = 64
    layers: int = 3
    aggregator: str = "mean"
    attention: bool = True
    use_kg: bool = True
    kge: str = "transh"
    lambda_kg: float = 0.1
    l2: float = 1e-4
    message_dropout: float = 0.0
    margin: float = 1.0
    kg_batch_size: int = 4096
    kg_weight: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """The training loop: epochs, batches (``negatives`` sampled items per positive), optimiser, early
    stopping, threads and device. ``lr_decay`` < 1 multiplies the learning rate by that factor whenever
    the validation metric has not improved for ``lr_decay_patience`` evaluations (1 = constant rate)."""

    epochs: int = 300
    batch_size: int = 2048
    negatives: int = 1
    lr: float = 0.005
    lr_decay: float = 1.0
    lr_decay_patience: int = 10
    eval_every: int = 1
    patience: int = 30
    metric: str = "ndcg@20"
    seed: int = 2026
    num_threads: int = 2
    device: str = "cpu"


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation: the cut-offs K of the ranking metrics and the user batch size."""

    ks: tuple[int, ...] = (10, 20)
    batch_size: int = 1024


@dataclass(frozen=True)
class ExplainConfig:
    """Explanations: path enumeration, rule mining, how a rule and a path score are combined, evaluation.

    ``max_len``: longest user→item path (edges); ``max_paths``: cap on paths kept per (user, item);
    ``top_paths``: paths returned per recommendation; ``collaborative``: include u→j←u'→i paths.
    Rules: patterns of ``rule_max_len`` KG edges at most, kept with support ≥ ``min_support`` and
    confidence ≥ ``min_confidence``. The explanation's path maximises
    confidence^``rule_weight`` × (path weight / best path weight)^(1 − ``rule_weight``).
    ``eval_users`` / ``eval_k``: sample size and list length of ``kgrec explain-eval``.
    """

    max_len: int = 4
    max_paths: int = 200
    top_paths: int = 3
    collaborative: bool = True
    rule_max_len: int = 3
    min_support: int = 5
    min_confidence: float = 0.01
    max_rules: int = 500
    rule_weight: float = 0.5
    eval_users: int = 200
    eval_k: int = 10
    surrogate_depth: int = 4


@dataclass(frozen=True)
class PipelineConfig:
    """What ``kgrec run`` does after training the main model.

    ``compare``: models and ablations trained on the same split for the comparison table (names in
    :data:`kgrec.pipeline.VARIANTS`: pop, bprmf, lightgcn, no_kg, attention, no_attention, transe,
    no_kg_loss); ``explain_users``: users sampled by the explanation evaluation; ``gallery_users`` ×
    ``gallery_k``: explained recommendations shown in the report; ``report``: write report.html / .md.
    """

    compare: tuple[str, ...] = ("pop", "bprmf")
    explain_users: int = 100
    gallery_users: int = 3
    gallery_k: int = 5
    report: bool = True


def from_dict(cls: type[T], values: Mapping[str, Any] | None, where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and values of the wrong type."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    converted = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in values.items()}
    return cls(**converted)


def read_yaml_mapping(path: str | Path) -> Mapping[str, Any]:
    """The top-level mapping of a YAML file; a missing file, bad YAML or a non-mapping is a ConfigError."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: expected a mapping of keys to values")
    return document


def from_yaml(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Load ``cls`` from a YAML file (optionally one top-level ``section`` of it)."""
    document = read_yaml_mapping(path)
    if section is not None:
        document = document.get(section) or {}
        if not isinstance(document, Mapping):
            raise ConfigError(f"{path}:{section}: expected a mapping of keys to values")
    return from_dict(cls, document, where=f"{path}" + (f":{section}" if section else ""))


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-YAML-serialisable dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            if not isinstance(value, (list, tuple)) or not value:
                raise ConfigError(f"{where}: expected a non-empty list, got {value!r}")
            return tuple(_convert(v, args[0], where) for v in value)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs, one section per stage (the layout of ``config.yaml``)."""

    data: DataConfig = DataConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    explain: ExplainConfig = ExplainConfig()
    pipeline: PipelineConfig = PipelineConfig()


def run_config_from_dict(values: Mapping[str, Any] | None, where: str = "config") -> RunConfig:
    """A RunConfig from ``{section: {key: value}}``; unknown sections and keys are errors."""
    values = dict(values or {})
    sections = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - set(sections))
    if unknown:
        raise ConfigError(f"{where}: unknown section {unknown[0]!r}; sections: {', '.join(sections)}")
    hints = typing.get_type_hints(RunConfig)
    return RunConfig(**{name: from_dict(hints[name], values.get(name), f"{where}.{name}") for name in sections})


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run's YAML (sections data, split, model, train, eval)."""
    return run_config_from_dict(read_yaml_mapping(path), str(path))


def with_overrides(config: RunConfig, assignments: list[str]) -> RunConfig:
    """Apply dotted ``section.key=value`` overrides (values parsed as YAML), validated like the file."""
    values = {name: to_dict(getattr(config, name)) for name in (f.name for f in dataclasses.fields(RunConfig))}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        section, dot, field_name = key.strip().partition(".")
        if not sep or not dot or section not in values:
            valid = ", ".join(f"{s}.{k}" for s, keys in values.items() for k in keys)
            raise ConfigError(f"--set {assignment!r}: expected section.key=value; valid keys: {valid}")
        if field_name not in values[section]:
            raise ConfigError(f"--set {assignment!r}: unknown key {key!r}; valid keys: {', '.join(f'{section}.{k}' for k in values[section])}")
        values[section][field_name] = yaml.safe_load(raw) if raw.strip() else None
    return run_config_from_dict(values, "--set")


def run_config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Plain dict of a RunConfig for ``config.yaml``."""
    return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(RunConfig)}
