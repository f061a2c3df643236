from __future__ import annotations

import pytest

from nms.config import Settings
from nms.db import connect


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "var", inventory_path=tmp_path / "no-inventory.yaml", testing=True)


@pytest.fixture
def metrics_db(settings):
    db = connect(settings, "metrics")
    yield db
    db.conn.close()


@pytest.fixture
def centre_db(settings):
    db = connect(settings, "centre")
    yield db
    db.conn.close()


@pytest.fixture
def make_app(settings):
    """The centre's app on the test's data directory, optionally with an inventory in code."""
    from nms import server

    def make(inventory=None):
        app = server.create_app(settings)
        if inventory is not None:
            app.config["NMS_INVENTORY"] = inventory
        return app

    return make
