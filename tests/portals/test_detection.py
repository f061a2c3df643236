"""Portal checks against real loopback sites: churn stays quiet, each compromise is found.

The pages are a county portal whose date, visitor counter and news list move every
day (tests/portals/pages.py); the compromises are written here, one per test.
"""

from __future__ import annotations

import pytest

from probes.portals.detect import Thresholds
from tests.portals.helpers import check, found, kinds, learn
from tests.portals.pages import HACKER_PAGE, portal
from tests.portals.servers import Reply


@pytest.mark.parametrize("table", [False, True], ids=["list", "table"])
def test_a_week_of_news_dates_and_counters_raises_nothing(site, table):
    site.routes["/"] = Reply(portal(0, table=table))
    base = learn(site.url())
    for day in range(1, 8):
        site.routes["/"] = Reply(portal(day, table=table))
        result = check(site.url(), baseline=base)
        assert result["findings"] == [], (day, result["findings"])
        assert result["ok"] and result["status"] == 200
        assert result["similarity"] >= 0.95


def test_a_changed_paragraph_is_a_change_but_not_a_defacement(site):
    site.routes["/"] = Reply(portal(0))
    base = learn(site.url())
    site.routes["/"] = Reply(portal(0).replace("全县教育工作", "x").replace("百分之九十八", "百分之九十九"))
    result = check(site.url(), baseline=base)
    assert result["changed"] is True and result["similarity"] < 1
    assert "defaced" not in kinds(result)


def test_operator_masks_hide_a_region_that_changes(site):
    """A weather box is not a list nor numbers: only the operator's mask keeps it quiet."""
    site.routes["/"] = Reply(portal(0, extra_body='<div id="weather">晴转多云 东南风三级 空气质量优</div>'))
    base = learn(site.url(), selectors=["#weather"], regexes=[r"某某县位于[^。]*。"])
    site.routes["/"] = Reply(
        portal(0, extra_body='<div id="weather">小雨 西北风二级 空气质量良</div>').replace(
            "省境中部", "省境北部"
        )
    )
    assert check(site.url(), baseline=base)["changed"] is False
    unmasked = learn(site.url())
    site.routes["/"] = Reply(portal(0, extra_body='<div id="weather">晴转多云 东南风三级 空气质量优</div>'))
    assert check(site.url(), baseline=unmasked)["changed"] is True


@pytest.mark.parametrize("how", ["body", "title", "injected"])
def test_a_defacement_is_found_with_a_diff(site, how):
    site.routes["/"] = Reply(portal(0))
    base = learn(site.url())
    page = {
        "body": portal(3, body=HACKER_PAGE),
        "title": portal(3, title="Owned - greetings from the crew"),
        "injected": portal(3, extra_body="<div>" + HACKER_PAGE * 4 + "</div>"),
    }[how]
    site.routes["/"] = Reply(page)
    result = check(site.url(), baseline=base)
    [f] = found(result, "defaced")
    assert result["changed"] is True
    assert f["evidence"]["diff"] and any(line.startswith("+") for line in f["evidence"]["diff"])
    if how == "body":
        assert result["similarity"] < 0.3


OVERLAY = (
    '<div style="position:fixed; top:0; left:0; width:100%; height:100%; z-index:99999; '
    'background:#000; color:#0f0">{text}</div>'
)


def test_an_overlay_laid_over_the_page_is_a_defacement_and_an_approved_one_is_not(site):
    notice = OVERLAY.format(text="沉痛悼念 网站今日置灰")
    site.routes["/"] = Reply(portal(0, extra_body=notice))
    base = learn(site.url())
    site.routes["/"] = Reply(portal(1, extra_body=notice))
    assert check(site.url(), baseline=base)["findings"] == []
    site.routes["/"] = Reply(portal(1, extra_body=notice + OVERLAY.format(text="Hacked. Greetings.")))
    [f] = found(check(site.url(), baseline=base), "defaced")
    assert "overlay" in f["detail"] and f["evidence"]["overlays"] == ["Hacked. Greetings."]


