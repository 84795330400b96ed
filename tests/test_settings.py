"""Typed settings: one dataclass field gives the flag, the recipe key, the check and the
recorded command line."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from pairmill.cli import build_parser
from pairmill.commands import COMMANDS, command
from pairmill.extractors.registry import sources
from pairmill.schemas.counts import Counts
from pairmill.schemas.settings import (
    SettingError,
    add_flags,
    config_from_args,
    config_from_mapping,
    positive_int,
    render_argv,
    setting,
)


@dataclasses.dataclass(kw_only=True)
class Example:
    paths: list[str] = setting(help="inputs", many=True, aliases=("old-paths",))
    size: int = setting(3, "how big", type=positive_int)
    fast: bool = setting(False, "go fast")
    checks: bool = setting(True, "skip the checks")
    mode: str = setting("a", choices=("a", "b"))


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_flags(parser, Example)
    return config_from_args(Example, parser.parse_args(argv))


def test_flags_defaults_and_switches_come_from_the_fields(capsys):
    config = _parse(["--paths", "x", "y", "--size", "7", "--fast", "--no-checks", "--mode", "b"])
    assert config == Example(paths=["x", "y"], size=7, fast=True, checks=False, mode="b")
    assert _parse(["--paths", "x"]) == Example(paths=["x"])
    with pytest.raises(SystemExit):
        _parse(["--paths", "x", "--size", "0"])  # the field's type rejects it
    assert "must be positive" in capsys.readouterr().err


def test_a_deprecated_spelling_works_and_names_the_new_one(capsys):
    assert _parse(["--old-paths", "x"]).paths == ["x"]
    assert "--old-paths is deprecated, use --paths" in capsys.readouterr().err
    with pytest.raises(SettingError, match="required: --paths"):
        _parse([])


def test_recipe_keys_are_the_flags_checked_by_the_same_types():
    config = config_from_mapping(Example, {"paths": "x", "size": "4", "no-checks": True}, "s")
    assert config == Example(paths=["x"], size=4, checks=False)
    with pytest.raises(SettingError, match="s.size: 'big' is not a whole number"):
        config_from_mapping(Example, {"paths": ["x"], "size": "big"}, "s")
    with pytest.raises(SettingError, match="unknown key `colour`"):
        config_from_mapping(Example, {"paths": ["x"], "colour": 1}, "s")
    with pytest.raises(SettingError, match="`size` is set by the run"):
        config_from_mapping(Example, {"paths": ["x"], "size": 1}, "s", owned={"size"})
    with pytest.raises(SettingError, match="not one of a, b"):
        config_from_mapping(Example, {"paths": ["x"], "mode": "c"}, "s")


def test_the_recorded_command_line_parses_back_to_the_same_config():
    config = Example(paths=["x"], size=9, fast=True, checks=False)
    assert render_argv(config) == ["--paths", "x", "--size", "9", "--fast", "--no-checks"]
    assert _parse(render_argv(config)) == config


@pytest.mark.parametrize("name", [c.name for c in COMMANDS])
def test_every_command_round_trips_through_its_rendered_flags(name, tmp_path):
    """Each command's non-default settings survive config -> flags -> config."""
    cmd = next(c for c in COMMANDS if c.name == name)
    if name == "mine":  # a row like any other: its config renders the command line it came from
        argv = ["mine", "reddit", "--submissions", str(tmp_path / "RS.zst"), "--output",
                str(tmp_path / "out"), "--languages", "en,de", "--pii", "drop", "--input-shards", "3"]
        config = cmd.config_from_args(*build_parser().parse_known_args(argv))
        assert config.rules.languages == ("en", "de") and config.shards.input_shards == 3
        again = cmd.config_from_args(*build_parser().parse_known_args(config.argv()))
        assert again == config
        return
    fields = [f for f in dataclasses.fields(cmd.config) if f.metadata.get("cli")]
    required = [f for f in fields if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    argv = [name]
    for f in required:
        if f.metadata["positional"]:
            argv.append(str(tmp_path))
        else:
            argv += [f"--{f.name.replace('_', '-')}", *(["1"] if f.metadata["type"] else [str(tmp_path)])]
    if cmd.writes_dataset:
        argv += ["--output", str(tmp_path / "out")]
    args, extra = build_parser().parse_known_args(argv)
    config = cmd.config_from_args(args, extra)
    rendered = [name, *render_argv(config)]
    if cmd.writes_dataset:
        rendered += render_argv(config.write)
    again, extra = build_parser().parse_known_args(rendered)
    assert cmd.config_from_args(again, extra) == config


@pytest.mark.parametrize("source", sorted(sources()))
def test_every_source_flag_comes_from_its_spec(source, tmp_path):
    spec = sources()[source]
    help_text = next(a for a in build_parser()._actions
                     if isinstance(a, argparse._SubParsersAction)).choices["mine"]
    parser = next(a for a in help_text._actions
                  if isinstance(a, argparse._SubParsersAction)).choices[source]
    flags = {opt for a in parser._actions for opt in a.option_strings}
    for kind in spec.inputs:
        assert f"--{kind.name}" in flags
    for f in dataclasses.fields(spec.options):
        if f.metadata.get("cli"):
            assert any(opt.endswith(f.name.replace("_", "-")) or opt == f"--{f.metadata['flag']}"
                       for opt in flags), f.name
    argv = ["mine", source, *[x for k in spec.inputs if k.required for x in (f"--{k.name}", "x")],
            "--output", str(tmp_path)]
    config = command("mine").config_from_args(build_parser().parse_args(argv), ["--runner=FnApiRunner"])
    assert config.options == spec.options()  # defaults are the dataclass's own
    assert config.argv()[:2] == ["mine", source] and config.argv()[-1] == "--runner=FnApiRunner"


def test_counts_sum_and_keep_kind_task_and_reason():
    a = Counts().add("drop", "bot", 2).add("total", "rows_in", 5, "t1")
    b = Counts().add("drop", "bot", 1).add("removed", "near_duplicate", 3, "t1")
    total = a + b
    assert total.get("drop", "bot") == 3 and total.get("total", "rows_in", "t1") == 5
    assert Counts.from_json(total.to_json()) == total
    assert total.summary()["drops"] == {"bot": 3, "near_duplicate": 3}
    with pytest.raises(ValueError, match="unknown counter kind"):
        Counts().add("dropped", "x")
