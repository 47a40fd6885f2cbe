"""Config resolution: precedence, types, ranges, unknown keys, TOML."""

import typing
from dataclasses import dataclass
from typing import Literal

import pytest

from trainlab.config import (
    BaseConfig,
    _coerce,
    describe_fields,
    leaf_fields,
    option,
    parse_set_value,
    resolve,
)
from trainlab.errors import BadInput


@dataclass
class Model:
    widths: list[int] = option([8, 8], "hidden widths")
    activation: Literal["relu", "tanh"] = option("relu", "activation")


@dataclass
class Cfg(BaseConfig):
    lr: float = option(0.1, "learning rate")
    epochs: int = option(10, "epochs")
    name: str = option("a", "free text")
    flag: bool = option(False, "a switch")
    scale: float | None = option(None, "optional")
    decay: float = option(0.0, "at least zero", minimum=0.0)
    model: Model = option(Model(), "the model")


PRESETS = {"quick": {"epochs": 3, "lr": 0.5}, "smoke": {"epochs": 1}}


def test_precedence_defaults_preset_file_set(tmp_path):
    cfg = resolve(Cfg, PRESETS, "full")
    assert (cfg.lr, cfg.epochs) == (0.1, 10)
    cfg = resolve(Cfg, PRESETS, "quick")
    assert (cfg.lr, cfg.epochs) == (0.5, 3)
    toml = tmp_path / "c.toml"
    toml.write_text('lr = 0.25\n[model]\nwidths = [4]\n')
    cfg = resolve(Cfg, PRESETS, "quick", config_file=toml)
    assert (cfg.lr, cfg.epochs, cfg.model.widths) == (0.25, 3, [4])
    cfg = resolve(Cfg, PRESETS, "quick", config_file=toml, sets={"lr": 0.01, "model.widths": [2]},
                  seed=7)
    assert (cfg.lr, cfg.epochs, cfg.model.widths, cfg.seed) == (0.01, 3, [2], 7)


def test_instances_do_not_share_mutable_defaults():
    a, b = Cfg(), Cfg()
    a.model.widths.append(3)
    assert b.model.widths == [8, 8]


@pytest.mark.parametrize("sets,fragment", [
    ({"lr": "abc"}, "'lr': expected a number"),
    ({"epochs": 1.5}, "'epochs': expected an integer"),
    ({"epochs": True}, "'epochs': expected an integer"),
    ({"epochs": -1}, "'epochs': must be > 0"),
    ({"lr": 0}, "'lr': must be > 0"),
    ({"nosuchkey": 1}, "unknown config key 'nosuchkey'"),
    ({"model.depth": 1}, "unknown config key 'model.depth'"),
    ({"lr.x": 1}, "'lr' has no sub-keys"),
    ({"model.activation": "swish"}, "expected one of"),
    ({"model.widths": 3}, "expected a list"),
    ({"model.widths": [1, "a"]}, "'model.widths[1]': expected an integer"),
    ({"flag": "yes"}, "expected true or false"),
])
def test_bad_values_name_the_key(sets, fragment):
    with pytest.raises(BadInput, match=None) as info:
        resolve(Cfg, PRESETS, "full", sets=sets)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_preset_and_bad_toml(tmp_path):
    with pytest.raises(BadInput, match="unknown preset 'nope'"):
        resolve(Cfg, PRESETS, "nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 1")
    with pytest.raises(BadInput, match="invalid TOML"):
        resolve(Cfg, PRESETS, config_file=bad)
    with pytest.raises(BadInput, match="not found"):
        resolve(Cfg, PRESETS, config_file=tmp_path / "missing.toml")
    with pytest.raises(BadInput, match="is a directory"):
        resolve(Cfg, PRESETS, config_file=tmp_path)


def test_set_values_parse_as_json_else_string():
    assert parse_set_value("0.5") == 0.5
    assert parse_set_value("[1, 2]") == [1, 2]
    assert parse_set_value("adam") == "adam"
    cfg = resolve(Cfg, PRESETS, sets={"name": 123, "scale": None})
    assert cfg.name == "123" and cfg.scale is None


def test_describe_fields_lists_nested_keys_with_help():
    rows = {r["key"]: r for r in describe_fields(Cfg)}
    assert rows["model.widths"]["help"] == "hidden widths"
    assert rows["lr"]["default"] == 0.1
    assert "seed" in rows and "title" in rows


def test_leaf_fields_flatten_sections_with_type_default_help_and_range():
    leaves = {leaf.key: leaf for leaf in leaf_fields(Cfg)}
    assert list(leaves) == ["title", "seed", "lr", "epochs", "name", "flag", "scale", "decay",
                            "model.widths", "model.activation"]
    assert leaves["model.activation"].type == Literal["relu", "tanh"]
    assert (leaves["model.widths"].default, leaves["model.widths"].help) == ([8, 8],
                                                                           "hidden widths")
    # positive by name (POSITIVE_FIELDS: lr, epochs, widths), or by minimum=
    assert [k for k, leaf in leaves.items() if leaf.positive] == ["lr", "epochs",
                                                                  "model.widths"]
    assert (leaves["lr"].range, leaves["decay"].range, leaves["name"].range) == (
        "> 0", ">= 0", "")
    assert {r["key"]: r["range"] for r in describe_fields(Cfg)}["decay"] == ">= 0"


@pytest.mark.parametrize("value, tp, expected", [
    (3, float, 3.0), (2.0, int, 2), (True, bool, True), (5, str, "5"), (1.5, str, "1.5"),
    ("x", typing.Any, "x"), (None, float | None, None), (2, float | None, 2.0),
    ([1, 2.0], list[int], [1, 2]), ((1,), list[float], [1.0]), ("a", Literal["a", "b"], "a"),
    ("3", int | str, "3"), (3, int | str, 3),
])
def test_coerce_accepts(value, tp, expected):
    out = _coerce(value, tp, "k")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("value, tp, fragment", [
    (float("nan"), float, "expected a finite number"), (float("inf"), int, "an integer"),
    (True, float, "expected a number"), ([1], str, "expected a string"),
    ("x", float | None, "expected float | null"), ("c", Literal["a", "b"], 'one of "a" | "b"'),
    ({"a": 1}, dict, "unsupported type"), (None, float, "expected a number"),
])
def test_coerce_rejects(value, tp, fragment):
    with pytest.raises(BadInput, match=None) as info:
        _coerce(value, tp, "k")
    assert "config key 'k'" in str(info.value) and fragment in str(info.value)
