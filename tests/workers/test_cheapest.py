"""`--on cheapest`: the choice among configured clouds, the runner-up, and the bounded
fallback when a provider has no capacity, destroying whatever it half-created."""

from __future__ import annotations

from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.workers import prices
from materia.workers.cheapest import announce, ranked, run_cheapest
from testsupport import run_cli
from testsupport.clouds.worker_runs import DATASET, bucket_run_log, local_run_log, publish_release

# Credentials in the right shapes; nothing is called with them.
FAKE = {
    "HCLOUD_TOKEN": "t",
    "SCW_ACCESS_KEY": "SCWAAAAAAAAAAAAAAAAA",
    "SCW_SECRET_KEY": "00000000-0000-4000-8000-000000000000",
    "SCW_DEFAULT_PROJECT_ID": "00000000-0000-4000-8000-000000000001",
    "OVH_APPLICATION_KEY": "a",
    "OVH_APPLICATION_SECRET": "b",
    "OVH_CONSUMER_KEY": "c",
    "OVH_CLOUD_PROJECT_SERVICE": "p",
    "OCI_TENANCY_OCID": "ocid1.tenancy.oc1..t",
    "OCI_USER_OCID": "ocid1.user.oc1..u",
    "OCI_FINGERPRINT": ":".join(["00"] * 16),
    "OCI_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
    "OCI_REGION": "eu-frankfurt-1",
    "OCI_SUBNET_OCID": "ocid1.subnet.oc1..s",
}


def settings_with(tmp_path: Path, *prefixes: str) -> settings_mod.Settings:
    env = {k: v for k, v in FAKE.items() if k.startswith(prefixes)}
    return settings_mod.load(environ={"MATERIA_HOME": str(tmp_path), **env}, dotenv=tmp_path / "x")


@pytest.mark.parametrize("pipeline", ["extract", "transform"])
def test_the_choice_is_the_lowest_hourly_price_among_configured_clouds(tmp_path, pipeline):
    every = ranked(settings_with(tmp_path, "HCLOUD", "SCW", "OVH", "OCI"), pipeline)
    assert sorted(c.provider for c in every) == ["hetzner", "oracle", "ovh", "scaleway"]
    assert [c.hourly_eur for c in every] == sorted(c.hourly_eur for c in every)
    for c in every:  # each price is the provider's own table, in its own currency
        table = prices.price_table(c.provider)
        assert (c.server_type, c.hourly, c.currency) == (
            table.classes[pipeline],
            table.hourly[table.classes[pipeline]],
            table.currency,
        )
    # Per the dated tables: Arm A1 on OCI, OVH's b3, Hetzner's ccx (after its June 2026
    # increase), Scaleway's POP2.
    assert [c.provider for c in every] == ["oracle", "ovh", "hetzner", "scaleway"]
    two = ranked(settings_with(tmp_path, "SCW", "OVH"), pipeline)
    assert [c.provider for c in two] == ["ovh", "scaleway"]
    line = announce(two, pipeline)
    assert line.startswith(f"cheapest: {pipeline} on ovh ") and "runner-up scaleway " in line
    assert ranked(settings_with(tmp_path), pipeline) == []  # local is never a candidate


def test_without_any_cloud_it_is_one_clear_error(tmp_path: Path):
    with pytest.raises(MateriaError, match="no cloud provider has credentials"):
        run_cheapest(settings_with(tmp_path), "extract")


@pytest.mark.ssh
def test_fallback_is_bounded_and_leaves_nothing(clouds, tmp_path: Path):
    """Every provider refuses (OCI: out of host capacity; OVH: quota; Scaleway: out of
    stock after the server exists): each attempt cleans up, then one clear error."""
    for name in ("scaleway", "ovh", "oracle"):
        clouds.start(name)
    clouds["oracle"].api.capacity_errors = 5
    clouds["ovh"].api.quota_errors = 5
    clouds["scaleway"].api.capacity_errors = 5
    home = tmp_path / "home"
    s = settings_mod.load(environ=clouds.env(home), dotenv=tmp_path / "none.env")
    lines: list[str] = []
    with pytest.raises(MateriaError, match="no cloud could run extract: oracle: .*; ovh: [^;]*$"):
        run_cheapest(s, "extract", log=lines.append, attempts=2)
    assert not [m for m, _, _ in clouds["scaleway"].api.calls if m == "POST"]  # bounded
    with pytest.raises(MateriaError, match="no cloud could run extract: oracle: .*; scaleway: "):
        run_cheapest(s, "extract", log=lines.append)
    assert ("POST", "/instance/v1/zones/fr-par-2/servers", 201) in clouds["scaleway"].api.calls
    assert clouds.billed() == {"scaleway": [], "ovh": [], "oracle": []}
    assert sum("runner-up ovh" in x for x in lines) == 2
    assert any("no capacity on ovh" in x and "falling back to scaleway" in x for x in lines)
    log = local_run_log(home)
    assert [(r["provider"], r["exit_code"]) for r in log] == [
        ("oracle", None),
        ("ovh", None),
        ("oracle", None),
        ("ovh", None),
        ("scaleway", None),
    ]
    assert "Out of host capacity" in log[0]["error"] and "out_of_stock" in log[-1]["error"]


@pytest.mark.ssh
@pytest.mark.slow
def test_extract_on_cheapest_falls_back_on_a_capacity_error(
    clouds, psd_server, worker_r2, tmp_path: Path
):
    """OVH is cheaper than Scaleway, but its instance ends in ERROR (no host): it is
    destroyed and the run goes to Scaleway."""
    clouds.start("scaleway")
    clouds.start("ovh").api.capacity_errors = 1
    prefix = publish_release(psd_server)
    r2_env, fs, bucket = worker_r2
    env = clouds.env(
        tmp_path / "home", PSD_BASE_URL=psd_server.base_url, PSD_DATASETS=DATASET, **r2_env
    )
    r = run_cli("pipeline", "run", "extract", "--on", "cheapest", env=env, cwd=tmp_path / "cwd")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cheapest: extract on ovh b3-8 " in r.stderr and "runner-up scaleway " in r.stderr
    assert "no capacity on ovh" in r.stderr and "falling back to scaleway" in r.stderr
    assert len(fs.find(f"{bucket}/{prefix}")) == 1
    assert clouds.billed() == {"scaleway": [], "ovh": []}
    assert (
        "POST",
        "/1.0/cloud/project/" + clouds["ovh"].env["OVH_CLOUD_PROJECT_SERVICE"] + "/instance",
        200,
    ) in clouds["ovh"].api.calls
    log = bucket_run_log(fs, bucket)
    assert [(x["provider"], x["exit_code"]) for x in log] == [("ovh", None), ("scaleway", 0)]
    assert "ended in ERROR" in log[0]["error"]
    print("\n" + "\n".join(x for x in r.stderr.splitlines() if x.startswith("cheapest:")))
