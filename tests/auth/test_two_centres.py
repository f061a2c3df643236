"""Two real ``nms serve`` processes on one PostgreSQL database: a person's session works on both.

Behind a load balancer any centre may answer any request, so a session cookie and the CSRF
token made by one centre must be accepted by the other (the signing key lives in the shared
database, whatever each centre's data directory), a change of password on one ends the old
session on both, and failed sign-ins are counted across both (the lock is one lock).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from nms import schema
from nms.auth import users
from nms.config import Settings
from nms.db import connect
from tests.auth.helpers import _FAST_HASHER, PROVINCE, TEST_PASSWORD
from tests.support.processes import Centre, write_inventory

pytestmark = pytest.mark.pg

COOKIE = "nms_session"
NEW_PASSWORD = "another-long-passphrase-9"


@pytest.fixture(scope="module")
def pg_database(pg_cluster) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """One database for this module's pair of centres (they start once for every test here)."""
    from tests.support.pgcluster import database_of, fresh_database_url

    url = fresh_database_url(pg_cluster, "two_centres")
    yield url
    from nms.dbpg import close_pools

    close_pools()
    pg_cluster.drop_database(database_of(url))


@pytest.fixture(scope="module")
def centres(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> Iterator[tuple[Centre, Centre]]:
    """Centres A and B: own data directories, one database, three accounts made beforehand."""
    tmp = tmp_path_factory.mktemp("two_centres")
    inventory = write_inventory(tmp / "inventory.yaml")
    settings = Settings(data_dir=tmp / "a", inventory_path=inventory, database_url=pg_database)
    db = schema.open_migrated(settings)
    try:
        for name in ("root", "ops", "spare"):
            users.create(db, name, "operator", PROVINCE, TEST_PASSWORD, actor="test", hasher=_FAST_HASHER)
    finally:
        db.close()
    pair = (Centre(tmp / "a", inventory), Centre(tmp / "b", inventory))
    for centre in pair:
        centre.data_dir.mkdir(parents=True, exist_ok=True)
        centre.env["NMS_DATABASE_URL"] = pg_database
    try:
        with ThreadPoolExecutor(2) as pool:  # start both at once: each waits for its port
            list(pool.map(Centre.start, pair))
        yield pair
    finally:
        for centre in pair:
            centre.stop()


def _csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no CSRF field in the page: {html[:300]}"
    return found.group(1)


def _sign_in(centre: Centre, name: str, password: str) -> requests.Response:
    """One sign-in through the real form (its own pre-login session and CSRF token)."""
    form = requests.get(f"{centre.url}/login", timeout=10)
    return requests.post(
        f"{centre.url}/login",
        data={"name": name, "password": password, "csrf_token": _csrf_of(form.text)},
        cookies={COOKIE: form.cookies[COOKIE]},
        allow_redirects=False,
        timeout=30,
    )


def _whoami(centre: Centre, cookie: str) -> str | None:
    resp = requests.get(f"{centre.url}/api/v1/whoami", cookies={COOKIE: cookie}, timeout=10)
    assert resp.status_code == 200, resp.text
    principal = resp.json()["principal"]
    return principal["name"] if principal else None


def test_a_session_from_one_centre_works_on_the_other(
    centres: tuple[Centre, Centre], pg_database: str
) -> None:
    a, b = centres
    assert not (b.data_dir / "secret_key").exists()  # B's key is the database's, not a file of its own
    signed_in = _sign_in(a, "root", TEST_PASSWORD)
    assert signed_in.status_code == 302, signed_in.text[:300]
    cookie = signed_in.cookies[COOKIE]
    assert _whoami(b, cookie) == "root"

    page = requests.get(f"{b.url}/account/password", cookies={COOKIE: cookie}, timeout=10)
    assert page.status_code == 200 and "csrf_token" in page.text
    page_of_a = requests.get(f"{a.url}/account/password", cookies={COOKIE: cookie}, timeout=10)
    token_of_a = _csrf_of(page_of_a.text)
    change = {"current": TEST_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    refused = requests.post(f"{b.url}/account/password", data=change, cookies={COOKIE: cookie}, timeout=30)
    assert refused.status_code == 400 and "CSRF" in refused.text  # B still demands the token
    changed = requests.post(
        f"{b.url}/account/password",
        data=dict(change, csrf_token=token_of_a),  # the token A put in its page
        cookies={COOKIE: cookie},
        timeout=30,
    )
    assert changed.status_code == 200, changed.text[:300]
    db = connect(Settings(data_dir=a.data_dir, database_url=pg_database))
    try:
        assert users.verify_password(db, "root", NEW_PASSWORD) is not None
    finally:
        db.close()
    assert _whoami(a, cookie) is None  # the change on B ended the old session on A too
    assert _whoami(a, changed.cookies[COOKIE]) == "root"  # the session B started works on A


def test_failed_sign_ins_on_both_centres_lock_the_account_as_one(centres: tuple[Centre, Centre]) -> None:
    a, b = centres
    for centre in (a, b, a, b):
        assert _sign_in(centre, "ops", "wrong-password-123").status_code == 401
    fifth = _sign_in(b, "ops", "wrong-password-123")  # the fifth failure, counted over both centres
    assert fifth.status_code == 429 and "Too many failed sign-ins" in fifth.text
    for centre in (a, b):  # now even the right password is refused, whichever centre answers
        locked = _sign_in(centre, "ops", TEST_PASSWORD)
        assert locked.status_code == 429 and "locked" in locked.text
    assert _sign_in(a, "spare", TEST_PASSWORD).status_code == 302  # another account is not locked
