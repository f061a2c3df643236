"""Portal pages written for the tests: a county portal whose news, date and counter move.

``portal(day)`` is the page on a given day: the date, the visitor counter and the news
list change every day, as on a real government site; everything else stays.  Two
layouts (list items, table rows) so that list detection is not fitted to one markup.
"""

from __future__ import annotations

import datetime as dt

HEADLINES = [
    "县政府召开第十二次常务会议",
    "我县开展安全生产大检查",
    "关于做好冬季防火工作的通知",
    "县长主持召开乡村振兴工作推进会",
    "全县教育工作会议召开",
    "2026年度财政预算执行情况公告",
    "关于公开征求城市规划意见的公告",
    "县人社局举办春季招聘会",
    "我县获评省级文明城市",
    "医保政策调整解读",
    "县交通局发布道路施工通告",
    "农业农村局部署秋粮收购工作",
]

STYLE = """
body { background: #ffffff; color: #333333; font-family: sans-serif }
.nav a { color: #004488 }
.dropdown { display: none }
"""


def _news(day: int, table: bool) -> str:
    items = [HEADLINES[(day + i) % len(HEADLINES)] for i in range(6)]
    base = dt.date(2026, 3, 1) + dt.timedelta(days=day)
    if table:
        rows = "".join(
            f'<tr><td><a href="/news/{day}-{i}.html">{h}</a></td><td>{base - dt.timedelta(days=i)}</td></tr>'
            for i, h in enumerate(items)
        )
        return f'<table class="news">{rows}</table>'
    rows = "".join(
        f'<li><a href="/news/{day}-{i}.html">{h}</a><span>{base - dt.timedelta(days=i)}</span></li>'
        for i, h in enumerate(items)
    )
    return f'<ul class="news">{rows}</ul>'


def portal(
    day: int = 0,
    *,
    table: bool = False,
    extra_head: str = "",
    extra_body: str = "",
    title: str = "某某县人民政府门户网站",
    body: str | None = None,
) -> str:
    today = dt.date(2026, 3, 1) + dt.timedelta(days=day)
    counter = 1_234_567 + day * 4_321
    main = (
        body
        if body is not None
        else f"""
<div class="header"><img src="/logo.png" alt="logo"><h1>某某县人民政府</h1>
<p class="date">今天是{today.year}年{today.month}月{today.day}日</p></div>
<div class="nav"><a href="/">首页</a> <a href="/zwgk/">政务公开</a> <a href="/zwfw/">政务服务</a>
<a href="/hdjl/">互动交流</a><ul class="dropdown"><li><a href="/zwgk/a">机构</a></li>
<li><a href="/zwgk/b">领导</a></li><li><a href="/zwgk/c">规划</a></li></ul></div>
<div class="main"><h2>政务要闻</h2>{_news(day, table)}
<h2>县情概况</h2><p>某某县位于省境中部，总面积1842平方公里，辖12个镇、4个乡，总人口约63万人。
全县坚持生态优先、绿色发展，着力打造长三角绿色农产品生产加工供应基地。</p>
<h2>政务服务</h2><p>网上办事大厅提供个人办事、法人办事、部门服务等一站式在线服务，
全县政务服务事项网上可办率达到百分之九十八。</p>
<p>政府信息公开指南、信息公开目录、依申请公开、政府信息公开年报均可在政务公开栏目查阅。</p></div>
<div class="footer"><p>主办：某某县人民政府办公室 承办：某某县数据资源管理局</p>
<p>地址：某某县人民路88号 邮编：233000 电话：0550-1234567</p>
<p>您是第{counter}位访客 网站标识码：3411000001 皖ICP备05001234号</p></div>"""
    )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<style>{STYLE}</style><script src="/js/jquery.min.js"></script>{extra_head}</head>
<body>{main}{extra_body}</body></html>"""


HACKER_PAGE = """<div style="text-align:center;margin-top:20%"><h1>We were here</h1>
<p>Security is just an illusion. Greetings to all the crew, see you on the next target.</p>
<p>Contact us on our channel for more. The admin should patch the server.</p></div>"""
