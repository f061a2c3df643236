"""Alerts: rules as data, lifecycle, root cause from the topology, and notifications.

See docs/alerts.md.  Evaluation (:mod:`nms.alerts.engine`) only reads what other modules
wrote and writes ``alert_*`` rows; sending (:mod:`nms.alerts.outbox`) runs apart from it.
"""
