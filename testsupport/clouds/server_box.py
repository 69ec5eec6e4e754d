"""A fresh Debian server on loopback for the install scripts: this machine seen through a
private mount namespace, reached by a real sshd as root.

Inside the namespace `/etc` is a copy of this machine's (so `useradd` adds a real user
there, and units and `/etc/materia` land there), and `/opt`, `/var/lib` and
`/usr/local/bin` are empty: what a new server has. The scripts run unchanged, with
their real paths, and nothing they do reaches this machine. What cannot run here is
stood in by executables on the sessions' PATH (`standins`): systemd (no init here),
package downloads (no network), apt. Needs root and mount namespaces (`unshare -m`);
`available()` says why not.

    with ServerBox(tmp, authorized_key, standins, env) as box:
        box.port                           # sshd on 127.0.0.1
        box.path("/etc/materia/env")       # that file, as the server sees it
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from testsupport.clouds.sshd import Sshd

# Server path → the directory of this machine that holds it inside the namespace.
MOUNTS = {"/etc": "etc", "/opt": "opt", "/var/lib": "var-lib", "/usr/local/bin": "usr-local-bin"}


def available() -> str | None:
    """None when a box can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (the scripts install a user and a systemd unit as root)"
    if not shutil.which("unshare"):
        return "needs unshare (util-linux) for a private mount namespace"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    if probe.returncode != 0:
        return f"cannot make a mount namespace here: {probe.stderr.decode().strip()}"
    return None


class ServerBox:
    def __init__(
        self, tmp: Path, authorized_key: str, standins: Path, env: dict[str, str] | None = None
    ) -> None:
        self.tmp = Path(tmp)
        self.root = self.tmp / "server"
        path = f"{standins}:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
        mounts = " && ".join(
            f"mount --bind {self.root / here} {there}" for there, here in MOUNTS.items()
        )
        self.sshd = Sshd(
            self.tmp / "sshd",
            authorized_key,
            env={"PATH": path, **(env or {})},
            prefix=(
                *("unshare", "--mount", "--propagation", "private", "sh", "-c"),
                f'{mounts} && exec "$@"',
                "sh",
            ),
        )

    @property
    def port(self) -> int:
        return self.sshd.port

    def path(self, server_path: str) -> Path:
        """Where `server_path` of the server lives on this machine."""
        for there, here in MOUNTS.items():
            if server_path == there or server_path.startswith(there + "/"):
                return self.root / here / server_path[len(there) :].lstrip("/")
        raise ValueError(f"{server_path} is this machine's own, not the box's")

    def __enter__(self) -> ServerBox:
        self.root.mkdir(parents=True)
        subprocess.run(["cp", "-a", "/etc", str(self.root / "etc")], check=True)
        for here in MOUNTS.values():
            (self.root / here).mkdir(exist_ok=True)
        self.sshd.start(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.sshd.stop()
