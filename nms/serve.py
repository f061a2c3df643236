"""``nms serve``: the centre's web application under waitress, plus its periodic jobs.

Beside the web app run: the time-series rollup and retention, the expiry of IP ranges
held too long, the aging of devices whose agent went silent (every 15 s), the watch on
``inventory.yaml`` (a valid change is audited with a diff and served to the agents, a
broken one refused: :mod:`nms.inventory_changes`), and the alert
evaluator with its notification senders (unless ``--no-alerts``, e.g. when
``nms alerts run`` runs as its own process), and the configuration backup schedule
(:mod:`nms.configs.service`, unless ``--configs-interval 0``).

Several ``nms serve`` may share one PostgreSQL database (issue 19): each of these jobs runs
in one process at a time, the one that leads it (:mod:`nms.leader`); the others stand by
and take over within seconds when it dies.

Writes ``<data_dir>/serve.pid`` while running so ``nms restore`` can refuse to pull
the databases out from under a running centre.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Callable

from ipam.workflow import expire_holds
from nms import notify
from nms.alerts.runner import start_in_server
from nms.auth.scope import site_tree
from nms.config import Settings
from nms.configs import service as configs_service
from nms.db import connect
from nms.events.store import expire as expire_events
from nms.inventory_changes import watch_loop
from nms.leader import leader, ticks
from nms.pidfile import PIDFILE
from nms.pipeline import expire_batches
from nms.portals import store as portal_store
from nms.server import create_app
from nms.state import age_out
from nms.timeseries import open_timeseries
from nms.updates import notify_state_updated
from probes.common.inventory_model import Inventory

log = logging.getLogger(__name__)


def rollup_loop(settings: Settings, every_s: float, stop: threading.Event) -> None:
    """Compact finished hours, apply retention, expire IP holds and old events, forever.

    A failure is logged, not fatal: the next round tries again.  Only the leader of ``rollup`` runs it.
    """
    for _ in ticks(leader(settings, "rollup"), stop, every_s):
        try:
            db = connect(settings, "metrics")
            try:
                store, now = open_timeseries(settings, db), time.time()
                stats = store.rollup(now)
                batches = expire_batches(db, now - store.retention.raw_s)  # records as long as raw samples
                log.info("rollup: %s, %d batch records expired", stats, batches)
            finally:
                db.conn.close()
        except Exception:
            log.exception("rollup failed; will retry")
        try:
            db = connect(settings, "centre")
            try:
                if released := expire_holds(db):
                    log.info("ipam: released %d expired holds: %s", len(released), ", ".join(released))
                if gone := expire_events(db, time.time()):
                    log.info("event log: %d events past retention deleted", gone)
                if checks := portal_store.expire(db, time.time() - portal_store.CHECKS_KEEP_S):
                    log.info("portals: %d checks past retention deleted", checks)
            finally:
                db.conn.close()
        except Exception:
            log.exception("ipam hold expiry failed; will retry")


def aging_loop(
    settings: Settings, inventory: Callable[[], Inventory | None], every_s: float, stop: threading.Event
) -> None:
    """Age out devices not heard from (:func:`nms.state.age_out`), forever, and wake the alerts.

    Its own short period, apart from the rollup: an agent that went silent sends no batch
    that could do it.  A failure is logged, not fatal: the next round tries again.  Only the
    leader of ``state-aging`` runs it.
    """
    for _ in ticks(leader(settings, "state-aging"), stop, every_s):
        try:
            db = connect(settings, "centre")
            try:
                changes = age_out(db, inventory())
            finally:
                db.conn.close()
            if changes:
                log.info("state: %d changes from devices not heard from", changes)
                notify_state_updated()
        except Exception:
            log.exception("state aging failed; will retry")


# What the proxy of deploy/nginx/nms.conf sets; waitress rewrites REMOTE_ADDR, the scheme and
# the host from them, only for a connection from the trusted proxy address.
PROXY_HEADERS = "x-forwarded-for x-forwarded-proto x-forwarded-host x-forwarded-port"


def proxy_options(settings: Settings) -> dict[str, object]:
    """waitress options trusting ``NMS_TRUSTED_PROXY`` (one hop) and nobody else."""
    if not settings.trusted_proxy:
        return {}
    return {
        "trusted_proxy": settings.trusted_proxy,
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": PROXY_HEADERS,
        "clear_untrusted_proxy_headers": True,
    }


def run(args: argparse.Namespace) -> int:
    from waitress import create_server

    settings = Settings()
    host = args.host or settings.listen_host
    port = settings.listen_port if args.port is None else args.port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    server = create_server(app, host=host, port=port, threads=args.threads, **proxy_options(settings))
    pidfile = settings.path(PIDFILE)
    pidfile.write_text(f"{os.getpid()}\n")
    stop = threading.Event()
    notify.start(settings)  # PostgreSQL: changes here wake the other centres' waiters, and theirs ours
    if args.rollup_every > 0:
        threading.Thread(target=rollup_loop, args=(settings, args.rollup_every, stop), daemon=True).start()
    if args.age_every > 0:
        threading.Thread(
            target=aging_loop,
            args=(settings, lambda: site_tree(app), args.age_every, stop),
            name="state-aging",
            daemon=True,
        ).start()
    configs_service.start_in_server(settings, args, stop)
    if args.inventory_every > 0:
        threading.Thread(
            target=watch_loop,
            args=(settings, args.inventory_every, stop),
            name="inventory-watch",
            daemon=True,
        ).start()
    alerts = None
    if not args.no_alerts:
        alerts = start_in_server(settings)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"nms serve: listening on http://{shown}:{server.effective_port}/ (data {settings.data_dir})",
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if alerts is not None:
            alerts.stop()
        notify.stop()
        time.sleep(0)
        try:
            if pidfile.read_text().strip() == str(os.getpid()):
                pidfile.unlink()
        except OSError:
            pass
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the centre (web UI, APIs, ingest)")
    p.add_argument("--host", help="listen address (default NMS_LISTEN_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default NMS_LISTEN_PORT or 8080; 0 = any free)")
    p.add_argument("--threads", type=int, default=8, help="request threads (default 8)")
    p.add_argument(
        "--rollup-every", type=float, default=300.0, help="seconds between rollup/retention runs (0 = never)"
    )
    p.add_argument(
        "--age-every",
        type=float,
        default=5.0,  # cheap when nothing is stale or cut; a cut city is unreachable within seconds
        help="seconds between marking silent devices unknown/unreachable (0 = never)",
    )
    p.add_argument(
        "--inventory-every",
        type=float,
        default=5.0,
        help="seconds between looks at inventory.yaml for a change to validate and audit (0 = never)",
    )
    p.add_argument(
        "--no-alerts", action="store_true", help="do not evaluate alerts here (run `nms alerts run` instead)"
    )
    configs_service.add_arguments(p)
    p.set_defaults(func=run)
