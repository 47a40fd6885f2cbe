"""The command line as a new user meets it: usage, --version, help texts, messages."""

import argparse
import json
import tomllib
from pathlib import Path

import pytest

import trainlab
from trainlab import cli
from trainlab.config import read_toml, resolve
from trainlab.errors import BadInput
from trainlab.registry import all_experiments, get


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def _option(parser: argparse.ArgumentParser, dest: str) -> argparse.Action:
    return next(a for a in parser._actions if a.dest == dest)


def test_argparse_errors_carry_a_single_prefix(capsys):
    assert cli.main(["run", "polyfit", "--seed", "1e3"]) == 2
    err = capsys.readouterr().err
    assert err == "trainlab: error: run: argument --seed: invalid int value: '1e3'\n"
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.count("trainlab") == 1 and err.startswith("trainlab: error: argument command")


def test_bare_trainlab_prints_the_usage_and_the_commands(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: trainlab")
    for command in _subparsers(cli.build_parser()):
        assert command in err, command
    assert "error" not in err


def test_version_matches_the_package(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"trainlab {trainlab.__version__}\n"
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == trainlab.__version__


@pytest.mark.parametrize("command", sorted(_subparsers(cli.build_parser())))
def test_every_argument_has_a_help_text_and_its_default(command):
    sub = _subparsers(cli.build_parser())[command]
    missing = [a.dest for a in sub._actions
               if a.help is None or (isinstance(a.help, str) and not a.help.strip())]
    assert missing == [], f"{command}: no help for {missing}"
    shown = [a for a in sub._actions if a.option_strings and a.help != argparse.SUPPRESS
             and a.default not in (None, False, "", [], argparse.SUPPRESS)]
    silent = [a.dest for a in shown if "default" not in a.help]
    assert silent == [], f"{command}: help does not give the default of {silent}"


def test_help_names_ids_defaults_and_exit_codes():
    parser = cli.build_parser()
    subs = _subparsers(parser)
    ids = [e.id for e in all_experiments()]
    for command in ("show", "run"):
        text = _option(subs[command], "experiment").help
        assert all(i in text.split(": ", 1)[1].split(", ") for i in ids), command
    assert "default: runs" in _option(subs["report"], "runs_dir").help
    assert "default: the experiment's" in _option(subs["run"], "seed").help
    for command in (parser, subs["run"], subs["resume"]):
        assert all(f"{code} " in command.epilog for code in ("0", "2", "3", "130"))
    for dest, default in (("workers", "1"), ("device", "auto")):
        assert f"(default: {default})" in _option(subs["suite"], dest).help, dest


def test_show_prints_an_empty_default_visibly(capsys):
    assert cli.main(["show", "polyfit"]) == 0
    out = capsys.readouterr().out
    assert "default )" not in out
    assert 'title (str, default "")' in out


def test_model_set_to_a_name_is_the_architecture():
    exp = get("mnist")
    by_name = resolve(exp.config, exp.presets, "smoke", sets={"model": "mlp"})
    dotted = resolve(exp.config, exp.presets, "smoke", sets={"model.name": "mlp"})
    assert by_name.model == dotted.model and by_name.model.name == "mlp"
    with pytest.raises(BadInput, match="model.name"):
        resolve(exp.config, exp.presets, "smoke", sets={"model": "transformer"})
    with pytest.raises(BadInput, match="unknown config key 'data.max_trian'"):
        resolve(exp.config, exp.presets, "smoke", sets={"data": {"max_trian": 100}})


def _completed_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "done"
    run_dir.mkdir()
    exp = get("polyfit")
    cfg = resolve(exp.config, exp.presets, "smoke")
    import dataclasses

    (run_dir / "config.json").write_text(json.dumps({
        "experiment": "polyfit", "preset": "smoke", "seed": cfg.seed, "seeds": [cfg.seed],
        "device": "cpu", "config": dataclasses.asdict(cfg)}))
    (run_dir / "status.json").write_text(json.dumps({"state": "completed", "reason": None}))
    (run_dir / "summary.json").write_text(json.dumps({"runs": []}))
    return run_dir


def test_resume_of_a_completed_run_says_so(tmp_path, capsys):
    run_dir = _completed_run(tmp_path)
    before = sorted(p.name for p in run_dir.iterdir())
    assert cli.main(["resume", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(run_dir)
    assert captured.err == f"trainlab: {run_dir}: already completed, nothing to resume\n"
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_python_resume_returns_the_run(tmp_path):
    run_dir = _completed_run(tmp_path)
    r = trainlab.resume(run_dir)
    assert r.dir == run_dir and r.summary == {"runs": []}
    with pytest.raises(BadInput, match="not a run folder"):
        trainlab.resume(tmp_path / "missing")


def test_keyword_argument_messages_name_their_source(tmp_path):
    with pytest.raises(BadInput) as err:
        trainlab.run("polyfit", preset="smoke", runs_dir=tmp_path, nope=1)
    assert "(from keyword arguments)" in str(err.value) and "--set" not in str(err.value)
    assert not any(tmp_path.iterdir())
    exp = get("polyfit")
    with pytest.raises(BadInput, match=r"\(from --set\)"):
        resolve(exp.config, exp.presets, "smoke", sets={"nope": 1})


def test_config_file_with_a_byte_order_mark(tmp_path):
    plain, bom = tmp_path / "plain.toml", tmp_path / "bom.toml"
    text = 'epochs = 3\n[data]\nname = "x"\n'
    plain.write_text(text, encoding="utf-8")
    bom.write_text(text, encoding="utf-8-sig")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_toml(bom) == read_toml(plain) == {"epochs": 3, "data.name": "x"}


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "٣"])
def test_bad_thread_count_is_refused_before_any_folder(tmp_path, capsys, monkeypatch, value):
    monkeypatch.setenv("TRAINLAB_THREADS", value)
    assert cli.main(["run", "polyfit", "--preset", "smoke", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"trainlab: error: TRAINLAB_THREADS={value!r}: expected a positive number "
                   "of threads\n")
    assert not any(tmp_path.iterdir())


def test_the_readme_config_file_example_is_valid(tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```toml\n")[1:]]
    block = next(b for b in blocks if b.startswith("# trainlab run "))  # the config file
    command = block.splitlines()[0].removeprefix("# trainlab run ").split()
    monkeypatch.chdir(tmp_path)  # the example's tables, relative to the working folder
    rows = "".join(f"{i / 4},{(i / 4) ** 2}\n" for i in range(24))
    for name in ("train.csv", "test.csv"):
        Path(name).write_text("x,y\n" + rows)
    path = tmp_path / "my.toml"
    path.write_text(block)
    exp = get(command[0])
    keys = read_toml(path)
    assert "data.path" in keys and "epochs" in keys  # a sub-table and flat keys
    cfg = resolve(exp.config, exp.presets, "full", config_file=path)
    assert cfg.epochs == keys["epochs"] and cfg.data.path == keys["data.path"]


def test_a_run_in_a_log_prints_progress_lines(tmp_path):
    """stderr is a pipe (a log, CI, nohup): the run says how far it got, in plain lines."""
    import os
    import re
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "trainlab", "run", "polyfit", "--preset",
                           "smoke", "--runs-dir", str(tmp_path)], capture_output=True,
                          text=True, env=dict(os.environ, MPLBACKEND="Agg"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    epochs = get("polyfit").presets["smoke"]["epochs"]
    assert re.search(rf"^polyfit:\S+  {epochs}/{epochs} \(100%\)  loss=[0-9.e+-]+  "
                     r"[0-9.]+ s$", proc.stderr, re.M), proc.stderr
    assert "\r" not in proc.stderr
