"""Configuration: frozen dataclasses per stage, built from YAML or dicts with every key and type checked."""

from __future__ import annotations

import dataclasses
import reprlib
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from kgrec.errors import ConfigError, IncompatibleRunError, RunError

T = TypeVar("T")


def require_at_least(config: Any, minimum: int, *names: str) -> None:
    """ConfigError naming the field when a count or size in ``names`` (a number, or a tuple of numbers) is below
    ``minimum``: a batch size of 0 or a negative epoch count would fail late or silently do nothing.
    (:func:`from_dict` prefixes the file or ``--set`` and the section.)"""
    for name in names:
        value = getattr(config, name)
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) and v < minimum for v in values):
            what = "values" if isinstance(value, tuple) else "a value"
            raise ConfigError(f"{name}: expected {what} of at least {minimum}, got {brief_repr(value)}")


def require_above_zero(config: Any, *names: str) -> None:
    """ConfigError naming the first field of ``names`` that is not above 0 (NaN included)."""
    for name in names:
        if not getattr(config, name) > 0:
            raise ConfigError(f"{name}: expected a value above 0, got {brief_repr(getattr(config, name))}")


def require_one_of(config: Any, name: str, choices: tuple[str, ...]) -> None:
    """ConfigError naming the field when its value is not one of ``choices``."""
    if getattr(config, name) not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {brief_repr(getattr(config, name))}")


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


ATTENTION_REFRESHES = ("step", "epoch")


@dataclass(frozen=True)
class ModelConfig:
    """Which recommender and its architecture.

    ``model``: ``kgrec`` (the joint TransH + knowledge-aware GNN), ``lightgcn``, ``bprmf`` or ``pop``.
    Ablation switches of kgrec: ``use_kg`` (False = pure CF over interact edges), ``attention`` (False =
    uniform weights), ``kge`` (``transh`` or ``transe``) and ``lambda_kg`` (0 = no KG embedding loss).
    ``attention_temperature`` τ divides the attention logits before the softmax (below 1 sharpens the
    weights, above 1 flattens them towards uniform). ``attention_refresh``: ``step`` recomputes the
    attention from the current embeddings at every training step; ``epoch`` computes it once per
    training epoch (when the model enters training mode, as KGAT refreshes its attentive adjacency once
    an epoch), which saves most of the attention's cost in training.
    ``aggregator``: ``bi`` (KGAT's bi-interaction), ``sum`` (GCN-style) or ``mean`` (parameter-free).
    ``normalize`` unit-normalises kgrec's final representations (score = cosine; pair it with
    ``train.loss=softmax`` and a temperature). ``cl_weight`` > 0 adds XSimGCL's contrastive loss (Yu et
    al. 2023): in training every layer's output gets random noise of norm ``cl_noise``, and InfoNCE
    (temperature ``cl_temperature``) pulls each batch user's and item's final representation towards its
    layer-``cl_layer`` output. The propagation options of LightGCN++ (Lee et al., RecSys 2024):
    an edge j → i weighs deg(i)^−``norm_target`` · deg(j)^−``norm_source`` (½, ½ is LightGCN's symmetric
    normalisation); ``normalize_layers`` unit-normalises every layer's input; the final representation is
    ``ego_weight`` · layer 0 + (1 − ``ego_weight``) · the mean of the propagated layers (None: the mean of
    all layers, layer 0 included, as in LightGCN).
    """

    model: str = "kgrec"
    dim: int = 64
    layers: int = 3
    aggregator: str = "mean"
    attention: bool = True
    attention_temperature: float = 1.0
    attention_refresh: str = "step"
    use_kg: bool = True
    kge: str = "transh"
    lambda_kg: float = 0.1
    l2: float = 1e-4
    message_dropout: float = 0.0
    margin: float = 1.0
    kg_batch_size: int = 4096
    kg_weight: float = 1.0
    normalize: bool = False
    cl_weight: float = 0.0
    cl_noise: float = 0.1
    cl_temperature: float = 0.2
    cl_layer: int = 1
    norm_target: float = 0.5
    norm_source: float = 0.5
    normalize_layers: bool = False
    ego_weight: float | None = None

    def __post_init__(self) -> None:
        require_at_least(self, 1, "dim", "kg_batch_size", "cl_layer")
        require_at_least(self, 0, "layers", "cl_weight", "cl_noise", "norm_target", "norm_source")
        if self.ego_weight is not None and not 0 <= self.ego_weight <= 1:
            raise ConfigError(f"ego_weight: expected a value in [0, 1], got {brief_repr(self.ego_weight)}")
        require_above_zero(self, "cl_temperature", "attention_temperature")
        require_one_of(self, "attention_refresh", ATTENTION_REFRESHES)
        if self.cl_weight > 0 and self.cl_layer > self.layers:
            raise ConfigError(f"cl_layer: expected a layer of the {self.layers}-layer model, got {self.cl_layer}")


