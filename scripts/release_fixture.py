"""Make the upgrade test's fixture: a populated centre made by a *released* version's own code.

``tests/centre/test_upgrade.py`` loads ``tests/fixtures/release-<commit>/{centre,metrics}.sql``
into fresh SQLite files and checks today's ``nms.schema.migrate`` upgrades them with nothing
lost.  The dumps must come from the release, not from today's code (which would only prove
today's schema upgrades itself), so this script checks that commit out in a temporary git
worktree and runs *its* modules in a child process (``PYTHONPATH`` = the checkout):
accounts and tokens (its demo's ``issue_tokens``), part of the shipped address plan, a few
allocations and a request, five minutes of polls for two agents' devices through
``nms.pipeline.ingest_batch`` (samples, state, events), an alert evaluation with an
acknowledgement, comment and silence, a maintenance window, two configuration versions,
portal checks and trap/syslog events.  Then ``sqlite3 .dump`` of both files, with the
biggest tables cut to ``--max-rows`` rows (the test compares rows, not their number).

Run from the repository root (needs git and the sqlite3 shell)::

    python3 scripts/release_fixture.py            # default: release 576817c
    python3 scripts/release_fixture.py --release <commit> --max-rows 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RELEASE = "576817c"
AGENTS = ("hefei", "province")  # whose devices get polled (every device of the inventory would be large)


def build(out: Path) -> None:  # noqa: PLR0915 - one linear script, section by section
    """Runs inside the release's checkout: populate ``out/{centre,metrics}.db`` with its code."""
    import time

    from ipam import allocate as ipam_allocate
    from ipam import csvio
    from ipam import store as ipam_store
    from ipam import workflow as ipam_workflow
    from nms import maintenance
    from nms.alerts import runner as alerts_runner
    from nms.alerts import store as alerts_store
    from nms.auth import tokens, users
    from nms.config import Settings
    from nms.configs import store as configs_store
    from nms.configs.fetch import FetchResult, Target
    from nms.demo import issue_tokens
    from nms.events import store as events_store
    from nms.pipeline import ingest_batch
    from nms.portals import store as portals_store
    from nms.schema import open_migrated
    from probes.common.inventory import load_inventory
    from tests.centre.helpers import poll  # the release's own poll results, as its tests send them

    os.environ["NMS_DATA_DIR"] = str(out)
    os.environ["NMS_INVENTORY"] = str(Path.cwd() / "inventory.yaml")
    settings = Settings()
    inv = load_inventory(settings.inventory_path)
    now = time.time() - 900
    issue_tokens(settings, inv)
    db = open_migrated(settings, "centre")
    mdb = open_migrated(settings, "metrics")
    root = next(s.id for s in inv.sites.values() if s.parent is None)
    city = next(s.id for s in inv.sites.values() if s.parent == root)
    users.create(db, "ops-city", "operator", city, "Fixture-pass-0001", actor="admin", reason="fixture")
    users.create(db, "viewer", "viewer", root, "Fixture-pass-0002", actor="admin")
    tokens.create(db, "kiosk", actor="admin", label="wall", expires_days=30)
    users.verify_password(db, "viewer", "wrong password")  # a failed login, if recorded

    # IPAM: part of the shipped plan (IPv4 and IPv6), allocations from the first pools, one request.
    lines = (Path.cwd() / "ipam" / "data" / "address_plan.csv").read_text(encoding="utf-8").splitlines()
    part = lines[:90] + [line for line in lines if ":" in line.split(",")[1]][:20]
    csvio.import_csv(
        db,
        "\n".join(part) + "\n",
        actor="admin",
        known_sites=set(inv.sites),
        reason="fixture: part of the shipped address plan",
    )
    pools = ipam_store.query(db, None, pools_only=True, family=4)[:3]
    for i, pool in enumerate(pools):
        for j in range(3):
            ipam_allocate.allocate(
                db,
                pool.id,
                actor="admin",
                plen=29 if pool.family == 4 else 64,
                purpose=f"fixture {i}.{j}",
                idempotency_key=f"fx-{i}-{j}",
                reason="fixture allocation",
            )
    try:
        space = ipam_store.spaces(db)[0]["name"]
        ipam_workflow.create(
            db,
            None,
            actor="ops-city",
            site=city,
            space=space,
            family=4,
            plen=28,
            purpose="new office",
            justification="fixture request",
        )
    except (TypeError, ValueError) as exc:  # the signature of that release: say so, carry on
        print(f"fixture: no IPAM request ({exc})", file=sys.stderr)

    # Polls of two agents' devices, five minutes, one device failing in the last three.
    for agent in AGENTS:
        devices = [d.name for d in inv.devices_of_agent(agent)][:12]
        for k in range(5):
            ts = float(int(now // 60) * 60 + 60 * k)
            samples = [poll(d, ts, ok=not (k >= 2 and i == 0)) for i, d in enumerate(devices)]
            body = {"agent": agent, "epoch": "fixture-epoch", "seq": k + 1, "samples": samples}
            ingest_batch(mdb, db, agent, body, inv, now=ts + 5)
    site_of = {d.name: d.site for d in inv.devices.values()}
    dev = next(iter(inv.devices_of_agent("hefei"))).name
    events_store.store(
        db,
        "hefei",
        "fixture-epoch",
        99,
        [
            {
                "time": now,
                "source": "127.0.0.9",
                "device": dev,
                "kind": "link-down",
                "subject": "GE0/0/1",
                "severity": "major",
                "text": "ifIndex 2 down",
                "origin": "trap",
                "raw": "3026",
            },
            {
                "time": now + 1,
                "source": "127.0.0.9",
                "device": dev,
                "kind": "login-failed",
                "severity": "warning",
                "text": "SSH login failed for user x",
                "origin": "syslog",
            },
        ],
        site_of,
        now + 2,
    )

    # Alerts from that state, handled by an operator.
    engine = alerts_runner.build_engine(settings)
    for later in (280, 560):  # pending, then past the device-down grace period
        engine.evaluate(db, now + later, mdb)
    ids = [r[0] for r in db.execute("SELECT id FROM alert_alerts ORDER BY id LIMIT 3")]
    for n, alert_id in enumerate(ids):
        [alerts_store.acknowledge, alerts_store.comment, alerts_store.silence][n % 3](
            db,
            alert_id,
            "admin",
            *(["seen"] if n % 3 == 0 else ["a comment"] if n % 3 == 1 else [30, "muted"]),
        )
    maintenance.add_window(
        db, "device", dev, now, now + 3600, actor="admin", reason="fixture window", site=inv.devices[dev].site
    )

    # Two versions of a router's configuration.
    cred = next(iter(inv.ssh_credentials.values()), None)
    target = Target(dev, "127.0.0.9", 22, "huawei", cred, inv.devices[dev].site)
    for v, text in enumerate(
        ("sysname A\n#\ninterface GE0/0/1\n", "sysname A\n#\ninterface GE0/0/1\n shutdown\n")
    ):
        configs_store.record(
            db,
            target,
            FetchResult(dev, True, content=text, started=now + v, duration_s=0.2),
            "schedule",
            now=now + 60 * v,
        )

    # Portal checks of the first portal.
    portal = next(iter(inv.portals.values()), None)
    if portal is not None:
        results = [
            {
                "kind": "portal",
                "portal": portal.id,
                "ts": now + 60 * k,
                "status": 200,
                "findings": [],
                "timings_ms": {"total": 120.0, "dns": 2.0, "connect": 5.0, "tls": 20.0, "first_byte": 80.0},
                "fingerprint": "ab" * 16,
                "tls": {"days_left": 80},
            }
            for k in range(3)
        ]
        try:
            portals_store.apply_results(db, portal.agent, results, inv, now=now + 200)
        except (KeyError, TypeError, ValueError) as exc:
            print(f"fixture: no portal checks ({exc!r})", file=sys.stderr)
    db.conn.close()
    mdb.conn.close()


def dump(db_file: Path, target: Path, max_rows: int) -> None:
    """``sqlite3 .dump`` of a copy of ``db_file`` whose tables keep at most ``max_rows`` rows each.

    Rows are cut from the end (highest rowid), children before parents, then any row whose
    foreign key no longer points anywhere is dropped, so the dump loads with foreign keys on.
    """
    work = target.with_suffix(".tmp.db")
    shutil.copy(db_file, work)
    conn = sqlite3.connect(work)
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    triggers = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")]
    for name in [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
        conn.execute(f'DROP TRIGGER "{name}"')  # audit_log is append-only; the cut copy only
    for t in tables:
        key = (
            ", ".join(
                r[1] for r in sorted(conn.execute(f'PRAGMA table_info("{t}")'), key=lambda r: r[5]) if r[5]
            )
            or "rowid"
        )
        conn.execute(
            f'DELETE FROM "{t}" WHERE ({key}) NOT IN (SELECT {key} FROM "{t}" ORDER BY {key} LIMIT ?)',
            (max_rows,),
        )
    while bad := conn.execute("PRAGMA foreign_key_check").fetchall():
        for table, rowid, _parent, _fk in bad:
            conn.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
    for sql in triggers:
        conn.execute(sql)
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    text = subprocess.run(["sqlite3", str(work), ".dump"], check=True, capture_output=True, text=True).stdout
    target.write_text(text, encoding="utf-8")
    work.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--release", default=DEFAULT_RELEASE, help="commit of the release (default %(default)s)"
    )
    parser.add_argument("--out", type=Path, help="default tests/fixtures/release-<release>")
    parser.add_argument("--max-rows", type=int, default=150, help="rows kept per table (default %(default)s)")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # the child, inside the checkout
    args = parser.parse_args(argv)
    if args.build:
        build(args.build)
        return 0
    out = args.out or ROOT / "tests" / "fixtures" / f"release-{args.release}"
    with tempfile.TemporaryDirectory(prefix="nms-release-") as tmp:
        checkout, data = Path(tmp) / "src", Path(tmp) / "data"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(checkout), args.release],
            check=True,
            capture_output=True,
        )
        try:
            data.mkdir()
            env = {**os.environ, "PYTHONPATH": str(checkout)}
            env.pop("NMS_DATABASE_URL", None)  # the release knows only SQLite files
            subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--build", str(data)],
                check=True,
                cwd=checkout,
                env=env,
            )
            out.mkdir(parents=True, exist_ok=True)
            for name in ("centre", "metrics"):
                dump(data / f"{name}.db", out / f"{name}.sql", args.max_rows)
                print(f"{out / f'{name}.sql'}: {(out / f'{name}.sql').stat().st_size // 1024} KB")
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)], capture_output=True
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
