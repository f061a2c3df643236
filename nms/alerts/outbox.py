"""Sending what the engine queued: retries with back-off, a per-recipient rate limit, a log.

The engine only inserts ``alert_notifications`` rows; :class:`Outbox` (run by a
:class:`Sender` thread or ``nms alerts run``) delivers them.  Every attempt is a row of
``alert_notification_log``; a slow or dead gateway delays only its own notifications.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from nms.alerts.channels import ChannelConfig, ChannelError
from nms.db import Database, transaction

log = logging.getLogger(__name__)
# A row being sent is due again only this long after it was taken: a sender that died
# mid-send leaves it to be tried again then, not never.
SEND_LEASE_S = 120.0


class Outbox:
    def __init__(self, channels: ChannelConfig) -> None:
        self.channels = channels

    def backoff(self, attempts: int) -> float:
        return min(self.channels.backoff_s * 2 ** max(attempts - 1, 0), self.channels.backoff_max_s)

    def _log(self, db: Database, nid: int, now: float, ok: bool, detail: str) -> None:
        db.execute(
            "INSERT INTO alert_notification_log (notification_id, ts, ok, detail) VALUES (?, ?, ?, ?)",
            (nid, now, int(ok), detail[:500]),
        )

    def _over_limit(self, db: Database, channel: str, recipient: str, now: float) -> bool:
        n = db.execute(
            "SELECT COUNT(*) FROM alert_notifications WHERE channel = ? AND recipient = ? AND status = 'sent'"
            " AND last_ts > ?",
            (channel, recipient, now - self.channels.rate_window_s),
        ).fetchone()[0]
        return n >= self.channels.rate_limit

    def run_once(
        self,
        db: Database,
        now: float | None = None,
        limit: int = 200,
        channel: str | None = None,
    ) -> int:
        """Attempt every due notification (of one channel, if given) once; returns how many were attempted.

        After a channel fails in a pass, its other due rows are not tried in that pass (a dead
        gateway costs one timeout per pass, not one per queued message); they wait ``backoff_s``.
        """
        now = time.time() if now is None else now
        where = "status IN ('queued', 'retry') AND next_ts <= ?"
        args: tuple = (now,)
        if channel is not None:
            where += " AND channel = ?"
            args += (channel,)
        rows = db.execute(
            "SELECT id, channel, recipient, attempts, next_ts, payload FROM alert_notifications"
            f" WHERE {where} ORDER BY id LIMIT ?",
            (*args, limit),
        ).fetchall()
        failing: set[str] = set()
        tried = 0
        for nid, ch, recipient, attempts, due, payload in rows:
            if ch in failing:
                with transaction(db):
                    db.execute(
                        "UPDATE alert_notifications SET next_ts = ? WHERE id = ?",
                        (now + self.channels.backoff_s, nid),
                    )
                continue
            if not self._take(db, nid, due):
                continue  # another sender (a second centre, by accident) took it since we read it
            tried += 1
            if self.attempt(db, nid, ch, recipient, attempts, json.loads(payload)) == "retry":
                failing.add(ch)
        return tried

    def _take(self, db: Database, nid: int, due: float) -> bool:
        """Claim a due row for this attempt (compare-and-set on its ``next_ts``): a row two
        senders read is sent by one of them only."""
        with transaction(db):
            cur = db.execute(
                "UPDATE alert_notifications SET next_ts = ? WHERE id = ? AND next_ts = ?"
                " AND status IN ('queued', 'retry')",
                (time.time() + SEND_LEASE_S, nid, due),
            )
            return cur.rowcount == 1

    def attempt(
        self,
        db: Database,
        nid: int,
        channel: str,
        recipient: str,
        attempts: int,
        payload: dict[str, Any],
    ) -> str:
        now = time.time()
        ch = self.channels.channels.get(channel)
        if ch is None:
            return self._finish(db, nid, now, attempts, "failed", f"no channel {channel!r} in channels.yaml")
        if self._over_limit(db, channel, recipient, now):
            return self._finish(
                db,
                nid,
                now,
                attempts,
                "rate_limited",
                f"recipient over {self.channels.rate_limit} per {int(self.channels.rate_window_s)} s;"
                " not sent",
            )
        try:
            detail = ch.send(recipient, payload)
        except ChannelError as exc:
            return self._failed(db, nid, now, attempts + 1, str(exc))
        except Exception as exc:  # a bug in one channel must not stop the sender
            log.exception("channel %s failed", channel)
            return self._failed(db, nid, now, attempts + 1, f"{type(exc).__name__}: {exc}")
        return self._finish(db, nid, now, attempts + 1, "sent", detail, ok=True)

    def _failed(self, db: Database, nid: int, now: float, attempts: int, error: str) -> str:
        if attempts >= self.channels.max_attempts:
            return self._finish(
                db, nid, now, attempts, "failed", f"{error} (gave up after {attempts} attempts)"
            )
        nxt = now + self.backoff(attempts)
        with transaction(db):
            db.execute(
                "UPDATE alert_notifications SET status = 'retry', attempts = ?, last_ts = ?, next_ts = ?,"
                " last_error = ? WHERE id = ?",
                (attempts, now, nxt, error, nid),
            )
            self._log(db, nid, now, False, error)
        log.warning("notification %s failed (attempt %s): %s", nid, attempts, error)
        return "retry"

    def _finish(
        self,
        db: Database,
        nid: int,
        now: float,
        attempts: int,
        status: str,
        detail: str,
        ok: bool = False,
    ) -> str:
        with transaction(db):
            db.execute(
                "UPDATE alert_notifications SET status = ?, attempts = ?, last_ts = ?, next_ts = NULL,"
                " last_error = ? WHERE id = ?",
                (status, attempts, now, None if ok else detail, nid),
            )
            self._log(db, nid, now, ok, detail)
        return status


class Sender:
    """One thread per channel draining the outbox every ``poll_s`` seconds, each on its own connection,
    so a hanging SMS gateway delays SMS only, never e-mail, webhooks or Alertmanager."""

    def __init__(
        self,
        connect_db,
        channels: ChannelConfig,
        poll_s: float = 1.0,
        active: Callable[[], bool] | None = None,
    ) -> None:
        self.connect_db, self.outbox, self.poll_s = connect_db, Outbox(channels), poll_s
        self.active = active  # None: always; else sends only while it says so (the alerts leader)
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(name,), name=f"alert-sender-{name}", daemon=True)
            for name in channels.channels
        ]

    def start(self) -> Sender:
        for t in self.threads:
            t.start()
        return self

    def _run(self, channel: str) -> None:
        db = self.connect_db()
        try:
            while not self.stopping.is_set():
                try:
                    if self.active is None or self.active():
                        self.outbox.run_once(db, channel=channel)
                except Exception:
                    log.exception("alert sender pass for %s failed", channel)
                self.stopping.wait(self.poll_s)
        finally:
            db.conn.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout)
