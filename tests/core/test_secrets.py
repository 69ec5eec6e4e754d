"""materia.core.secrets through the CLI contract: a stand-in `esc` on PATH, or the environment;
and no secret value in any output or the run log while pipelines run."""

from __future__ import annotations

import io
import logging
import shlex
from pathlib import Path

import pytest

from materia.core import secrets
from testsupport import run_cli
from testsupport.ops.esc import ESC_DOC, esc_calls, stand_in_esc, with_esc
from testsupport.psd import fixtures as psd_fixtures


def test_list_shows_names_only_from_esc(materia_env, tmp_path: Path) -> None:
    stand_in_esc(tmp_path / "bin")
    proc = run_cli("secrets", "list", env=with_esc(materia_env, tmp_path / "bin"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "# source: esc:beanflows/prod",
        "HCLOUD_TOKEN",
        "R2_BUCKET",
        "R2_SECRET_KEY",
    ]
    for value in ESC_DOC["environmentVariables"].values():
        if len(value) > 6:
            assert value not in proc.stdout + proc.stderr


def test_env_prints_shell_readable_values_from_esc(materia_env, tmp_path: Path) -> None:
    stand_in_esc(tmp_path / "bin")
    proc = run_cli("secrets", "env", env=with_esc(materia_env, tmp_path / "bin"))
    assert proc.returncode == 0, proc.stderr
    parsed = dict(shlex.split(line)[0].split("=", 1) for line in proc.stdout.splitlines())
    assert parsed == ESC_DOC["environmentVariables"]


def test_without_esc_values_come_from_env_and_dotenv(materia_env, tmp_path: Path) -> None:
    home = Path(materia_env["MATERIA_HOME"])
    (home / ".env").write_text("ICEBERG_TOKEN=from-dotenv-abcdef\nHCLOUD_TOKEN=dotenv-loses\n")
    env = {**materia_env, "HCLOUD_TOKEN": "from-environment-123456", "PATH": "/usr/bin:/bin"}
    proc = run_cli("secrets", "env", env=env, cwd=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "HCLOUD_TOKEN=from-environment-123456\nICEBERG_TOKEN=from-dotenv-abcdef\n"
    listed = run_cli("secrets", "list", env=env, cwd=home)
    assert listed.stdout.splitlines() == ["# source: environment", "HCLOUD_TOKEN", "ICEBERG_TOKEN"]


@pytest.mark.parametrize(
    ("doc", "code", "message"),
    [
        (ESC_DOC, 1, "esc env open beanflows/prod failed (exit 1): error: not logged in"),
        ("{not json", 0, "esc env open beanflows/prod printed invalid JSON"),
        (
            {"environmentVariables": ["x"]},
            0,
            "esc env open beanflows/prod: 'environmentVariables' is not",
        ),
    ],
)
def test_esc_failures_are_one_clear_line(materia_env, tmp_path: Path, doc, code, message) -> None:
    stand_in_esc(tmp_path / "bin", doc, exit_code=code)
    proc = run_cli("secrets", "list", env=with_esc(materia_env, tmp_path / "bin"))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"error: {message}")


def test_esc_without_environment_variables_is_empty(materia_env, tmp_path: Path) -> None:
    stand_in_esc(tmp_path / "bin", {"pulumiConfig": {}})
    proc = run_cli("secrets", "env", env=with_esc(materia_env, tmp_path / "bin"))
    assert (proc.returncode, proc.stdout) == (0, "")


def test_redact_replaces_known_values_longest_first() -> None:
    text = "token=abc123456 and abc123456789"
    assert secrets.redact(text, ["abc123456", "abc123456789"]) == "token=*** and ***"
    assert secrets.redact("nothing here", ["", "zzz"]) == "nothing here"


def test_logging_filter_and_stream_redact(monkeypatch) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", "s3cr3t-value-xyz")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(secrets.RedactingFilter())
    logger = logging.getLogger("materia.test_secrets")
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s", "s3cr3t-value-xyz")
        try:
            raise ValueError("bad token s3cr3t-value-xyz")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert "s3cr3t-value-xyz" not in out.getvalue()
    assert "calling with ***" in out.getvalue() and "bad token ***" in out.getvalue()

    sink = io.StringIO()
    stream = secrets.RedactingStream(sink)
    stream.write("split s3cr3t-val")  # a value split across two writes is still caught
    stream.write("ue-xyz here\nrest")
    stream.flush()
    assert sink.getvalue() == "split *** here\nrest"


def test_cli_errors_are_redacted(materia_env) -> None:
    env = {**materia_env, "HCLOUD_TOKEN": "tok-0123456789"}
    proc = run_cli("supervisor", "tick", "--dry-run", "--now", "tok-0123456789", env=env)
    assert proc.returncode == 1
    assert "tok-0123456789" not in proc.stdout + proc.stderr
    assert "got '***'" in proc.stderr


# --- every pipeline command with known secrets: nothing leaks -------------------------
SECRET = "leak-canary-7f3a9c2e"


@pytest.fixture
def leaky_env(materia_env, psd_server) -> dict[str, str]:
    """Secrets set everywhere, and the PSD base URL itself carries one (so URLs in log
    lines and error messages would show it)."""
    base = psd_server.root / SECRET
    rows = psd_fixtures.sample_rows("2022-06")
    psd_fixtures.write_release(base / "psd_coffee_csv.zip", rows)
    psd_fixtures.archive_layout(base, {"2022-06": rows}, "psd_coffee_csv.zip")
    return {
        **materia_env,
        "PSD_BASE_URL": f"{psd_server.base_url}/{SECRET}",
        "PSD_DATASETS": "psd_coffee_csv.zip",
        "HCLOUD_TOKEN": SECRET,
        "HCLOUD_ENDPOINT": "http://127.0.0.1:9/v1",  # the tick lists workers: loopback only
        "R2_ACCESS_KEY": SECRET + "-ak",
        "R2_SECRET_KEY": SECRET + "-sk",
        "ICEBERG_TOKEN": SECRET + "-it",
    }


# Each runs extract where it can (transform is slow: it runs once, on its own).
COMMANDS = [
    pytest.param(("extract", "psd"), "materia.extract.psd", id="extract"),
    pytest.param(
        ("extract", "psd", "--backfill-from", "2022-05"), "materia.extract.psd", id="backfill"
    ),
    pytest.param(("transform",), "materia.transform.run", id="transform"),
    pytest.param(("pipeline", "run", "extract"), "materia.ops.pipelines", id="pipeline"),
    pytest.param(("supervisor", "tick"), "materia.ops.supervisor", id="tick"),
]


@pytest.mark.parametrize(("args", "module"), COMMANDS)
def test_no_secret_in_output_or_run_log(leaky_env, psd_server, args, module) -> None:
    home = Path(leaky_env["MATERIA_HOME"])
    if args[0] == "transform":  # a real run, on a release landed through the secret URL
        landing = run_cli("extract", "psd", "--backfill-from", "2022-05", env=leaky_env)
        assert landing.returncode == 0, landing.stderr
    if args[0] == "supervisor":
        # Transform and report already ran for their slots: this tick runs extract.
        from datetime import UTC, datetime

        from materia.ops.schedule import Schedule, write_state

        slots = Schedule().latest_slots(datetime.now(UTC))
        done = {
            j: {"slot": str(slots[j]), "ok_slot": str(slots[j])} for j in ("transform", "report")
        }
        write_state(home / "supervisor" / "state.json", done)
    proc = run_cli(*args, env=leaky_env, timeout=600)
    if args[0] == "transform":
        assert proc.returncode == 0, proc.stderr
    seen = proc.stdout + proc.stderr
    for path in home.rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".log", ".txt"):
            seen += path.read_text(errors="replace")
    assert SECRET not in seen, f"secret leaked by `materia {' '.join(args)}`"
    # The secret-bearing URL really was used (else this test proves nothing).
    assert any(SECRET in r.path for r in psd_server.requests), proc.stdout + proc.stderr


