"""The Scaleway, OVHcloud and OCI API stand-ins, driven by the vendors' real SDKs: they
keep state, filter by labels, page, authenticate what the SDKs really send, and fail on
request."""

from __future__ import annotations

import uuid

import oci
import ovh
import pytest
import requests
from scaleway import Client
from scaleway.block.v1 import BlockV1API
from scaleway.instance.v1.custom_api import InstanceUtilsV1API
from scaleway_core.api import ScalewayException

from testsupport.clouds.oci_api import FakeOci
from testsupport.clouds.ovh_api import FakeOvh
from testsupport.clouds.scaleway_api import FakeScaleway
from testsupport.clouds.worker_runs import wait_for


# --- Scaleway ----------------------------------------------------------------------------
@pytest.fixture
def scw():
    booted: list[tuple[str, str | None]] = []
    with FakeScaleway(
        str(uuid.uuid4()), str(uuid.uuid4()), boot=lambda s, u: booted.append((s["id"], u))
    ) as api:
        api.booted = booted
        yield api


def scw_api(api: FakeScaleway, secret: str | None = None) -> tuple[InstanceUtilsV1API, BlockV1API]:
    client = Client(
        access_key="SCW0123456789ABCDEFG",
        secret_key=secret or api.secret_key,
        default_project_id=api.project_id,
        default_zone=api.zone,
        default_region="fr-par",
        api_url=api.api_url,
    )
    return InstanceUtilsV1API(client), BlockV1API(client)


def scw_create(inst: InstanceUtilsV1API, api: FakeScaleway, name: str, tags: list[str]):
    return inst.create_server(
        commercial_type="POP2-2C-8G", name=name, image="debian_bookworm", tags=tags
    ).server


def test_scaleway_servers_tags_user_data_and_termination(scw: FakeScaleway):
    inst, block = scw_api(scw)
    a = scw_create(inst, scw, "a", ["app=materia", "role=worker"])
    scw_create(inst, scw, "b", ["app=materia"])
    assert a.state == "stopped" and scw.booted == []
    names = [s.name for s in inst.list_servers_all(tags=["app=materia", "role=worker"])]
    assert names == ["a"]
    inst.set_server_user_data(server_id=a.id, key="cloud-init", content=b"#cloud-config\n{}")
    inst.server_action(server_id=a.id, action="poweron")
    wait_for(lambda: inst.get_server(server_id=a.id).server.state == "running", what="boot")
    assert scw.booted == [(a.id, "#cloud-config\n{}")]
    with pytest.raises(ScalewayException) as e:  # a running server cannot just be deleted
        inst.delete_server(server_id=a.id)
    assert e.value.status_code == 400
    [volume] = [v for v in scw.volumes_left() if v["name"] == "a-root"]
    inst.server_action(server_id=a.id, action="terminate")
    wait_for(lambda: a.id not in {s["id"] for s in scw.snapshot()}, what="termination")
    left = {v["id"]: v["status"] for v in scw.volumes_left()}
    assert left[volume["id"]] == "available"  # detached, still billed, until deleted
    block.delete_volume(volume_id=volume["id"])
    assert volume["id"] not in {v["id"] for v in scw.volumes_left()}


def test_scaleway_pages_and_faults(scw: FakeScaleway):
    inst, _ = scw_api(scw)
    for i in range(7):
        scw_create(inst, scw, f"w{i}", ["app=materia"])
    assert len(inst.list_servers_all(tags=["app=materia"], per_page=3)) == 7
    assert sum(1 for m, p, _ in scw.calls if m == "GET" and p.endswith("/servers")) == 4
    scw.quota_errors = 1
    with pytest.raises(ScalewayException) as e:
        scw_create(inst, scw, "q", [])
    assert (e.value.status_code, e.value.response.json()["type"]) == (403, "quotas_exceeded")
    scw.capacity_errors = 1
    server = scw_create(inst, scw, "c", [])
    with pytest.raises(ScalewayException) as e:
        inst.server_action(server_id=server.id, action="poweron")
    assert e.value.response.json()["type"] == "out_of_stock"
    with pytest.raises(ScalewayException) as e:
        scw_api(scw, secret=str(uuid.uuid4()))[0].list_servers()
    assert e.value.status_code == 401


# --- OVHcloud ----------------------------------------------------------------------------
@pytest.fixture
def ovh_api():
    with FakeOvh("appkey", "appsecret", "consumer", "proj", clock_skew=-900) as api:
        api.add_ssh_key("materia", "ssh-ed25519 AAAAC3Nza test")
        yield api


def ovh_client(api: FakeOvh, secret: str = "appsecret") -> ovh.Client:
    client = ovh.Client("ovh-eu", "appkey", secret, "consumer")
    client._endpoint = api.endpoint
    return client


def test_ovh_calls_are_signed_against_the_servers_clock(ovh_api: FakeOvh):
    client = ovh_client(ovh_api)
    assert client.get("/cloud/project/proj/instance") == []  # signed with /auth/time's delta
    assert client.time_delta == pytest.approx(-900, abs=2)
    with pytest.raises(ovh.exceptions.BadParametersError, match="Invalid signature"):
        ovh_client(ovh_api, secret="wrong").get("/cloud/project/proj/instance")
    late = ovh_client(ovh_api)
    late._time_delta = 0  # as if the client had not asked the server's time
    with pytest.raises(ovh.exceptions.BadParametersError, match="Query out of time"):
        late.get("/cloud/project/proj/instance")


