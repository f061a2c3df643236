"""Benchmark of ingest validation: today's hand-written checks, pydantic v2 and msgspec.

What it does (say it exactly, the figures depend on it):

1. Builds one province minute as the agents send it: every device of ``inventory.yaml``
   (1,008) with ``--ifaces`` interfaces each (20: listed ones, then generic ports), health,
   sessions for firewalls, an ICMP block; one batch per agent, encoded as JSON bytes the way
   the agent's spool writes them.
2. Decodes and validates every batch of that minute ``--repeat`` times with
   (a) ``json.loads`` + the hand-written validator the centre had before pydantic (kept
   below, verbatim, as the baseline), (b1) ``json.loads`` + ``Batch.model_validate`` (what
   ``nms.pipeline.validate_batch`` does), (b2) ``Batch.model_validate_json`` on the bytes,
   (c) ``msgspec.json.decode`` into Structs of the same shape and limits.
3. Runs the same minute through the whole ingest path (``nms.pipeline.ingest_batch`` into
   temporary ``metrics.db``/``centre.db``: validation, storage, state) to say what share of
   ingest CPU validation is.

Prints batches/s and polls/s of each way and the ratios.  Run:
``python bench/validation.py [--ifaces 20] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nms.config import Settings  # noqa: E402
from nms.db import connect  # noqa: E402
from nms.pipeline import ingest_batch  # noqa: E402
from probes.common.inventory import load_inventory  # noqa: E402
from probes.result import Batch  # noqa: E402

COUNTERS = ("in_octets", "out_octets", "in_ucast_pkts", "out_ucast_pkts",
            "in_errors", "out_errors", "in_discards", "out_discards")  # fmt: skip


def province_minute(ifaces: int, ts: float, seed: int = 1) -> tuple[Any, dict[str, list[bytes]]]:
    """``(inventory, {agent: [batch bytes]})``: one minute of every device, one batch per agent."""
    rnd = random.Random(seed)
    inv = load_inventory(ROOT / "inventory.yaml")
    out: dict[str, list[bytes]] = {}
    for seq, agent in enumerate(sorted(inv.agents), 1):
        polls = []
        for dev in inv.devices_of_agent(agent):
            names = list(dev.interfaces)[:ifaces]
            names += [f"GigabitEthernet9/0/{k}" for k in range(ifaces - len(names))]
            itfs = []
            for i, name in enumerate(names):
                up = rnd.random() > 0.25
                row: dict[str, Any] = {"index": i + 1, "name": name, "descr": name, "alias": "", "type": 6,
                                       "speed_bps": 1_000_000_000, "admin": "up", "hc": True,
                                       "oper": "up" if up else "down", "discontinuity": 0}  # fmt: skip
                row |= {k: rnd.randrange(2**40) if up else 0 for k in COUNTERS}
                row |= {k: rnd.random() * 1e8 if up else 0.0 for k in ("in_bps", "out_bps")}
                itfs.append(row)
            polls.append({
                "device": dev.name, "ts": ts + rnd.random(), "ok": True, "error": None,
                "duration_s": round(rnd.random(), 4), "profile": "huawei-vrp",
                "identity": {"sysName": dev.name, "sysDescr": "Huawei Versatile Routing Platform",
                             "sysObjectID": "1.3.6.1.4.1.2011.2.23.291", "uptime_s": 1234567.8,
                             "sysUpTime": 123456780},
                "interfaces": itfs,
                "health": {"cpu_pct": rnd.random() * 40, "mem_pct": 30 + rnd.random() * 40,
                           "temperature_c": 35.0 + rnd.random() * 10},
                "sessions": rnd.randrange(50000) if dev.role == "firewall" else None,
                "tunnels": [], "sdh": [], "failed": [],
                "icmp": {"alive": True, "rtt_ms": rnd.random() * 20, "loss_pct": 0.0, "sent": 1},
            })  # fmt: skip
        body = {"agent": agent, "epoch": "bench", "seq": seq, "samples": polls}
        out[agent] = [json.dumps(body, separators=(",", ":"), allow_nan=False).encode()]
    return inv, out


# ---- (a) the hand-written validator of nms/pipeline.py before pydantic (baseline, verbatim) ----


class BatchError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)


LAST_PLAUSIBLE_TS = 4102444800
IF_NUMBERS = (*COUNTERS, "in_bps", "out_bps", "speed_bps")
IF_STATUS = {"up", "down", "testing", "unknown", "dormant", "notPresent", "lowerLayerDown"}


def _number(value: Any, where: str, *, null: bool = True) -> None:
    if value is None and null:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BatchError(422, f"{where}: expected a number{' or null' if null else ''}, got {value!r:.40}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BatchError(422, f"{where}: not a finite number")


def _str(value: Any, where: str, *, null: bool = False) -> None:
    if value is None and null:
        return
    if not isinstance(value, str) or (not null and not value):
        raise BatchError(422, f"{where}: expected a non-empty string, got {value!r:.40}")


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BatchError(422, f"{where}: expected a list")
    return value


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise BatchError(422, f"{where}: expected an object")
    return value


def validate_poll(p: Any, where: str, now: float) -> None:
    """Check one poll result against the contract in docs/architecture.md."""
    p = _dict(p, where)
    _str(p.get("device"), f"{where}.device")
    _number(p.get("ts"), f"{where}.ts", null=False)
    if not (946684800 <= p["ts"] <= LAST_PLAUSIBLE_TS):
        raise BatchError(422, f"{where}.ts: {p['ts']} is not a plausible Unix time")
    if not isinstance(p.get("ok"), bool):
        raise BatchError(422, f"{where}.ok: expected true or false")
    _str(p.get("error"), f"{where}.error", null=True)
    if p.get("health") is not None:
        for k, v in _dict(p["health"], f"{where}.health").items():
            _number(v, f"{where}.health.{k}")
    _number(p.get("sessions"), f"{where}.sessions")
    _number(p.get("duration_s"), f"{where}.duration_s")
    icmp = p.get("icmp")
    if icmp is not None:
        icmp = _dict(icmp, f"{where}.icmp")
        if not isinstance(icmp.get("alive"), bool):
            raise BatchError(422, f"{where}.icmp.alive: expected true or false")
        _number(icmp.get("rtt_ms"), f"{where}.icmp.rtt_ms")
        _number(icmp.get("loss_pct"), f"{where}.icmp.loss_pct")
        if icmp.get("loss_pct") is not None and not 0 <= icmp["loss_pct"] <= 100:
            raise BatchError(422, f"{where}.icmp.loss_pct: {icmp['loss_pct']} is not between 0 and 100")
    if p.get("identity") is not None:
        ident = _dict(p["identity"], f"{where}.identity")
        _number(ident.get("uptime_s"), f"{where}.identity.uptime_s")
    names = set()
    for i, itf in enumerate(_list(p.get("interfaces"), f"{where}.interfaces")):
        w = f"{where}.interfaces[{i}]"
        itf = _dict(itf, w)
        _str(itf.get("name"), f"{w}.name")
        if itf["name"] in names:
            raise BatchError(422, f"{w}.name: {itf['name']!r} appears twice")
        names.add(itf["name"])
        _number(itf.get("index"), f"{w}.index")
        for k in IF_NUMBERS:
            _number(itf.get(k), f"{w}.{k}")
            if k.endswith(("_octets", "_pkts", "_errors", "_discards")) and itf.get(k) is not None:
                if not isinstance(itf[k], int) or itf[k] < 0:
                    raise BatchError(422, f"{w}.{k}: a counter is a non-negative integer")
        for k in ("admin", "oper"):
            if itf.get(k) is not None and itf[k] not in IF_STATUS:
                raise BatchError(422, f"{w}.{k}: {itf[k]!r} is not an ifOperStatus name")
    for i, t in enumerate(_list(p.get("tunnels"), f"{where}.tunnels")):
        t = _dict(t, f"{where}.tunnels[{i}]")
        if t.get("state") not in ("up", "down", "unknown"):
            raise BatchError(422, f"{where}.tunnels[{i}].state: expected up, down or unknown")
    for i, s in enumerate(_list(p.get("sdh"), f"{where}.sdh")):
        w = f"{where}.sdh[{i}]"
        s = _dict(s, w)
        _number(s.get("ifIndex"), f"{w}.ifIndex", null=False)
        for k in ("section_status", "line_status", "path_status"):
            if not all(isinstance(x, str) for x in _list(s.get(k), f"{w}.{k}")):
                raise BatchError(422, f"{w}.{k}: expected a list of strings")
        for j, b in enumerate(_list(s.get("buckets"), f"{w}.buckets")):
            b = _dict(b, f"{w}.buckets[{j}]")
            _number(b.get("interval_end"), f"{w}.buckets[{j}].interval_end", null=False)
            for k in ("es", "ses", "uas"):
                _number(b.get(k), f"{w}.buckets[{j}].{k}")
            for layer in ("section", "line", "path"):
                if b.get(layer) is not None:
                    for k, v in _dict(b[layer], f"{w}.buckets[{j}].{layer}").items():
                        _number(v, f"{w}.buckets[{j}].{layer}.{k}")

def hand_batch(body: Any) -> None:
    """The old ``validate_batch`` minus the inventory and clock checks (same in every way)."""
    if not isinstance(body, dict) or not isinstance(body.get("agent"), str):
        raise BatchError(400, "body")
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise BatchError(422, "seq")
    for i, p in enumerate(_list(body.get("samples"), "samples")):
        validate_poll(p, f"samples[{i}]", 0.0)


# ---- (c) msgspec Structs of the same shape and limits ----------------------------------------

Ctr = msgspec.Meta(ge=0)
Status = Literal["up", "down", "testing", "unknown", "dormant", "notPresent", "lowerLayerDown"]


class MInterface(msgspec.Struct, forbid_unknown_fields=False):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    index: float | None = None
    admin: Status | None = None
    oper: Status | None = None
    in_octets: Annotated[int, Ctr] | None = None
    out_octets: Annotated[int, Ctr] | None = None
    in_ucast_pkts: Annotated[int, Ctr] | None = None
    out_ucast_pkts: Annotated[int, Ctr] | None = None
    in_errors: Annotated[int, Ctr] | None = None
    out_errors: Annotated[int, Ctr] | None = None
    in_discards: Annotated[int, Ctr] | None = None
    out_discards: Annotated[int, Ctr] | None = None
    in_bps: float | None = None
    out_bps: float | None = None
    speed_bps: float | None = None


class MIcmp(msgspec.Struct):
    alive: bool
    rtt_ms: float | None = None
    loss_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None


class MIdentity(msgspec.Struct):
    uptime_s: float | None = None


class MTunnel(msgspec.Struct):
    state: Literal["up", "down", "unknown"]


class MBucket(msgspec.Struct):
    interval_end: float
    es: float | None = None
    ses: float | None = None
    uas: float | None = None
    section: dict[str, float | None] | None = None
    line: dict[str, float | None] | None = None
    path: dict[str, float | None] | None = None


class MSdh(msgspec.Struct):
    ifIndex: float  # noqa: N815 - the wire's name
    section_status: list[str] | None = None
    line_status: list[str] | None = None
    path_status: list[str] | None = None
    buckets: list[MBucket] | None = None


class MFailure(msgspec.Struct):
    plugin: str
    error: str


class MPoll(msgspec.Struct):
    device: Annotated[str, msgspec.Meta(min_length=1)]
    ts: Annotated[float, msgspec.Meta(ge=946684800, le=LAST_PLAUSIBLE_TS)]
    ok: bool
    error: str | None = None
    duration_s: float | None = None
    profile: str | None = None
    identity: MIdentity | None = None
    interfaces: list[MInterface] | None = None
    health: dict[str, float | None] | None = None
    sessions: float | None = None
    tunnels: list[MTunnel] | None = None
    sdh: list[MSdh] | None = None
    failed: list[MFailure] = []
    icmp: MIcmp | None = None


class MBatch(msgspec.Struct):
    agent: Annotated[str, msgspec.Meta(min_length=1)]
    seq: Annotated[int, Ctr]
    samples: list[MPoll]
    epoch: str = ""


_M_DECODER = msgspec.json.Decoder(MBatch)


def msgspec_batch(raw: bytes) -> None:
    b = _M_DECODER.decode(raw)
    for p in b.samples:  # what msgspec cannot say in a type: finite numbers, unique names
        for v in (p.health or {}).values():
            if v is not None and not math.isfinite(v):
                raise ValueError("health")
        names = [i.name for i in p.interfaces or ()]
        if len(set(names)) != len(names):
            raise ValueError("interfaces")


# ---- timing ------------------------------------------------------------------------------------


def rate(label: str, fn, raws: list[bytes], polls: int, repeat: int) -> float:
    fn(raws[0])  # warm up
    best = math.inf
    for _ in range(repeat):
        t = time.process_time()
        for raw in raws:
            fn(raw)
        best = min(best, time.process_time() - t)
    print(f"  {label:<46} {len(raws) / best:8.1f} batches/s {polls / best:9.0f} polls/s"
          f"  {best * 1000:7.1f} ms/minute")  # fmt: skip
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ifaces", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    now = float(int(time.time()) // 60 * 60)
    inv, by_agent = province_minute(args.ifaces, now - 30)
    raws = [r for rs in by_agent.values() for r in rs]
    polls = sum(len(json.loads(r)["samples"]) for r in raws)
    mb = sum(len(r) for r in raws) / 1e6
    print(f"bench/validation: one province minute = {len(raws)} agent batches, {polls} polls x "
          f"{args.ifaces} interfaces, {mb:.1f} MB of JSON; best of {args.repeat}, CPU time")  # fmt: skip
    for raw in raws:  # every way accepts the same batches
        hand_batch(json.loads(raw))
        Batch.model_validate(json.loads(raw))
        Batch.model_validate_json(raw)
        msgspec_batch(raw)
    t_dec = rate("json.loads only (no validation)", json.loads, raws, polls, args.repeat)
    t_a = rate("(a) json.loads + hand-written validator", lambda r: hand_batch(json.loads(r)), raws, polls,
               args.repeat)  # fmt: skip
    t_b1 = rate("(b1) json.loads + pydantic model_validate", lambda r: Batch.model_validate(json.loads(r)),
                raws, polls, args.repeat)  # fmt: skip
    t_b2 = rate("(b2) pydantic model_validate_json", Batch.model_validate_json, raws, polls, args.repeat)
    t_c = rate("(c) msgspec decode into Structs", msgspec_batch, raws, polls, args.repeat)
    print(f"ratios (time): b1/a {t_b1 / t_a:.2f}, b2/a {t_b2 / t_a:.2f}, c/a {t_c / t_a:.2f}, "
          f"b1/c {t_b1 / t_c:.1f}, b2/c {t_b2 / t_c:.1f}; json.loads alone is {t_dec / t_a:.0%} of (a)")

    with tempfile.TemporaryDirectory(prefix="nms-bench-valid-") as tmp:
        settings = Settings(data_dir=Path(tmp), inventory_path=ROOT / "inventory.yaml")
        mdb, cdb = connect(settings, "metrics"), connect(settings, "centre")
        total = 0.0
        for minute in range(3):  # the first minute creates every series and subject
            for seq, (agent, rs) in enumerate(by_agent.items(), 1):
                body = json.loads(rs[0])
                body["seq"] = minute * 1000 + seq
                for p in body["samples"]:
                    p["ts"] += 60 * minute
                t = time.process_time()
                ingest_batch(mdb, cdb, agent, body, inv, now=now + 60 * minute + 60)
                if minute:
                    total += time.process_time() - t
        ingest = total / 2 + t_dec  # the HTTP layer's json.loads is part of ingest too
    print(f"whole ingest of a minute (json.loads + ingest_batch: validate, store, state):"
          f" {ingest * 1000:.0f} ms CPU; validation (b1 less decoding) is"
          f" {(t_b1 - t_dec) / ingest:.0%} of it,"
          f" the hand-written one was {(t_a - t_dec) / ingest:.0%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
