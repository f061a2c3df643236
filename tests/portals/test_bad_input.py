"""Bad sites give a clear finding within bounded time and memory: a 50 MB page, endless
redirects, a slow-loris server, untrusted/expired/wrong-name TLS, broken HTML, GBK
without a charset."""

from __future__ import annotations

import gzip
import time
import tracemalloc

from tests.portals.helpers import check, found, kinds
from tests.portals.pages import portal
from tests.portals.servers import Reply, endless_redirect, huge, slow_loris


def test_a_50_mb_page_is_cut_at_the_limit_and_reported(site):
    site.routes["/"] = huge(50 << 20)
    tracemalloc.start()
    started = time.monotonic()
    result = check(site.url(), max_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert result["body"] == {**result["body"], "bytes": 1 << 20, "truncated": True}
    [f] = found(result, "oversize")
    assert str(1 << 20) in f["detail"]
    assert peak < 40 << 20, f"{peak} bytes traced while reading a page cut at 1 MB"


def test_a_gzip_bomb_inflates_only_to_the_limit(site):
    bomb = gzip.compress(b"<p>" + b"\0" * (200 << 20), compresslevel=6)
    site.routes["/"] = Reply(bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    tracemalloc.start()
    result = check(site.url(), max_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result["body"]["bytes"] == 1 << 20 and result["body"]["truncated"]
    assert found(result, "oversize")
    assert peak < 40 << 20, f"{peak} bytes traced for a page inflating to 200 MB, cut at 1 MB"


def test_a_gzipped_page_is_read(site):
    site.routes["/"] = Reply(
        gzip.compress(portal(0).encode()),
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"},
    )
    result = check(site.url())
    assert result["findings"] == [] and result["body"]["bytes"] == len(portal(0).encode())


def test_endless_redirects_stop_with_a_finding(site):
    site.routes["/loop"] = endless_redirect
    result = check(site.url("/loop"))
    [f] = found(result, "down")
    assert "more than 8 redirects" in f["detail"]
    assert result["redirects"] == 8


def test_a_slow_loris_server_costs_at_most_the_time_bound(site):
    site.routes["/"] = slow_loris(20)
    started = time.monotonic()
    result = check(site.url(), total_s=1.5)
    assert time.monotonic() - started < 4
    [f] = found(result, "down")
    assert "no complete response within 1.5 s" in f["detail"]
    assert result["status"] == 200  # the headers came; the body never finished


def test_valid_tls_has_timings_and_certificate_facts(tls_site, ca):
    s = tls_site("good", days=200)
    s.routes["/"] = Reply(portal(0))
    result = check(s.url(), ca=ca)
    assert result["findings"] == []
    assert result["tls"]["valid"] and result["tls"]["hostname_match"]
    assert 198 <= result["tls"]["days_left"] <= 200
    assert result["tls"]["subject"] == "CN=good"
    t = result["timings_ms"]
    assert t["connect"] > 0 and t["tls"] > 0 and t["first_byte"] > 0 and t["total"] >= t["tls"]


def test_untrusted_certificate(tls_site, ca):
    s = tls_site("selfsigned", self_signed=True)
    s.routes["/"] = Reply(portal(0))
    result = check(s.url(), ca=ca)
    [f] = found(result, "tls-invalid")
    assert "self-signed" in f["detail"] or "issuer" in f["detail"]
    assert result["status"] == 200 and result["fingerprint"]  # content still checked


def test_expired_certificate(tls_site, ca):
    s = tls_site("expired", days=-3)
    s.routes["/"] = Reply(portal(0))
    result = check(s.url(), ca=ca)
    assert kinds(result) == ["tls-expiring", "tls-invalid"]
    assert "expired" in found(result, "tls-invalid")[0]["detail"]
    assert "expired 3 days ago" in found(result, "tls-expiring")[0]["detail"]


def test_certificate_for_another_name(tls_site, ca):
    s = tls_site("wrongname", names=("www.other.example",))
    s.routes["/"] = Reply(portal(0))
    result = check(s.url(), ca=ca)
    [f] = found(result, "tls-invalid")
    assert "mismatch" in f["detail"].lower() or "match" in f["detail"].lower()
    assert result["tls"]["hostname_match"] is False


def test_expiring_certificate_is_valid_but_found(tls_site, ca):
    s = tls_site("soon", days=5.5)
    s.routes["/"] = Reply(portal(0))
    result = check(s.url(), ca=ca)
    assert kinds(result) == ["tls-expiring"] and result["tls"]["valid"]
    assert "expires in 5 days" in result["findings"][0]["detail"]


def test_broken_html_is_read_without_error(site):
    broken = (
        b"<html><head><title>Broken</title><body><div><p>unclosed <b>bold <a href='/x'>link"
        b"<table><tr><td>cell</div></td></span>\x00\xff\xfe<<<>>><script>var a = '<div>'"
        b"<!-- never closed comment <p>tail"
    )
    site.routes["/"] = Reply(broken, headers={"Content-Type": "text/html"})
    result = check(site.url())
    assert result["status"] == 200 and result["fingerprint"]
    assert result["findings"] == []


def test_gbk_without_a_charset_is_decoded(site):
    page = portal(0, extra_body="<p>本站提供网上百家乐</p>").replace('<meta charset="utf-8">', "")
    site.routes["/"] = Reply(page.encode("gbk"), headers={"Content-Type": "text/html"})
    result = check(site.url())
    assert result["body"]["charset"] == "gb18030"
    [f] = found(result, "forbidden-word")
    assert f["evidence"]["words"] == ["百家乐"]
