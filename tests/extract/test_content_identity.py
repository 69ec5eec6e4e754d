"""Content is identity at the door: whatever ETags the server sends (none, a new one on
every request, a different one after a quarantine), the same bytes land once per release
month and a quarantined content never lands again. Archives landed under the old
`<etag>.zip` keys keep working and are recognised by their content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from testsupport.psd import fixtures as pf

COFFEE = "psd_coffee_csv.zip"
ARGS = ("extract", "psd", "--dataset", COFFEE, "--as-of", "2022-12-31")


def archives(home: Path) -> dict[str, bytes]:
    """Landed and quarantined zips (records and reasons left out)."""
    root = home / "landing"
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*.zip")
        if not str(p.relative_to(root)).startswith("checked/")
    }


@pytest.fixture
def site(psd_server, materia_env):
    """The 2022-12 coffee release served over HTTP, and the CLI environment for it."""
    pf.archive_layout(psd_server.root, {"2022-12": pf.sample_rows("2022-12")})
    env = {**materia_env, "PSD_BASE_URL": psd_server.base_url}
    return psd_server, env, Path(env["MATERIA_HOME"])


def _extract(cli, env) -> str:
    done = cli(*ARGS, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("then", ["none", "rotate"])
def test_a_quarantined_release_never_comes_back_when_the_etags_change(site, cli, then):
    """Issue 19: landed with an ETag, quarantined, then the server drops or rotates its
    ETags: the same bytes are downloaded, recognised and not landed again."""
    server, env, home = site
    _extract(cli, env)
    ((key, data),) = archives(home).items()
    assert cli("landing", "quarantine", key, env=env).returncode == 0
    server.etags = then
    for _ in range(2):
        out = _extract(cli, env)
        assert f"quarantined {key}: not landed again" in out, out
    assert archives(home) == {f"quarantine/{key}": data}


def test_a_quarantined_release_is_never_relanded_when_head_gives_no_etag(site, cli):
    """Issue 21's mutation: without an ETag there is nothing to skip the download with;
    the content check after it is what keeps the quarantined bytes out."""
    server, env, home = site
    server.etags = "none"
    _extract(cli, env)
    ((key, data),) = archives(home).items()
    assert cli("landing", "quarantine", key, env=env).returncode == 0
    got = server.body_bytes("GET")
    out = _extract(cli, env)
    assert server.body_bytes("GET") > got  # downloaded (no hint), then refused
    assert f"quarantined {key}: not landed again" in out
    assert archives(home) == {f"quarantine/{key}": data}


def test_an_etag_that_changes_on_every_request_lands_one_copy(site, cli):
    server, env, home = site
    server.etags = "rotate"
    outs = [_extract(cli, env) for _ in range(3)]
    assert len(archives(home)) == 1
    assert [o.split()[2] for o in outs] == ["landed", "unchanged", "unchanged"]


def test_a_quarantined_content_is_refused_in_any_month(site, cli):
    server, env, home = site
    _extract(cli, env)
    ((key, data),) = archives(home).items()
    assert cli("landing", "quarantine", key, env=env).returncode == 0
    later = server.root / "archives/2023/01" / COFFEE  # the same bytes, posted again
    later.parent.mkdir(parents=True)
    later.write_bytes(data)
    done = cli("extract", "psd", "--dataset", COFFEE, "--as-of", "2023-01-31", env=env)
    assert done.returncode == 0, done.stderr
    assert f"quarantined {key}: not landed again" in done.stdout
    assert list(archives(home)) == [f"quarantine/{key}"]


def _legacy(home: Path, data: bytes, name: str) -> str:
    """An archive as the code before content keys landed it: `<etag>.zip` and a record
    of its check without any identity."""
    key = f"psd/psd_coffee_csv/2022/12/{name}.zip"
    (home / "landing" / key).parent.mkdir(parents=True)
    (home / "landing" / key).write_bytes(data)
    record = home / "landing" / "checked" / f"{key}.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"rules": "older-rules", "rows": 140}))
    return key


@pytest.mark.parametrize("etags", ["none", "rotate", "content"])
def test_a_content_landed_under_an_old_etag_key_is_not_landed_again(site, cli, etags):
    server, env, home = site
    data = (server.root / "archives/2022/12" / COFFEE).read_bytes()
    key = _legacy(home, data, "80b4d8a3f7d7d81_0")  # an IIS-style ETag, as landed before
    server.etags = etags
    out = _extract(cli, env)
    assert f"unchanged {key}" in out
    assert archives(home) == {key: data}
    record = json.loads((home / "landing/checked" / f"{key}.json").read_text())
    assert record["sha256"] == hashlib.sha256(data).hexdigest()  # recorded beside, once
    assert record["rows"] == 140  # the rest of the record kept


def test_the_etag_of_an_old_key_still_spares_the_download(site, cli):
    server, env, home = site
    path = server.root / "archives/2022/12" / COFFEE
    key = _legacy(home, path.read_bytes(), server.etag_of(path).strip('"'))
    server.clear()
    assert f"unchanged {key}" in _extract(cli, env)
    assert server.count("GET") == 0 and server.body_bytes() == 0


def test_a_quarantined_old_etag_key_keeps_its_content_out(site, cli):
    server, env, home = site
    data = (server.root / "archives/2022/12" / COFFEE).read_bytes()
    key = _legacy(home, data, "old-etag")
    assert cli("landing", "quarantine", key, env=env).returncode == 0
    server.etags = "rotate"
    assert f"quarantined {key}: not landed again" in _extract(cli, env)
    assert list(archives(home)) == [f"quarantine/{key}"]
