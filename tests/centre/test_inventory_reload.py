"""Inventory changes without a restart: a broken file is refused (file:line) and the running one
kept, a valid change is audited with a diff and served to the agent at its next poll."""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from nms import audit
from nms.inventory_changes import ACTION, accepted_path, check
from tests.auth.helpers import app_db, bearer, make_app, make_settings, make_token
from tests.support.processes import ROOT, save_inventory

AGENT = "chaohu"
COUNTY = "chaohu-wuwei"
NEW_DEVICE = "wuwei-int-sw1"  # sorts after every other device here: simulated addresses stay put
ROLES = ("firewall", "switch")


def county_inventories(path: Path) -> tuple[str, str]:
    """(text without NEW_DEVICE, text with it): a city and one county, firewalls and switches."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    full = yaml.load((ROOT / "inventory.yaml").read_text(encoding="utf-8"), Loader=loader)
    sites = [s for s in full["sites"] if s["id"] in (AGENT, COUNTY) or s["parent"] is None]
    devices = [
        {k: v for k, v in d.items() if k != "tunnel_peers"}
        for d in full["devices"]
        if d["site"] in (AGENT, COUNTY) and d["role"] in ROLES
    ]
    assert NEW_DEVICE == max(d["name"] for d in devices)
    texts = []
    for devs in ([d for d in devices if d["name"] != NEW_DEVICE], devices):
        save_inventory(path, full, sites, devs, [], AGENT, [AGENT, COUNTY])
        texts.append(path.read_text(encoding="utf-8"))
    return texts[0], texts[1]


def nms_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NMS_DATA_DIR=str(settings.data_dir), NMS_INVENTORY=str(settings.inventory_path))
    return subprocess.run(
        [sys.executable, "-m", "nms", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def config_of(app, token: str, etag: str | None = None):
    headers = {**bearer(token), **({"If-None-Match": etag} if etag else {})}
    return app.test_client().get(f"/api/v1/agents/{AGENT}/config", headers=headers)


def test_broken_inventory_refused_running_one_kept_change_audited_with_diff(tmp_path):
    inv_path = tmp_path / "inventory.yaml"
    before, after = county_inventories(inv_path)
    inv_path.write_text(before, encoding="utf-8")
    settings = make_settings(tmp_path, inventory_path=inv_path)
    assert check(settings, "alice").status == "first"
    assert check(settings, "alice").status == "unchanged"
    app = make_app(tmp_path, inventory_path=inv_path)
    token = make_token(app_db(app), "agent", AGENT)
    first = config_of(app, token)
    etag = first.headers["ETag"]
    assert NEW_DEVICE not in first.get_data(as_text=True)

    # a broken change: the new device in a site that does not exist, with an impossible port
    broken = after.replace(f"site: {COUNTY}\n  role: switch", "site: chaohu-nowhere\n  role: switch", 1)
    broken = broken.replace(f"name: {NEW_DEVICE}", f"name: {NEW_DEVICE}\n  port: 99999", 1)
    assert broken.count("chaohu-nowhere") == 1 and "99999" in broken
    inv_path.write_text(broken, encoding="utf-8")
    audited = len(audit.query(app_db(app), action=ACTION))
    outcome = check(settings, "bob")
    assert outcome.status == "refused"
    assert all(re.match(rf"{re.escape(str(inv_path))}:\d+: ", e) for e in outcome.errors), outcome.errors
    assert any("chaohu-nowhere" in e for e in outcome.errors) and any("port" in e for e in outcome.errors)
    assert accepted_path(settings).read_text(encoding="utf-8") == before
    assert len(audit.query(app_db(app), action=ACTION)) == audited
    cli = nms_cli(settings, "inventory", "reload")
    assert cli.returncode == 1
    assert f"{inv_path}:" in cli.stderr and "keeps running with the last valid one" in cli.stderr
    # the running centre keeps serving the last valid inventory, and so does a restarted one
    assert config_of(app, token, etag).status_code == 304
    restarted = make_app(tmp_path, inventory_path=inv_path)
    assert config_of(restarted, token, etag).status_code == 304

    # the valid change: accepted by `nms inventory reload`, audited with who and a diff
    inv_path.write_text(after, encoding="utf-8")
    cli = nms_cli(settings, "inventory", "reload", "--reason", "new switch in Wuwei")
    assert cli.returncode == 0, cli.stderr
    assert f"devices added: {NEW_DEVICE}" in cli.stdout
    row = audit.query(app_db(app), action=ACTION)[0]
    assert row["actor"] == (os.environ.get("SUDO_USER") or getpass.getuser())
    assert row["reason"] == "new switch in Wuwei" and row["target"] == str(inv_path)
    change = json.loads(row["after"])
    assert change["changes"] == {"devices": {"added": [NEW_DEVICE]}}
    assert re.search(rf"^\+.*{NEW_DEVICE}", change["diff"], re.M)
    assert not re.search(r"^-[^-]", change["diff"], re.M)  # nothing removed
    assert json.loads(row["before"])["sha256"] != change["sha256"]
    assert accepted_path(settings).read_text(encoding="utf-8") == after
    # and the agent's next poll gets it
    new = config_of(app, token, etag)
    assert new.status_code == 200 and new.headers["ETag"] != etag
    assert NEW_DEVICE in {d["name"] for d in new.json["devices"]}
    assert check(settings, "alice").status == "unchanged"  # the serve watch finds nothing more to audit
