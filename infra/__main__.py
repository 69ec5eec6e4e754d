"""The materia supervisor on Hetzner Cloud: one small server, SSH-only firewall, our key.

The default type, cx23 (2 shared vCPU, 4 GB, EU locations), replaces cpx11, which
Hetzner retired with the other CPX Gen 1 and CX Gen 2 types at the end of 2025.

Workers are not declared here: `materia pipeline run --on hetzner` creates and destroys
them per run. Stack config (`pulumi config set`): sshPublicKey (required), serverType
(cx23), location (fsn1), image (debian-12), sshSourceIps (everywhere), and
workerSshPublicKey / workerSshKeyName (the key workers get; optional). The hcloud token
comes from Pulumi ESC (`hcloud:token`) through the stack's environment.
"""

import pulumi
import pulumi_hcloud as hcloud

config = pulumi.Config()
server_type = config.get("serverType") or "cx23"
location = config.get("location") or "fsn1"
image = config.get("image") or "debian-12"
ssh_source_ips = config.get_object("sshSourceIps") or ["0.0.0.0/0", "::/0"]
labels = {"app": "materia", "role": "supervisor"}

ssh_key = hcloud.SshKey(
    "materia-supervisor-key",
    name="materia-supervisor",
    public_key=config.require("sshPublicKey"),
    labels=labels,
)

# Inbound: SSH only. Outbound stays open (git, PyPI, USDA, R2, the Hetzner API).
firewall = hcloud.Firewall(
    "materia-supervisor-fw",
    name="materia-supervisor",
    labels=labels,
    rules=[
        hcloud.FirewallRuleArgs(
            direction="in",
            protocol="tcp",
            port="22",
            source_ips=ssh_source_ips,
            description="SSH",
        )
    ],
)

server = hcloud.Server(
    "materia-supervisor",
    name="materia-supervisor",
    server_type=server_type,
    image=image,
    location=location,
    ssh_keys=[ssh_key.id],
    firewall_ids=[firewall.id.apply(int)],
    labels=labels,
    public_nets=[hcloud.ServerPublicNetArgs(ipv4_enabled=True, ipv6_enabled=True)],
)

# The key ephemeral workers are created with (HCLOUD_SSH_KEY_NAME, default "materia");
# its private half lives on the supervisor (HCLOUD_SSH_PRIVATE_KEY).
worker_public_key = config.get("workerSshPublicKey")
if worker_public_key:
    worker_key = hcloud.SshKey(
        "materia-worker-key",
        name=config.get("workerSshKeyName") or "materia",
        public_key=worker_public_key,
        labels={"app": "materia", "role": "worker"},
    )

pulumi.export("supervisor_ip", server.ipv4_address)
pulumi.export("supervisor_id", server.id)
