"""The web side through the real app and auth: trigger a fetch, list, versions, diff, export, scope."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from nms.auth import tokens, users
from nms.server import create_app
from tests.configs.conftest import sim_device
from tests.configs.test_vendor_sim import VRP


def _token(db, name: str, role: str, site: str) -> dict[str, str]:
    users.create(db, name, role, site, "Very-long-passw0rd!", actor="test")
    _tok, raw = tokens.create(db, "user", name, actor="test")
    return {"Authorization": f"Bearer {raw}"}


def _wait_fetched(client, headers, device: str, count: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = {r["device"]: r for r in client.get("/api/v1/configs/devices", headers=headers).get_json()}
        row = rows.get(device)
        if row and row["versions"] >= count:
            return row
        time.sleep(0.3)
    raise AssertionError(f"{device}: no version {count} within 60s")


def _status(client, headers) -> dict:
    return client.get("/api/v1/configs/devices", headers=headers).get_json()[0]


@pytest.fixture
def app_env(tmp_path: Path, settings, db, vrp_sim, monkeypatch):
    ports = vrp_sim.start([sim_device(tmp_path, "hefei-rtr1", "huawei", VRP)])
    monkeypatch.setenv("NMS_TEST_SSH_PW", "s3cret-pw")
    monkeypatch.delenv("NMS_CONFIGS_FILE", raising=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "configs.yaml").write_text(yaml.safe_dump({
        "ssh_credentials": {"netops": {"username": "netops", "password_env": "NMS_TEST_SSH_PW"}},
        "devices": {"hefei-rtr1": {"credential": "netops", "device_type": "huawei", "host": "127.0.0.1",
                                   "port": ports["hefei-rtr1"], "site": "hefei"}},
    }), encoding="utf-8")
    settings.testing = True
    return create_app(settings).test_client(), tmp_path / "hefei-rtr1.cfg"


def test_fetch_list_diff_export_and_scope(app_env, db) -> None:
    client, cfg = app_env
    ops = _token(db, "ops", "operator", "hefei")

    r = client.post("/api/v1/configs/fetch", json={"devices": ["hefei-rtr1"]}, headers=ops)
    assert r.status_code == 202 and r.get_json()["started"] == ["hefei-rtr1"]
    row = _wait_fetched(client, ops, "hefei-rtr1", 1)
    assert row["last_result"] == "baseline" and row["site"] == "hefei"

    cfg.write_text(VRP.replace("10.1.1.1", "10.1.1.5"), encoding="utf-8")
    assert client.post("/api/v1/configs/fetch", json={}, headers=ops).status_code == 202
    _wait_fetched(client, ops, "hefei-rtr1", 2)

    versions = client.get("/api/v1/configs/devices/hefei-rtr1/versions", headers=ops).get_json()
    assert [v["version"] for v in versions] == [2, 1]
    new, old = versions[0]["id"], versions[1]["id"]
    d = client.get(f"/api/v1/configs/diff?a={old}&b={new}", headers=ops).get_json()
    assert d["changed"] and "+ ip address 10.1.1.5 255.255.255.252" in d["diff"]
    assert "AbCdEfGh" not in d["diff"]

    one = client.get(f"/api/v1/configs/versions/{new}", headers=ops).get_json()
    assert "AbCdEfGh" not in one["content"] and "******" in one["content"]
    masked = client.get(f"/api/v1/configs/versions/{new}/export", headers=ops)
    assert masked.status_code == 200 and "CommSecret" not in masked.get_data(as_text=True)
    assert "attachment" in masked.headers["Content-Disposition"]
    raw = client.get(f"/api/v1/configs/versions/{new}/export/raw", headers=ops)
    assert "%^%#CommSecret%^%#" in raw.get_data(as_text=True)

    page = client.get(f"/configs/diff?a={old}&b={new}", headers=ops)
    assert page.status_code == 200 and "10.1.1.5" in page.get_data(as_text=True)
    assert "hefei-rtr1" in client.get("/configs/", headers=ops).get_data(as_text=True)
    device_page = client.get("/configs/device/hefei-rtr1", headers=ops).get_data(as_text=True)
    assert f'value="{new}"' in device_page and "v2" in device_page
    version_page = client.get(f"/configs/version/{new}", headers=ops).get_data(as_text=True)
    assert "sysname hefei-rtr1" in version_page and "CommSecret" not in version_page
    form = client.post("/configs/fetch", headers=ops)
    assert form.status_code == 302 and "fetched=1" in form.headers["Location"]
    deadline = time.monotonic() + 60
    while _status(client, ops)["last_result"] != "unchanged" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _status(client, ops)["last_result"] == "unchanged"  # third fetch found nothing new
    assert client.get("/api/v1/configs/diff?a=x&b=1", headers=ops).status_code == 400
    assert client.get("/api/v1/configs/versions/9999", headers=ops).status_code == 404

    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor = 'user:ops'")]
    assert actions.count("configs.fetch.trigger") == 3 and "configs.version.export_raw" in actions
    assert "configs.version.store" in actions

    events = client.get("/api/v1/configs/events", headers=ops).get_json()
    assert [e["kind"] for e in events] == ["baseline", "changed"]

    # another county's operator sees nothing of hefei; a viewer has no configs.read at all
    other = _token(db, "ops2", "operator", "chaohu")
    assert client.get("/api/v1/configs/devices", headers=other).get_json() == []
    assert client.get(f"/api/v1/configs/versions/{new}", headers=other).status_code == 403
    assert client.post("/api/v1/configs/fetch", json={}, headers=other).status_code == 403
    viewer = _token(db, "view", "viewer", "hefei")
    assert client.get("/api/v1/configs/devices", headers=viewer).status_code == 403
    assert client.get(f"/api/v1/configs/versions/{new}/export/raw", headers=viewer).status_code == 403
