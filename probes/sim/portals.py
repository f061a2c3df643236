"""The simulated province's government portals: every inventory portal answers on its own
loopback address (127.35.x.y; its watched look-alikes on 127.36.x.y), HTTPS under a demo
CA made at start (HTTP where the inventory says http://), with pages that change over the
day as news pages do: the headlines move on every hour, the date and time, the visitor
counter at every request.

Faults (``python -m probes.sim fault ACTION PORTAL``): ``portal-down``, ``portal-slow``
(SECONDS), ``portal-cert-expiring`` (a certificate ending in 5 days), ``portal-defaced``,
``portal-dark-link``, ``portal-foreign-script``, ``portal-clone`` (the first look-alike
serves a copy of the portal), ``portal-clear``; ``clear-all`` clears them too.
``map`` (written as ``portals.json``) tells the agent where each URL answers
(``agent.py run --portal-map``), ``ca.pem`` is the CA to trust (``--portal-ca-file``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from probes.common.inventory_model import Inventory, Portal
from probes.sim.errors import SimError
from probes.sim.portal_ca import DemoCA

FAULTS = (
    "portal-down", "portal-slow", "portal-cert-expiring", "portal-defaced", "portal-dark-link",
    "portal-foreign-script", "portal-clone", "portal-clear",
)  # fmt: skip
HEADLINES = (
    "召开政府常务会议研究部署近期重点工作", "开展安全生产隐患排查整治", "关于做好冬季森林防火工作的通知",
    "乡村振兴重点项目建设推进会召开", "全市教育工作会议召开", "财政预算执行情况公告",
    "公开征求城市总体规划意见", "人社局举办春季大型招聘会", "获评省级文明城市", "医保政策调整解读",
    "交通运输局发布道路施工通告", "农业农村局部署秋粮收购工作", "政务服务“一网通办”再提速",
    "生态环境质量月报发布", "重点民生实事项目进展情况", "防汛抗旱指挥部部署防汛工作",
)  # fmt: skip
DEFACED = (
    "<div style='position:fixed;top:0;left:0;width:100%;height:100%;background:#000;color:#0f0'>"
    "<h1>Owned by the crew</h1><p>Your security is an illusion. We own this server now.</p>"
    "<p>Greetings to all our friends. Patch your systems, admin.</p></div>"
)
DARK_LINKS = (
    "<div style='position:absolute;left:-9999px'><a href='http://www.bet365-casino.example/'>体育投注</a>"
    "<a href='http://pk10-lottery.example/'>北京赛车</a></div>"
)
FOREIGN_SCRIPT = "<script src='https://cdn.tongji-stat.example/t.js'></script>"


def address(kind: int, ordinal: int) -> str:
    """127.35.x.y for portals (kind 35), 127.36.x.y for look-alikes (kind 36)."""
    return f"127.{kind}.{ordinal // 250}.{ordinal % 250 + 1}"


@dataclass
class Served:
    portal: Portal
    url: str  # as in the inventory
    host: str
    tls: bool
    clone_of: Served | None = None  # a look-alike: serves the portal's page when cloned
    fault: set[str] = field(default_factory=set)
    slow_s: float = 0.0
    requests: int = 0
    server: asyncio.AbstractServer | None = None

    @property
    def where(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{self.host}:{{port}}{parts.path or '/'}"


class SimPortals:
    """Serves every portal of the inventory; ``clock`` dates the pages (tests inject one)."""

    def __init__(self, inventory: Inventory, directory: Path, *, clock: Callable[[], float] = time.time,
                 portals: list[str] | None = None) -> None:  # fmt: skip
        self.clock = clock
        self.dir = Path(directory)
        self.ca = DemoCA(self.dir, now=clock())
        self.served: dict[str, Served] = {}
        self.lookalikes: list[Served] = []
        chosen = sorted(p for p in inventory.portals if portals is None or p in portals)
        for i, pid in enumerate(chosen):
            p = inventory.portals[pid]
            real = Served(p, p.url, address(35, i), p.url.startswith("https:"))
            self.served[pid] = real
            for url in p.lookalikes:
                self.lookalikes.append(
                    Served(p, url, address(36, len(self.lookalikes)), url.startswith("https:"), real)
                )
        self.port_http = self.port_https = 0
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _everyone(self) -> list[Served]:
        return [*self.served.values(), *self.lookalikes]

    def _context(self, s: Served) -> ssl.SSLContext:
        kind = "expiring" if "portal-cert-expiring" in s.fault else "good"
        key = f"{kind}:{s.host}"
        if key not in self._contexts:
            days = 5 if kind == "expiring" else 365
            host = urlsplit(s.url).hostname or s.host
            self._contexts[key] = self.ca.context(
                f"{kind}-{s.host}", (s.host, host), days=days, now=self.clock()
            )
        return self._contexts[key]

    async def _listen(self, s: Served) -> None:
        port = self.port_https if s.tls else self.port_http
        ctx = self._context(s) if s.tls else None
        s.server = await asyncio.start_server(lambda r, w: self._handle(s, r, w), s.host, port, ssl=ctx)
        bound = s.server.sockets[0].getsockname()[1]
        if s.tls and not self.port_https:
            self.port_https = bound
        elif not s.tls and not self.port_http:
            self.port_http = bound

    async def start_async(self, port_http: int = 0, port_https: int = 0) -> dict[str, str]:
        """Listen on every address (one port for HTTP, one for HTTPS); write and return the map."""
        self._loop = asyncio.get_running_loop()
        self.port_http, self.port_https = port_http, port_https
        for s in self._everyone():
            await self._listen(s)
        where = self.map()
        (self.dir / "portals.json").write_text(json.dumps(where, indent=1), encoding="utf-8")
        return where

    def map(self) -> dict[str, str]:
        return {
            s.url: s.where.format(port=self.port_https if s.tls else self.port_http) for s in self._everyone()
        }

    async def stop_async(self) -> None:
        for s in self._everyone():
            if s.server is not None:
                s.server.close()
        for s in self._everyone():
            if s.server is not None:
                await s.server.wait_closed()

    # ---- pages -------------------------------------------------------------------------------
    def page(self, s: Served) -> tuple[int, str]:
        src = s.clone_of if s.clone_of is not None else s
        if s.clone_of is not None and "portal-clone" not in s.clone_of.fault:
            return 404, "<html><body><h1>404 Not Found</h1><p>nginx</p></body></html>"
        if "portal-down" in src.fault and s.clone_of is None:
            return 503, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
        return 200, self.news_page(src, s.requests, extra=s.clone_of is None)

    def news_page(self, s: Served, counter: int, extra: bool = True) -> str:
        """The portal's home page at the clock's time: what a visitor sees changes over the day."""
        p, now = s.portal, dt.datetime.fromtimestamp(self.clock(), dt.timezone(dt.timedelta(hours=8)))
        hour = int(self.clock() // 3600)
        items = "".join(
            f"<li><a href='/xwzx/{hour}-{i}.html'>{HEADLINES[(hour + i * 5) % len(HEADLINES)]}</a>"
            f"<span>{(now - dt.timedelta(hours=i * 7)):%Y-%m-%d}</span></li>"
            for i in range(8)
        )
        head = FOREIGN_SCRIPT if extra and "portal-foreign-script" in s.fault else ""
        body = DEFACED if extra and "portal-defaced" in s.fault else ""
        dark = DARK_LINKS if extra and "portal-dark-link" in s.fault else ""
        return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{p.name}</title>
<link rel="stylesheet" href="/css/main.css"><script src="/js/jquery.min.js"></script>{head}</head><body>
<div class="header"><h1>{p.name}</h1><p class="date">今天是{now:%Y年%m月%d日} {now:%H:%M}</p>
<div id="weather">天气：多云 {12 + hour % 9}℃</div></div>
<div class="nav"><a href="/">首页</a> <a href="/zwgk/">政务公开</a> <a href="/zwfw/">政务服务</a>
<a href="/hdjl/">互动交流</a> <a href="/zjxx/">走进{p.name[:3]}</a></div>
<div class="main"><h2>要闻动态</h2><ul class="news">{items}</ul>
<h2>政务公开</h2><p>政府信息公开指南、信息公开目录、依申请公开、政府信息公开年报均可在政务公开栏目查阅。
{p.name}坚持以人民为中心的发展思想，全面推进政务公开标准化规范化建设。</p>
<h2>政务服务</h2><p>网上办事大厅提供个人办事、法人办事、部门服务等一站式在线服务，
政务服务事项实现“一网通办”，群众办事更加便捷高效。</p>{dark}</div>
<div class="footer"><p>主办：{p.name}办公室 承办：数据资源管理局</p>
<p class="visit-count">访问量：{1_234_567 + counter * 7}</p>
<p>网站标识码：3400000000 皖ICP备05001234号</p></div>
{body}</body></html>"""

    async def _handle(self, s: Served, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            s.requests += 1
            if s.slow_s:
                await asyncio.sleep(s.slow_s)
            status, text = self.page(s)
            body = text.encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
            writer.write(head.encode() + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ssl.SSLError):
            pass
        finally:
            writer.close()

    # ---- faults ------------------------------------------------------------------------------
    def fault(self, action: str, args: list[str]) -> dict:
        """Called on the serving loop (``SimulatedProvince.fault``)."""
        if not args or args[0] not in self.served:
            raise SimError(f"{action}: expected a portal id of the inventory, got {args[:1]}")
        s = self.served[args[0]]
        if action == "portal-clear":
            self._set(s, set(), 0.0)
        elif action == "portal-slow":
            if len(args) != 2:
                raise SimError("portal-slow: expected PORTAL SECONDS")
            s.slow_s = float(args[1])
        elif action == "portal-clone" and not any(la.clone_of is s for la in self.lookalikes):
            raise SimError(f"portal-clone: portal {s.portal.id!r} has no look-alike URL in the inventory")
        else:
            self._set(s, s.fault | {action}, s.slow_s)
        return {"portal": s.portal.id, "faults": sorted(s.fault), "slow_s": s.slow_s}

    def clear_all(self) -> None:
        for s in self.served.values():
            self._set(s, set(), 0.0)

    def _set(self, s: Served, faults: set[str], slow_s: float) -> None:
        renew = ("portal-cert-expiring" in s.fault) != ("portal-cert-expiring" in faults)
        s.fault, s.slow_s = faults, slow_s
        if renew and s.tls and s.server is not None and self._loop is not None:
            s.server.close()  # the new certificate: listen again on the same address and port
            self._loop.create_task(self._listen(s))

    def status(self) -> dict:
        return {
            "portals": len(self.served),
            "lookalikes": len(self.lookalikes),
            "http_port": self.port_http,
            "https_port": self.port_https,
            "faults": {pid: sorted(s.fault) for pid, s in self.served.items() if s.fault or s.slow_s},
        }