NEGATIVE_CHOICES = ("all", "hardest", "mixgcf")
LOSSES = ("bpr", "softmax")


@dataclass(frozen=True)
class TrainConfig:
    """The training loop: epochs, batches (``negatives`` sampled items per positive), the ranking ``loss``
    (``bpr`` or ``softmax``, the sampled softmax with logits divided by ``temperature``; ``negative_choice``
    ``all`` uses every negative, ``hardest`` only the highest-scoring one: dynamic negative sampling,
    ``mixgcf`` synthesises one hard negative from them by MixGCF's positive and hop mixing, kgrec only),
    optimiser, early stopping, threads and device. ``lr_decay`` < 1 multiplies the learning rate by that
    factor whenever the validation metric has not improved for ``lr_decay_patience`` evaluations (1 =
    constant rate). ``lr_cosine_epochs`` T > 0 instead anneals it along a half cosine from ``lr`` down to
    ``lr_cosine_floor`` · ``lr`` over the first T epochs, then keeps it there. ``ema`` > 0 evaluates,
    early-stops on and saves an exponential moving average of the weights (updated after every step with that
    decay; Polyak averaging), not the raw weights.
    ``deterministic`` (default on) uses PyTorch's deterministic kernels, so that a rerun is bit-identical on
    the CPU at any fixed thread count and on a GPU (see docs/RELIABILITY.md); off allows the atomic-add ones."""

    epochs: int = 300
    batch_size: int = 2048
    negatives: int = 1
    negative_choice: str = "all"
    loss: str = "bpr"
    temperature: float = 1.0
    lr: float = 0.005
    lr_decay: float = 1.0
    lr_decay_patience: int = 10
    lr_cosine_epochs: int = 0
    lr_cosine_floor: float = 0.05
    ema: float = 0.0
    eval_every: int = 1
    patience: int = 30
    metric: str = "ndcg@20"
    seed: int = 2026
    num_threads: int = 2
    device: str = "cpu"
    deterministic: bool = True

    def __post_init__(self) -> None:
        require_at_least(self, 1, "batch_size", "negatives", "lr_decay_patience", "eval_every", "num_threads")
        require_one_of(self, "negative_choice", NEGATIVE_CHOICES)
        require_one_of(self, "loss", LOSSES)
        require_above_zero(self, "temperature")
        require_at_least(self, 0, "epochs", "patience", "lr_cosine_epochs")
        if not 0 <= self.lr_cosine_floor <= 1:
            floor = brief_repr(self.lr_cosine_floor)
            raise ConfigError(f"lr_cosine_floor: expected a fraction of lr in [0, 1], got {floor}")
        if self.lr_cosine_epochs > 0 and self.lr_decay < 1:
            raise ConfigError(
                f"lr_cosine_epochs: expected 0 while lr_decay is below 1 (one learning-rate schedule at a time), "
                f"got {self.lr_cosine_epochs}"
            )
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema: expected a decay in [0, 1), got {brief_repr(self.ema)}")


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation: the cut-offs K of the ranking metrics and the user batch size."""

    ks: tuple[int, ...] = (10, 20)
    batch_size: int = 1024

    def __post_init__(self) -> None:
        require_at_least(self, 1, "ks", "batch_size")


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
    ``gallery_k``: explained recommendations shown in the report; ``inspect``: the relation and entity
    analysis of ``kgrec inspect`` on the same users (``RUN/inspect/``, a report section); ``report``: write
    report.html / .md; ``baseline_set``: ``section.key=value`` overrides for the baselines only (pop, bprmf,
    lightgcn), applied after their one-negative BPR.
    """

    compare: tuple[str, ...] = ("pop", "bprmf")
    baseline_set: tuple[str, ...] | None = None
    explain_users: int = 100
    gallery_users: int = 3
    gallery_k: int = 5
    inspect: bool = True
    report: bool = True


