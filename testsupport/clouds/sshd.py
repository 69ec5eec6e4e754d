"""A real OpenSSH server on a loopback port, standing in for a freshly created worker.

`Sshd` runs Debian's `/usr/sbin/sshd` as the current user with its own host key, one
authorized key and a private config (no PAM, no passwords). `SshWorkers` plugs it into
`FakeHetzner`: when a fake server boots, an sshd starts with the host key that the
server's cloud-init user data carries, exactly as cloud-init would install it; when the
server is deleted, that sshd stops.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from materia.workers.ssh import HostKey
from testsupport import free_port

SSHD = Path("/usr/sbin/sshd")
MARKER = "MATERIA_STANDIN_SSHD"


def _kill_marked(value: str) -> int:
    """SIGKILL our processes whose environment has MARKER=value (sshd sessions run setsid)."""
    needle = f"{MARKER}={value}".encode() + b"\0"
    killed = 0
    for env_file in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in env_file.read_bytes():
                os.kill(int(env_file.parent.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue  # gone already, or not ours
    return killed


def host_key_from_cloud_init(user_data: str | None) -> HostKey:
    """The ed25519 host key pair that a `#cloud-config` document installs."""
    doc = yaml.safe_load(user_data or "") or {}
    keys = doc.get("ssh_keys") or {}
    if not keys.get("ed25519_private") or not keys.get("ed25519_public"):
        raise ValueError("user data carries no ssh_keys.ed25519_private/_public")
    return HostKey(private=keys["ed25519_private"], public=keys["ed25519_public"].strip())


class Sshd:
    def __init__(
        self,
        workdir: Path,
        authorized_key: str,
        host_key: HostKey | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> None:
        self.workdir = Path(workdir)
        self.prefix = prefix  # runs sshd through it (e.g. into a private mount namespace)
        self.authorized_key = authorized_key.strip()
        self.host_key = host_key or HostKey.generate()
        self.port = port or free_port()
        self.env = env or {}
        self.log_path = self.workdir / "sshd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sshd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = self.workdir / "ssh_host_ed25519_key"
        key.write_text(self.host_key.private)
        key.chmod(0o600)
        (self.workdir / "authorized_keys").write_text(self.authorized_key + "\n")
        # Every session carries a marker, so stopping this "server" ends its processes too.
        env = {**self.env, MARKER: str(self.workdir)}
        # sshd honours only the first SetEnv line: all variables go on one.
        setenv = "SetEnv " + " ".join(f'"{k}={v}"' for k, v in env.items()) + "\n"
        config = self.workdir / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}\n"
            f"PidFile {self.workdir / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nUsePAM no\nPermitRootLogin prohibit-password\n"
            # The temporary directory lives under /tmp, which StrictModes would reject.
            "StrictModes no\nPrintMotd no\nLogLevel INFO\n" + setenv
        )
        if os.geteuid() == 0:
            # sshd started by root needs its privilege-separation directory (systemd
            # creates it for the packaged service).
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen(
            [*self.prefix, str(SSHD), "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log_path.read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not listen on 127.0.0.1:{self.port} within {timeout}s")

    def stop(self) -> None:
        """Stop listening and end every session, like a server being deleted."""
        _kill_marked(str(self.workdir))
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class SshWorkers:
    """`boot`/`halt` hooks for FakeHetzner: every running fake server is a real sshd.

    All servers share one port (the client is told it once, like port 22 in production),
    so one server runs at a time. `ready=False` makes servers boot without SSH.
    """

    def __init__(
        self,
        base: Path,
        authorized_key: str,
        port: int | None = None,
        env: dict[str, str] | None = None,
        ready: bool = True,
    ) -> None:
        self.base = Path(base)
        self.authorized_key = authorized_key
        self.port = port or free_port()
        self.env = env or {}
        self.ready = ready
        self.running: dict[int, Sshd] = {}
        self.logs: list[str] = []

    def boot(self, server: dict[str, Any], user_data: str | None) -> None:
        if not self.ready:
            return
        sshd = Sshd(
            self.base / f"server-{server['id']}",
            self.authorized_key,
            host_key=host_key_from_cloud_init(user_data),
            port=self.port,
            env=self.env,
        )
        sshd.start()
        self.running[server["id"]] = sshd

    def halt(self, server: dict[str, Any], user_data: str | None = None) -> None:
        sshd = self.running.pop(server["id"], None)
        if sshd is not None:
            sshd.stop()
            self.logs.append(sshd.log())

    def stop_all(self) -> None:
        for sid in list(self.running):
            self.halt({"id": sid})

    def all_logs(self) -> str:
        return "\n".join([*self.logs, *(s.log() for s in self.running.values())])
