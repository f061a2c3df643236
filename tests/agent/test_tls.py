"""The agent pushing over verified TLS through the shipped nginx (deploy/nginx/nms.conf).

Real certificates made now (a test CA, the agents' CA, a server certificate for 127.0.0.1,
an expired one, one for another name, one from a CA the agent does not know), a real
nginx in front of a real ``nms serve``, the real agent process.  A bad certificate is
refused with a log line naming the problem while the agent keeps spooling; with the good
one in place every sample taken meanwhile arrives exactly once.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import shutil
import sqlite3
import ssl
import urllib.parse
import urllib.request

import pytest

from nms.localtls import issue, make_ca
from probes.agent.push import Sender
from tests.agent.conftest import AGENT, INTERVAL
from tests.agent.test_store_forward import assert_all_delivered_once_in_order, metric
from tests.support.nginx import NGINX, Nginx
from tests.support.processes import Agent, Centre, wait_for, write_inventory

pytestmark = pytest.mark.skipif(shutil.which(NGINX) is None, reason="nginx not installed (scripts/setup.sh)")


@pytest.fixture
def certs(tmp_path):
    d = tmp_path / "tls"
    ca, agents_ca, stranger = make_ca(d), make_ca(d, "agents-ca", "NMS agents CA"), make_ca(d, "other-ca")
    return {
        "ca": ca,
        "agents_ca": agents_ca,
        "good": issue(ca, d, "good"),
        "expired": issue(
            ca, d, "expired", valid_from=dt.timedelta(days=-30), valid_for=dt.timedelta(days=29)
        ),
        "wrong_name": issue(ca, d, "wrong-name", names=("nms.elsewhere.example",)),
        "unknown_ca": issue(stranger, d, "unknown-ca"),
        "agent": issue(agents_ca, d, "agent", names=(AGENT,), client=True),
    }


@pytest.fixture
def bare_centre(tmp_path):
    """A factory: the centre alone (no simulated devices) with extra environment, and an agent token."""
    started: list[Centre] = []

    def start(**env: str) -> tuple[Centre, str]:
        inv = write_inventory(tmp_path / "inventory.yaml", site="chaohu", agent=AGENT, roles=("firewall",))
        (tmp_path / "centre").mkdir()
        centre = Centre(tmp_path / "centre", inv)
        centre.env.update(env)
        centre.start()
        started.append(centre)
        return centre, centre.agent_token(AGENT)

    yield start
    for centre in started:
        centre.stop()


def tls_problems(agent: Agent) -> list[str]:
    return [e["problem"] for e in agent.events("TLS problem, spooling")]


def test_bad_certificates_are_refused_and_spooled_then_all_delivered(tmp_path, province, certs):
    centre: Centre = province["centre"]
    devices = sorted(d.name for d in province["inventory"].devices_of_agent(AGENT))
    proxy = Nginx(
        tmp_path / "nginx", centre.port, certs["expired"].cert, certs["expired"].key, certs["agents_ca"].cert
    )
    proxy.start()
    agent = Agent(
        tmp_path,
        province["path"],
        AGENT,
        proxy.url,
        province["token"],
        province["sim"].port,
        [
            "--interval-override",
            INTERVAL,
            "--ca-file",
            str(certs["ca"].cert),
            "--cert-file",
            str(certs["agent"].cert),
            "--key-file",
            str(certs["agent"].key),
        ],
    )
    agent.start()
    try:
        for bad, words in (
            ("expired", "certificate has expired"),
            ("wrong_name", "not valid for '127.0.0.1'"),
            ("unknown_ca", "not signed by a CA in --ca-file"),
        ):
            if bad != "expired":
                proxy.use(certs[bad].cert, certs[bad].key)
                proxy.reload()
            wait_for(
                lambda w=words: any(w in p for p in tls_problems(agent)), 20, f"the agent to refuse {bad}"
            )
        assert all(p.startswith("centre certificate refused: ") for p in tls_problems(agent))
        assert centre.batches(AGENT) == []  # nothing got through a bad certificate
        assert metric(agent, "nms_agent_spool_batches") > 0  # ... and nothing was dropped
        assert metric(agent, "nms_agent_centre_up") == 0
        proxy.use(certs["good"].cert, certs["good"].key)
        proxy.reload()
        wait_for(
            lambda: (
                metric(agent, "nms_agent_spool_batches") == 0 and metric(agent, "nms_agent_centre_up") == 1
            ),
            40,
            "the spool to drain through the good certificate",
        )
        assert agent.stop() == 0
    finally:
        if agent.proc and agent.proc.poll() is None:
            agent.kill()
        proxy.stop()
    assert_all_delivered_once_in_order(agent, centre, devices)
    assert not agent.events("rejected by the centre, moved to dead letter")


def test_client_certificate_and_proxy_headers(tmp_path, bare_centre, certs):
    """Ingest wants the agent's own client certificate; the web UI does not; HSTS on every answer."""
    # the token counts only with its agent's certificate
    centre, token = bare_centre(NMS_REQUIRE_AGENT_CERT="1")
    proxy = Nginx(
        tmp_path / "nginx", centre.port, certs["good"].cert, certs["good"].key, certs["agents_ca"].cert
    )
    proxy.start()
    try:
        ca = str(certs["ca"].cert)
        body = b'{"agent": "chaohu", "seq": 1, "samples": []}'
        none = Sender(proxy.url, token, ca_file=ca).send(body)
        assert (none.kind, none.status) == ("retry", 401) and "none sent" in none.tls
        foreign = certs["good"]  # a certificate from the wrong CA, for the wrong purpose
        refused = Sender(
            proxy.url, token, ca_file=ca, cert_file=str(foreign.cert), key_file=str(foreign.key)
        ).send(body)
        assert (refused.kind, refused.status) == ("retry", 401) and "refused" in refused.tls
        mine = certs["agent"]
        through = Sender(proxy.url, token, ca_file=ca, cert_file=str(mine.cert), key_file=str(mine.key)).send(
            body
        )
        assert through.status != 401 and not through.tls  # nginx let it through to nms, which judged it
        other = issue(certs["agents_ca"], tmp_path / "tls", "other-agent", names=("hefei",), client=True)
        stolen = Sender(
            proxy.url, token, ca_file=ca, cert_file=str(other.cert), key_file=str(other.key)
        ).send(body)
        assert (stolen.kind, stolen.status) == ("retry", 401)
        assert stolen.tls == f"client certificate: CN=hefei is not agent {AGENT}"
        direct = Sender(centre.url, token).send(body)  # around the proxy: no verified CN
        assert direct.status == 401 and direct.tls.startswith("client certificate: none verified")
        ctx = ssl.create_default_context(cafile=ca)
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
        )
        with opener.open(proxy.url + "/login", timeout=5) as resp:
            assert resp.status == 200 and "<form" in resp.read().decode()
            assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        proxy.stop()


