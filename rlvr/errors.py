"""The few exceptions a user can cause. The CLI prints their message as one line and exits non-zero.

Everything else (a bug in rlvr) is not caught and crashes with its traceback, as it should.
"""


class RlvrError(Exception):
    """A user-facing problem: the message says what to change."""


class ConfigError(RlvrError):
    """A config value is invalid or inconsistent."""


class DataError(RlvrError):
    """A dataset is missing, empty, or has malformed rows."""


class MissingDependencyError(RlvrError):
    """An optional package (vllm, ray, wandb, peft) is needed for what the config asks."""


class StorageError(RlvrError):
    """A file of the run could not be written (a full disk, permissions); what was there before is intact."""


class TrainingStopped(RlvrError):
    """Training stopped on purpose, e.g. too many rollbacks; the message says why."""
