"""No password, token or SNMP secret in a log line, a page, the audit log or the database.

Drives the real flows (bootstrap, sign-in, account and token creation from the web
and the command line), then opens every GET route of the app as an administrator
and greps everything captured for the secret values.  A secret revealed once on
purpose (new token, generated password) must appear in that one response only.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from nms.__main__ import main
from nms.auth.policy import declaration_of
from nms.config import ROOT
from tests.auth.helpers import app_db, bearer, make_app
from tests.auth.test_access_control import url_for_rule

SHOWN = re.compile(r'id="shown-secret">([^<]+)<')


def _snmp_secret_env(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Give every SNMP secret variable the real inventory names a distinctive value."""
    try:
        from probes.common.inventory import load_inventory

        inv = load_inventory(ROOT / "inventory.yaml")
    except Exception:  # inventory module or file not there yet: use one made-up variable
        names = ["NMS_SNMP_COMMUNITY_TEST"]
    else:
        names = sorted(
            {
                v
                for c in inv.credentials.values()
                for v in (c.community_env, c.auth_key_env, c.priv_key_env)
                if v
            }
        )
    values = []
    for i, name in enumerate(names):
        value = f"snmp-secret-{i}-Zq8"
        monkeypatch.setenv(name, value)
        values.append(value)
    return values


def test_secrets_never_leak(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("NMS_DATABASE_URL", database_url)  # the CLI and the app share one database
    snmp = _snmp_secret_env(monkeypatch)
    admin_pw = "bootstrap-Password-77x"
    monkeypatch.setenv("NMS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NMS_INVENTORY", str(ROOT / "inventory.yaml"))
    monkeypatch.setenv("NMS_ADMIN_PASSWORD", admin_pw)
    assert main(["bootstrap", "--site", "anhui"]) == 0
    assert main(["token", "create", "--agent", "hefei"]) == 0
    cli_out = capsys.readouterr()
    cli_token = cli_out.out.strip().splitlines()[-1]
    assert cli_token.startswith("nms_") and admin_pw not in cli_out.out + cli_out.err

    app = make_app(tmp_path)  # the real inventory.yaml, as every module sees it
    app.config["PROPAGATE_EXCEPTIONS"] = False
    bodies: list[str] = []

    def keep(resp):  # type: ignore[no-untyped-def]
        bodies.append(resp.get_data(as_text=True) + "\n" + str(resp.headers))
        return resp

    client = app.test_client()
    keep(client.get("/login"))
    keep(client.post("/login", data={"name": "admin", "password": "wrong-" + admin_pw}))
    misplaced = "pw-typed-in-Name-field-5"  # someone types their password into the name field
    keep(client.post("/login", data={"name": misplaced, "password": "whatever"}))
    keep(client.post("/login", data={"name": "admin", "password": admin_pw}))
    typed_pw = "typed-in-Form-pw-42"
    keep(
        client.post(
            "/admin/users", data={"name": "u1", "role": "viewer", "site": "hefei", "password": typed_pw}
        )
    )
    reveals = []
    resp = client.post("/admin/users", data={"name": "u2", "role": "operator", "site": "hefei"})
    reveals.append(resp.get_data(as_text=True))
    generated_pw = SHOWN.search(reveals[-1]).group(1)  # type: ignore[union-attr]
    resp = client.post("/admin/tokens", data={"kind": "user", "subject": "u2", "expires_days": "30"})
    reveals.append(resp.get_data(as_text=True))
    web_token = SHOWN.search(reveals[-1]).group(1)  # type: ignore[union-attr]
    resp = client.post("/admin/users/u1", data={"op": "reset"})
    reveals.append(resp.get_data(as_text=True))
    reset_pw = SHOWN.search(reveals[-1]).group(1)  # type: ignore[union-attr]
    keep(app.test_client().get("/api/v1/whoami", headers=bearer(web_token)))
    keep(app.test_client().get("/api/v1/whoami", headers=bearer(cli_token)))
    keep(app.test_client().get("/api/v1/whoami", headers=bearer(cli_token[:-2] + "xx")))
    u2 = app.test_client()
    u2.get("/login")
    keep(u2.post("/login", data={"name": "u2", "password": generated_pw}))
    assert u2.get("/api/v1/whoami").json["principal"]["name"] == "u2"

    logging.disable(logging.NOTSET)
    for rule in app.url_map.iter_rules():  # every page and API of every module, as administrator
        declared = declaration_of(app.view_functions[rule.endpoint])
        if "GET" not in (rule.methods or ()) or declared is None:
            continue
        resp = client.get(url_for_rule(rule, declared[1], "hefei"), buffered=False)
        if resp.mimetype == "text/event-stream":  # an endless stream: its first event is enough
            first = next(iter(resp.response), b"")
            bodies.append(first.decode() if isinstance(first, bytes) else str(first))
            resp.close()
        else:
            keep(resp)
    keep(client.get("/admin/audit.csv"))
    keep(client.get("/admin/access.json?user=u2"))

    secrets = {
        "admin password": admin_pw,
        "typed password": typed_pw,
        "generated password": generated_pw,
        "reset password": reset_pw,
        "password in the name field": misplaced,
        "web token": web_token,
        "cli token": cli_token,
        **{f"snmp secret {i}": v for i, v in enumerate(snmp)},
    }
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    db = app_db(app)
    audit_dump = "\n".join(str(r) for r in db.query("SELECT * FROM audit_log"))
    raw_db = b"".join(p.read_bytes() for p in (tmp_path / "var").glob("centre.db*"))
    assert len(bodies) > 15 and "login.failure" in audit_dump and "token.create" in audit_dump
    for label, value in secrets.items():
        assert value not in logs, f"{label} in a log line"
        assert value not in audit_dump, f"{label} in the audit log"
        assert value.encode() not in raw_db, f"{label} stored in clear"
        for body in bodies:
            assert value not in body, f"{label} in a page"
    # each one-time reveal shows exactly its own secret, once
    for page, value in zip(reveals, (generated_pw, web_token, reset_pw), strict=True):
        assert page.count(value) == 1
        others = [v for v in secrets.values() if v != value]
        assert not any(v in page for v in others)
