"""Worker clouds on loopback: each vendor's API as a stateful stand-in driven through the
vendor's real SDK (`hetzner_api`, `scaleway_api`, `ovh_api`, `oci_api`, sharing `api`),
the machines they "create" (`server_box`, `sshd`: real OpenSSH), all of them at once
(`registry`), and the runs tests start on them (`worker_runs`)."""
