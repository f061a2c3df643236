"""The walk ends on agents that misbehave, on both paths of the client's hot loop.

A real UDP responder on loopback answers every GETBULK with the same rows (an agent
looping on itself, seen on old firmware), or with rows that leave the column half-way.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from probes.snmp import Credential, Target, ber
from probes.snmp.gufo_client import GufoClient

COLUMN = "1.3.6.1.2.1.31.1.1.1.6"  # ifHCInOctets


def _varbind(oid: str, value: int) -> bytes:
    arcs = ber.parse_oid_text(oid)
    return ber.tlv(ber.SEQUENCE, ber.enc_oid(arcs) + ber.enc_int(value, ber.COUNTER64))


def _responder(rows: list[tuple[str, int]], stop: threading.Event) -> tuple[int, list[int]]:
    """Answer every v2c request with ``rows``; returns the port and a request counter."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    seen = [0]
    body = b"".join(_varbind(o, v) for o, v in rows)

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            _, ms, me = ber.read_tlv(data, 0)
            _, vs, ve = ber.read_tlv(data, ms)
            _, cs, ce = ber.read_tlv(data, ve)
            _, ps, pe = ber.read_tlv(data, ce)
            _, rs, re_ = ber.read_tlv(data, ps)  # request-id
            pdu = data[rs - 2 : re_] + ber.enc_int(0) + ber.enc_int(0) + ber.tlv(ber.SEQUENCE, body)
            seen[0] += 1  # counted before the answer leaves: the walk may end on it at once
            sock.sendto(ber.tlv(ber.SEQUENCE, data[ms:ce] + ber.tlv(ber.RESPONSE, pdu)), addr)
        sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1], seen


async def _walk(port: int) -> dict:
    target = Target("127.0.0.1", port, Credential(community="public"), timeout=1.0, retries=0, name="t")
    client = await GufoClient.open(target)
    try:
        return (await asyncio.wait_for(client.walk([COLUMN]), 10))[COLUMN]
    finally:
        await client.close()


@pytest.mark.parametrize("n", [3, 25])
def test_looping_agent_ends_the_walk(n: int) -> None:
    stop = threading.Event()
    rows = [(f"{COLUMN}.{i}", 1000 + i) for i in range(1, n + 1)]
    port, seen = _responder(rows, stop)
    try:
        got = asyncio.run(_walk(port))
    finally:
        stop.set()
    assert got == {str(i): 1000 + i for i in range(1, n + 1)}
    assert seen[0] == 2  # the second, identical answer shows the loop


def test_rows_leaving_the_column_end_the_walk() -> None:
    stop = threading.Event()
    rows = [(f"{COLUMN}.{i}", i) for i in (1, 2)] + [("1.3.6.1.2.1.31.1.1.1.7.1", 7)]
    port, seen = _responder(rows, stop)
    try:
        got = asyncio.run(_walk(port))
    finally:
        stop.set()
    assert got == {"1": 1, "2": 2}
    assert seen[0] == 1
