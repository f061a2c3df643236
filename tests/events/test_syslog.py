"""util-linux ``logger`` and raw sockets against the syslog receiver: RFC 3164 and 5424 over
UDP and TCP (newline and octet-counting framing), GBK text, and bad input counted."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from probes.events.syslog import MAX_MESSAGE, parse
from tests.events.conftest import Running

HW_DOWN = "%%01IFNET/4/IF_STATE(l)[7]:Interface GigabitEthernet0/0/1 has turned into DOWN state."
H3C_UP = "%%10IFNET/3/PHY_UPDOWN: Physical state on the interface GigabitEthernet1/0/2 changed to up."


def logger(*args: str) -> None:
    r = subprocess.run(["logger", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not shutil.which("logger"), reason="util-linux logger not installed (Debian: bsdutils)")
def test_logger_udp_tcp_3164_5424_each_arrive_once(service: Running) -> None:
    port = str(service.syslog_port)
    logger("--udp", "--rfc3164", "-n", "127.0.0.1", "-P", port, "-t", "rtr", HW_DOWN)
    logger("--tcp", "--rfc5424", "-n", "127.0.0.1", "-P", port, HW_DOWN.replace("0/0/1", "0/0/2"))
    logger("--udp", "--rfc5424", "-n", "127.0.0.1", "-P", port, HW_DOWN.replace("0/0/1", "0/0/3"))
    logger("--tcp", "--octet-count", "--rfc3164", "-n", "127.0.0.1", "-P", port,
           HW_DOWN.replace("0/0/1", "0/0/4"))
    evs = service.wait(lambda e: len(e) >= 4)
    evs = service.settle()
    assert sorted((e.device, e.kind, e.subject, e.origin) for e in evs) == [
        ("hf-rtr1", "link-down", f"GigabitEthernet0/0/{i}", "syslog") for i in (1, 2, 3, 4)]
    assert all(HW_DOWN.split(":")[0].encode() in e.raw for e in evs)
    assert service.svc.syslog.stats["invalid"] == 0


def _send_udp(port: int, data: bytes, src: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.sendto(data, ("127.0.0.1", port))


def _send_tcp(port: int, data: bytes, src: str) -> None:
    with socket.create_connection(("127.0.0.1", port), source_address=(src, 0)) as s:
        s.sendall(data)


def test_gbk_text_is_decoded_not_mojibake_and_raw_kept(service: Running) -> None:
    line = "<13>Dec  6 10:00:00 hf-sw1 用户admin登录失败，接口GigabitEthernet1/0/2状态变为DOWN"
    raw = line.encode("gbk")
    _send_udp(service.syslog_port, raw, "127.0.0.2")
    _send_tcp(service.syslog_port, b"<14>1 - hf-sw1 - - - - " + H3C_UP.encode() + b"\n"
              + "<13>配置已保存".encode("gb2312") + b"\n", "127.0.0.2")
    evs = service.wait(lambda e: len(e) >= 3)
    evs = service.settle()
    assert len(evs) == 3
    gbk = next(e for e in evs if e.raw == raw)
    assert "用户admin登录失败" in gbk.text and gbk.device == "hf-sw1" and gbk.kind == "syslog"
    assert any(e.text == "配置已保存" for e in evs)
    up = next(e for e in evs if e.kind == "link-up")
    assert (up.subject, up.clears) == ("GigabitEthernet1/0/2", "link-down")
    assert service.svc.syslog.stats["gb18030"] == 2


def test_bad_input_is_counted_and_later_lines_still_arrive(service: Running) -> None:
    port = service.syslog_port
    huge = b"<13>" + b"x" * (MAX_MESSAGE + 10) + b"\n"
    ok = b"<13>Dec  6 10:00:00 hf-rtr1 " + HW_DOWN.encode() + b"\n"
    # TCP: a >1 MiB newline line, an over-long octet count, a bad PRI, then a good line
    _send_tcp(port, huge + b"2000000 " + b"y" * 2_000_000 + b"<999>bad pri\n" + ok, "127.0.0.1")
    _send_udp(port, b"<13>bad utf-8 \xff\xfe\xfd", "127.0.0.1")  # neither UTF-8 nor GBK
    _send_udp(port, b"", "127.0.0.1")
    evs = service.wait(lambda e: any(x.kind == "link-down" for x in e) and len(e) >= 2)
    evs = service.settle()
    stats = service.svc.syslog.stats
    assert stats["oversize"] == 2 and stats["invalid"] == 2 and stats["invalid_charset"] == 1
    assert [e.kind for e in evs].count("link-down") == 1
    bad = next(e for e in evs if e.raw.startswith(b"<13>bad utf-8"))
    assert bad.raw == b"<13>bad utf-8 \xff\xfe\xfd" and "\ufffd" in bad.text


def test_sim_addresses_map_to_devices() -> None:
    run = Running(sim=True)
    try:
        addr = run.svc.inventory.sim_address("hf-jnp1")
        _send_udp(run.syslog_port, b"<13>Dec  6 10:00:00 x mgd[1]: UI_COMMIT: User 'root' requested 'commit'"
                  b" operation", addr)
        evs = run.wait(lambda e: len(e) >= 1)
        assert [(e.device, e.kind, e.source) for e in evs] == [("hf-jnp1", "config-changed", addr)]
    finally:
        run.stop()


@pytest.mark.parametrize(("raw", "fmt", "host", "app", "text"), [
    (b"<189>Dec  6 13:00:00 rtr1 %%01IFNET/4/LINK_STATE(l)[5]:The line protocol", "rfc3164", "rtr1",
     "%%01IFNET/4/LINK_STATE(l)", "The line protocol"),
    (b'<14>1 2026-12-06T13:00:00Z h app 1 ID [a b="x\\"]"][c] \xef\xbb\xbfhi', "rfc5424", "h", "app", "hi"),
    (b"<14>1 - - - - - -", "rfc5424", "", "", ""),
    (b"no pri at all", "bare", "", "", "no pri at all"),
])
def test_parse_forms(raw: bytes, fmt: str, host: str, app: str, text: str) -> None:
    m = parse(raw)
    assert (m.format, m.hostname, m.app, m.text) == (fmt, host, app, text)


def test_tcp_connections_beyond_the_limit_are_refused_and_counted(service: Running) -> None:
    service.svc.syslog.max_connections = 2
    held = [socket.create_connection(("127.0.0.1", service.syslog_port)) for _ in range(2)]
    try:
        service.wait(lambda e: service.svc.syslog.connections == 2, timeout=5)
        with socket.create_connection(("127.0.0.1", service.syslog_port)) as extra:
            extra.settimeout(5)
            assert extra.recv(1) == b""  # closed by the receiver
        assert service.svc.syslog.stats["tcp_refused"] == 1
    finally:
        for s in held:
            s.close()
    service.wait(lambda e: service.svc.syslog.connections == 0, timeout=5)
    _send_tcp(service.syslog_port, b"<13>" + HW_DOWN.encode() + b"\n", "127.0.0.1")
    assert [e.kind for e in service.wait(lambda e: len(e) >= 1)] == ["link-down"]
