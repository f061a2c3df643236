"""Which real walk each kind of inventory device answers from, loaded once per kind.

Walks come from the BSD-licensed ``snmpsim-data`` package (never the GPL LibreNMS
files) or, where no public walk exists, from ``probes/sim/recordings``.  Parsed
walks are cached in memory and shared by every device of the same kind, and on
disk (pickle keyed by file size and mtime) so the province starts in seconds.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import threading
from collections import Counter
from pathlib import Path

from probes.sim.snmprec import Walk, parse_file
from probes.sim.view import KindView

RECORDINGS = Path(__file__).resolve().parent / "recordings"

# (vendor, role) -> walk; "*" matches any role.  Paths starting "data:" are inside
# the snmpsim-data package, others are relative to RECORDINGS.
WALKS: dict[tuple[str, str], str] = {
    ("huawei", "*"): "data:network/router/huawei-s5720.snmprec.bz2",
    ("h3c", "*"): "data:network/switch/h3c-comware-7-1-075.snmprec.bz2",
    ("ruijie", "*"): "data:network/switch/ruijie-s5750-24gt12sfp.snmprec.bz2",
    ("zte", "*"): "data:network/switch/zte-zrx10.snmprec.bz2",
    ("topsec", "*"): "data:network/firewall/topsec-ngfw4000-uf.snmprec.bz2",
    ("venustech", "*"): "data:network/firewall/venus-unknown-001.snmprec.bz2",
    ("sangfor", "*"): "data:network/firewall/sangfor-ad1800-fp2.snmprec.bz2",
    ("maipu", "*"): "data:network/switch/maipu-sm4200-16gef8ge-ac.snmprec.bz2",
    ("dptech", "*"): "data:network/switch/dptech-dpx800-a5.snmprec.bz2",
    ("nsfocus", "*"): "data:network/firewall/nsfocus-osms.snmprec.bz2",
    ("legendsec", "*"): "data:network/firewall/legend-holdings-firewall.snmprec.bz2",
    ("netentsec", "*"): "data:network/firewall/netentsec-ngfw.snmprec.bz2",
    ("infosec", "*"): "data:network/appliance/infosec-nsae-6500.snmprec.bz2",
    ("cipher", "*"): "cipher-gateway.snmprec",
    ("*", "cipher"): "cipher-gateway.snmprec",
    ("*", "server"): "data:os/linux/unknown-006.snmprec.bz2",
    # No public walk of a Hillstone (the LibreNMS one is GPL): a Venustech firewall
    # walk stands in for it, with sysDescr/sysObjectID overlaid (see overlays.py).
    ("*", "firewall"): "data:network/firewall/venus-unknown-001.snmprec.bz2",
    ("*", "router"): "data:network/router/huawei-s5720.snmprec.bz2",
    ("*", "switch"): "data:network/switch/ruijie-s5750-24gt12sfp.snmprec.bz2",
}
# Extra recordings laid over the base walk for some kinds.
OVERLAY_RECORDINGS: dict[tuple[str, str], str] = {
    ("huawei", "firewall"): "huawei-usg.snmprec",
    # the vendor MIB's system scalars / unit table, which the stand-in walks lack
    ("hillstone", "firewall"): "hillstone-stoneos.snmprec",
    ("zte", "switch"): "zte-zxr10.snmprec",
}
# Subtrees (first 9 arcs) bigger than this are dropped: FDB/vendor tables of tens of
# thousands of rows that no poller reads would cost memory for every kind.
MAX_SUBTREE_ROWS = 20000
CACHE_VERSION = 3  # bump when Walk/KindView or the encoders change
_KEEP_PREFIXES = ((1, 3, 6, 1, 2, 1, 2), (1, 3, 6, 1, 2, 1, 31), (1, 3, 6, 1, 2, 1, 1))


def data_dir() -> Path:
    import snmpsim_data

    return Path(snmpsim_data.__file__).resolve().parent / "data"


def resolve_path(ref: str) -> Path:
    if ref.startswith("data:"):
        return data_dir() / ref[5:]
    return RECORDINGS / ref


def walk_for(vendor: str, role: str) -> str:
    vendor, role = vendor.lower(), role.lower()
    for key in ((vendor, role), (vendor, "*"), ("*", role)):
        if key in WALKS:
            return WALKS[key]
    return WALKS[("*", "router")]


def overlay_for(vendor: str, role: str) -> str | None:
    return OVERLAY_RECORDINGS.get((vendor.lower(), role.lower()))


def trim(walk: Walk) -> Walk:
    counts = Counter(o[:9] for o in walk.oids)
    big = {p for p, n in counts.items() if n > MAX_SUBTREE_ROWS}
    big = {p for p in big if not any(p[: len(k)] == k for k in _KEEP_PREFIXES)}
    if not big:
        return walk
    keep = [i for i, o in enumerate(walk.oids) if o[:9] not in big]
    return Walk(oids=[walk.oids[i] for i in keep], values=[walk.values[i] for i in keep],
                skipped=walk.skipped)


class WalkCache:
    """Parsed walks by reference, parsed at most once per process (thread-safe)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        default = Path(os.environ.get("NMS_SIM_CACHE", Path(tempfile.gettempdir()) / "province-sim-cache"))
        self.cache_dir = cache_dir or default
        self._walks: dict[str, Walk] = {}
        self._lock = threading.Lock()

    def get(self, ref: str) -> Walk:
        with self._lock:
            if ref not in self._walks:
                path = resolve_path(ref)
                self._walks[ref] = self._cached(
                    [path], Walk, lambda: trim(parse_file(path, strict=not path.name.endswith(".bz2"))))
            return self._walks[ref]

    def kind(self, ref: str, overlay: str | None) -> KindView:
        """The encoded view of a walk (plus overlay recording), cached on disk too."""
        paths = [resolve_path(ref)] + ([resolve_path(overlay)] if overlay else [])
        return self._cached(paths, KindView,
                            lambda: KindView(self.get(ref), self.get(overlay) if overlay else None))

    def _safe_dir(self) -> bool:
        """Pickles are code: only use a cache directory that is ours and private."""
        try:
            self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = self.cache_dir.stat()
        except OSError:
            return False
        return st.st_uid == os.getuid() and not st.st_mode & 0o022

    def _cached(self, paths: list[Path], kind: type, build):  # noqa: ANN001, ANN202
        if not self._safe_dir():
            return build()
        sig = "|".join(f"{p}|{p.stat().st_size}|{p.stat().st_mtime_ns}" for p in paths)
        key = hashlib.sha1(f"{kind.__name__}|{sig}|{MAX_SUBTREE_ROWS}|{CACHE_VERSION}".encode()).hexdigest()
        cached = self.cache_dir / f"{key}.pickle"
        try:
            with cached.open("rb") as fh:
                obj = pickle.load(fh)
            if isinstance(obj, kind):
                return obj
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass
        obj = build()
        try:
            tmp = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            with tmp.open("wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(cached)
        except OSError:
            pass  # a cache we cannot write only costs start-up time
        return obj


SHARED = WalkCache()
