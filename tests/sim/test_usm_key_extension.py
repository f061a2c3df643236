"""The simulator serves both AES-256 key extensions, as the one credential type names them, and
both SNMP clients reach it with the same credential object (a wrong extension fails cleanly)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from probes.poller import Poller
from probes.sim import SimulatedProvince
from probes.snmp import Credential, Target
from tests.sim.conftest import CREDS, small_inventory

DEVICE = "hefei-sw1"  # on the "v3sha1" credential: SHA-1's 20 bytes must be stretched to 32


@pytest.fixture(scope="module", params=["AES256", "AES256C"])
def served(request):
    cred = Credential("v3", user="legacy", auth_proto="SHA", auth_key="sha1-auth-key",
                      priv_proto=request.param, priv_key="sha1-priv-key")
    sim = SimulatedProvince(small_inventory(), port=0, devices=[DEVICE],
                            credentials={**CREDS, "v3sha1": cred}).start()
    yield sim, cred
    sim.stop()


def poll(sim, cred: Credential, impl: str) -> dict:
    host, port = sim.address(DEVICE)
    return asyncio.run(Poller(impl=impl).poll(Target(host, port, cred, timeout=1, retries=0, name=DEVICE)))


@pytest.mark.parametrize("impl", ["gufo", "pysnmp"])
def test_both_key_extensions_poll_and_the_wrong_one_fails(served, impl):
    sim, cred = served
    r = poll(sim, cred, impl)
    assert r["ok"], r["error"]
    assert r["identity"]["sysName"] == DEVICE
    other = "blumenthal" if cred.key_extension == "reeder" else "reeder"
    wrong = dataclasses.replace(cred, priv_proto="AES-256", key_extension=other)
    r = poll(sim, wrong, impl)
    assert not r["ok"] and "authentication failed" in r["error"]
