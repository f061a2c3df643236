"""Helpers any test can import to get accounts, tokens and signed-in clients.

Usage (every helper goes through the real code: users.create, tokens.create, POST /login)::

    from tests.auth.helpers import app_db, bearer, login, make_app, make_token, make_user, role_client

    app = make_app(tmp_path)                 # real create_app; data in tmp_path; real inventory.yaml
    app = make_app(tmp_path, database_url=database_url)  # take the root ``database_url`` fixture: the
                                             # test then runs [sqlite] and [postgresql] (ENGINE_AREAS)
    db = app_db(app)                         # centre.db, tables made by create_app
    make_user(db, "ops", "operator", "anhui")            # password TEST_PASSWORD
    client = login(app.test_client(), "ops")              # real /login; then CSRF is sent for you
    client.post("/api/v1/alerts/1/ack")                  # X-CSRF-Token header added automatically
    raw = make_token(db, "agent", "hefei")               # "nms_..."; send with headers=bearer(raw)
    county = role_client(app, "county_admin", "hefei-feidong")   # make_user + login in one call
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from nms.auth import tokens, users
from nms.config import ROOT, Settings
from nms.db import connect
from probes.common.inventory_model import AgentDef, Inventory, Site

TEST_PASSWORD = "correct-horse-battery-staple"
# Hashes made cheap for tests; the first real sign-in upgrades them to production strength.
_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# Site ids that exist both in inventory.yaml and in tiny_inventory().
PROVINCE = "anhui"
COUNTY = "hefei-feidong"  # a county under the city hefei
OTHER_COUNTY = "chaohu-lujiang"  # a county under another city (巢湖)


def tiny_inventory() -> Inventory:
    """Province -> 2 cities -> 3 counties, plus a department; one agent."""

    def site(sid: str, zh: str, kind: str, parent: str | None) -> Site:
        return Site(
            id=sid,
            name_zh=zh,
            name_pinyin=sid,
            code="340000",
            kind=kind,  # type: ignore[arg-type]
            parent=parent,
            lat=31.8,
            lon=117.2,
        )

    sites = [
        site("anhui", "安徽省", "province", None),
        site("hefei", "合肥市", "city", "anhui"),
        site("hefei-feidong", "肥东县", "county", "hefei"),
        site("hefei-changfeng", "长丰县", "county", "hefei"),
        site("chaohu", "巢湖市", "city", "anhui"),
        site("chaohu-lujiang", "庐江县", "county", "chaohu"),
        site("dept-czt", "省财政厅", "department", "anhui"),
    ]
    inv = Inventory(sites={s.id: s for s in sites})
    inv.agents["hefei"] = AgentDef(
        name="hefei", sites=("hefei", "hefei-feidong"), token_env="NMS_AGENT_TOKEN"
    )
    return inv


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on a fresh data dir under ``tmp_path``, the project's inventory.yaml, plain-HTTP cookies."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "inventory_path": ROOT / "inventory.yaml",
        "secrets_path": None,
        "insecure_cookies": True,  # the test client speaks plain HTTP
        "testing": True,
    }
    values.update(overrides)
    return Settings(**values)


def make_app(tmp_path: Path, inventory: Inventory | None = None, **settings: Any) -> Flask:
    """The real application (every registered blueprint), data in ``tmp_path``.

    Account scopes use the project's inventory.yaml, like every other module, unless
    ``inventory`` is given (e.g. :func:`tiny_inventory` for exact scope assertions).
    """
    from nms.server import create_app

    app = create_app(make_settings(tmp_path, **settings))
    if inventory is not None:
        app.config["NMS_INVENTORY"] = inventory
    app.test_client_class = CsrfClient
    return app


def app_db(app: Flask) -> sqlite_utils.Database:
    """A connection to the app's centre.db (its tables were made by ``create_app``)."""
    return connect(app.config["NMS_SETTINGS"], "centre")


def make_user(
    db: sqlite_utils.Database, name: str, role: str, site: str, password: str = TEST_PASSWORD
) -> users.User:
    return users.create(db, name, role, site, password, actor="test", hasher=_FAST_HASHER)


def make_token(
    db: sqlite_utils.Database,
    kind: str,
    subject: str | None = None,
    *,
    site: str | None = None,
    expires_days: float | None = None,
    now: float | None = None,
) -> str:
    """Create a token ("agent" NAME, "user" NAME or "kiosk") and return its raw value."""
    _token, raw = tokens.create(
        db, kind, subject, actor="test", site=site, expires_days=expires_days, now=now
    )
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


class CsrfClient(FlaskClient):
    """Test client that sends the session's CSRF token on every state-changing request.

    Pass ``csrf=False`` to a request to leave it out (to test the refusal).
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        send = kwargs.pop("csrf", True)
        method = str(kwargs.get("method", "GET")).upper()
        if send and method not in ("GET", "HEAD", "OPTIONS") and args and isinstance(args[0], str):
            token = self.csrf_token()
            if token:
                headers = dict(kwargs.pop("headers", None) or {})
                if not any(k.lower() == "authorization" for k in headers):
                    headers.setdefault("X-CSRF-Token", token)
                kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str | None:
        if self.get_cookie("nms_session") is None:
            return None
        with self.session_transaction() as sess:
            return sess.get("csrf")


def login(client: FlaskClient, name: str, password: str = TEST_PASSWORD) -> FlaskClient:
    """Sign in through the real /login form; raises AssertionError if refused."""
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess.get("csrf")
    resp = (
        client.post("/login", data={"name": name, "password": password, "csrf_token": token}, csrf=False)
        if isinstance(client, CsrfClient)
        else client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    )
    assert resp.status_code == 302, (
        f"login of {name} refused: {resp.status_code} {resp.get_data(as_text=True)[:300]}"
    )
    return client


def role_client(app: Flask, role: str, site: str, name: str | None = None) -> FlaskClient:
    """A fresh client signed in as a new user with this role at this site."""
    name = name or f"{role}-{site}"
    db = app_db(app)
    try:
        if users.get(db, name) is None:
            make_user(db, name, role, site)
    finally:
        db.conn.close()
    return login(app.test_client(), name)
