"""Runs on the worker: read the run's environment from stdin, then exec `materia`.

stdin carries one JSON document `{"env": {...}, "argv": [...]}` through the SSH
channel. The secrets in it go into this process's environment only: never a command
line (visible in `ps`), never a file on the worker's disk.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    try:
        doc = json.loads(sys.stdin.buffer.read())
        env, argv = doc["env"], doc["argv"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise TypeError("env must map strings to strings")
        if not all(isinstance(a, str) for a in argv):
            raise TypeError("argv must be strings")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        # Never echo the document: it holds secrets.
        print(
            f"error: worker launcher: bad run document on stdin ({type(e).__name__})",
            file=sys.stderr,
        )
        sys.exit(2)
    os.environ.update(env)
    os.environ["PYTHONUNBUFFERED"] = "1"  # log lines reach the client as they happen
    # The shipped checkout is the working directory and first on the import path.
    os.execv(sys.executable, [sys.executable, "-m", "materia", *argv])


if __name__ == "__main__":
    main()
