"""Every shell script is shellcheck-clean; the systemd unit is restartable and hardened."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    p for p in ROOT.rglob("*.sh") if not ({".venv", ".git", "node_modules"} & set(p.parts))
)


def test_the_scripts_we_ship_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    assert {"supervisor/supervisor.sh", "infra/bootstrap_supervisor.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shellcheck_clean(script: Path) -> None:
    proc = subprocess.run(
        ["shellcheck", "--severity=style", str(script)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_supervisor_is_posix_sh() -> None:
    script = ROOT / "supervisor" / "supervisor.sh"
    assert script.read_text().startswith("#!/bin/sh\n")
    proc = subprocess.run(["shellcheck", "--shell=sh", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(ROOT / "supervisor" / "materia-supervisor.service")
    return parser


def test_unit_restarts_and_runs_the_loop() -> None:
    service = unit()["Service"]
    assert service["Restart"] == "always"
    assert service["ExecStart"] == "/bin/sh /opt/materia/supervisor/supervisor.sh"
    assert service["User"] == "materia"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_unit_is_hardened() -> None:
    service = unit()["Service"]
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes"
    # Writable: only the checkout (git pull, uv sync) and materia's state.
    assert service["ReadWritePaths"].split() == ["/opt/materia", "/var/lib/materia"]
    assert service["WorkingDirectory"] == "/opt/materia"
