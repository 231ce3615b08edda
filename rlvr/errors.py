"""The few exceptions a user can cause. The CLI prints their message as one line and exits non-zero.

Everything else (a bug in rlvr) is not caught and crashes with its traceback, as it should.
"""

import argparse
import sys
from typing import NoReturn


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


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one `error: ...` line and exit code 2, like every other user mistake."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def one_line_parser(prog: str, description: str) -> argparse.ArgumentParser:
    return _OneLineParser(prog=prog, description=description)
