"""Exceptions that the command line turns into exit codes.

`BadInput` (exit 2) is for anything the user gave that cannot be used: a malformed file,
an unknown key, a wrong type, an unsafe expression. Its message is one line that names
the problem. `RunFailed` (exit 3) is for a run that started but could not finish, such as
a loss that became NaN.
"""


class TrainlabError(Exception):
    """Base class of trainlab's own errors."""


class BadInput(TrainlabError, ValueError):
    """The user's input cannot be used; the message says why, in one line."""


class RunFailed(TrainlabError):
    """A run started but could not finish (for example, the loss diverged)."""


class Diverged(RunFailed):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, loss: float, model: str | None = None):
        self.epoch = epoch
        self.loss = loss
        self.model = model
        where = f" ({model})" if model else ""
        super().__init__(f"diverged at epoch {epoch} (loss={loss}){where}")


class StopRun(TrainlabError):
    """Raised by a metrics observer to end a run early on purpose (a sweep's pruner).

    The runner records such a run as failed with this message as the reason, and its
    `Outcome` says `pruned`.
    """
