"""Alerts through Apprise to a real loopback receiver (the `json://` schema)."""

from __future__ import annotations

from pathlib import Path

from materia.core import notify, settings
from testsupport.ops.alert_receiver import AlertReceiver


def load(tmp_path: Path, **env: str):
    return settings.load(environ={"MATERIA_HOME": str(tmp_path), **env}, dotenv=tmp_path / "x")


def test_no_destination_sends_nothing(tmp_path):
    assert notify.send(load(tmp_path), "t", "b") is False


def test_every_destination_gets_it_and_no_secret_leaves(tmp_path, capsys):
    r2_secret = "r2-secret-0f9e8d7c6b5a"
    with AlertReceiver() as a, AlertReceiver() as b:
        hook = f"{a.url}?token=hook-secret-12345"
        s = load(
            tmp_path,
            MATERIA_NOTIFY=f"{hook}, {b.url}",
            R2_ENDPOINT="http://127.0.0.1:9",
            R2_BUCKET="landing",
            R2_ACCESS_KEY="ak-1234567",
            R2_SECRET_KEY=r2_secret,
        )
        body = f"upload with {r2_secret} failed; alerts go to {hook}"
        assert notify.send(s, "materia: extract failed", body, notify.FAILURE) is True
        [got] = a.wait_for(1)
        assert b.wait_for(1) == [got]
    assert (got["title"], got["type"]) == ("materia: extract failed", "failure")
    assert got["message"] == "upload with *** failed; alerts go to ***"
    assert not [r for r in a.raw + b.raw if r2_secret.encode() in r or b"hook-secret" in r]


def test_a_failing_destination_is_reported_not_raised(tmp_path, capsys):
    with AlertReceiver(status=500) as rx:
        s = load(tmp_path, MATERIA_NOTIFY=rx.url)
        assert notify.send(s, "materia: transform recovered", "ok", notify.SUCCESS) is False
        rx.wait_for(1)
    assert "alert: not every destination took 'materia: transform recovered'" in (
        capsys.readouterr().err
    )
