"""The agent's check of one inventory portal against real loopback sites: key pages, the
expected title and keywords, look-alike pages and the snapshot sent only when it changed."""

from __future__ import annotations

import asyncio
import dataclasses

from probes.common.inventory_model import Portal
from probes.portals.probe import PortalJob, Prober
from tests.portals.pages import portal
from tests.portals.servers import Reply

HIDDEN = '<div style="display:none"><a href="http://pk10-lottery.example/">北京赛车</a></div>'


def _job(p: Portal, site) -> PortalJob:
    """The look-alike is left unmapped: its real name is refused by the loopback guard."""
    urls = {p.url: site.url("/"), "https://www.example.gov.cn/zwgk/": site.url("/zwgk/")}
    return PortalJob(p.id, p.site, p.interval_s, p, tuple(urls.items()))


def test_key_pages_expectations_lookalikes_and_snapshots(site) -> None:
    p = Portal("ex-www", "hefei", "某某县人民政府", "https://www.example.gov.cn/", "hefei",
               pages=("https://www.example.gov.cn/zwgk/",), expect_title="人民政府", keywords=("县情概况",),
               lookalikes=("https://www.examp1e.gov.cn/",))  # fmt: skip
    site.routes["/"] = Reply(portal(1))
    site.routes["/zwgk/"] = Reply(portal(1, extra_body=HIDDEN))
    prober = Prober()
    first = asyncio.run(prober.check(_job(p, site)))
    kinds = [(f["kind"], f.get("evidence", {}).get("page")) for f in first["findings"]]
    assert kinds == [("dark-link", "https://www.example.gov.cn/zwgk/")]  # found on the key page
    assert first["snapshot"]["title"] == "某某县人民政府门户网站" and first["snapshot_id"]
    looks = [(la["url"], la["status"]) for la in first["lookalikes"]]
    assert looks == [("https://www.examp1e.gov.cn/", None)]  # never contacted

    again = asyncio.run(prober.check(_job(p, site)))  # the same page: its id, not the snapshot again
    assert "snapshot" not in again and again["snapshot_id"] == first["snapshot_id"]
    site.routes["/"] = Reply(portal(2))  # the next day's news list: a new snapshot, no finding
    news = asyncio.run(prober.check(_job(p, site)))
    assert news["snapshot_id"] != first["snapshot_id"] and "snapshot" in news
    assert news["snapshot"]["content"] == first["snapshot"]["content"]  # the stable text is the same

    site.routes["/"] = Reply(portal(3, title="欢迎访问", body="<p>网站维护中</p>"))
    replaced = asyncio.run(prober.check(_job(dataclasses.replace(p, pages=()), site)))
    details = [f["detail"] for f in replaced["findings"] if f["kind"] == "defaced"]
    assert details == ["title '欢迎访问' lacks '人民政府'", "expected text missing: 县情概况"]
    assert replaced["snapshot"]["title"] == "欢迎访问"  # a new page: sent again
