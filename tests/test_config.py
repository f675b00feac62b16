"""Config dataclasses from YAML / dicts: unknown keys and wrong types are rejected with the key named."""

from __future__ import annotations

import pytest
import yaml

from kgrec.config import DataConfig, SplitConfig, from_dict, from_yaml, to_dict
from kgrec.errors import ConfigError


def test_from_dict_converts_and_validates() -> None:
    config = from_dict(SplitConfig, {"scheme": "loo", "ratios": [0.8, 0.1, 0.1], "seed": 3})
    assert config == SplitConfig(scheme="loo", ratios=(0.8, 0.1, 0.1), seed=3)
    assert from_dict(DataConfig, {"threshold": 4}).threshold == 4.0
    assert from_dict(DataConfig, {"threshold": None}).threshold is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sed": 1}, "unknown key 'sed'; valid keys: scheme, ratios, seed, split_dir"),
        ({"seed": "one"}, "config.seed: expected an integer, got 'one'"),
        ({"seed": True}, "config.seed: expected an integer"),
        ({"ratios": [0.5, 0.5]}, "config.ratios: expected a list of 3 values"),
        ({"split_dir": 3}, "config.split_dir: expected a string"),
    ],
)
def test_from_dict_errors_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        from_dict(SplitConfig, values)
    assert message in str(error.value)