@pytest.mark.parametrize("args", [("extract", "psd"), ("pipeline", "run", "extract")])
def test_failing_extract_error_is_redacted(leaky_env, args) -> None:
    """The error names the URL, which carries the secret: it must show `***` instead."""
    env = {**leaky_env, "PSD_BASE_URL": f"http://127.0.0.1:9/{SECRET}"}  # refused at once
    proc = run_cli(*args, env=env)
    assert proc.returncode != 0
    assert SECRET not in proc.stdout + proc.stderr
    assert "http://127.0.0.1:9/***/" in proc.stderr


def test_pulumi_env_open_where_esc_is_absent(materia_env, tmp_path: Path) -> None:
    stand_in_esc(tmp_path / "bin", name="pulumi")
    env = {**materia_env, "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "MATERIA_ENV": "prod"}
    proc = run_cli("secrets", "list", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "# source: pulumi:beanflows/prod"
    assert "HCLOUD_TOKEN" in proc.stdout and "hc-token-from-esc" not in proc.stdout
    # The standalone CLI, when present, is still used first.
    stand_in_esc(tmp_path / "bin", name="esc")
    assert run_cli("secrets", "list", env=env).stdout.startswith("# source: esc:beanflows/prod")


def test_pulumi_failures_name_pulumi(materia_env, tmp_path: Path) -> None:
    stand_in_esc(tmp_path / "bin", exit_code=1, name="pulumi")
    env = {**materia_env, "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "MATERIA_ESC_ENV": ""}
    env["MATERIA_ENV"] = "prod"  # prod's default environment
    proc = run_cli("secrets", "list", env=env)
    assert proc.stderr.strip() == (
        "error: pulumi env open beanflows/prod failed (exit 1): error: not logged in"
    )


def test_git_credential_answers_get_with_the_read_token() -> None:
    values = {"GITLAB_READ_TOKEN": "glpat-abc123"}
    ask = "protocol=https\nhost=gitlab.com\n"
    assert secrets.git_credential("get", ask, values) == (
        "username=oauth2\npassword=glpat-abc123\n\n"
    )
    assert "username=deploy-7" in secrets.git_credential(
        "get", ask, {**values, "GITLAB_READ_USER": "deploy-7"}
    )
    assert secrets.git_credential("store", ask, values) == ""
    assert secrets.git_credential("get", ask, {}) == ""
    # Never over plain HTTP to another machine; loopback is allowed (test servers).
    assert secrets.git_credential("get", "protocol=http\nhost=example.org\n", values) == ""
    assert secrets.git_credential("get", "protocol=http\nhost=127.0.0.1:8080\n", values)


# --- which ESC environment: a setting, never prod by accident ----------------------------
def test_a_rehearsal_never_opens_prods_esc(materia_env, tmp_path: Path) -> None:
    """A laptop where `pulumi` is logged in: outside MATERIA_ENV=prod nothing opens ESC,
    and `materia stack env` (MATERIA_ENV=prod on the stand-ins) turns it off."""
    bin_dir = tmp_path / "bin"
    stand_in_esc(bin_dir, name="pulumi")
    env = {**materia_env, "PATH": f"{bin_dir}:/usr/bin:/bin", "HCLOUD_TOKEN": "from-env-123456"}
    local = run_cli("secrets", "list", env=env)
    assert local.stdout.splitlines() == ["# source: environment", "HCLOUD_TOKEN"], local.stderr
    rehearsal = {**env, "MATERIA_ENV": "prod", "MATERIA_ESC_ENV": "off"}  # as `stack env`
    assert run_cli("secrets", "list", env=rehearsal).stdout.startswith("# source: environment")
    assert esc_calls(bin_dir) == []
    prod = run_cli("secrets", "list", env={**env, "MATERIA_ENV": "prod"})
    assert prod.stdout.startswith("# source: pulumi:beanflows/prod"), prod.stderr
    stand_in_esc(bin_dir, name="pulumi", env_name="beanflows/staging")
    named = run_cli("secrets", "list", env=with_esc(env, bin_dir, "beanflows/staging"))
    assert named.stdout.startswith("# source: pulumi:beanflows/staging"), named.stderr


def test_stack_env_turns_esc_off(tmp_path: Path) -> None:
    import json as _json

    from materia.ops import stack

    home = tmp_path / "home"
    (home / "stack").mkdir(parents=True)
    # A running stack's record (this process stands in for weed: only its record is read).
    (home / "stack" / "stack.json").write_text(
        _json.dumps({"pid": 0, "ports": {k: 1 for k in ("master", "volume", "filer", "s3")}})
    )
    stack._running = lambda h: _json.loads((h / "stack" / "stack.json").read_text())
    lines = stack.env_lines(home)
    assert "export MATERIA_ESC_ENV=off\n" in lines and "export MATERIA_ENV=prod\n" in lines


def test_a_named_esc_environment_without_a_cli_is_an_error(materia_env) -> None:
    env = {**materia_env, "PATH": "/usr/bin:/bin", "MATERIA_ESC_ENV": "beanflows/prod"}
    proc = run_cli("secrets", "list", env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: MATERIA_ESC_ENV=beanflows/prod but neither `esc` nor `pulumi` is on PATH to open it"
    )


@pytest.mark.parametrize(
    "args",
    [("runs",), ("worker", "list", "--on", "local"), ("landing", "list"), ("supervisor", "check")],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_reads_secrets_the_same_way(materia_env, tmp_path: Path, args) -> None:
    """Each command opens the ESC environment once, and fails the same way when it can't."""
    bin_dir = tmp_path / "bin"
    stand_in_esc(bin_dir, exit_code=255, name="pulumi")
    proc = run_cli(*args, env=with_esc(materia_env, bin_dir))
    assert esc_calls(bin_dir) == ["env open beanflows/prod --format json"]
    assert "pulumi env open beanflows/prod failed (exit 255)" in proc.stdout + proc.stderr
    assert proc.returncode != 0


def test_a_raw_print_inside_a_command_comes_out_masked(monkeypatch, capsys) -> None:
    """The CLI wraps stdout and stderr for every command: a print that forgets
    `redact()` still shows `***` (this fails if `cli.main` drops the wrapper)."""
    import sys

    from materia.cli import main as cli

    canary = "raw-print-canary-9f8e7d6c"
    monkeypatch.setenv("HCLOUD_TOKEN", canary)

    def leaky() -> None:
        print(f"token is {canary}")  # no redact(): the wrapper is all that stands here
        print(f"and on stderr {canary}", file=sys.stderr)

    before = list(cli.app.registered_commands)
    cli.app.command("leak-for-test", hidden=True)(leaky)
    try:
        try:
            cli.main(["leak-for-test"])
        except SystemExit as e:
            assert e.code in (0, None)
    finally:
        cli.app.registered_commands[:] = before
    out = capsys.readouterr()
    assert canary not in out.out + out.err
    assert "token is ***" in out.out and "and on stderr ***" in out.err


def test_a_worker_never_opens_esc_itself(tmp_path: Path) -> None:
    """A worker gets its secrets in its run document: with MATERIA_ENV=prod and `pulumi`
    logged in on the machine (a local worker of a rehearsal), it still reads no ESC."""
    from materia.core import settings as settings_mod
    from materia.workers.run import worker_env

    s = settings_mod.load(environ={"MATERIA_HOME": str(tmp_path)}, dotenv=tmp_path / "none")
    env = worker_env(s, share_home=True, run_id="r1") | {"MATERIA_ENV": "prod"}
    assert settings_mod.esc_env_name(env) is None
