"""The ``ipam_*`` tables in centre.db, created idempotently.

A prefix's place in the tree is ``parent_id`` (0 at the top of a space); siblings
never overlap, so one index on (space, family, parent, network) answers "what is
next to this block" with a single range step.  The UNIQUE constraint is the last
line against duplicates if every check above it were somehow bypassed.
"""

from __future__ import annotations

from nms import audit
from nms.db import Database

STATUSES = ("container", "allocated", "reserved", "deprecated")
POLICIES = ("first", "best", "last")
REQUEST_STATUSES = ("pending", "approved", "rejected", "expired", "released")

_DDL = [
    """CREATE TABLE IF NOT EXISTS ipam_spaces (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT ''
    )""",
    f"""CREATE TABLE IF NOT EXISTS ipam_prefixes (
        id INTEGER PRIMARY KEY,
        space_id INTEGER NOT NULL REFERENCES ipam_spaces(id),
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        network BLOB NOT NULL CHECK (length(network) = 16),
        last BLOB NOT NULL CHECK (length(last) = 16),
        plen INTEGER NOT NULL CHECK (plen >= 0 AND plen <= 128),
        parent_id INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN {STATUSES!r}),
        is_pool INTEGER NOT NULL DEFAULT 0,
        policy TEXT NOT NULL DEFAULT 'first' CHECK (policy IN {POLICIES!r}),
        site TEXT,
        purpose TEXT NOT NULL DEFAULT '',
        request_id INTEGER,
        hold_until REAL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        used TEXT NOT NULL DEFAULT '0',
        alloc TEXT NOT NULL DEFAULT '0',
        n_children INTEGER NOT NULL DEFAULT 0,
        UNIQUE (space_id, family, network, plen)
    )""",
    "CREATE INDEX IF NOT EXISTS ipam_prefixes_sib ON ipam_prefixes(space_id, family, parent_id, network)",
    "CREATE INDEX IF NOT EXISTS ipam_prefixes_range ON ipam_prefixes(space_id, family, network, last)",
    "CREATE INDEX IF NOT EXISTS ipam_prefixes_site ON ipam_prefixes(site, is_pool)",
    "CREATE INDEX IF NOT EXISTS ipam_prefixes_hold ON ipam_prefixes(hold_until) WHERE hold_until IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS ipam_addresses (
        id INTEGER PRIMARY KEY,
        space_id INTEGER NOT NULL REFERENCES ipam_spaces(id),
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        address BLOB NOT NULL CHECK (length(address) = 16),
        prefix_id INTEGER NOT NULL REFERENCES ipam_prefixes(id),
        status TEXT NOT NULL DEFAULT 'active',
        device TEXT,
        dns_name TEXT,
        description TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        UNIQUE (space_id, family, address)
    )""",
    "CREATE INDEX IF NOT EXISTS ipam_addresses_prefix ON ipam_addresses(prefix_id)",
    f"""CREATE TABLE IF NOT EXISTS ipam_requests (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        space_id INTEGER NOT NULL REFERENCES ipam_spaces(id),
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        plen INTEGER NOT NULL,
        hosts INTEGER,
        purpose TEXT NOT NULL,
        justification TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN {REQUEST_STATUSES!r}),
        requester TEXT NOT NULL,
        created_at REAL NOT NULL,
        decided_by TEXT,
        decided_at REAL,
        reason TEXT,
        prefix_id INTEGER,
        prefix TEXT,
        hold_days REAL
    )""",
    "CREATE INDEX IF NOT EXISTS ipam_requests_site ON ipam_requests(site, status)",
    """CREATE TABLE IF NOT EXISTS ipam_notifications (
        id INTEGER PRIMARY KEY,
        recipient TEXT NOT NULL,
        ts REAL NOT NULL,
        request_id INTEGER,
        message TEXT NOT NULL,
        seen INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS ipam_notifications_recipient ON ipam_notifications(recipient, seen)",
    """CREATE TABLE IF NOT EXISTS ipam_idempotency (
        key TEXT PRIMARY KEY,
        actor TEXT NOT NULL,
        params TEXT NOT NULL,
        prefix_id INTEGER NOT NULL,
        ts REAL NOT NULL
    )""",
    # the free-space index (ipam.freespace): each container's free space as maximal CIDR blocks
    """CREATE TABLE IF NOT EXISTS ipam_free (
        pool_id INTEGER NOT NULL,
        network BLOB NOT NULL,
        plen INTEGER NOT NULL,
        PRIMARY KEY (pool_id, network)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS ipam_free_size ON ipam_free(pool_id, plen, network)",
    "CREATE TABLE IF NOT EXISTS ipam_free_pools (pool_id INTEGER PRIMARY KEY)",
    # what the polls saw (ipam.observed): addresses on interfaces and in ARP/ND tables, with
    # first/last seen; ``current`` = in the device's latest address poll
    """CREATE TABLE IF NOT EXISTS ipam_seen (
        id INTEGER PRIMARY KEY,
        space_id INTEGER NOT NULL REFERENCES ipam_spaces(id),
        family INTEGER NOT NULL CHECK (family IN (4, 6)),
        address BLOB NOT NULL CHECK (length(address) = 16),
        kind TEXT NOT NULL CHECK (kind IN ('interface', 'arp')),
        mac TEXT NOT NULL DEFAULT '',
        device TEXT NOT NULL,
        site TEXT NOT NULL,
        ifname TEXT NOT NULL DEFAULT '',
        plen INTEGER,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        current INTEGER NOT NULL DEFAULT 1,
        UNIQUE (device, kind, space_id, family, address, mac, ifname)
    )""",
    "CREATE INDEX IF NOT EXISTS ipam_seen_addr ON ipam_seen(space_id, family, address)",
    "CREATE INDEX IF NOT EXISTS ipam_seen_current ON ipam_seen(current, site)",
    """CREATE TABLE IF NOT EXISTS ipam_lldp_seen (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        site TEXT NOT NULL,
        local_port TEXT NOT NULL,
        remote_name TEXT NOT NULL DEFAULT '',
        remote_port TEXT NOT NULL DEFAULT '',
        remote_chassis TEXT NOT NULL DEFAULT '',
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        current INTEGER NOT NULL DEFAULT 1,
        UNIQUE (device, local_port, remote_name, remote_port)
    )""",
    # one row per device: its latest address poll and what was wrong with it
    """CREATE TABLE IF NOT EXISTS ipam_address_polls (
        device TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        space_id INTEGER NOT NULL,
        first_ts REAL NOT NULL,
        ts REAL NOT NULL,
        rows INTEGER NOT NULL,
        stored INTEGER NOT NULL,
        bad INTEGER NOT NULL,
        outside INTEGER NOT NULL,
        duplicates INTEGER NOT NULL,
        had_interfaces INTEGER NOT NULL
    )""",
    # an operator's decision on a reconciliation finding (ipam.findings): dismissed with a reason
    """CREATE TABLE IF NOT EXISTS ipam_findings (
        key TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('dismissed', 'accepted')),
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        ts REAL NOT NULL
    )""",
]

DEFAULT_SPACES = (("专网", "internal network (专网)"), ("外网", "external network (外网)"))


def ensure_schema(db: Database) -> None:
    for ddl in _DDL:
        db.execute(ddl)
    # free_hint / fit_hints columns of older databases are left in place, unused: ipam_free replaced them
    for name, description in DEFAULT_SPACES:
        db.execute("INSERT OR IGNORE INTO ipam_spaces (name, description) VALUES (?, ?)", (name, description))
    audit.ensure_schema(db)
