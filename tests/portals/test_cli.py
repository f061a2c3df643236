"""``agent.py check-site``: the one-shot CLI, run as a process against loopback sites."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.portals.pages import HACKER_PAGE, portal
from tests.portals.servers import Reply
from tests.support.processes import ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "agent.py", "check-site", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_learn_then_check_prints_the_documented_json(site, tmp_path):
    base = tmp_path / "portal.json"
    site.routes["/"] = Reply(portal(0, extra_body='<div class="ad">广告位 今日推荐</div>'))
    p = cli(site.url(), "--learn", "--baseline", str(base), "--mask", ".ad", "--json")
    assert p.returncode == 0, p.stderr
    learned = json.loads(p.stdout)
    assert learned["learned"] is True and learned["ok"] is True
    assert json.loads(base.read_text())["mask_selectors"] == [".ad"]

    site.routes["/"] = Reply(portal(4, extra_body='<div class="ad">另一个广告</div>'))
    p = cli(site.url(), "--baseline", str(base), "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert {"ok", "status", "timings_ms", "tls", "changed", "similarity", "findings"} <= set(r)
    assert set(r["timings_ms"]) == {"dns", "connect", "tls", "first_byte", "total"}
    assert (r["ok"], r["status"], r["changed"], r["similarity"], r["findings"]) == (True, 200, False, 1.0, [])

    site.routes["/"] = Reply(portal(4, body=HACKER_PAGE))
    p = cli(site.url(), "--baseline", str(base), "--json")
    assert p.returncode == 0, p.stderr  # a completed check exits 0 whatever it found
    r = json.loads(p.stdout)
    assert r["ok"] is False and r["changed"] is True
    assert [f["kind"] for f in r["findings"]] == ["defaced"]


def test_https_check_reports_the_certificate(tls_site, ca):
    s = tls_site("cli", days=30)
    s.routes["/"] = Reply(portal(0))
    p = cli(s.url(), "--ca-file", str(ca.pem), "--json")
    r = json.loads(p.stdout)
    assert p.returncode == 0 and r["tls"]["valid"] and r["tls"]["subject"] == "CN=cli"
    assert 29 <= r["tls"]["days_left"] <= 30


def test_a_site_that_is_down_is_a_completed_check(site, tmp_path):
    site.close()
    p = cli(site.url(), "--json", "--learn", "--baseline", str(tmp_path / "b.json"))
    assert p.returncode == 0
    r = json.loads(p.stdout)
    assert r["findings"][0]["kind"] == "down" and r["learned"] is False
    assert not (tmp_path / "b.json").exists() and "nothing learned" in p.stderr


def test_bad_arguments_are_named(tmp_path):
    assert "http:// or https://" in cli("ftp://127.0.0.1/").stderr
    assert "--learn needs --baseline" in cli("http://127.0.0.1:9/", "--learn").stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = cli("http://127.0.0.1:9/", "--baseline", str(bad))
    assert p.returncode == 2 and "bad.json: not JSON" in p.stderr
    p = cli("http://127.0.0.1:9/", "--mask", "re:(")
    assert p.returncode == 2 and "mask regex" in p.stderr


def test_a_site_outside_loopback_is_refused():
    p = cli("http://192.0.2.1/", "--json")
    r = json.loads(p.stdout)
    assert p.returncode == 0 and "refusing to contact 192.0.2.1" in r["findings"][0]["detail"]