def test_ovh_instances_build_fail_and_delete(ovh_api: FakeOvh):
    client = ovh_client(ovh_api)
    base = "/cloud/project/proj"
    flavor = next(f["id"] for f in client.get(f"{base}/flavor") if f["name"] == "b3-8")
    image = client.get(f"{base}/image")[0]["id"]
    key = client.get(f"{base}/sshkey")[0]["id"]

    def create(name: str) -> dict:
        return client.post(
            f"{base}/instance", name=name, flavorId=flavor, imageId=image, region="GRA11",
            sshKeyId=key, userData="#cloud-config\n{}",
        )  # fmt: skip

    ok = create("ok")
    ovh_api.capacity_errors = 1
    bad = create("bad")
    wait_for(lambda: client.get(f"{base}/instance/{ok['id']}")["status"] == "ACTIVE")
    assert client.get(f"{base}/instance/{bad['id']}")["status"] == "ERROR"
    ovh_api.quota_errors = 1
    with pytest.raises(ovh.exceptions.BadParametersError, match="Quota exceeded"):
        create("q")
    ovh_api.delete_seconds, ovh_api.delete_failures = 0.3, 1
    with pytest.raises(ovh.exceptions.APIError, match="Internal server error"):
        client.delete(f"{base}/instance/{ok['id']}")
    assert client.delete(f"{base}/instance/{ok['id']}") is None
    assert client.get(f"{base}/instance/{ok['id']}")["status"] == "DELETING"
    wait_for(lambda: len(client.get(f"{base}/instance")) == 1, what="deletion")
    with pytest.raises(ovh.exceptions.ResourceNotFoundError):
        client.get(f"{base}/instance/{ok['id']}")


# --- Oracle Cloud ------------------------------------------------------------------------
@pytest.fixture
def oci_api():
    with FakeOci(page_size=2) as api:
        user = "ocid1.user.oc1..testuser"
        pem, fingerprint = api.add_api_key(user)
        api.config = {
            "tenancy": api.tenancy,
            "user": user,
            "fingerprint": fingerprint,
            "key_content": pem,
            "region": "eu-frankfurt-1",
        }
        yield api


def launch(compute: oci.core.ComputeClient, api: FakeOci, name: str, tags: dict[str, str]):
    from oci.core import models

    image = compute.list_images(
        api.tenancy, operating_system="Canonical Ubuntu", shape="VM.Standard.A1.Flex"
    ).data[0]
    return compute.launch_instance(
        models.LaunchInstanceDetails(
            availability_domain=api.ads[0],
            compartment_id=api.tenancy,
            display_name=name,
            shape="VM.Standard.A1.Flex",
            shape_config=models.LaunchInstanceShapeConfigDetails(ocpus=2.0, memory_in_gbs=8.0),
            source_details=models.InstanceSourceViaImageDetails(image_id=image.id),
            create_vnic_details=models.CreateVnicDetails(subnet_id=api.subnet),
            freeform_tags=tags,
            metadata={"ssh_authorized_keys": "ssh-ed25519 AAAA k"},
        )
    ).data


def test_oci_signed_calls_paging_and_termination(oci_api: FakeOci):
    compute = oci.core.ComputeClient(oci_api.config, service_endpoint=oci_api.root)
    ids = [launch(compute, oci_api, f"w{i}", {"app": "materia"}).id for i in range(5)]
    listed = oci.pagination.list_call_get_all_results(compute.list_instances, oci_api.tenancy)
    assert sorted(i.id for i in listed.data) == sorted(ids)
    assert sum(1 for m, p, _ in oci_api.calls if m == "GET" and p.endswith("/instances")) == 3
    assert listed.data[0].freeform_tags == {"app": "materia"}
    wait_for(lambda: compute.get_instance(ids[0]).data.lifecycle_state == "RUNNING")
    oci_api.delete_seconds = 0.3
    compute.terminate_instance(ids[0], preserve_boot_volume=False)
    assert compute.get_instance(ids[0]).data.lifecycle_state == "TERMINATING"
    wait_for(lambda: compute.get_instance(ids[0]).data.lifecycle_state == "TERMINATED")
    assert ids[0] not in {s["id"] for s in oci_api.snapshot()}  # no longer billed


def test_oci_refuses_bad_signatures_and_fails_on_request(oci_api: FakeOci):
    compute = oci.core.ComputeClient(oci_api.config, service_endpoint=oci_api.root)
    oci_api.capacity_errors = 1
    with pytest.raises(oci.exceptions.ServiceError) as e:
        launch(compute, oci_api, "c", {})
    assert (e.value.status, e.value.message) == (500, "Out of host capacity.")
    oci_api.quota_errors = 1
    with pytest.raises(oci.exceptions.ServiceError) as e:
        launch(compute, oci_api, "q", {})
    assert (e.value.status, e.value.code) == (400, "LimitExceeded")
    # A body changed after signing is refused; so is a key the tenancy does not know.
    signer = oci.signer.Signer(
        oci_api.tenancy, oci_api.config["user"], oci_api.config["fingerprint"], None,
        private_key_content=oci_api.config["key_content"],
    )  # fmt: skip
    req = requests.Request(
        "POST", f"{oci_api.root}/20160918/instances", data=b'{"a": 1}', auth=signer
    ).prepare()
    req.body = b'{"a": 2}'
    assert requests.Session().send(req).status_code == 401
    other = FakeOci()
    pem, fingerprint = other.add_api_key("ocid1.user.oc1..stranger")
    stranger = {**oci_api.config, "fingerprint": fingerprint, "key_content": pem}
    with pytest.raises(oci.exceptions.ServiceError) as e:
        oci.core.ComputeClient(stranger, service_endpoint=oci_api.root).list_instances(
            oci_api.tenancy
        )
    assert (e.value.status, e.value.code) == (401, "NotAuthenticated")
