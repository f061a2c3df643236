"""Log in over SSH with netmiko and read running configurations, many devices at once.

Each login runs in a bounded pool of daemon worker threads.  Every device has a hard
deadline: the watchdog shuts the device's socket when it passes, so a device that
hangs mid-output is reported as a timeout and never stalls the rest.  Results are
yielded in completion order to the (single-threaded) caller, which does all the
database writes.
"""

from __future__ import annotations

import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
from netmiko.exceptions import (
    NetmikoAuthenticationException,
    NetmikoTimeoutException,
    ReadTimeout,
)

from nms.configs import drivers, vendors
from nms.configs.credentials import SshCredential
from nms.configs.hostkeys import HostKey, known_hosts_line
from probes.common.netguard import TargetNotAllowed, check_target

# First words of a CLI error instead of a configuration: never stored as a version.
_CLI_ERRORS = ("Error:", "% Invalid", "% Unrecognized", "% Unknown", "Unknown command",
               "Unrecognized command")


@dataclass(frozen=True)
class Target:
    """One device to back up: where, how (netmiko device_type) and as whom."""

    device: str
    host: str
    port: int
    device_type: str
    credential: SshCredential
    site: str | None = None


@dataclass(frozen=True)
class Limits:
    max_parallel: int = 8
    conn_timeout: float = 10.0
    auth_timeout: float = 15.0
    read_timeout: float = 60.0  # for the config command's output
    deadline_s: float = 120.0  # whole login + fetch of one device
    grace_s: float = 2.0  # after shutting a hung socket, how long to wait for the worker

    @classmethod
    def of(cls, parallel: int, deadline_s: float) -> Limits:
        """From the command line's ``--parallel`` and ``--deadline``: no single wait past the deadline."""
        return cls(max_parallel=parallel, deadline_s=deadline_s, read_timeout=min(60.0, deadline_s),
                   conn_timeout=min(10.0, deadline_s))


@dataclass
class FetchResult:
    device: str
    ok: bool
    content: str | None = None
    error: str | None = None  # "auth", "unreachable: ...", "timeout: ...", "hostkey-changed", ...
    host_key: HostKey | None = None  # the key the device presented
    started: float = 0.0
    duration_s: float = 0.0

    @property
    def hostkey_changed(self) -> bool:
        return self.error == "hostkey-changed"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def _bad_host_key(exc: BaseException | None) -> paramiko.BadHostKeyException | None:
    """netmiko re-raises paramiko's BadHostKeyException as a timeout; find it in the chain."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, paramiko.BadHostKeyException):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _looks_like_cli_error(output: str, spec: vendors.VendorSpec) -> bool:
    stripped = output.strip()
    return not stripped or stripped.startswith(_CLI_ERRORS) or any(rx.search(stripped) for rx in spec.errors)


def _classify(exc: BaseException) -> str:
    if isinstance(exc, NetmikoAuthenticationException):
        return "auth"
    if isinstance(exc, NetmikoTimeoutException | ReadTimeout | TimeoutError):
        return f"timeout: {_first_line(exc)}"
    return f"error: {_first_line(exc)}"  # any device misbehaviour is a failed fetch, reported


DEFAULT_LIMITS = Limits()


def fetch_one(
    target: Target,
    pinned: HostKey | None,
    limits: Limits = DEFAULT_LIMITS,
    on_socket: Callable[[socket.socket], None] | None = None,
) -> FetchResult:
    """Log in, verify or learn the host key, run the vendor's command; never raises for device faults."""
    started = time.time()

    def done(**kw: object) -> FetchResult:
        return FetchResult(device=target.device, started=started, duration_s=time.time() - started, **kw)

    try:
        check_target(target.host)
        spec = vendors.spec_for(target.device_type)
    except (TargetNotAllowed, vendors.VendorError) as exc:
        return done(ok=False, error=f"refused: {exc}")
    try:
        sock = socket.create_connection((target.host, target.port), timeout=limits.conn_timeout)
    except TimeoutError:
        return done(ok=False, error=f"timeout: no TCP connection within {limits.conn_timeout:g}s")
    except OSError as exc:
        return done(ok=False, error=f"unreachable: {exc.strerror or exc}")
    if on_socket is not None:
        on_socket(sock)
    cred = target.credential
    params: dict[str, object] = {
        "device_type": target.device_type,
        "host": target.host,
        "port": target.port,
        "username": cred.username,
        "password": cred.password or "",
        "use_keys": bool(cred.key_file),
        "key_file": cred.key_file,
        "secret": cred.enable_secret or "",
        "allow_agent": False,
        "system_host_keys": False,
        "sock": sock,
        "conn_timeout": limits.conn_timeout,
        "auth_timeout": limits.auth_timeout,
        "banner_timeout": limits.conn_timeout,
        "timeout": limits.read_timeout,
    }
    with tempfile.TemporaryDirectory(prefix="nms-known-hosts-") as tmp:
        if pinned is not None:
            known = Path(tmp) / "known_hosts"
            known.write_text(known_hosts_line(target.host, target.port, pinned), encoding="ascii")
            params.update(ssh_strict=True, alt_host_keys=True, alt_key_file=str(known))
        try:
            conn = drivers.connect(spec, params)
        except Exception as exc:
            sock.close()
            bad = _bad_host_key(exc)
            if bad is not None:
                seen = HostKey(bad.key.get_name(), bad.key.get_base64())
                return done(ok=False, error="hostkey-changed", host_key=seen)
            return done(ok=False, error=_classify(exc))
    seen: HostKey | None = None
    try:
        server_key = conn.remote_conn_pre.get_transport().get_remote_server_key()
        seen = HostKey(server_key.get_name(), server_key.get_base64())
        if pinned is not None and seen != pinned:  # paramiko already refuses this; belt and braces
            return done(ok=False, error="hostkey-changed", host_key=seen)
        if spec.enable:
            conn.enable()
        output = conn.send_command(spec.command, read_timeout=limits.read_timeout)
    except Exception as exc:
        return done(ok=False, error=_classify(exc), host_key=seen)
    finally:
        try:
            conn.disconnect()
        except Exception:  # the session may already be gone; nothing to clean up then
            pass
    if _looks_like_cli_error(output, spec):
        return done(ok=False, error=f"garbage: {output.strip()[:120] or 'empty output'}", host_key=seen)
    return done(ok=True, content=output, host_key=seen)


