"""Test support for tests and benchmarks (outside the `materia` wheel).

`psd_fixtures` writes PSD-format zips, `psd_server` is a loopback PSD Online stand-in,
`wasde_fixtures` and `wasde_server` the same for USDA's WASDE report data, `seaweed` runs
SeaweedFS (S3 + Iceberg REST) on loopback. The helpers here run the real CLI as a
subprocess with a clean environment (whose WASDE site is a closed loopback port: a test
that lands WASDE says where from, and none reaches the internet by accident).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# Variables that change what materia does; a clean environment starts without any of them.
_MATERIA_PREFIXES = (
    *("MATERIA_", "PSD_", "WASDE_", "R2_", "ICEBERG_", "AWS_", "ESC_", "PULUMI_"),
    *("HCLOUD_", "SCW_", "OVH_", "OCI_"),
)


NO_WASDE_SITE = "http://127.0.0.1:9/wasde"  # refused at once


def free_port() -> int:
    """A free TCP port on loopback (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(home: Path | str, **extra: str) -> dict[str, str]:
    """The inherited environment minus every materia/cloud setting, with MATERIA_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_MATERIA_PREFIXES)}
    env.update(MATERIA_HOME=str(home), MATERIA_ENV="local", PYTHONUNBUFFERED="1")
    env.update(WASDE_BASE_URL=NO_WASDE_SITE)
    env.update(extra)
    return env


def cli_command(*args: str) -> list[str]:
    """argv for the real CLI in this interpreter (no `uv run`)."""
    return [sys.executable, "-m", "materia", *map(str, args)]


def run_cli(
    *args: str,
    env: Mapping[str, str],
    cwd: Path | str | None = None,
    timeout: float = 300,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `materia <args>` as a subprocess; `cwd` should hold no `.env` (default: home)."""
    cwd = cwd or env.get("MATERIA_HOME") or "."
    Path(cwd).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        cli_command(*args),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )
