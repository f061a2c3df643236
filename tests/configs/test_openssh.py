"""A real OpenSSH server on loopback (its own config, host keys and throwaway user), netmiko's linux driver.

The "running config" of this Linux box is ``~/running-config``; the test edits it between fetches.
Needs root (useradd) and /usr/sbin/sshd; skips otherwise.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nms.configs import diff, job, store
from nms.configs.credentials import SshCredential
from nms.configs.fetch import Limits, Target
from tests.support.ports import free_port

SSHD = "/usr/sbin/sshd"
LIMITS = Limits(max_parallel=2, conn_timeout=5, auth_timeout=10, read_timeout=15, deadline_s=30)
CONFIG = """# Generated 2026-11-25 10:00:00 by config-agent
hostname lab-linux
interface eth0 address 10.9.9.1/24
snmp community = TopSecretComm
"""


@dataclass
class Sshd:
    port: int
    user: str
    password: str
    home: Path
    key_file: Path
    proc: subprocess.Popen
    workdir: Path

    def restart_with_new_host_key(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        for key in self.workdir.glob("ssh_host_*"):
            key.unlink()
        _keygen(self.workdir / "ssh_host_ed25519_key")
        self.proc = _start(self.workdir, self.port)


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _start(workdir: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(workdir / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "sshd.log", "ab"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"sshd did not listen: {(workdir / 'sshd.log').read_text()}")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    if os.geteuid() != 0 or not Path(SSHD).exists() or shutil.which("useradd") is None:
        pytest.skip("needs root, useradd and /usr/sbin/sshd (Debian openssh-server)")
    workdir = tmp_path / "sshd"
    workdir.mkdir()
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation directory sshd insists on
    _keygen(workdir / "ssh_host_ed25519_key")
    user = "nmscfg" + secrets.token_hex(3)
    password = "pw-" + secrets.token_hex(8)
    # pytest's tmp dirs are 0700 root: the user's home must sit where it can reach it
    base = Path(tempfile.mkdtemp(prefix="nms-configs-"))
    base.chmod(0o755)
    home = base / "home"
    subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/bash", user], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
        key_file = workdir / "client_key"
        _keygen(key_file)
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        shutil.copy(f"{key_file}.pub", ssh_dir / "authorized_keys")
        (home / "running-config").write_text(CONFIG, encoding="utf-8")
        subprocess.run(["chown", "-R", f"{user}:{user}", str(home)], check=True)
        port = free_port()
        (workdir / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {workdir}/ssh_host_ed25519_key\n"
            f"PidFile {workdir}/sshd.pid\nPasswordAuthentication yes\nPubkeyAuthentication yes\n"
            f"KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowUsers {user}\n"
            "PermitRootLogin no\nPrintMotd no\nPrintLastLog no\nLogLevel ERROR\n",
            encoding="utf-8",
        )
        server = Sshd(port, user, password, home, key_file, _start(workdir, port), workdir)
        try:
            yield server
        finally:
            server.proc.terminate()
            server.proc.wait(10)
    finally:
        subprocess.run(["userdel", "-f", "-r", user], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _target(s: Sshd, cred: SshCredential) -> Target:
    return Target("lab-linux", "127.0.0.1", s.port, "linux", cred, site="hefei")


def test_openssh_linux_fetch_change_and_failures(sshd: Sshd, db) -> None:
    pw = _target(sshd, SshCredential(sshd.user, sshd.password))
    first = job.run(db, [pw], "test:first", LIMITS)
    assert [(o.status, o.error) for o in first.outcomes] == [("new", None)]
    v1 = store.latest(db, "lab-linux")
    assert "hostname lab-linux" in v1["content"] and "TopSecretComm" in v1["content"]

    # unchanged, then with a key instead of a password
    key = _target(sshd, SshCredential(sshd.user, key_file=str(sshd.key_file)))
    assert [o.status for o in job.run(db, [key], "test:key", LIMITS).outcomes] == ["unchanged"]

    cfg = sshd.home / "running-config"
    cfg.write_text(CONFIG.replace("10:00:00", "11:11:11"), encoding="utf-8")  # volatile header only
    assert [o.status for o in job.run(db, [pw], "test:vol", LIMITS).outcomes] == ["unchanged"]

    cfg.write_text(CONFIG.replace("10.9.9.1/24", "10.9.9.2/24"), encoding="utf-8")
    changed = job.run(db, [pw], "test:change", LIMITS).outcomes[0]
    assert changed.status == "changed" and changed.version == 2
    d = diff.diff_versions(db, v1["id"], changed.version_id)
    assert "-interface eth0 address 10.9.9.1/24" in d.lines
    assert "+interface eth0 address 10.9.9.2/24" in d.lines
    assert not any("TopSecretComm" in line for line in d.lines)

    # a command error is a failed fetch, never a new (empty) version
    cfg.chmod(0o000)
    broken = job.run(db, [pw], "test:unreadable", LIMITS).outcomes[0]
    assert broken.status == "failed" and broken.error.startswith("garbage: cat:")
    assert len(store.versions(db, "lab-linux")) == 2

    bad = _target(sshd, SshCredential(sshd.user, "not-the-password"))
    assert job.run(db, [bad], "test:bad", LIMITS).outcomes[0].error == "auth"


def test_openssh_changed_host_key(sshd: Sshd, db) -> None:
    t = _target(sshd, SshCredential(sshd.user, sshd.password))
    assert job.run(db, [t], "test", LIMITS).outcomes[0].status == "new"
    sshd.restart_with_new_host_key()
    out = job.run(db, [t], "test", LIMITS).outcomes[0]
    assert out.error == "hostkey-changed"
    assert [e["kind"] for e in store.events(db)] == ["baseline", "hostkey_changed"]