@dataclass
class _Running:
    target: Target
    start: float
    sock: socket.socket | None = None
    killed_at: float | None = None


def fetch_many(
    targets: Iterable[Target],
    pins: dict[str, HostKey],
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[FetchResult]:
    """Fetch every target with at most ``limits.max_parallel`` logins at once; yield as each ends.

    A device past its deadline gets its socket shut; if its worker still has not
    returned ``grace_s`` later it is reported as a timeout and abandoned (the daemon
    thread ends on its own read timeout), and a fresh worker takes its slot.
    """
    todo: queue.Queue[Target | None] = queue.Queue()
    results: queue.Queue[FetchResult] = queue.Queue()
    running: dict[str, _Running] = {}
    lock = threading.Lock()
    targets = list({t.device: t for t in targets}.values())  # one login per device
    for t in targets:
        todo.put(t)

    def worker() -> None:
        while True:
            try:
                target = todo.get_nowait()
            except queue.Empty:
                return
            state = _Running(target, time.monotonic())
            with lock:
                running[target.device] = state

            def on_socket(s: socket.socket, state: _Running = state) -> None:
                with lock:
                    state.sock = s

            try:
                result = fetch_one(target, pins.get(target.device), limits, on_socket)
            except Exception as exc:  # a bug must not lose the device from the report
                result = FetchResult(device=target.device, ok=False, error=f"error: {_first_line(exc)}")
            with lock:
                abandoned = running.pop(target.device, None) is None
                if state.killed_at is not None and not result.ok:
                    result.error = f"timeout: no answer within the {limits.deadline_s:g}s device deadline"
            if not abandoned:
                results.put(result)

    def start_worker() -> None:
        threading.Thread(target=worker, name="configs-fetch", daemon=True).start()

    for _ in range(min(limits.max_parallel, len(targets))):
        start_worker()
    remaining = len(targets)
    while remaining:
        try:
            result: FetchResult | None = results.get(timeout=0.2)
        except queue.Empty:
            result = None
        if result is not None:
            remaining -= 1
            yield result
        now = time.monotonic()  # the watchdog runs on every turn, even while results stream in
        abandon: list[_Running] = []
        with lock:
            for state in running.values():
                if state.killed_at is None and now - state.start > limits.deadline_s:
                    state.killed_at = now
                    if state.sock is not None:
                        try:
                            state.sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        state.sock.close()
                elif state.killed_at is not None and now - state.killed_at > limits.grace_s:
                    abandon.append(state)
            for state in abandon:
                running.pop(state.target.device, None)
        for state in abandon:
            remaining -= 1
            start_worker()  # keep the bound on live logins, not on stuck threads
            yield FetchResult(
                device=state.target.device, ok=False,
                error=f"timeout: no answer within the {limits.deadline_s:g}s device deadline",
                started=time.time() - (now - state.start), duration_s=now - state.start,
            )