DARK = {
    "display-none-class": (
        "<style>.fl{display:none}</style>",
        '<div class="fl"><a href="http://xyz-bet.example/">x</a></div>',
    ),
    "visibility": ("", '<p style="visibility:hidden"><a href="http://links.example.org/">友情</a></p>'),
    "off-screen": (
        "",
        '<div style="position:absolute;left:-3000px;top:0"><a href="http://a.example/">a</a></div>',
    ),
    "text-indent": ("", '<div style="text-indent:-9999px"><a href="http://a.example/">a</a></div>'),
    "zero-size": (
        "",
        '<div style="width:0;height:0;overflow:hidden"><a href="http://b.example/">b</a></div>',
    ),
    "font-size-0": ("", '<span style="font-size:0px"><a href="http://c.example/">c</a></span>'),
    "same-colour": (
        "",
        '<div style="background-color:#fefefe"><a style="color:#FFF" href="http://d.example/">d</a></div>',
    ),
    "marquee": ("", '<marquee height="1" width="1"><a href="http://e.example/">e</a></marquee>'),
    "marquee-fast": ("", '<marquee scrollamount="5000"><a href="http://e.example/">e</a></marquee>'),
    "id-rule": (
        "<style>#f1 { position: absolute; top: -1200px }</style>",
        '<div id="f1"><a href="http://f.example/">f</a></div>',
    ),
    "script-write": (
        "",
        "<script>document.write('<div style=\"display:none\">');</script>"
        '<a href="http://g.example/">g</a><script>document.write("</div>")</script>',
    ),
    "script-hides-id": (
        "",
        '<div id="fl2"><a href="http://h.example/">h</a></div>'
        "<script>document.getElementById('fl2').style.display = 'none';</script>",
    ),
    "jquery-hide": (
        "",
        '<p id="fl3"><a href="http://i.example/">i</a></p><script>$("#fl3").hide();</script>',
    ),
    "listed-domain-visible": ("", '<a href="https://www.best-casino88.com/">在线娱乐</a>'),
}


@pytest.mark.parametrize("trick", list(DARK))
def test_each_dark_link_trick_is_found(site, trick):
    site.routes["/"] = Reply(portal(0))
    base = learn(site.url())
    head, body = DARK[trick]
    site.routes["/"] = Reply(portal(1, extra_head=head, extra_body=body))
    result = check(site.url(), baseline=base)
    assert found(result, "dark-link"), result["findings"]
    assert "defaced" not in kinds(result)


def test_a_hidden_menu_of_the_site_itself_is_not_a_dark_link(site):
    """The portal's own drop-down menu is display:none until hovered."""
    site.routes["/"] = Reply(portal(0))
    result = check(site.url())
    assert result["findings"] == []


def test_new_third_party_script_and_iframe_are_found_known_ones_are_not(site):
    known = '<script src="https://hm.baidu.com/hm.js?abc"></script>'
    site.routes["/"] = Reply(portal(0, extra_head=known))
    base = learn(site.url())
    site.routes["/"] = Reply(portal(2, extra_head=known.replace("abc", "def")))
    assert check(site.url(), baseline=base)["findings"] == []
    site.routes["/"] = Reply(
        portal(
            2,
            extra_head=known + '<script src="//cdn.evil-stats.example/s.js"></script>',
            extra_body='<iframe src="https://ads.example.net/x" width=0 height=0></iframe>',
        )
    )
    result = check(site.url(), baseline=base)
    assert found(result, "foreign-script")[0]["evidence"]["hosts"] == ["cdn.evil-stats.example"]
    assert found(result, "foreign-iframe")[0]["evidence"]["hosts"] == ["ads.example.net"]


def test_forbidden_words_are_found_in_chinese_and_in_hidden_text(site):
    site.routes["/"] = Reply(portal(0, extra_body='<p style="display:none">澳门百家乐 线上娱乐城</p>'))
    result = check(site.url())
    [f] = found(result, "forbidden-word")
    assert {"百家乐", "娱乐城"} <= set(f["evidence"]["words"])


def test_redirect_to_another_site_is_found(site):
    site.routes["/"] = Reply("", 302, {"Location": site.url("/landing", host="localhost")})
    site.routes["/landing"] = Reply(portal(0))
    result = check(site.url())
    assert kinds(result) == ["redirect-foreign"]
    assert result["redirects"] == 1 and result["status"] == 200
    assert result["timings_ms"]["dns"] > 0  # "localhost" was resolved


def test_a_redirect_off_loopback_is_refused_and_found(site):
    site.routes["/"] = Reply("", 301, {"Location": "http://192.0.2.10/hijacked"})
    result = check(site.url())
    assert kinds(result) == ["down", "redirect-foreign"]
    assert "refusing to contact 192.0.2.10" in found(result, "down")[0]["detail"]


