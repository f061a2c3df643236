# ruff: noqa: E501
"""``portals:`` in the inventory: the shipped 169, and bad entries reported as ``file:line: field: problem``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from probes.common.inventory import InventoryError, load_inventory
from tests.inventory.test_errors import BASE

ROOT = Path(__file__).resolve().parents[2]

GOOD = (
    "portals:\n"
    "  - {id: hefei-www, site: hefei, name: 合肥市人民政府, url: 'https://www.hefei.gov.cn/', agent: province,\n"
    "     pages: ['https://www.hefei.gov.cn/zwgk/'], keywords: [合肥], masks: ['#weather', 're:\\d+次'],\n"
    "     lookalikes: ['https://www.hefei-gov.cn/'], interval_s: 120, expect_title: 合肥}\n"
)


def _load(tmp_path: Path, text: str):
    path = tmp_path / "inventory.yaml"
    path.write_text(BASE + text, encoding="utf-8")
    return path, load_inventory


def test_shipped_inventory_lists_169_portals() -> None:
    inv = load_inventory(ROOT / "inventory.yaml")
    assert len(inv.portals) == 169
    kinds = Counter(inv.sites[p.site].kind for p in inv.portals.values())
    assert kinds["city"] == 34 and kinds["county"] == 105 and kinds["department"] == 20
    assert len({p.url for p in inv.portals.values()}) == 169
    for p in inv.portals.values():  # each is probed by the agent that covers its site
        assert p.site in inv.agents[p.agent].sites
    assert any(p.lookalikes for p in inv.portals.values())


def test_good_portal_loads(tmp_path: Path) -> None:
    path, load = _load(tmp_path, GOOD)
    p = load(path).portals["hefei-www"]
    assert (p.site, p.agent, p.interval_s, p.expect_status) == ("hefei", "province", 120, 200)
    assert p.masks == ("#weather", "re:\\d+次") and p.keywords == ("合肥",)
    assert p.lookalikes == ("https://www.hefei-gov.cn/",) and p.line == 15


CASES = {
    "url": ("'https://www.hefei.gov.cn/'", "'ftp://x'", "{f}:15: portals[hefei-www].url: 'ftp://x' is not an http:// or https:// URL"),
    "site": ("site: hefei,", "site: nanjing,", "{f}:15: portals[hefei-www].site: unknown site 'nanjing'"),
    "agent": ("agent: province", "agent: nobody", "{f}:15: portals[hefei-www].agent: unknown agent 'nobody'"),
    "interval": ("interval_s: 120", "interval_s: 5", "{f}:17: portals[hefei-www].interval_s: 5 is out of range (10..3600 seconds)"),
    "mask": ("'re:\\d+次'", "'re:(('", "{f}:16: portals[hefei-www].masks[1]: 're:((': not a regular expression (missing ), unterminated subpattern at position 1)"),
    "lookalike": ("'https://www.hefei-gov.cn/'", "'hefei-gov.cn'", "{f}:17: portals[hefei-www].lookalikes[0]: 'hefei-gov.cn' is not an http:// or https:// URL"),
    "unknown-field": ("interval_s: 120", "interval: 120", "{f}:17: portals[hefei-www].interval: unknown field"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_portal_is_reported_on_its_line(case: str, tmp_path: Path) -> None:
    old, new, expected = CASES[case]
    assert GOOD.count(old) == 1
    path, load = _load(tmp_path, GOOD.replace(old, new))
    with pytest.raises(InventoryError) as info:
        load(path)
    assert info.value.errors == [expected.format(f=path)]


def test_duplicate_portal_url(tmp_path: Path) -> None:
    second = GOOD.split("\n", 1)[1].replace("hefei-www,", "hefei-two,")
    path, load = _load(tmp_path, GOOD + second)
    with pytest.raises(InventoryError) as info:
        load(path)
    assert info.value.errors == [
        f"{path}:18: portals[hefei-two].url: 'https://www.hefei.gov.cn/' is already portal 'hefei-www''s URL (line 15)"
    ]


def test_portals_travel_in_the_agents_assignment() -> None:
    """A pulled agent gets its own portals, exactly as the inventory has them (lines aside)."""
    import dataclasses

    from probes.common.assignment import assignment_of, decode, encode

    inv = load_inventory(ROOT / "inventory.yaml")
    got = decode(encode(assignment_of(inv, "chaohu")), "chaohu").inventory().portals
    want = {p.id: dataclasses.replace(p, line=0) for p in inv.portals_of_agent("chaohu")}
    assert got == want and len(got) == 7 and inv.portals["anhui-www"].id not in got


def test_a_portal_edit_is_named_in_the_audited_inventory_change() -> None:
    import dataclasses

    from nms.inventory_changes import changes

    old = load_inventory(ROOT / "inventory.yaml")
    new = load_inventory(ROOT / "inventory.yaml")
    new.portals["hefei-www"] = dataclasses.replace(new.portals["hefei-www"], interval_s=60)
    del new.portals["hefei-zwfw"]
    assert changes(old, new) == {"portals": {"removed": ["hefei-zwfw"], "changed": ["hefei-www"]}}
