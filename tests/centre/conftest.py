from __future__ import annotations

import pytest


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
