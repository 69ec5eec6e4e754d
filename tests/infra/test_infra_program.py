"""infra/__main__.py under Pulumi's own mocks: what it declares, with which sizes and rules."""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi
import pytest

PROGRAM = Path(__file__).resolve().parents[2] / "infra" / "__main__.py"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKeyOnly materia@test"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources[args.name] = args
        outputs = dict(args.inputs)
        if args.typ == "hcloud:index/server:Server":
            outputs["ipv4Address"] = "203.0.113.7"
        # Hetzner ids are numbers; the program turns the firewall id into an int.
        return [str(100 + len(self.resources)), outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


EXPORTS: dict[str, pulumi.Output] = {}


@pytest.fixture(scope="module")
def program():
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="materia", stack="prod", preview=False)
    pulumi.runtime.set_all_config({"materia:sshPublicKey": PUBLIC_KEY})
    mp = pytest.MonkeyPatch()
    # What the program exports, as `pulumi stack output` (and the deploy job) will see it.
    mp.setattr(pulumi, "export", lambda name, value: EXPORTS.__setitem__(name, value))
    try:
        names = runpy.run_path(str(PROGRAM))
    finally:
        mp.undo()
    return mocks, names


def by_type(mocks: Mocks, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in mocks.resources.values() if r.typ == typ]


@pulumi.runtime.test
def test_declares_exactly_key_firewall_and_server(program):
    mocks, names = program

    def check(_):
        types = sorted(r.typ for r in mocks.resources.values())
        assert types == [
            "hcloud:index/firewall:Firewall",
            "hcloud:index/server:Server",
            "hcloud:index/sshKey:SshKey",
        ]
        (key,) = by_type(mocks, "hcloud:index/sshKey:SshKey")
        assert key.inputs["publicKey"] == PUBLIC_KEY

    return names["server"].id.apply(check)


@pulumi.runtime.test
def test_server_is_an_orderable_cx23_with_key_and_firewall(program):
    mocks, names = program
    s, key, fw = names["server"], names["ssh_key"], names["firewall"]

    def check(args):
        server_type, image, location, ssh_keys, firewall_ids, key_id, fw_id = args
        assert (server_type, image, location) == ("cx23", "debian-12", "fsn1")
        # Still sold (cpx11, the old default, left Hetzner's API at the end of 2025).
        from testsupport.clouds.hetzner_api import RETIRED_TYPES, SERVER_TYPES

        assert server_type in SERVER_TYPES and server_type not in RETIRED_TYPES
        assert ssh_keys == [key_id]
        assert firewall_ids == [int(fw_id)]

    return pulumi.Output.all(
        s.server_type, s.image, s.location, s.ssh_keys, s.firewall_ids, key.id, fw.id
    ).apply(check)


@pulumi.runtime.test
def test_firewall_allows_only_ssh_in(program):
    mocks, names = program

    def check(rules):
        assert len(rules) == 1
        (rule,) = rules
        assert rule["direction"] == "in"
        assert rule["protocol"] == "tcp"
        assert rule["port"] == "22"
        assert rule["source_ips"] == ["0.0.0.0/0", "::/0"]

    return names["firewall"].rules.apply(check)


@pulumi.runtime.test
def test_exports_the_supervisors_address_and_id(program):
    """The deploy job reads `supervisor_ip` and `supervisor_id`: they must be the server's."""
    mocks, names = program
    assert sorted(EXPORTS) == ["supervisor_id", "supervisor_ip"]

    def check(values):
        ip, exported_id, server_id = values
        assert len(by_type(mocks, "hcloud:index/server:Server")) == 1
        assert ip == "203.0.113.7"  # the address the provider reports for the server
        assert exported_id == server_id

    return pulumi.Output.all(
        EXPORTS["supervisor_ip"], EXPORTS["supervisor_id"], names["server"].id
    ).apply(check)


def test_project_file_declares_what_the_program_reads() -> None:
    import re

    import yaml

    project = yaml.safe_load((PROGRAM.parent / "Pulumi.yaml").read_text())
    assert project["name"] == "materia"  # the config namespace the mocks use
    assert project["runtime"]["name"] == "python"
    read = set(re.findall(r'config\.(?:get|require|get_object)\("(\w+)"\)', PROGRAM.read_text()))
    assert read and read <= set(project["config"])
    stack = yaml.safe_load((PROGRAM.parent / "Pulumi.prod.yaml").read_text())
    assert stack == {"environment": ["beanflows/prod"]}
