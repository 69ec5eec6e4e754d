"""The PSD Online stand-in: layout, strong ETags, HEAD, 304, 404, faults, byte counts."""

from __future__ import annotations

import http.client
import io
import threading
import urllib.error
import urllib.request
import zipfile

import pytest

from testsupport.psd import fixtures as pf

RELEASE = "archives/2022/06/psd_coffee_csv.zip"


@pytest.fixture
def served(psd_server):
    pf.archive_layout(psd_server.root, {"2022-06": pf.sample_rows()})
    return psd_server


def _req(srv, method="GET", path=RELEASE, headers=None):
    conn = http.client.HTTPConnection(*srv._httpd.server_address[:2], timeout=10)
    conn.request(method, "/" + path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


def test_get_head_etag_304_404(served):
    data = (served.root / RELEASE).read_bytes()
    resp, body = _req(served)
    etag = resp.getheader("ETag")
    assert resp.status == 200 and body == data
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    head, hbody = _req(served, "HEAD")
    assert head.status == 200 and hbody == b"" and head.getheader("ETag") == etag
    assert int(head.getheader("Content-Length")) == len(data)
    nm, nbody = _req(served, headers={"If-None-Match": etag})
    assert nm.status == 304 and nbody == b""
    assert _req(served, headers={"If-None-Match": '"other"'})[0].status == 200
    assert _req(served, path="archives/2022/07/psd_coffee_csv.zip")[0].status == 404
    assert _req(served, path="../../etc/passwd")[0].status == 404
    assert served.body_bytes("GET") == 2 * len(data)
    assert served.count("GET", 304) == 1 and served.count(status=404) == 2
    assert served.body_bytes("HEAD") == 0
    assert served.url("2022-06", "psd_coffee_csv.zip").endswith("/" + RELEASE)


def test_etag_follows_content(served):
    etag1 = _req(served, "HEAD")[0].getheader("ETag")
    pf.write_release(served.root / RELEASE, pf.revise(pf.sample_rows(), "2022-12"))
    assert _req(served, "HEAD")[0].getheader("ETag") != etag1


def test_fail_next_then_recover(served):
    served.fail_next(2)
    assert _req(served, "HEAD")[0].status == 500
    assert _req(served)[0].status == 500
    assert _req(served)[0].status == 200


def test_body_faults(served):
    data = (served.root / RELEASE).read_bytes()
    served.inject("truncate", times=1)
    with pytest.raises(http.client.IncompleteRead):
        _req(served)
    served.inject("corrupt", times=1)
    resp, body = _req(served)
    assert resp.status == 200 and body != data
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is not None
    served.inject("wrong_header", times=1)
    body = _req(served)[1]
    assert not zipfile.ZipFile(io.BytesIO(body)).read("psd_coffee.csv").startswith(b"Commodity")
    assert _req(served)[1] == data  # faults used up


def test_slow_body_can_be_watched(served):
    served.inject("slow", chunk=512, delay=0.05)
    got = {}

    def fetch():
        with urllib.request.urlopen(f"{served.base_url}/{RELEASE}", timeout=30) as r:
            got["body"] = r.read()

    t = threading.Thread(target=fetch)
    t.start()
    assert served.wait_for(lambda s: s.body_bytes("GET") >= 1024, timeout=30)
    t.join(timeout=60)
    assert got["body"] == (served.root / RELEASE).read_bytes()


def test_shared_releases_are_served(shared_psd_server, shared_psd_dir):
    url = shared_psd_server.url("2022-12", "psd_coffee_csv.zip")
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == (shared_psd_dir / "archives/2022/12/psd_coffee_csv.zip").read_bytes()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(shared_psd_server.url("2022-07", "psd_coffee_csv.zip"))
    assert e.value.code == 404
