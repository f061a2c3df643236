"""Prometheus exposition: device and interface metrics from the latest poll results,
and the agent's own health.

Device metrics come from a custom collector over the latest result of each device, so
a device removed by a reload or an interface that disappears is simply absent at the
next scrape (no registry full of stale children).  Names follow Prometheus practice:
base units in the name, ``_total`` on counters, labels ``site``/``device``/``interface``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from probes.agent.config import DeviceJob
from probes.agent.push import Forwarder
from probes.agent.scheduler import Scheduler
from probes.agent.spool import Spool
from probes.common.validation import number

FAILURE_REASONS = ("timeout", "auth", "garbage", "not allowed", "profile", "snmp", "agent")
POLL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# (metric suffix, result key, help)
INTERFACE_COUNTERS = (
    ("received_bytes", "in_octets", "Octets received on the interface (ifHCInOctets or ifInOctets)."),
    ("transmitted_bytes", "out_octets", "Octets sent on the interface (ifHCOutOctets or ifOutOctets)."),
    ("received_packets", "in_ucast_pkts", "Unicast packets received."),
    ("transmitted_packets", "out_ucast_pkts", "Unicast packets sent."),
    ("receive_errors", "in_errors", "Inbound packets discarded because of errors."),
    ("transmit_errors", "out_errors", "Outbound packets not sent because of errors."),
    ("receive_discards", "in_discards", "Inbound packets discarded without error (e.g. buffers)."),
    ("transmit_discards", "out_discards", "Outbound packets discarded without error."),
)


def failure_reason(error: str | None) -> str:
    """A small fixed set of label values from a free-text poll error."""
    text = (error or "").lower()
    for reason in FAILURE_REASONS:
        if text.startswith(reason):
            return reason.replace(" ", "_")
    return "other"


class LatestResults:
    """The latest poll result of each device plus poll/failure counts (written on the event loop)."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[DeviceJob, dict[str, Any]]] = {}
        self.polls: dict[str, int] = {}
        self.failures: dict[tuple[str, str], int] = {}
        self.jobs: dict[str, DeviceJob] = {}
        self.duration = None  # type: Histogram | None

    def set_jobs(self, jobs: list[DeviceJob]) -> None:
        self.jobs = {j.name: j for j in jobs}
        for name in [n for n in self.latest if n not in self.jobs]:
            self.latest.pop(name, None)
            self.polls.pop(name, None)
        self.failures = {k: v for k, v in self.failures.items() if k[0] in self.jobs}

    def record(self, job: DeviceJob, result: dict[str, Any]) -> None:
        self.latest[job.name] = (job, result)
        self.polls[job.name] = self.polls.get(job.name, 0) + 1
        if not result.get("ok"):
            key = (job.name, failure_reason(result.get("error")))
            self.failures[key] = self.failures.get(key, 0) + 1
        if self.duration is not None and number(result.get("duration_s")) is not None:
            self.duration.labels(site=job.site).observe(float(result["duration_s"]))


