"""Config dataclasses from YAML / dicts: unknown keys and wrong types are rejected with the key named."""

from __future__ import annotations

import pytest

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
    assert to_dict(SplitConfig())["ratios"] == [0.7, 0.1, 0.2]


def test_yaml_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        from_yaml(DataConfig, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        from_yaml(DataConfig, bad)


def test_run_config_sections_and_dotted_overrides(tmp_path) -> None:
    from kgrec.config import RunConfig, load_run_config, run_config_to_dict, with_overrides

    path = tmp_path / "run.yaml"
    path.write_text("data:\n  name: ml100k\nmodel:\n  layers: 2\neval:\n  ks: [5, 10]\n")
    config = load_run_config(path)
    assert (config.data.name, config.model.layers, config.eval.ks, config.train.epochs) == ("ml100k", 2, (5, 10), 300)
    changed = with_overrides(config, ["train.epochs=5", "model.attention=false", "split.ratios=[0.8, 0.1, 0.1]"])
    assert (changed.train.epochs, changed.model.attention, changed.split.ratios) == (5, False, (0.8, 0.1, 0.1))
    assert load_run_config(path) == config and run_config_to_dict(RunConfig())["eval"]["ks"] == [10, 20]
    with pytest.raises(ConfigError, match="unknown key 'train.epoch'; valid keys: train.epochs"):
        with_overrides(config, ["train.epoch=5"])
    with pytest.raises(ConfigError, match="expected section.key=value"):
        with_overrides(config, ["epochs=5"])
    with pytest.raises(ConfigError, match="model.layers: expected an integer"):
        with_overrides(config, ["model.layers=two"])
    path.write_text("modle:\n  layers: 2\n")
    with pytest.raises(ConfigError, match="unknown section 'modle'"):
        load_run_config(path)
