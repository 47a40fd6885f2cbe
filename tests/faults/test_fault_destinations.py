"""Bad seeds and unwritable destinations: exit 2, one line, no folder, no traceback.

Also the file modes: what trainlab writes follows the umask (mkstemp alone gives 0600).
"""

import os
import stat

import pytest

from trainlab import api
from trainlab.cli import main
from trainlab.config import MAX_SEED
from trainlab.data.writers import write_csv_table
from trainlab.errors import BadInput
from trainlab.run_folder import atomic_write_text

BAD_SEEDS = [str(MAX_SEED + 1), "99999999999999999999", "-1"]


def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("seed", BAD_SEEDS)
@pytest.mark.parametrize("command", [
    ["run", "linreg"], ["run", "polyfit"], ["suite", "--only", "polyfit"],
    ["sweep", "polyfit", "--trials", "1"],
])
def test_a_bad_seed_is_refused_before_any_folder(tmp_path, capsys, command, seed):
    runs = tmp_path / "runs"
    err = _one_line_exit_2([*command, "--preset", "smoke", f"--seed={seed}",
                            "--runs-dir", str(runs)], capsys)
    assert "seed" in err and str(MAX_SEED) in err
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("seed", [MAX_SEED + 1, -1])
def test_the_api_refuses_a_bad_seed_before_any_folder(tmp_path, seed):
    with pytest.raises(BadInput, match="seed"):
        api.run("polyfit", preset="smoke", seed=seed, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_replicate_seeds_past_the_largest_are_refused(tmp_path, capsys):
    err = _one_line_exit_2(["run", "polyfit", "--preset", "smoke", f"--seed={MAX_SEED}",
                            "--seeds", "2", "--out", str(tmp_path / "r")], capsys)
    assert "replicates" in err and not (tmp_path / "r").exists()


def test_a_seed_in_a_config_file_is_checked_too(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text("seed = -3\n")
    err = _one_line_exit_2(["run", "polyfit", "--preset", "smoke", "--config", str(toml),
                            "--out", str(tmp_path / "r")], capsys)
    assert "config key 'seed'" in err and not (tmp_path / "r").exists()


@pytest.mark.parametrize("dest", ["/proc/trainlab-x/run", "/sys/kernel/trainlab-foo"])
@pytest.mark.parametrize("option", ["--out", "--runs-dir"])
def test_a_destination_that_cannot_be_created_is_one_line(capsys, dest, option):
    err = _one_line_exit_2(["run", "polyfit", "--preset", "smoke", option, dest], capsys)
    assert "cannot create folder" in err


def test_a_read_only_file_system_is_one_line_for_every_command(tmpfs, capsys):
    ro = tmpfs("ro", "64k", read_only=True)
    for argv in (["run", "polyfit", "--preset", "smoke", "--out", str(ro / "run1")],
                 ["run", "polyfit", "--preset", "smoke", "--runs-dir", str(ro)],
                 ["suite", "--only", "polyfit", "--preset", "smoke", "--runs-dir", str(ro)],
                 ["sweep", "polyfit", "--preset", "smoke", "--trials", "1", "--runs-dir",
                  str(ro)],
                 ["report", str(ro)]):
        err = _one_line_exit_2(argv, capsys)
        assert "read-only file system" in err, err
    assert list(ro.iterdir()) == []


def test_an_empty_but_read_only_out_folder_is_one_line(tmpfs, capsys):
    ro = tmpfs("ro", "64k", read_only=True)  # exists, empty, cannot be written
    err = _one_line_exit_2(["run", "polyfit", "--preset", "smoke", "--out", str(ro)], capsys)
    assert "read-only file system" in err


def test_files_follow_the_umask(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    write_csv_table(tmp_path / "t.csv", ["x", "y"], [[1.0, 2.0]])
    for name in ("a.txt", "t.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name
