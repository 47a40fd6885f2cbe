"""A full disk at several points of a run: one line, exit 2 or 3, a truthful status.

The disk is a tmpfs of a few dozen KiB (mounted by the test): small enough that the run
fails while starting, while training, or while writing its report, depending on the size.
"""

import pytest

from fault_helpers import assert_truthful
from trainlab.cli import main


@pytest.mark.parametrize("size", ["16k", "96k", "320k"])
def test_a_full_disk_fails_the_run_with_the_reason(tmpfs, capsys, size):
    full = tmpfs("full", size)
    run = full / "run"
    code = main(["run", "polyfit", "--preset", "smoke", "--out", str(run)])
    err = capsys.readouterr().err.strip()  # progress lines, then one line of trainlab's
    said = [line for line in err.splitlines() if line.startswith("trainlab")]
    assert "Traceback" not in err and len(said) == 1 and said[0] == err.splitlines()[-1], err
    assert "no space left on device" in err, err
    if code == 2:  # not even config.json fitted: nothing is left behind
        assert not run.exists()
        return
    assert code == 3
    assert assert_truthful(run) == "failed"
    assert "no space left" in (run / "status.json").read_text()
