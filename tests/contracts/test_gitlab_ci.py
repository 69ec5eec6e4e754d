""".gitlab-ci.yml: lint → test → deploy, the README's test command, deploy on main only."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def ci() -> dict:
    return yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())


def readme_test_command() -> str:
    """The `uv run pytest` line of README.md's first code block, comment stripped."""
    block = re.search(r"```[a-z]*\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md has no code block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    (command,) = [line for line in lines if "pytest" in line]
    return command


def test_stages_in_order() -> None:
    doc = ci()
    assert doc["stages"] == ["lint", "test", "deploy"]
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "stage" in v}
    assert {name: job["stage"] for name, job in jobs.items()} == {
        "lint": "lint",
        "test": "test",
        "deploy": "deploy",
        "watch": "test",
    }


def test_lint_runs_ruff_check_and_format_check() -> None:
    script = ci()["lint"]["script"]
    assert "uv run ruff check ." in script
    assert "uv run ruff format --check ." in script


def test_test_job_runs_exactly_the_readme_command_with_coverage() -> None:
    job = ci()["test"]
    command = readme_test_command()
    assert command == "uv run pytest"
    assert command in job["script"]
    assert "uv run sqlmesh -p sqlmesh_materia test" in job["script"]
    assert "--cov=materia" in job["variables"]["PYTEST_ADDOPTS"]
    assert job["artifacts"]["reports"]["coverage_report"]["path"] == "coverage.xml"


def test_deploy_only_on_main_with_secrets_from_esc() -> None:
    job = ci()["deploy"]
    assert job["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE == "push"'}]
    assert "only" not in job and "when" not in job
    script = "\n".join(job["script"])
    assert script.lstrip().startswith('pulumi env run "$ESC_ENV" --')
    assert job["variables"]["ESC_ENV"] == "beanflows/prod"
    assert "pulumi -C infra up --yes" in script
    # Bootstrap only when the supervisor is new (its id changed across `pulumi up`).
    new_branch = re.search(r'if \[ "\$before" != "\$after" \]; then(.*?)\n\s*else', script, re.S)
    assert new_branch and 'sh infra/install_supervisor.sh "$ip"' in new_branch.group(1)
    assert (ROOT / "infra" / "install_supervisor.sh").is_file()
    assert "bootstrap_supervisor.sh" in (ROOT / "infra" / "install_supervisor.sh").read_text()
    assert job["resource_group"] == "production"


def test_no_secret_values_in_ci_file() -> None:
    text = (ROOT / ".gitlab-ci.yml").read_text()
    for name in ("HCLOUD_TOKEN:", "R2_SECRET_KEY:", "PULUMI_ACCESS_TOKEN:"):
        assert name not in text


def test_a_schedule_runs_only_the_watch_from_outside() -> None:
    """The dead-man's switch runs where the supervisor is not: a scheduled pipeline."""
    doc = ci()
    schedule_only = [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert doc["watch"]["rules"] == schedule_only
    assert doc["watch"]["script"] == ["uv run --no-sync materia supervisor watch"]
    assert doc["watch"]["variables"]["MATERIA_ENV"] == "prod"
    for job in ("lint", "test"):
        assert doc[job]["rules"] == [{"if": '$CI_PIPELINE_SOURCE != "schedule"'}]
