"""Many `rlvr` command lines from one warm interpreter, each exactly as a user would run it.

    python -m tests.helpers.forked_cli < [{"args": [...], "cwd": "..."}, ...]   -> JSON results on stdout

Why: a command line that fails on a config mistake spends ~5 s importing torch and transformers before its
one-line error, and the error tests run dozens of them. Here the imports happen once; then each command line
runs in a child forked from this process: its own working directory, its own stdout, stderr and exit code,
`rlvr.cli.main()` with its argv, nothing shared with the next (Hydra's global state starts clean in each
child, because the parent never composes a config).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback


def _child(args: list[str], cwd: str, out_path: str, err_path: str) -> None:
    code = 1
    try:
        os.chdir(cwd)
        for fd, path in ((1, out_path), (2, err_path)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.argv = ["rlvr", *args]
        import rlvr.cli

        try:
            rlvr.cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_all(runs: list[dict]) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="rlvr-forked-cli-") as tmp:
        for i, run in enumerate(runs):
            out_path, err_path = os.path.join(tmp, f"{i}.out"), os.path.join(tmp, f"{i}.err")
            sys.stdout.flush()
            sys.stderr.flush()
            start = time.monotonic()
            pid = os.fork()
            if pid == 0:
                _child(run["args"], run["cwd"], out_path, err_path)
            _, status = os.waitpid(pid, 0)
            with open(out_path) as out, open(err_path) as err:
                results.append({"returncode": os.waitstatus_to_exitcode(status), "stdout": out.read(),
                                "stderr": err.read(), "seconds": time.monotonic() - start})  # fmt: skip
    return results


def main() -> None:
    runs = json.loads(sys.stdin.read())
    os.environ["HYDRA_FULL_ERROR"] = "0"
    # the imports every child would otherwise repeat
    import rlvr.cli
    import rlvr.run  # noqa: F401

    print(json.dumps(run_all(runs)))


if __name__ == "__main__":
    main()
