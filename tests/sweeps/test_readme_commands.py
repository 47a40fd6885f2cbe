"""Every `trainlab …` command shown in README.md and docs/ runs, at smoke size, with exit 0.

What counts as a command: a line of a fenced code block (no language, or sh/bash/
console/shell) that starts with `trainlab ` (or `$ trainlab `); a trailing `# comment`
is dropped. A synopsis (a line holding `[--`) is not a command. A fenced block whose
first line is `# FILE: NAME` is written to NAME before the commands run (the README's
space.toml and my.toml), so the files the README shows are the files the commands use.

The rewriting rules that bring each command to smoke size (and nothing else):
1. `trainlab run|suite|sweep|diagnose`: `--preset smoke` (added, or replacing the one
   given): the full preset of mnist takes minutes.
2. `trainlab sweep`: `--trials 2`.
3. A PostgreSQL URL whose host is `db-host` becomes the throw-away local cluster of
   tests/sweeps/conftest.py (same user, database and password rules).
4. An absolute `--out /tmp/…` lands under the test's folder instead.
5. `--device cuda` becomes `--device cpu` on a machine without CUDA.
6. Inputs the README names without showing them are made first: `my.csv` (the crop-yield
   table linreg generates itself, target `yield`), `weight-height.csv` (height-weight's
   generated table), `train.csv` and `test.csv` (curvefit's generated pair with a gap),
   `my_spec.py` with `model.pt` and
   `other.pt` (a small MLP and two of its state dicts), and the run folder given to
   `trainlab resume` (an mnist smoke run whose status says it was interrupted).
The commands run in document order, in one folder (so `trainlab report runs` sees the
runs of the commands before it), in this process through `trainlab.cli.main`.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import torch

from optional_deps import require
from user_specs import MLP_SPEC

require("optuna")

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"", "sh", "bash", "console", "shell"}
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)


def _blocks():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 2  # the block's first line
            yield doc, line, m.group(1).strip(), m.group(2)


def documented_files() -> dict[str, str]:
    """NAME -> content of every block that starts with `# FILE: NAME`."""
    files = {}
    for _, _, _, body in _blocks():
        m = re.match(r"# FILE: (\S+)", body)
        if m:
            files[m.group(1)] = body
    return files


def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, argv without `trainlab`) of every command (see the module docstring)."""
    out = []
    for doc, first, lang, body in _blocks():
        if lang not in SHELL:
            continue
        for i, line in enumerate(body.splitlines()):
            text = line.strip().removeprefix("$ ")
            if not text.startswith("trainlab ") or "[--" in text:
                continue
            argv = shlex.split(text, comments=True)[1:]
            out.append((f"{doc.relative_to(ROOT)}:{first + i} {' '.join(argv)}", argv))
    return out


COMMANDS = documented_commands()


def _set(argv: list[str], option: str, value: str) -> list[str]:
    if option in argv:
        argv = list(argv)
        argv[argv.index(option) + 1] = value
        return argv
    return [*argv, option, value]


def rewrite(argv: list[str], work: Path, postgres: str | None) -> list[str]:
    """The command at smoke size (rules 1-5 of the module docstring)."""
    if argv[0] in ("run", "suite", "sweep", "diagnose"):
        argv = _set(argv, "--preset", "smoke")
    if argv[0] == "sweep":
        argv = _set(argv, "--trials", "2")
    out = []
    for a in argv:
        if re.match(r"postgres(ql)?://[^/]*@db-host[:/]", a):
            assert postgres, "the README's PostgreSQL example needs the local cluster"
            a = postgres
        out.append(a)
    if "--out" in out and out[out.index("--out") + 1].startswith("/tmp/"):
        out = _set(out, "--out", str(work / out[out.index("--out") + 1].lstrip("/")))
    if "--device" in out and out[out.index("--device") + 1] == "cuda" \
            and not torch.cuda.is_available():
        out = _set(out, "--device", "cpu")
    return out


def prepare(argv: list[str], work: Path) -> None:
    """Rule 6: make the inputs the command names and the README does not show."""
    from trainlab.data import write_crop_yield_csv
    from trainlab.data.generated import write_gap_pair_csv, write_height_weight_csv

    tables = {"my.csv": lambda: write_crop_yield_csv(work / "my.csv"),
              "weight-height.csv": lambda: write_height_weight_csv(work / "weight-height.csv"),
              "train.csv": lambda: write_gap_pair_csv(work / "train.csv", work / "test.csv")}
    for name, make in tables.items():
        if f"data.path={name}" in argv and not (work / name).exists():
            make()
    if argv[0] == "diagnose" and not (work / argv[1]).exists():
        (work / argv[1]).write_text(MLP_SPEC)
        for i, name in enumerate(("model.pt", "other.pt")):
            torch.manual_seed(i + 1)
            net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                                      torch.nn.Linear(8, 3))
            torch.save(net.state_dict(), work / name)
    if argv[0] == "resume" and not (work / argv[1]).exists():
        from trainlab.cli import main

        assert main(["run", "mnist", "--preset", "smoke", "--out", str(work / argv[1])]) == 0
        status_path = work / argv[1] / "status.json"
        status = json.loads(status_path.read_text())
        status.update(state="interrupted", reason="interrupted by the user")
        status_path.write_text(json.dumps(status))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    for name, content in documented_files().items():
        (folder / name).write_text(content)
    return folder


def test_the_readme_shows_its_commands_and_files():
    where = [w for w, _ in COMMANDS]
    assert sum(w.startswith("README.md") for w in where) >= 15, where
    assert any(argv[0] == "sweep" and "--workers" in argv for _, argv in COMMANDS)
    assert {"space.toml", "my.toml"} <= set(documented_files())


@pytest.mark.parametrize("argv", [a for _, a in COMMANDS], ids=[w for w, _ in COMMANDS])
def test_documented_command_runs(argv, work, request, monkeypatch, capsys):
    from trainlab.cli import main

    postgres = None
    if any("@db-host" in a for a in argv):
        postgres = request.getfixturevalue("postgres_url")
    monkeypatch.chdir(work)
    prepare(argv, work)
    command = rewrite(argv, work, postgres)
    code = main(command)
    out, err = capsys.readouterr()
    assert code == 0, f"trainlab {' '.join(command)} -> exit {code}: {err[-2000:]}"
    if command[0] in ("run", "sweep", "resume"):
        folder = Path(out.strip().splitlines()[-1] if "--json" not in command
                      else err.strip().splitlines()[-1])
        assert folder.is_dir(), (command, out, err[-500:])
