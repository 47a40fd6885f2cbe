"""Quick keeps the shape: the quick preset of every experiment, with its default number
of replicates, leaves no published claim `not_reproduced` (issue: a quick preset promises
the same shape of result as full in a fraction of the time).

One `trainlab suite --preset quick --workers 2` in a child process (what `make demo`
runs, on both cores); the verdicts are read back from every run's summary.json. It is
the longest test (about 3.5 min).
"""

import json
import os
import subprocess
import sys

from trainlab.registry import all_experiments


def test_quick_preset_of_every_experiment_reproduces_or_leaves_open_every_claim(tmp_path):
    runs = tmp_path / "runs"
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "trainlab", "suite", "--preset", "quick",
                           "--workers", "2", "--runs-dir", str(runs)],
                          capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdicts: dict[str, list[tuple[str, str]]] = {}
    for exp in all_experiments():
        found = sorted((runs / exp.id).glob("*/summary.json"))
        assert len(found) == 1, f"{exp.id}: expected one run, found {found}"
        summary = json.loads(found[0].read_text())
        claims = summary["claims"]
        assert claims, f"{exp.id}: declares no claim"
        for claim in claims:
            assert claim["verdict"] in ("reproduced", "not_reproduced", "inconclusive")
            assert claim["n"] >= 1 and claim["value"] is not None, (exp.id, claim)
        verdicts[exp.id] = [(c["id"], c["verdict"]) for c in claims]
    lost = {exp_id: [c for c, v in pairs if v == "not_reproduced"]
            for exp_id, pairs in verdicts.items()}
    lost = {k: v for k, v in lost.items() if v}
    assert lost == {}, f"claims the quick preset loses: {lost}"
    # the suite's own count of each verdict is the same as the summaries'
    every = [v for pairs in verdicts.values() for _, v in pairs]
    line = (f"claims: reproduced {every.count('reproduced')}, not_reproduced 0, "
            f"inconclusive {every.count('inconclusive')}")
    assert line in proc.stderr, proc.stderr[-2000:]
