"""The sign-in and account pages in real headless Chromium, over waitress on loopback.

Checks what only a browser shows: the pages work under the real CSP (no violations),
the session cookie's flags as the browser stored them, and a forged cross-site form
post from another origin does not create an account.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.auth.helpers import PROVINCE, TEST_PASSWORD, app_db, make_app, make_user, tiny_inventory
from tests.dashboards.browser import CHROMIUM, chromium, serve


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    app = make_app(tmp_path, tiny_inventory(), database_url=database_url)
    db = app_db(app)
    make_user(db, "root", "administrator", PROVINCE)
    with serve(app, threads=4) as base:
        yield base, db
    db.conn.close()


@pytest.fixture
def evil_origin() -> Iterator[list[str]]:
    """A page on another site (localhost vs 127.0.0.1) that auto-submits a form to the centre."""
    target: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            body = (
                f'<form id="f" method="post" action="{target[0]}/admin/users">'
                '<input name="name" value="evil"><input name="role" value="administrator">'
                f'<input name="site" value="{PROVINCE}"><input name="password" value="evil-password-123">'
                '</form><script>document.getElementById("f").submit()</script>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    target.append(f"http://localhost:{server.server_address[1]}")
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()


def test_sign_in_create_account_sign_out(site: tuple[str, Any], evil_origin: list[str]) -> None:
    base, db = site
    evil_url = evil_origin[0]
    evil_origin[0] = base  # the forged form posts to the centre
    with chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        csp_errors: list[str] = []
        page.on(
            "console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None
        )

        page.goto(f"{base}/admin/users")
        assert page.url.startswith(f"{base}/login?next=")
        page.fill("input[name=name]", "root")
        page.fill("input[name=password]", "not-the-password")
        page.click("button[type=submit]")
        assert "Wrong user name or password" in page.inner_text(".flash.error")

        page.fill("input[name=name]", "root")
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert page.url == f"{base}/admin/users"
        cookie = next(c for c in context.cookies() if c["name"] == "nms_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert page.evaluate("document.cookie") == ""  # scripts cannot read the session

        page.fill("form[action='/admin/users'] input[name=name]", "qian")
        page.fill("form[action='/admin/users'] input[name=site]", "hefei-feidong")
        page.select_option("form[action='/admin/users'] select[name=role]", "county_admin")
        page.click("form[action='/admin/users'] button[type=submit]")
        page.wait_for_load_state()
        shown = page.inner_text("#shown-secret")
        assert len(shown) >= 16
        assert "qian" in page.inner_text("table")

        # the signed-in browser visits another site whose page posts a form to the centre
        evil = context.new_page()
        evil.goto(evil_url)
        evil.wait_for_load_state()
        evil.wait_for_url(f"{base}/**")  # the form was really submitted to the centre...
        # ...without the session (SameSite=Lax) and without a CSRF token: sent to sign in
        assert evil.url.startswith(f"{base}/login"), evil.url
        assert list(db.query("SELECT name FROM auth_users WHERE name = 'evil'")) == []

        page.click("text=退出 Sign out")
        page.wait_for_load_state()
        assert page.url == f"{base}/login"
        page.goto(f"{base}/admin/users")
        assert page.url.startswith(f"{base}/login?next=")
        assert csp_errors == []
        context.close()