def test_down_and_slow(site):
    site.routes["/"] = Reply(portal(0))
    base = learn(site.url())
    site.routes["/"] = Reply("<html><title>503</title><body>maintenance</body></html>", 503)
    result = check(site.url(), baseline=base)
    [f] = result["findings"]
    assert f["kind"] == "down" and "503" in f["detail"]  # an error page is not a defacement
    site.routes["/"] = Reply(portal(0), delay=0.4)
    result = check(site.url(), thresholds=Thresholds(slow_ms=200))
    assert kinds(result) == ["slow"] and result["timings_ms"]["total"] >= 400
    site.close()
    [f] = found(check(site.url()), "down")
    assert "connect" in f["detail"].lower()


def test_a_clone_is_found_with_its_similarity_and_an_unrelated_page_is_not(site):
    site.routes["/"] = Reply(portal(0))
    real = learn(site.url())
    cloned = portal(2).replace("皖ICP备05001234号", "") + '<a href="http://pay.example/">在线缴费</a>'
    site.routes["/clone"] = Reply(cloned)
    result = check(site.url("/clone", host="localhost"), clone_of=real)
    [f] = found(result, "clone")
    assert f["evidence"]["similarity"] >= 0.8
    site.routes["/other"] = Reply(
        "<html><title>Shop</title><body><h1>Buy shoes</h1><p>Cheap shoes</p></body></html>"
    )
    result = check(site.url("/other", host="localhost"), clone_of=real)
    assert not found(result, "clone") and result["clone_similarity"] < 0.2


@pytest.mark.parametrize(
    "trap",
    [
        '<meta http-equiv="refresh" content="0; url=http://spam-landing.example/">',
        "<script>if (document.referrer.indexOf('baidu') > -1) "
        "{ window.location.href = 'https://spam.example/'; }</script>",
    ],
    ids=["meta-refresh", "script"],
)
def test_a_page_that_sends_visitors_away_is_a_foreign_redirect(site, trap):
    site.routes["/"] = Reply(portal(0))
    base = learn(site.url())
    site.routes["/"] = Reply(portal(0, extra_head=trap))
    [f] = found(check(site.url(), baseline=base), "redirect-foreign")
    assert "spam" in f["detail"]


def small_page(day: int) -> str:
    """A bare page in another markup: news as links separated by <br>, lunar date, counter."""
    lunar = ["十月廿七", "十月廿八", "十月廿九", "冬月初一"][day % 4]
    news = "<br>".join(
        f'<a href="/n{day + i}">{t}</a>'
        for i, t in enumerate(
            ["关于开展冬季安全检查的通知", "全县经济运行情况通报", "乡镇干部培训班开班", "招聘公告"][
                day % 2 :
            ]
        )
    )
    return (
        f"<html><head><title>某某镇人民政府</title></head><body><h1>某某镇人民政府</h1>"
        f"<div>{2026}年12月{day + 1}日 农历{lunar} 星期{'一二三四五六日'[day % 7]}</div>"
        f"<div class=list>{news}</div><p>本镇位于县城东部，辖8个村委会。</p>"
        f"<p>访问人数：{12_345 + day * 97:,}</p></body></html>"
    )


def test_churn_in_a_small_page_of_another_markup_stays_quiet(site):
    site.routes["/"] = Reply(small_page(0))
    base = learn(site.url())
    for day in range(1, 4):
        site.routes["/"] = Reply(small_page(day))
        assert check(site.url(), baseline=base)["findings"] == [], day
    site.routes["/"] = Reply(
        small_page(1).replace("本镇位于县城东部，辖8个村委会。", "This site has been taken over.")
    )
    assert kinds(check(site.url(), baseline=base)) == ["defaced"]


def cloaked(spam: str):
    """A hacked site's trick: visitors get the portal, search engines' crawlers get spam too."""

    def reply(handler) -> None:
        crawler = "spider" in handler.headers.get("User-Agent", "").lower()
        body = portal(0, extra_body=spam if crawler else "").encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return reply


def test_content_shown_only_to_crawlers_is_a_dark_link(site):
    site.routes["/"] = cloaked('<p><a href="http://seo-spam.example/">在线娱乐平台</a></p>')
    assert check(site.url())["findings"] == []  # a visitor sees nothing wrong
    [f] = found(check(site.url(), as_crawler=True), "dark-link")
    assert f["evidence"]["links"] == ["http://seo-spam.example/"]
    site.routes["/"] = Reply(portal(0))
    assert check(site.url(), as_crawler=True)["findings"] == []
