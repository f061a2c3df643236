"""Interface names are unique in a poll result, because the centre keys interfaces by name."""

from __future__ import annotations

from nms.pipeline import validate_poll
from probes.plugins.interfaces import unique_names


def test_duplicate_and_missing_names_get_names_of_their_own():
    rows = [{"index": 4, "name": "Gi0/0/9"}, {"index": 14, "name": "Gi0/0/9"}, {"index": 20, "name": None}]
    out = unique_names(rows)
    assert [r["name"] for r in out] == ["Gi0/0/9", "Gi0/0/9#14", "ifIndex20"]
    assert "device_name" not in out[0]
    assert out[1]["device_name"] == "Gi0/0/9" and out[2]["device_name"] is None


def test_the_centre_accepts_what_the_poller_makes_unique():
    itf = {"index": 1, "name": "x", "descr": "", "alias": "", "type": 6, "speed_bps": 1000, "admin": "up",
           "oper": "up", "in_octets": 1, "out_octets": 1, "hc": True, "discontinuity": 0}
    interfaces = unique_names([dict(itf), dict(itf, index=2)])
    poll = {"device": "d", "ts": 1.0e9, "ok": True, "error": None, "duration_s": 0.1, "profile": "generic",
            "identity": {}, "interfaces": interfaces}
    validate_poll(poll, "samples[0]", 1.0e9)
