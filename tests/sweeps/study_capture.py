"""Keep hold of the optuna studies a sweep opens, for tests that read its trials afterwards
(the in-memory storage dies with the sweep)."""

from __future__ import annotations


def capture_study(monkeypatch, pruner=None) -> list:
    """Patch the sweep engine so that every study it opens is appended to the returned list;
    with ``pruner``, every sweep prunes with it instead of the one its settings name."""
    from trainlab.sweeps import engine

    seen: list = []
    real = engine.open_study

    def keep(s, storage):
        study = real(s, storage)
        seen.append(study)
        return study

    monkeypatch.setattr(engine, "open_study", keep)
    if pruner is not None:
        monkeypatch.setattr(engine, "make_pruner", lambda name: pruner)
    return seen