class DeviceCollector(Collector):
    def __init__(self, results: LatestResults) -> None:
        self.results = results

    def collect(self) -> Iterator[Metric]:
        dev_labels = ["site", "device"]
        if_labels = ["site", "device", "interface"]
        up = GaugeMetricFamily(
            "nms_device_up", "1 if the last poll of the device succeeded.", labels=dev_labels
        )
        last = GaugeMetricFamily(
            "nms_device_last_poll_timestamp_seconds", "When the last poll started.", labels=dev_labels
        )
        uptime = GaugeMetricFamily("nms_device_uptime_seconds", "sysUpTime of the device.", labels=dev_labels)
        cpu = GaugeMetricFamily("nms_device_cpu_ratio", "CPU utilisation, 0..1.", labels=dev_labels)
        mem = GaugeMetricFamily("nms_device_memory_used_ratio", "Memory in use, 0..1.", labels=dev_labels)
        temp = GaugeMetricFamily(
            "nms_device_temperature_celsius", "Highest temperature sensor.", labels=dev_labels
        )
        sessions = GaugeMetricFamily("nms_device_sessions", "Sessions open on a firewall.", labels=dev_labels)
        ping = {
            "alive": GaugeMetricFamily(
                "nms_device_ping_up", "1 if the latest echo was answered.", labels=dev_labels
            ),
            "rtt_ms": GaugeMetricFamily(
                "nms_device_ping_rtt_seconds",
                "Mean echo round trip since the previous poll.",
                labels=dev_labels,
            ),
            "loss_pct": GaugeMetricFamily(
                "nms_device_ping_loss_ratio", "Echoes lost since the previous poll, 0..1.", labels=dev_labels
            ),
        }
        counters = {
            key: CounterMetricFamily(f"nms_interface_{suffix}", helptext, labels=if_labels)
            for suffix, key, helptext in INTERFACE_COUNTERS
        }
        oper = GaugeMetricFamily("nms_interface_oper_up", "1 if ifOperStatus is up.", labels=if_labels)
        admin = GaugeMetricFamily("nms_interface_admin_up", "1 if ifAdminStatus is up.", labels=if_labels)
        speed = GaugeMetricFamily(
            "nms_interface_speed_bytes",
            "Interface speed in bytes per second (ifHighSpeed/ifSpeed / 8; Prometheus base unit).",
            labels=if_labels,
        )
        tunnel = GaugeMetricFamily(
            "nms_tunnel_up", "1 if the tunnel to the peer is up.", labels=["site", "device", "peer"]
        )
        sdh = GaugeMetricFamily(
            "nms_sdh_alarm",
            "1 for each active SDH alarm (section/line/path).",
            labels=["site", "device", "interface", "layer", "alarm"],
        )
        for job, res in list(self.results.latest.values()):
            d = [job.site, job.name]
            ok = bool(res.get("ok"))
            up.add_metric(d, 1.0 if ok else 0.0)
            if number(res.get("ts")) is not None:
                last.add_metric(d, float(res["ts"]))
            echo = res.get("icmp") or {}  # SNMP or not: a device that answers ping says so
            if isinstance(echo.get("alive"), bool):
                ping["alive"].add_metric(d, 1.0 if echo["alive"] else 0.0)
            for key, scale in (("rtt_ms", 0.001), ("loss_pct", 0.01)):
                if (v := number(echo.get(key))) is not None:
                    ping[key].add_metric(d, v * scale)
            if not ok:
                continue
            if (v := number((res.get("identity") or {}).get("uptime_s"))) is not None:
                uptime.add_metric(d, v)
            health = res.get("health") or {}
            for fam, key, scale in (
                (cpu, "cpu_pct", 0.01),
                (mem, "mem_pct", 0.01),
                (temp, "temperature_c", 1),
            ):
                if (v := number(health.get(key))) is not None:
                    fam.add_metric(d, v * scale)
            if (v := number(res.get("sessions"))) is not None:
                sessions.add_metric(d, v)
            names = self._interface_names(res.get("interfaces") or [])
            for iface, name in names:
                labels = [*d, name]
                for key, fam in counters.items():
                    if (v := number(iface.get(key))) is not None:
                        fam.add_metric(labels, v)
                if iface.get("oper") is not None:
                    oper.add_metric(labels, 1.0 if iface.get("oper") == "up" else 0.0)
                if iface.get("admin") is not None:
                    admin.add_metric(labels, 1.0 if iface.get("admin") == "up" else 0.0)
                if (v := number(iface.get("speed_bps"))) is not None:
                    speed.add_metric(labels, v / 8)
            seen_peers: set[str] = set()
            for t in res.get("tunnels") or []:
                peer = str(t.get("peer") or "")
                if peer and peer not in seen_peers:
                    seen_peers.add(peer)
                    tunnel.add_metric([*d, peer], 1.0 if t.get("state") == "up" else 0.0)
            by_index = {i.get("index"): n for i, n in names}
            for s in res.get("sdh") or []:
                ifname = by_index.get(s.get("ifIndex"), str(s.get("ifIndex")))
                for layer in ("section", "line", "path"):
                    for alarm in sorted(set(s.get(f"{layer}_status") or [])):
                        sdh.add_metric([*d, ifname, layer, str(alarm)], 1.0)
        yield from (
            up,
            last,
            uptime,
            cpu,
            mem,
            temp,
            sessions,
            *ping.values(),
            *counters.values(),
            oper,
            admin,
            speed,
            tunnel,
            sdh,
        )

    @staticmethod
    def _interface_names(interfaces: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
        """ifName (else ifDescr, else index), made unique so no two series collide."""
        out, seen = [], set()
        for iface in interfaces:
            name = str(iface.get("name") or iface.get("descr") or iface.get("index"))
            if name in seen:
                name = f"{name}#{iface.get('index')}"
            seen.add(name)
            out.append((iface, name))
        return out


class AgentCollector(Collector):
    """The agent's own health, computed at scrape time from the live objects."""

    def __init__(
        self,
        agent: str,
        results: LatestResults,
        spool: Spool,
        forwarder: Forwarder,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.agent = agent
        self.results = results
        self.spool = spool
        self.forwarder = forwarder
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("nms_agent_info", "The agent's name.", labels=["agent"])
        info.add_metric([self.agent], 1.0)
        yield info
        jobs = list(self.results.jobs.values())
        dev = GaugeMetricFamily(
            "nms_agent_devices", "Devices configured, by whether they are polled.", labels=["state"]
        )
        dev.add_metric(["polled"], float(sum(j.problem is None for j in jobs)))
        dev.add_metric(["not_polled"], float(sum(j.problem is not None for j in jobs)))
        yield dev
        refused = GaugeMetricFamily(
            "nms_agent_device_not_polled",
            "1 for a device the agent cannot poll (address refused, credential missing); see the log.",
            labels=["site", "device"],
        )
        for j in jobs:
            if j.problem is not None:
                refused.add_metric([j.site, j.name], 1.0)
        yield refused
        overdue = GaugeMetricFamily("nms_agent_devices_overdue", "Devices whose poll is late.")
        overdue.add_metric([], float(self.scheduler.overdue() if self.scheduler else 0))
        yield overdue
        polls = CounterMetricFamily(
            "nms_agent_polls", "Polls finished, by device.", labels=["site", "device"]
        )
        fails = CounterMetricFamily(
            "nms_agent_poll_failures",
            "Failed polls, by device and reason.",
            labels=["site", "device", "reason"],
        )
        for name, n in list(self.results.polls.items()):
            if (job := self.results.jobs.get(name)) is not None:
                polls.add_metric([job.site, name], float(n))
        for (name, reason), n in list(self.results.failures.items()):
            if (job := self.results.jobs.get(name)) is not None:
                fails.add_metric([job.site, name, reason], float(n))
        yield polls
        yield fails
        st = self.spool.stats()
        for name, value, helptext in (
            ("nms_agent_spool_batches", st.batches, "Batches in the spool waiting for the centre."),
            ("nms_agent_spool_bytes", st.bytes, "Bytes of spooled batches and pending results."),
            ("nms_agent_spool_pending_samples", st.pending_samples, "Poll results not yet in a batch."),
            ("nms_agent_spool_oldest_age_seconds", st.oldest_age_s, "Age of the oldest spooled data."),
            ("nms_agent_dead_letter_entries", st.dead_letter_rows, "Rows in the dead-letter table."),
            ("nms_agent_spool_pending_events", st.pending_events, "Received events not yet in a batch."),
        ):
            g = GaugeMetricFamily(name, helptext)
            g.add_metric([], float(value))
            yield g
        for name, value, helptext in (
            (
                "nms_agent_spool_dropped_batches",
                st.dropped_batches,
                "Batches dropped because the spool was full.",
            ),
            ("nms_agent_spool_dropped_samples", st.dropped_samples, "Poll results dropped with them."),
            (
                "nms_agent_rejections",
                st.dead_batches,
                "Permanent rejections by the centre (a batch, or one poisoned sample of it).",
            ),
            ("nms_agent_rejected_samples", st.dead_samples, "Poll results moved to the dead-letter table."),
            ("nms_agent_spool_dropped_events", st.dropped_events, "Events dropped beyond the events' bound."),
        ):
            c = CounterMetricFamily(name, helptext)
            c.add_metric([], float(value))
            yield c
        ps = self.forwarder.stats
        last = GaugeMetricFamily(
            "nms_agent_last_push_success_timestamp_seconds",
            "When the centre last acknowledged a batch (0: never).",
        )
        last.add_metric([], ps.last_success_ts)
        yield last
        up = GaugeMetricFamily("nms_agent_centre_up", "1 if the last push reached the centre.")
        up.add_metric([], 1.0 if ps.healthy else 0.0)
        yield up
        pushes = CounterMetricFamily(
            "nms_agent_push_requests", "Batch POSTs to the centre, by outcome.", labels=["outcome"]
        )
        for outcome, n in (
            ("ok", ps.sent_ok - ps.duplicates),
            ("duplicate", ps.duplicates),
            ("retry", ps.retries),
            ("rejected", ps.rejected),
        ):
            pushes.add_metric([outcome], float(n))
        yield pushes


def build_registry(
    agent: str, results: LatestResults, spool: Spool, forwarder: Forwarder, scheduler: Scheduler | None
) -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    results.duration = Histogram(
        "nms_agent_poll_duration_seconds",
        "Time to poll one device.",
        labelnames=["site"],
        buckets=POLL_BUCKETS,
        registry=registry,
    )
    registry.register(DeviceCollector(results))
    registry.register(AgentCollector(agent, results, spool, forwarder, scheduler))
    return registry


def serve(listen: str, registry: CollectorRegistry) -> tuple[Any, threading.Thread, int]:
    """Start /metrics on ``host:port`` in a daemon thread; returns (server, thread, bound port)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port_no = int(port)
    except ValueError:
        raise ValueError(f"--metrics-listen {listen!r}: expected HOST:PORT") from None
    server, thread = start_http_server(port_no, addr=host, registry=registry)
    return server, thread, int(server.server_address[1])
