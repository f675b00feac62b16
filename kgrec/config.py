"""Configuration: frozen dataclasses per stage, built from YAML or dicts with every key and type checked.

Every field declares what it accepts next to its default (:func:`kgrec.fields.checked`: a set of choices or a
numeric range); each dataclass checks the types and those constraints of all its fields when it is
constructed, whether from YAML, ``--set`` or Python, and refuses a bad value with a :class:`ConfigError`
naming the key, the value and what is allowed. Nothing is ever silently replaced by another value. The data
sections (``DataConfig``, ``SplitConfig``) are defined with the data layer that reads them.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

# DataConfig, SplitConfig and allowed_values are re-exported: a run's configuration is read from this module.
from kgrec.data.options import DATA_FORMATS, SPLIT_SCHEMES, DataConfig, SplitConfig  # noqa: F401
from kgrec.errors import ConfigError
from kgrec.fields import Allowed, above, allowed_values, at_least, between, brief_repr, check_fields, checked, one_of  # noqa: F401

T = TypeVar("T")


# ---- the sections of a run -----------------------------------------------------------------------------------

MODELS = ("kgrec", "lightgcn", "bprmf", "pop")
AGGREGATORS = ("bi", "sum", "mean")
ATTENTION_REFRESHES = ("step", "epoch")
KGES = ("transh", "transe")


@dataclass(frozen=True)
class ModelConfig:
    """Which recommender and its architecture; the defaults are the configuration chosen on validation.

    ``model``: ``kgrec`` (the joint TransH + knowledge-aware GNN), ``lightgcn``, ``bprmf`` or ``pop``.
    Ablation switches of kgrec: ``use_kg`` (False = pure CF over interact edges), ``attention`` (False =
    uniform weights), ``kge`` (``transh`` or ``transe``) and ``lambda_kg`` (0 = no KG embedding loss).
    ``attention_refresh``: ``epoch`` computes the TransH attention once per training epoch (when the model
    enters training mode, as KGAT refreshes its attentive adjacency once an epoch); ``step`` recomputes it
    at every training step. ``aggregator``: ``mean`` (parameter-free, LightGCN-style), ``sum`` (GCN-style)
    or ``bi`` (KGAT's bi-interaction). ``margin`` and ``kg_batch_size``: TransH's margin loss and the KG
    triples it sees per step. Propagation of LightGCN++ (Lee et al., RecSys 2024): an edge j → i weighs
    deg(i)^−``norm_target`` · deg(j)^−``norm_source`` (½, ½ is LightGCN's symmetric normalisation).
    """

    model: str = checked("kgrec", one_of(*MODELS))
    dim: int = checked(64, at_least(1))
    layers: int = checked(4, at_least(0))
    aggregator: str = checked("mean", one_of(*AGGREGATORS))
    attention: bool = True
    attention_refresh: str = checked("epoch", one_of(*ATTENTION_REFRESHES))
    use_kg: bool = True
    kge: str = checked("transh", one_of(*KGES))
    lambda_kg: float = checked(1.0, at_least(0))
    l2: float = checked(0.015, at_least(0))
    margin: float = checked(1.0, above(0))
    kg_batch_size: int = checked(4096, at_least(1))
    norm_target: float = checked(0.6, between(0, 1))
    norm_source: float = checked(0.4, between(0, 1))

    def __post_init__(self) -> None:
        check_fields(self)


LOSSES = ("bpr", "softmax")
METRIC_NAMES = ("recall", "ndcg", "precision", "hit", "mrr")
METRIC = Allowed(pattern=rf"({'|'.join(METRIC_NAMES)})@[1-9][0-9]*", what=f"one of {', '.join(METRIC_NAMES)} at a K, such as ndcg@20")
DEVICE = Allowed(pattern=r"cpu|mps|(cuda|xpu)(:[0-9]+)?", what="cpu, cuda, cuda:N, mps or xpu")
SAMPLINGS = ("full", "neighbor")
FANOUT = Allowed(low=-1, what="-1 (every neighbour) or at least 1")  # 0 is refused in TrainConfig.__post_init__


@dataclass(frozen=True)
class TrainConfig:
    """The training loop; the defaults are the configuration chosen on validation.

    Epochs, batches (``negatives`` uniformly sampled items per positive), the ranking ``loss`` (``bpr``,
    the mean over the negatives of −log σ(s⁺ − s⁻), or ``softmax``, the sampled softmax: cross-entropy of
    the positive against its negatives), Adam's ``lr`` with ``lr_cosine_epochs`` T > 0 annealing it along a
    half cosine down to 0.05 · lr over the first T epochs (0: a constant rate), validation every
    ``eval_every`` epochs and early stopping on ``metric`` after ``patience`` epochs without a better one,
    threads and device. ``deterministic`` (default on) uses PyTorch's deterministic kernels, so that a rerun
    is bit-identical on the CPU at any fixed thread count and on a GPU (see docs/RELIABILITY.md); off
    allows the atomic-add ones. ``sampling``: ``full`` propagates every step over the whole graph;
    ``neighbor`` (kgrec only) over the sampled neighbourhood of the batch's users and items, with at most
    ``fanout[l]`` in-edges per node at hop l (one value per model layer, -1 = all of them; see
    :mod:`kgrec.training.neighbors`)."""

    epochs: int = checked(500, at_least(0))
    batch_size: int = checked(2048, at_least(1))
    negatives: int = checked(64, at_least(1))
    loss: str = checked("softmax", one_of(*LOSSES))
    sampling: str = checked("full", one_of(*SAMPLINGS))
    fanout: tuple[int, ...] = checked((10, 10, 10, 10), FANOUT)
    lr: float = checked(0.005, above(0))
    lr_cosine_epochs: int = checked(400, at_least(0))
    eval_every: int = checked(1, at_least(1))
    patience: int = checked(100, at_least(0))
    metric: str = checked("ndcg@20", METRIC)
    seed: int = checked(2026, at_least(0))
    num_threads: int = checked(2, at_least(1))
    device: str = checked("cpu", DEVICE)
    deterministic: bool = True

    def __post_init__(self) -> None:
        check_fields(self)
        if 0 in self.fanout:
            raise ConfigError(f"fanout: expected values that are each {FANOUT.describe()}, got {brief_repr(list(self.fanout))}")


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation: the cut-offs K of the ranking metrics and the user batch size."""

    ks: tuple[int, ...] = checked((10, 20), at_least(1))
    batch_size: int = checked(1024, at_least(1))

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class ExplainConfig:
    """Explanations: path enumeration, rule mining, how a rule and a path score are combined, evaluation.

    ``max_len``: longest user→item path (edges, at most 6: the number of paths grows exponentially);
    ``max_paths``: cap on paths kept per (user, item); ``top_paths``: paths returned per recommendation;
    ``collaborative``: include u→j←u'→i paths. Rules: patterns of ``rule_max_len`` KG edges at most (1–3),
    kept with support ≥ ``min_support`` and confidence ≥ ``min_confidence``, the ``max_rules`` best; a rule
    is told only when it is better than chance: lift ≥ ``min_lift``, support ≥ ``min_support``, and against
    pairs of equally popular items a lift ≥ ``min_popularity_lift`` with a p-value ≤ ``max_p_value``; rules
    with a constant (a two-relation pattern through one fixed node) are kept only when they clear that bar
    (:mod:`kgrec.explain.rules`). A pair
    is co-liked when ``min_colikes`` users like both (None: the smallest number that leaves at most 5 % of
    the item pairs co-liked, :func:`kgrec.explain.rules.colike_threshold`). The told
    rule maximises confidence^``rule_weight`` × (its paths' weight / the best rule's)^(1 − ``rule_weight``)
    (:mod:`kgrec.explain.explainer`). ``eval_users`` / ``eval_k``: sample size and list length of ``kgrec explain-eval``;
    ``surrogate_depth``: depth of its decision-tree surrogate.
    """

    max_len: int = checked(4, between(1, 6))
    max_paths: int = checked(200, at_least(1))
    top_paths: int = checked(3, at_least(1))
    collaborative: bool = True
    rule_max_len: int = checked(3, between(1, 3))
    min_support: int = checked(5, at_least(1))
    min_confidence: float = checked(0.01, between(0, 1))
    min_lift: float = checked(1.5, at_least(1))
    min_popularity_lift: float = checked(1.3, at_least(0))
    max_p_value: float = checked(0.01, between(0, 1))
    min_colikes: int | None = checked(None, at_least(1))
    max_rules: int = checked(500, at_least(1))
    rule_weight: float = checked(0.5, between(0, 1))
    eval_users: int = checked(200, at_least(1))
    eval_k: int = checked(10, at_least(1))
    surrogate_depth: int = checked(4, at_least(1))

    def __post_init__(self) -> None:
        check_fields(self)


#: The models and ablations ``pipeline.compare`` can name (their overrides: :data:`kgrec.pipeline.VARIANTS`).
VARIANT_NAMES = ("pop", "bprmf", "lightgcn", "no_kg", "attention", "no_attention", "transe", "no_kg_loss")
OVERRIDE = Allowed(pattern=r"\s*[a-z_]+\.[a-z_0-9]+\s*=.*", what="section.key=value overrides")


@dataclass(frozen=True)
class PipelineConfig:
    """What ``kgrec run`` does after training the main model.

    ``compare``: models and ablations trained on the same split for the comparison table (:data:`VARIANT_NAMES`);
    ``explain_users``: users sampled by the explanation evaluation; ``gallery_users`` × ``gallery_k``:
    explained recommendations shown in the report; ``inspect``: the relation and entity analysis of
    ``kgrec inspect`` on the same users (``RUN/inspect/``, a report section); ``report``: write
    report.html / .md; ``baseline_set``: ``section.key=value`` overrides for the baselines only (pop, bprmf,
    lightgcn), applied after their one-negative BPR.
    """

    compare: tuple[str, ...] = checked(("pop", "bprmf"), one_of(*VARIANT_NAMES))
    baseline_set: tuple[str, ...] | None = checked(None, OVERRIDE)
    explain_users: int = checked(100, at_least(0))
    gallery_users: int = checked(3, at_least(0))
    gallery_k: int = checked(5, at_least(1))
    inspect: bool = True
    report: bool = True

    def __post_init__(self) -> None:
        check_fields(self)


KGE_MODELS = ("transh", "transe")


@dataclass(frozen=True)
class KGEConfig:
    """Hyper-parameters of ``kgrec kge train`` (:func:`kgrec.training.kge.train_kge`).

    ``model``: ``transh`` (kgrec's TransH) or ``transe`` (PyG's TransE, L1, entities normalised in the score).
    ``negative_sampling``: ``bern`` (Wang et al. 2014) or ``uniform`` (head or tail with probability ½).
    TransH only: ``distance`` ``l2`` (−‖·‖₂, as PyKEEN) or ``l2sq`` (−‖·‖₂², as the paper);
    ``constraint`` ``all`` (soft constraints summed over every entity and relation once per batch, as PyKEEN)
    or ``batch`` (averaged over the batch's entities and relations); ``init`` ``normal`` (every table
    N(0, (2/√dim)²), PyKEEN's ``xavier_normal_``) or ``model`` (TransH's own Xavier-uniform);
    ``unit_normals`` renormalises the hyperplane normals to unit length after every optimiser step.
    ``num_threads`` defaults to 1: the per-step tensors are tiny, and intra-op threads only add synchronisation
    (25× slower with 2 threads on a busy 2-core machine). ``eval_every`` > 0 records the filtered valid MRR
    in the history every that many epochs (0: never).
    """

    model: str = checked("transh", one_of(*KGE_MODELS))
    dim: int = checked(64, at_least(1))
    epochs: int = checked(300, at_least(0))
    batch_size: int = checked(256, at_least(1))
    lr: float = checked(0.01, above(0))
    margin: float = checked(1.0, at_least(0))
    soft_constraint_weight: float = checked(0.05, at_least(0))
    negative_sampling: str = checked("bern", one_of("bern", "uniform"))
    distance: str = checked("l2", one_of("l2", "l2sq"))
    constraint: str = checked("all", one_of("all", "batch"))
    init: str = checked("normal", one_of("normal", "model"))
    unit_normals: bool = True
    seed: int = checked(2026, at_least(0))
    num_threads: int = checked(1, at_least(1))
    device: str = checked("cpu", DEVICE)
    eval_every: int = checked(0, at_least(0))
    eval_batch_size: int = checked(256, at_least(1))

    def __post_init__(self) -> None:
        check_fields(self)


def _mapping(values: Any, where: str) -> dict[Any, Any]:
    """``values`` (None: empty) as a dict; anything but a mapping is a ConfigError."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {brief_repr(values)}")
    return dict(values)


def unknown_keys(values: Mapping[Any, Any], known: Collection[str]) -> list[Any]:
    """The keys of ``values`` not in ``known``, in file order (YAML keys may be numbers, dates, None...)."""
    return [key for key in values if not isinstance(key, str) or key not in known]


def from_dict(cls: type[T], values: Mapping[str, Any] | None, where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and values of the wrong type."""
    values = _mapping(values, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = unknown_keys(values, fields)
    if unknown:
        raise ConfigError(f"{where}: unknown key {brief_repr(unknown[0])}; valid keys: {', '.join(fields)}")
    try:  # the dataclass checks every value's type and range (kgrec.fields.check_fields)
        return cls(**values)
    except ConfigError as error:  # its checks name the field ("lr: expected ..."), not the file
        raise ConfigError(f"{where}.{error}") from None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reporting scalars it cannot construct (a 31 February, a 5000-digit integer) as
    YAML errors with their position instead of a bare ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            problem = f"cannot read this value ({error})"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _yaml_problem(error: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    """(1-based line or None, one-line description) of a PyYAML error.

    Lines are counted by LF like everywhere else in kgrec (YAML also breaks lines at a lone CR or U+2028).
    """
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        index = min(error.problem_mark.index, len(text))
        column = index - text.rfind("\n", 0, index)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        return text.count("\n", 0, index) + 1, f"{problem}, column {column}"
    if isinstance(error, yaml.reader.ReaderError) and isinstance(error.character, int):
        line = text.count("\n", 0, error.position) + 1
        return line, f"character U+{error.character:04X} is not allowed in YAML text"
    return None, " ".join(str(error).split())


def parse_yaml(text: str, source: str) -> Any:
    """The document of a YAML text (None when empty); bad YAML is a ConfigError ``source:line: ...``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        line, problem = _yaml_problem(error, text)
        location = f"{source}:{line}" if line is not None else source
        raise ConfigError(f"{location}: not valid YAML ({problem})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid YAML (nested too deeply)") from None


def read_yaml_text(path: str | Path, what: str = "config file") -> str:
    """A YAML file's text; a missing or unreadable file, or one that is not UTF-8, is a ConfigError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"{path}:{line}: byte 0x{data[error.start]:02x} is not valid UTF-8 text") from None


def read_yaml_mapping(path: str | Path) -> Mapping[str, Any]:
    """The top-level mapping of a YAML file; a missing file, bad YAML or a non-mapping is a ConfigError."""
    document = parse_yaml(read_yaml_text(path), str(path))
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {brief_repr(document)}")
    return document


def from_yaml(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Load ``cls`` from a YAML file (optionally one top-level ``section`` of it)."""
    document = read_yaml_mapping(path)
    if section is not None:
        document = document.get(section) or {}
    return from_dict(cls, document, where=f"{path}" + (f":{section}" if section else ""))


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-YAML-serialisable dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


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

    def __post_init__(self) -> None:
        require_computed_metric(self.train, self.eval)
        require_sampling_fits(self.train, self.model)


def require_computed_metric(train: TrainConfig, evaluation: EvalConfig) -> None:
    """``train.metric`` (early stopping) must be at one of the cut-offs ``eval.ks`` that evaluation computes."""
    name, _, k = train.metric.partition("@")
    if int(k) not in evaluation.ks:
        raise ConfigError(
            f"train.metric: {train.metric} is not computed; eval.ks is {list(evaluation.ks)}: "
            f"use a K of eval.ks, such as {name}@{evaluation.ks[-1]}"
        )


def require_sampling_fits(train: TrainConfig, model: ModelConfig) -> None:
    """``train.sampling = "neighbor"`` needs the kgrec model with at least one layer and one ``train.fanout``
    value per layer (with ``full`` the fan-outs are not read)."""
    if train.sampling != "neighbor":
        return
    if model.model != "kgrec":
        raise ConfigError(f"train.sampling: neighbor applies to the kgrec model only, not to {model.model}; use train.sampling=full")
    if model.layers == 0:
        raise ConfigError("train.sampling: neighbor needs model.layers of at least 1 (there is nothing to sample); use train.sampling=full")
    if len(train.fanout) != model.layers:
        raise ConfigError(
            f"train.fanout: {list(train.fanout)} has {len(train.fanout)} value{'s' if len(train.fanout) > 1 else ''} "
            f"and model.layers is {model.layers}: give one fan-out per layer, such as {[10] * model.layers}"
        )


def run_config_from_dict(values: Mapping[str, Any] | None, where: str = "config") -> RunConfig:
    """A RunConfig from ``{section: {key: value}}``; unknown sections and keys are errors."""
    values = _mapping(values, where)
    sections = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    unknown = unknown_keys(values, sections)
    if unknown:
        raise ConfigError(f"{where}: unknown section {brief_repr(unknown[0])}; sections: {', '.join(sections)}")
    hints = typing.get_type_hints(RunConfig)
    parts = {name: from_dict(hints[name], values.get(name), f"{where}: {name}") for name in sections}
    try:
        return RunConfig(**parts)
    except ConfigError as error:  # a check across sections
        raise ConfigError(f"{where}: {error}") from None


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
        values[section][field_name] = parse_yaml(raw, f"--set {assignment!r}") if raw.strip() else None
    return run_config_from_dict(values, "--set")


def run_config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Plain dict of a RunConfig for ``config.yaml``."""
    return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(RunConfig)}


def load_pipeline_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """A pipeline YAML (sections data, split, model, train, eval, explain, pipeline) plus dotted overrides; a
    run directory's ``config.yaml`` reads as one too (its ``kgrec_version`` is ignored)."""
    document = dict(read_yaml_mapping(path))
    document.pop("kgrec_version", None)
    return with_overrides(run_config_from_dict(document, str(path)), list(overrides))
