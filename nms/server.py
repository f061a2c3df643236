"""The centre's one web application: ingest API, centre APIs, IPAM and dashboards.

Blueprints come from a fixed list so the access-control suite can walk every route.
"""

from __future__ import annotations

import importlib

from flask import Flask

from nms import db, schema
from nms.auth.enforce import install
from nms.config import Settings

BLUEPRINT_MODULES = (
    "nms.auth.views",
    "nms.ingest",
    "nms.agentconfig",
    "nms.api",
    "nms.alerts.api",
    "nms.events.api",
    "nms.configs.views",
    "ipam.api",
    "ipam.views",
    "dashboards.views",
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    schema.migrate(settings)
    app = Flask("nms", template_folder=None)
    app.config["NMS_SETTINGS"] = settings
    app.config["TESTING"] = settings.testing
    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    db.init_app(app)
    install(app)
    return app
