"""A stand-in for the Pulumi ESC CLI contract (`esc env open <env> --format json`, or
`pulumi env open …`): an executable on PATH answering from a JSON document, logged in or
not, noting each call (tests read `calls.log`)."""

from __future__ import annotations

import json
from pathlib import Path

ESC_DOC = {
    "environmentVariables": {
        "HCLOUD_TOKEN": "hc-token-from-esc-1234567890",
        "R2_SECRET_KEY": "r2 secret with 'quotes' and $dollar",
        "R2_BUCKET": "landing",
    },
    "pulumiConfig": {"hcloud:token": "hc-token-from-esc-1234567890"},
}


def stand_in_esc(
    bin_dir: Path,
    doc: object | None = ESC_DOC,
    exit_code: int = 0,
    name: str = "esc",
    env_name: str = "beanflows/prod",
) -> Path:
    """An `esc` (or `pulumi`) executable, logged in, that answers only
    `<name> env open <env_name> --format json` (each call noted in `calls.log`)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "esc.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    esc = bin_dir / name
    esc.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{bin_dir / "calls.log"}"\n'
        f'[ "$*" = "env open {env_name} --format json" ] || {{ echo "bad args: $*" >&2; exit 2; }}\n'
        f'[ {exit_code} -eq 0 ] || {{ echo "error: not logged in" >&2; exit {exit_code}; }}\n'
        f'cat "{bin_dir / "esc.json"}"\n'
    )
    esc.chmod(0o755)
    return esc


def with_esc(env: dict[str, str], bin_dir: Path, name: str = "beanflows/prod") -> dict[str, str]:
    """`env` with the stand-in on PATH and MATERIA_ESC_ENV naming the environment."""
    return {**env, "PATH": f"{bin_dir}:{env['PATH']}", "MATERIA_ESC_ENV": name}


def esc_calls(bin_dir: Path) -> list[str]:
    log = bin_dir / "calls.log"
    return log.read_text().splitlines() if log.exists() else []
