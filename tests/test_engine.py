"""The speed switches: which thread count a step gets, and that every switch is undone."""

import pytest
import torch

from trainlab import engine
from trainlab.errors import BadInput
from trainlab.models import Ensemble, mlp, small_cnn_spec


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.delenv("TRAINLAB_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_small_mlp_steps_run_on_one_thread_and_restore(two_threads):
    small = mlp([10, 10], 1, 1, seeds=range(100))  # 100 x 100 x 141 = 1.41M multiply-adds
    large = mlp([512], 784, 10, seeds=[0])  # 64 x 407,050 = 26M
    assert engine.step_threads(small, 100) == 1
    assert engine.step_threads(large, 64) is None
    cnn = Ensemble(small_cnn_spec([4], hidden=8, num_classes=2), (1, 8, 8), seeds=[0])
    assert engine.step_threads(cnn, 1) is None  # convolutions keep torch's default
    with engine.threads_for(small, 100, torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with engine.threads_for(small, 100, torch.device("meta")):  # not a CPU: untouched
        assert torch.get_num_threads() == 2


def test_trainlab_threads_wins(two_threads, monkeypatch):
    monkeypatch.setenv("TRAINLAB_THREADS", "2")
    assert engine.step_threads(mlp([4], 1, 1, seeds=[0]), 8) is None
    with engine.one_thread(torch.device("cpu")):
        assert torch.get_num_threads() == 2
    monkeypatch.setenv("TRAINLAB_THREADS", "1")
    engine.apply_thread_request()
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("TRAINLAB_THREADS", "")  # empty: as if unset
    assert engine.requested_threads() is None


def test_threads_are_restored_after_an_exception(two_threads):
    with pytest.raises(KeyboardInterrupt), engine.one_thread(torch.device("cpu")):
        assert torch.get_num_threads() == 1
        raise KeyboardInterrupt
    assert torch.get_num_threads() == 2


def test_eval_batch_fits_the_budget():
    assert engine.eval_batch(mlp([8], 4, 1, seeds=[0, 1])) == 1024
    cnn = Ensemble(small_cnn_spec([4], hidden=8, num_classes=2), (1, 8, 8), seeds=[0, 1])
    expected = max(32, min(4096, engine.EVAL_BUDGET // (cnn.widest_activation * 2)))
    assert engine.eval_batch(cnn) == expected


def test_precision_and_compile_switches(monkeypatch):
    with pytest.raises(ValueError, match="precision"):
        engine.check_precision("fp16")
    with engine.autocast("bf16", torch.device("cpu")):
        assert torch.is_autocast_enabled("cpu")
    with engine.autocast("fp32", torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")
    monkeypatch.delenv("TRAINLAB_COMPILE", raising=False)

    def f(x):
        return x + 1

    assert engine.maybe_compile(f) is f
    monkeypatch.setenv("TRAINLAB_COMPILE", "turbo")
    with pytest.raises(BadInput, match="TRAINLAB_COMPILE"):
        engine.maybe_compile(f)