def test_agent_refuses_to_start_with_unusable_tls_files(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(ValueError, match="--ca-file .*nope.pem"):
        Sender("https://127.0.0.1:1", "t", ca_file=str(missing))
    with pytest.raises(ValueError, match="--cert-file .*nope.pem"):
        Sender("https://127.0.0.1:1", "t", cert_file=str(missing))
    with pytest.raises(ValueError, match="need an https://"):
        Sender("http://127.0.0.1:1", "t", ca_file=str(missing))


def failed_login(host: str, port: int, source: str, ctx: ssl.SSLContext | None) -> None:
    """A wrong password from ``source``, claiming to come from 203.0.113.7 (X-Forwarded-For)."""

    def request(method: str, body: str = "", cookie: str = "") -> tuple[int, str, str]:
        cls = http.client.HTTPSConnection if ctx else http.client.HTTPConnection
        kw = {"context": ctx} if ctx else {}
        conn = cls(host, port, timeout=10, source_address=(source, 0), **kw)
        headers = {"X-Forwarded-For": "203.0.113.7", "Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        try:
            conn.request(method, "/login", body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(), (resp.getheader("Set-Cookie") or "").split(";")[0]
        finally:
            conn.close()

    _, page, cookie = request("GET")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "name": "admin", "password": "wrong"})
    assert request("POST", form, cookie)[0] == 401


def test_client_address_is_taken_from_the_proxy_only(tmp_path, bare_centre, certs):
    centre, _ = bare_centre(NMS_TRUSTED_PROXY="127.0.0.2")
    proxy = Nginx(
        tmp_path / "nginx",
        centre.port,
        certs["good"].cert,
        certs["good"].key,
        certs["agents_ca"].cert,
        bind="127.0.0.2",
    )
    proxy.start()
    try:
        failed_login(
            "127.0.0.1", proxy.port, "127.0.0.3", ssl.create_default_context(cafile=certs["ca"].cert)
        )
        failed_login("127.0.0.1", centre.port, "127.0.0.4", None)  # straight to nms, same forged header
    finally:
        proxy.stop()
    db = sqlite3.connect(centre.data_dir / "centre.db")
    seen = [
        r[0] for r in db.execute("SELECT source_ip FROM audit_log WHERE action = 'login.failure' ORDER BY id")
    ]
    db.close()
    # Through nginx: the real client (nginx overwrote the forged header); direct: the peer itself.
    assert seen == ["127.0.0.3", "127.0.0.4"]
