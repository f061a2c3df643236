"""The WAN forwarders: a city agent reaches the centre only while its uplink path is up."""

from __future__ import annotations

import http.server
import socket
import threading
import urllib.error
import urllib.request

import pytest

from probes.common.inventory_model import AgentDef
from probes.sim import SimError, SimulatedProvince
from probes.sim.control import get_wan
from probes.sim.wan import proxied_agents
from tests.sim.conftest import CREDS, small_inventory


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a pooled HTTP client would use

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"centre here"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def wan():
    inv = small_inventory()
    inv.agents["hefei"] = AgentDef("hefei", ("hefei", "hefei-feidong"), "SIM_TEST_TOKEN_HEFEI")
    centre = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=centre.serve_forever, daemon=True).start()
    province = SimulatedProvince(inv, port=0, credentials=CREDS).start()
    try:
        urls = province.start_wan(f"http://127.0.0.1:{centre.server_address[1]}")
        control = province.start_control()
        yield province, urls, control
    finally:
        province.stop()
        centre.shutdown()


@pytest.fixture(autouse=True)
def _clear(wan):
    yield
    wan[0].fault("clear-all")


def fetch(url: str) -> str:
    with urllib.request.urlopen(url + "/", timeout=5) as resp:  # noqa: S310 - loopback
        return resp.read().decode()


def refused(url: str) -> bool:
    try:
        fetch(url)
    except (urllib.error.URLError, ConnectionError):
        return True
    return False


def test_only_agents_away_from_the_centre_get_a_forwarder(wan):
    province, urls, _ = wan
    assert proxied_agents(province.inventory) == ["hefei"]  # agent "a" sits at the province
    assert list(urls) == ["hefei"] and urls["hefei"].startswith("http://127.0.0.1:")
    assert fetch(urls["hefei"]) == "centre here"


def test_a_cut_uplink_refuses_the_agent_until_it_is_restored(wan):
    province, urls, control = wan
    province.fault("link-down", "l-sdh")
    assert refused(urls["hefei"])
    status = get_wan(control)["agents"]["hefei"]
    assert status["cut"] == "link l-sdh" and status["anchor"] == "hefei-rtr1" and status["refused"] >= 1
    province.fault("link-up", "l-sdh")
    assert fetch(urls["hefei"]) == "centre here"
    assert get_wan(control)["agents"]["hefei"]["cut"] is None


def test_an_open_keep_alive_connection_is_closed_by_the_cut(wan):
    province, urls, _ = wan
    port = int(urls["hefei"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: centre\r\n\r\n")
        got = b""
        while b"centre here" not in got:
            chunk = s.recv(4096)
            assert chunk, "the forwarder closed a healthy connection"
            got += chunk
        province.fault("link-down", "l-sdh")
        try:
            tail = s.recv(4096)
        except ConnectionResetError:
            tail = b""
        assert tail == b""  # closed (or reset) while the agent held it open


@pytest.mark.parametrize(
    ("action", "args", "cause"),
    [
        ("device-down", ("hefei-rtr1",), "device hefei-rtr1"),
        ("device-down", ("anhui-rtr1",), "device anhui-rtr1"),
        ("if-down", ("hefei-rtr1", "Pos2/0/0"), "link l-sdh"),
        ("sdh-los", ("anhui-rtr1", "Pos1/0/0"), "link l-sdh"),
        ("device-down", ("hefei-sw1",), None),  # not on the path to the centre
        ("link-down", ("l-eth",), None),  # a link inside the centre, not on the path
    ],
)
def test_what_cuts_the_path_and_what_does_not(wan, action, args, cause):
    province, urls, control = wan
    province.fault(action, *args)
    assert get_wan(control)["agents"]["hefei"]["cut"] == cause
    assert refused(urls["hefei"]) is (cause is not None)


def test_a_centre_off_loopback_or_not_http_is_refused(wan):
    province = wan[0]
    with pytest.raises(SimError, match="NMS_ALLOW_NETWORK"):
        province.start_wan("http://10.34.0.1:8080")
    with pytest.raises(SimError, match="expected http"):
        province.start_wan("ftp://127.0.0.1:21")