def test_yaml_round_trip(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  name: ml100k\n  threshold: 0\nsplit:\n  scheme: temporal\n")
    assert from_yaml(DataConfig, path, "data") == DataConfig(name="ml100k", threshold=0.0)
    assert from_yaml(SplitConfig, path, "split").scheme == "temporal"
    split = SplitConfig(scheme="loo", ratios=(0.8, 0.15, 0.05), seed=5)
    assert to_dict(split)["ratios"] == [0.8, 0.15, 0.05]  # a YAML list, not a tuple
    path.write_text(yaml.safe_dump({"split": to_dict(split)}))
    assert from_yaml(SplitConfig, path, "split") == split


def test_yaml_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        from_yaml(DataConfig, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        from_yaml(DataConfig, bad)


def test_run_config_sections_and_dotted_overrides(tmp_path) -> None:
    from kgrec.config import TrainConfig, load_run_config, run_config_to_dict, with_overrides

    path = tmp_path / "run.yaml"
    path.write_text("data:\n  name: ml100k\nmodel:\n  layers: 2\neval:\n  ks: [5, 20]\n")
    config = load_run_config(path)
    assert (config.data.name, config.model.layers, config.eval.ks) == ("ml100k", 2, (5, 20))
    assert config.train == TrainConfig()  # a section the file leaves out: every field at its default
    changed = with_overrides(config, ["train.epochs=5", "model.attention=false", "split.ratios=[0.8, 0.1, 0.1]"])
    assert (changed.train.epochs, changed.model.attention, changed.split.ratios) == (5, False, (0.8, 0.1, 0.1))
    assert load_run_config(path) == config and run_config_to_dict(config)["eval"]["ks"] == [5, 20]
    with pytest.raises(ConfigError, match="unknown key 'train.epoch'; valid keys: train.epochs"):
        with_overrides(config, ["train.epoch=5"])
    with pytest.raises(ConfigError, match="expected section.key=value"):
        with_overrides(config, ["epochs=5"])
    with pytest.raises(ConfigError, match="model.layers: expected an integer"):
        with_overrides(config, ["model.layers=two"])
    path.write_text("modle:\n  layers: 2\n")
    with pytest.raises(ConfigError, match="unknown section 'modle'"):
        load_run_config(path)


# ---- every field is checked where it is defined --------------------------------------------------------------

import dataclasses  # noqa: E402
import math  # noqa: E402
import typing  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kgrec.config import (  # noqa: E402
    Allowed,
    EvalConfig,
    ExplainConfig,
    KGEConfig,
    ModelConfig,
    PipelineConfig,
    RunConfig,
    TrainConfig,
    allowed_values,
    with_overrides,
)

SECTIONS: dict[str, type] = {
    "data": DataConfig, "split": SplitConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig,
    "explain": ExplainConfig, "pipeline": PipelineConfig, "kge": KGEConfig,
}
FIELDS = [(section, item.name) for section, cls in SECTIONS.items() for item in dataclasses.fields(cls)]


def _scalar_hint(hint: typing.Any) -> typing.Any:
    """The element type of a field: ``int`` for ``tuple[int, ...]``, ``float`` for ``float | None``."""
    if typing.get_origin(hint) is tuple or typing.get_origin(hint) in (typing.Union, type(int | None)):
        return next(arg for arg in typing.get_args(hint) if arg not in (type(None), Ellipsis))
    return hint


def _is_tuple(hint: typing.Any) -> bool:
    return typing.get_origin(hint) is tuple or any(typing.get_origin(a) is tuple for a in typing.get_args(hint))


def wrong_type(hint: typing.Any) -> st.SearchStrategy[typing.Any]:
    """Values that are not of the (element) type ``hint``."""
    scalar = _scalar_hint(hint)
    if _scalar_hint(scalar) is not scalar:  # tuple[...] | None: the tuple's element
        scalar = _scalar_hint(scalar)
    others = {
        bool: st.one_of(st.integers(), st.sampled_from(["yes", "true", "1"])),
        int: st.one_of(st.booleans(), st.floats(allow_nan=False).filter(lambda v: v != int(v) if math.isfinite(v) else True), st.text(max_size=4)),
        float: st.one_of(st.booleans(), st.text(max_size=4)),
        str: st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans()),
    }[scalar]
    return others.map(lambda v: [v] if _is_tuple(hint) else v)


def out_of_range(allowed: Allowed, hint: typing.Any) -> st.SearchStrategy[typing.Any]:
    """Values of the right type that ``allowed`` refuses."""
    scalar = _scalar_hint(_scalar_hint(hint))
    if allowed.choices is not None:
        bad = st.text(min_size=1, max_size=8).filter(lambda v: v not in allowed.choices)
    elif allowed.pattern is not None:
        bad = st.one_of(st.just(""), st.text(max_size=8)).filter(lambda v: not allowed.accepts(v))
    elif scalar is str:
        bad = st.sampled_from(["", " ", "\t"])
    else:
        below = st.just(allowed.low) if allowed.open_low else st.floats(max_value=allowed.low, exclude_max=True)
        above = st.just(allowed.high) if allowed.open_high else st.floats(min_value=allowed.high, exclude_min=True)
        options = [st.just(math.nan), st.just(math.inf), st.just(-math.inf)] if scalar is float else []
        if allowed.low is not None:
            options.append(below.filter(math.isfinite).map(math.floor) if scalar is int else below)
        if allowed.high is not None:
            options.append(above.filter(math.isfinite).map(math.ceil) if scalar is int else above)
        bad = st.one_of(options)
        if scalar is int:
            bad = bad.filter(lambda v: isinstance(v, int) and not allowed.accepts(v))
    return bad.map(lambda v: [v] if _is_tuple(hint) else v)


@st.composite
def bad_field_values(draw: st.DrawFn) -> tuple[str, str, typing.Any]:
    """(section, field, a value outside the field's type, choices or range)."""
    section, name = draw(st.sampled_from(FIELDS))
    hint = typing.get_type_hints(SECTIONS[section])[name]
    allowed = allowed_values(SECTIONS[section])[name]
    strategies = [wrong_type(hint)] + ([] if allowed is None else [out_of_range(allowed, hint)])
    return section, name, draw(st.one_of(strategies))


def test_every_field_but_the_switches_declares_what_it_accepts() -> None:
    for section, name in FIELDS:
        hint = typing.get_type_hints(SECTIONS[section])[name]
        assert (allowed_values(SECTIONS[section])[name] is None) == (hint is bool), f"{section}.{name}"


@given(bad_field_values())
def test_a_value_outside_a_fields_type_choices_or_range_is_refused_by_name(case: tuple[str, str, typing.Any]) -> None:
    section, name, value = case
    with pytest.raises(ConfigError) as raised:
        SECTIONS[section](**{name: value})
    message = str(raised.value)
    assert message.startswith(f"{name}: expected ") and ", got " in message and "\n" not in message
    if section == "kge":
        with pytest.raises(ConfigError, match=f"^--set(: |\\.){name}: expected "):
            from_dict(KGEConfig, {name: value}, where="--set")
    else:
        with pytest.raises(ConfigError) as raised:
            with_overrides(RunConfig(), [f"{section}.{name}={yaml.safe_dump(value, default_flow_style=True).strip()}"])
        assert f"--set: {section}.{name}: expected " in str(raised.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (lambda: ModelConfig(aggregator="foo"), "aggregator: expected one of bi, sum, mean, got 'foo'"),
        (lambda: ModelConfig(kge="transr"), "kge: expected one of transh, transe, got 'transr'"),
        (lambda: ModelConfig(lambda_kg=-0.1), "lambda_kg: expected a value of at least 0, got -0.1"),
        (lambda: TrainConfig(metric="auc@5"), "metric: expected one of recall, ndcg, precision, hit, mrr at a K"),
        (lambda: TrainConfig(device="gpu"), "device: expected cpu, cuda, cuda:N, mps or xpu, got 'gpu'"),
        (lambda: SplitConfig(ratios=(0.6, 0.6, -0.2)), "ratios: expected values that are each a value in [0, 1]"),
        (lambda: SplitConfig(ratios=(0.5, 0.3, 0.3)), "ratios: expected train, valid, test shares summing to 1"),
        (lambda: ExplainConfig(rule_max_len=4), "rule_max_len: expected a value in [1, 3], got 4"),
        (lambda: DataConfig(name=""), "name: expected a non-empty string, got ''"),
        (lambda: PipelineConfig(baseline_set=("l2=1",)), "baseline_set: expected values that are each section.key=value overrides"),
        (lambda: RunConfig(eval=EvalConfig(ks=(5,))), "train.metric: ndcg@20 is not computed; eval.ks is [5]"),
        (lambda: TrainConfig(sampling="layer"), "sampling: expected one of full, neighbor, got 'layer'"),
        (lambda: TrainConfig(fanout=(10, -2)), "fanout: expected values that are each -1 (every neighbour) or at least 1"),
        (lambda: TrainConfig(fanout=(10, 0)), "fanout: expected values that are each -1 (every neighbour) or at least 1, got [10, 0]"),
        (lambda: RunConfig(train=TrainConfig(sampling="neighbor", fanout=(5,))), "train.fanout: [5] has 1 value and model.layers is 4: give one fan-out per layer, such as [10, 10, 10, 10]"),
        (lambda: RunConfig(model=ModelConfig(model="pop"), train=TrainConfig(sampling="neighbor")),
         "train.sampling: neighbor applies to the kgrec model only, not to pop; use train.sampling=full"),
    ],
)
def test_refusals_say_what_is_allowed(config: typing.Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config()
    assert message in str(raised.value)


def test_checked_values_are_kept_as_given() -> None:
    """Lists become tuples and integers floats; nothing else is changed (no value replaced by another)."""
    split = SplitConfig(ratios=[0.8, 0, 0.2])  # type: ignore[arg-type]
    assert split.ratios == (0.8, 0.0, 0.2) and all(isinstance(r, float) for r in split.ratios)
    assert ModelConfig(lambda_kg=0).lambda_kg == 0.0 and isinstance(ModelConfig(lambda_kg=0).lambda_kg, float)
    assert ModelConfig(norm_target=1, norm_source=0) == ModelConfig(norm_target=1.0, norm_source=0.0)