class _Brief(reprlib.Repr):
    """reprlib with small limits, and huge integers shown by size (repr() refuses over 4300 digits)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxstring, self.maxother = 2, 4, 4, 60, 60

    def repr_int(self, x: int, level: int) -> str:
        return repr(x) if x.bit_length() <= 128 else f"<a {x.bit_length()}-bit integer>"


def brief_repr(value: Any) -> str:
    """A short repr for error messages: YAML aliases can make a value exponentially large when printed in full."""
    return _Brief().repr(value)


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
    hints = typing.get_type_hints(cls)
    converted = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in values.items()}
    try:
        return cls(**converted)
    except ConfigError as error:  # the dataclass's own checks do not know which file the values came from
        raise ConfigError(f"{where}: {error}") from None


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
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {brief_repr(value)}")
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            if not isinstance(value, (list, tuple)) or not value:
                raise ConfigError(f"{where}: expected a non-empty list, got {brief_repr(value)}")
            return tuple(_convert(v, args[0], where) for v in value)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {brief_repr(value)}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {brief_repr(value)}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {brief_repr(value)}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an integer beyond 1.8e308
                raise ConfigError(f"{where}: number {brief_repr(value)} is too large") from None
        raise ConfigError(f"{where}: expected a number, got {brief_repr(value)}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {brief_repr(value)}")
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
    values = _mapping(values, where)
    sections = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    unknown = unknown_keys(values, sections)
    if unknown:
        raise ConfigError(f"{where}: unknown section {brief_repr(unknown[0])}; sections: {', '.join(sections)}")
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
        values[section][field_name] = parse_yaml(raw, f"--set {assignment!r}") if raw.strip() else None
    return run_config_from_dict(values, "--set")


def run_config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Plain dict of a RunConfig for ``config.yaml``."""
    return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(RunConfig)}


RUN_CONFIG = "config.yaml"


def run_file(run_dir: str | Path, name: str, writer: str) -> Path:
    """``run_dir / name``, checked to exist: RunError naming the directory or the file (``writer`` is the
    command that writes such run directories, for the message)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        reason = "no such run directory" if not run_dir.exists() else "a file, not a run directory"
        raise RunError(f"{run_dir}: {reason}")
    path = run_dir / name
    if not path.is_file():
        raise RunError(f"{path}: file not found; not a run directory written by `{writer}`")
    return path


def saved_run_config(run_dir: str | Path) -> RunConfig:
    """The config saved in a run directory by ``kgrec train`` (or ``kgrec run``), checked to be written by this
    kgrec version: RunError, IncompatibleRunError or ConfigError naming the file otherwise.

    It reads one small file and imports nothing heavy, so a mistyped or foreign run is reported at once."""
    from kgrec import __version__  # not at the top: kgrec/__init__ imports this module first

    path = run_file(run_dir, RUN_CONFIG, "kgrec train")
    document = dict(read_yaml_mapping(path))
    version = document.pop("kgrec_version", None)
    if version is None:
        hint = " (a `kgrec kge train` run: use `kgrec kge evaluate`)" if "kge" in document else ""
        raise RunError(f"{path}: no kgrec_version; not a run directory written by `kgrec train`{hint}")
    if version != __version__:
        shown = version if isinstance(version, str) else brief_repr(version)
        raise IncompatibleRunError(f"{path}: written by kgrec {shown}, this is kgrec {__version__}; retrain the run")
    return run_config_from_dict(document, str(path))
