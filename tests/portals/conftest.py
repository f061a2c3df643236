"""Loopback sites for the portal tests: plain HTTP, and HTTPS under a CA made now."""

from __future__ import annotations

import pytest

from tests.portals.servers import CA, Site


@pytest.fixture
def engine_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine under test in the environment, so ``Settings`` made from it and the
    ``nms serve`` a test starts use that engine too."""
    monkeypatch.setenv("NMS_DATABASE_URL", database_url)
    return database_url


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CA:
    return CA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


@pytest.fixture
def tls_site(ca):
    """Returns a function making an HTTPS site with the certificate asked for."""
    made = []

    def make(name: str = "portal", **cert) -> Site:
        s = Site(ca.server_context(name, **cert))
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
