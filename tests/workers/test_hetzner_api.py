"""The Hetzner API stand-in, driven by the real hcloud client."""

from __future__ import annotations

import math

import pytest
from hcloud import APIException, Client
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.ssh_keys import SSHKey

from testsupport.clouds.hetzner_api import FakeHetzner, label_matches

PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiUQWzwR9G3Y6yPEl2R8J3mQG3pYJ4t1Gm3c3Yl1aXb test"


@pytest.fixture
def api():
    booted, halted = [], []
    with FakeHetzner(
        "tok",
        boot=lambda s, u: booted.append((s["id"], u)),
        halt=lambda s, u: halted.append(s["id"]),
    ) as fake:
        fake.booted, fake.halted = booted, halted
        yield fake


def client(api: FakeHetzner, token: str = "tok") -> Client:
    return Client(token=token, api_endpoint=api.endpoint, poll_interval=0.05)


def create(c: Client, name: str, labels: dict[str, str], **kw):
    return c.servers.create(
        name=name,
        server_type=ServerType(name="ccx13"),
        image=Image(name="debian-12"),
        ssh_keys=[SSHKey(name="k")],
        labels=labels,
        **kw,
    )


def test_create_get_list_delete_with_labels(api: FakeHetzner):
    c = client(api)
    c.ssh_keys.create(name="k", public_key=PUB)
    r1 = create(
        c,
        "w1",
        {"app": "materia", "role": "worker", "pipeline": "extract"},
        user_data="#cloud-config\n{}",
    )
    r2 = create(c, "other", {"app": "else"})
    r1.action.wait_until_finished()
    server = c.servers.get_by_id(r1.server.id)
    assert (server.status, server.server_type.name, server.public_net.ipv4.ip) == (
        "running",
        "ccx13",
        "127.0.0.1",
    )
    assert api.booted == [(r1.server.id, "#cloud-config\n{}"), (r2.server.id, None)]
    names = [s.name for s in c.servers.get_all(label_selector="app=materia,role=worker")]
    assert names == ["w1"]
    assert [s.name for s in c.servers.get_all(label_selector="app!=materia")] == ["other"]
    c.servers.delete(server).wait_until_finished()
    assert api.halted == [r1.server.id]
    assert [s.name for s in c.servers.get_all()] == ["other"]
    with pytest.raises(APIException) as e:
        c.servers.get_by_id(r1.server.id)
    assert e.value.code == "not_found"


def test_actions_progress_slowly_when_asked(api: FakeHetzner):
    api.action_seconds = math.inf  # held until the test lets it finish: no time window
    c = client(api)
    c.ssh_keys.create(name="k", public_key=PUB)
    r = create(c, "slow", {})
    assert r.action.status == "running"
    assert c.servers.get_by_id(r.server.id).status == "initializing"
    assert api.booted == []
    api.finish_pending()
    r.action.wait_until_finished(max_retries=100)
    assert r.action.status == "success"
    assert c.servers.get_by_id(r.server.id).status == "running"


def test_delete_fault_answers_500_then_recovers(api: FakeHetzner):
    api.delete_failures = 2
    c = client(api)
    c.ssh_keys.create(name="k", public_key=PUB)
    server = create(c, "w", {}).server
    for _ in range(2):
        with pytest.raises(APIException) as e:
            c.servers.delete(server)
        assert e.value.code == "server_error"
    c.servers.delete(server)
    assert api.snapshot() == []
    assert [status for m, _, status in api.calls if m == "DELETE"] == [500, 500, 200]


def test_rejects_bad_token_unknown_key_and_duplicate_names(api: FakeHetzner):
    with pytest.raises(APIException) as e:
        client(api, token="wrong").servers.get_all()
    assert e.value.code == "unauthorized"
    c = client(api)
    with pytest.raises(APIException) as e:
        create(c, "w", {})
    assert e.value.code == "invalid_input"  # ssh key "k" does not exist yet
    c.ssh_keys.create(name="k", public_key=PUB)
    create(c, "w", {})
    with pytest.raises(APIException) as e:
        create(c, "w", {})
    assert e.value.code == "uniqueness_error"


def test_pagination_walks_every_page(api: FakeHetzner):
    c = client(api)
    c.ssh_keys.create(name="k", public_key=PUB)
    for i in range(60):
        create(c, f"w{i}", {"app": "materia"})
    assert len(c.servers.get_all(label_selector="app=materia")) == 60  # hcloud asks 50 per page
    assert sum(1 for m, p, _ in api.calls if m == "GET" and p == "/servers") == 2


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=materia", True),
        ("app==materia,role=worker", True),
        ("app!=materia", False),
        ("role", True),
        ("!role", False),
        ("pipeline in (extract, transform)", True),
        ("pipeline notin (extract)", False),
        ("app=materia,missing", False),
    ],
)
def test_label_selector(selector: str, expected: bool):
    labels = {"app": "materia", "role": "worker", "pipeline": "extract"}
    assert label_matches(labels, selector) is expected
