"""Page reading without a network: what counts as hidden, what is masked, decoding."""

from __future__ import annotations

from probes.portals.baseline import similarity
from probes.portals.decode import decode
from probes.portals.page import Masks, parse


def hidden(html: str) -> dict[str, str | None]:
    return {lk.url: lk.hidden for lk in parse(html, "http://www.example.gov.cn/").links}


def test_visible_links_are_not_hidden_and_hidden_ones_say_why():
    links = hidden(
        '<p><a href="http://a.example/">a</a></p>'
        '<div style="display: none !important"><a href="http://b.example/">b</a></div>'
        '<a style="font-size:0" href="http://c.example/"><img src="/banner.png"></a>'
        '<div style="position:relative;left:-20px"><a href="http://d.example/">d</a></div>'
    )
    assert links == {
        "http://a.example/": None,
        "http://b.example/": "<div> display:none",
        "http://c.example/": None,  # an image link shows whatever the text size
        "http://d.example/": None,  # a small nudge is layout, not hiding
    }


def test_white_text_is_only_judged_against_a_background_the_page_shows():
    white = '<a style="color:#fff" href="http://a.example/">a</a>'
    assert hidden(white)["http://a.example/"].startswith("text colour #ffffff")
    assert hidden('<div style="background:#003366">' + white + "</div>")["http://a.example/"] is None
    # the background may come from a stylesheet this check does not read
    external = '<html><head><link rel="stylesheet" href="/s.css"></head><body>' + white + "</body></html>"
    assert hidden(external)["http://a.example/"] is None


def test_dates_times_counters_and_weekdays_are_masked():
    m = Masks()
    assert m.text("2026年3月1日 星期日 10:30 访问量 1,234,567") == "# # # 访问量 #"
    assert m.text("Updated 2026-03-01, Sunday") == "Updated #, #"
    assert Masks(regexes=[r"天气：\S+"]).text("天气：晴 气温") == "# 气温"


def test_a_character_cut_by_the_size_limit_is_dropped_not_guessed():
    body = "<p>省政府办公厅</p>".encode()
    assert decode(body[:-5]) == ("<p>省政府办公", "utf-8")
    assert decode("<p>省政府办公厅</p>".encode("gbk")[:-5])[1] == "gb18030"


def test_declared_charsets_win_and_gbk_labels_use_the_superset():
    assert decode("欢迎".encode("gbk"), "text/html; charset=GBK") == ("欢迎", "gb18030")
    assert decode(b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')[1] == "gb18030"


def test_a_page_with_thousands_of_style_rules_still_shows_its_hiding_rule():
    """Selectors are capped (each is a walk of the page); rules that can hide go first."""
    colours = "".join(f".c{i} p{{color:#{i % 999:03d}}}" for i in range(3000))
    rows = "".join(f'<p class="c{i}"><a href="/n{i}">n</a></p>' for i in range(3000))
    links = hidden(
        f"<style>{colours} .fl {{ display:none }}</style><div>{rows}</div>"
        '<div class="fl"><a href="http://spam.example/">s</a></div>'
    )
    assert links["http://spam.example/"] == "<div> display:none"


def test_similarity_weighs_lines_by_length_and_copes_with_repeated_lines():
    assert similarity(["a" * 90, "b" * 10], ["a" * 90, "c" * 10]) == (0.9, 10, 10)
    # a page of thousands of identical lines (difflib alone is quadratic on these)
    assert similarity(["更多>>"] * 4000, ["更多>>", "新"] * 2000)[1:] == (2000, 8000)
