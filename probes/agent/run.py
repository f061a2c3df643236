"""``agent.py run``: poll the agent's devices for ever, store and forward to the centre.

Wires :mod:`config` -> :mod:`scheduler` -> poller + rates -> :mod:`spool` -> :mod:`push`,
with :mod:`metrics` on the side.  What to poll comes from the centre (:mod:`pull`: the
agent's assignment, asked for every minute, the last good copy kept on disk), or with
``--inventory`` from a local inventory file (a stand-alone agent).  Signals: SIGHUP
re-reads the inventory (stand-alone) or asks the centre at once, keeping all state (rate
trackers, spool, sequence numbers); SIGTERM/SIGINT stop polling, let polls in flight
finish, seal and try to flush the spool, then exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from probes.agent import config as cfg
from probes.agent.config import ConfigError, DeviceJob, Timing
from probes.agent.events import Confirmer, EventLane
from probes.agent.logs import log, setup
from probes.agent.metrics import LatestResults, build_registry, serve
from probes.agent.pinger import Pinger
from probes.agent.portals import PortalRunner
from probes.agent.portals import register as register_portal_args
from probes.agent.pull import ConfigLane, PullCollector, Puller
from probes.agent.push import Forwarder, Sender
from probes.agent.reach import Reach
from probes.agent.scheduler import Scheduler
from probes.agent.spool import Spool, SpoolError
from probes.common.assignment import Assignment, assignment_of
from probes.common.inventory_model import Inventory
from probes.common.netguard import TargetNotAllowed, check_target
from probes.common.secrets import SecretError, resolve
from probes.common.settings import BaseSettings
from probes.counters import RateTracker
from probes.events.rules import RulesError
from probes.events.service import EventService, parse_listen
from probes.icmp import IcmpUnavailable
from probes.poller import Poller
from probes.snmp import Target
from probes.snmp.credential import Credential

DEFAULT_TOKEN_ENV = "NMS_AGENT_TOKEN"
REFRESH_AFTER_S = 5.0  # back in touch: devices polled longer ago than this are polled again at once


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the probe agent (poll, spool, push, /metrics)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--inventory",
        type=Path,
        default=None,
        help="stand-alone agent: poll from this inventory.yaml (default: pull the assignment from --centre)",
    )
    p.add_argument(
        "--config-interval",
        type=float,
        default=60.0,
        help="seconds between asking the centre for this agent's assignment (not with --inventory)",
    )
    p.add_argument("--agent", required=True, help="this agent's name in the inventory's agents section")
    p.add_argument("--centre", required=True, help="centre base URL, e.g. https://nms.example:8443")
    p.add_argument(
        "--token-env",
        default=None,
        help=f"environment variable holding the agent token (default: the agent's token_env with "
        f"--inventory, else {DEFAULT_TOKEN_ENV})",
    )
    p.add_argument("--token-file", type=Path, default=None, help="file (mode 0600) holding the agent token")
    p.add_argument("--ca-file", default=None, help="CA bundle to verify an https centre")
    p.add_argument(
        "--cert-file", default=None, help="this agent's client certificate (PEM), if the centre's proxy asks"
    )
    p.add_argument("--key-file", default=None, help="its private key (PEM; default: in --cert-file)")
    p.add_argument(
        "--secrets-file", type=Path, default=None, help="SNMP secrets file (default $NMS_SECRETS_FILE)"
    )
    p.add_argument(
        "--spool-dir", type=Path, default=None, help="spool directory (default $NMS_DATA_DIR/agent)"
    )
    p.add_argument(
        "--spool-max-mb",
        type=float,
        default=256.0,
        help="spool bound; the oldest batches are dropped (and counted) beyond it",
    )
    p.add_argument("--metrics-listen", default="127.0.0.1:9410", help="HOST:PORT for /metrics, or 'off'")
    p.add_argument(
        "--sim-port",
        type=int,
        default=None,
        help="poll each device at its simulated loopback address on this UDP port",
    )
    p.add_argument(
        "--interval-override", type=float, default=None, help="poll every device every N s (tests)"
    )
    p.add_argument("--interval-scale", type=float, default=1.0, help="multiply every interval (tests)")
    p.add_argument("--no-jitter", action="store_true", help="start every device at once (tests)")
    p.add_argument("--batch-interval", type=float, default=10.0, help="seconds between batches")
    p.add_argument("--batch-max", type=int, default=500, help="poll results per batch at most")
    p.add_argument("--push-timeout", type=float, default=10.0, help="HTTP timeout of one POST")
    p.add_argument(
        "--backoff-max", type=float, default=60.0, help="longest wait between retries to the centre"
    )
    p.add_argument(
        "--icmp",
        choices=("auto", "on", "off"),
        default="auto",
        help="ping every device at each poll (auto: on, except with --sim-port, where loopback "
        "answers every ping so a simulated dead device would look alive)",
    )
    p.add_argument("--icmp-timeout", type=float, default=1.0, help="seconds to wait for an echo reply")
    p.add_argument(
        "--icmp-wan-interval",
        type=float,
        default=15.0,
        help="ends of WAN links (SDH, MSTP, carrier circuits) are also pinged this often (s)",
    )
    p.add_argument("--snmp-timeout", type=float, default=2.0, help="SNMP request timeout (s)")
    p.add_argument("--snmp-retries", type=int, default=1, help="SNMP retries per request")
    p.add_argument("--max-concurrent", type=int, default=64, help="devices polled at once at most")
    p.add_argument("--shutdown-grace", type=float, default=30.0, help="wait this long for polls in flight")
    p.add_argument(
        "--flush-timeout", type=float, default=10.0, help="on exit, try to send the spool this long"
    )
    p.add_argument(
        "--requeue-dead-letters",
        action="store_true",
        help="at start, put dead-lettered batches back in the queue",
    )
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    register_portal_args(p)
    p.add_argument(
        "--trap-listen", default=None, help="HOST:PORT for SNMP traps and informs (e.g. 0.0.0.0:162)"
    )
    p.add_argument(
        "--syslog-listen", default=None, help="HOST:PORT for syslog over UDP and TCP (e.g. 0.0.0.0:514)"
    )
    p.add_argument(
        "--confirm-min-gap",
        type=float,
        default=5.0,
        help="an event about a device makes it polled at once, at most once per N s per device",
    )
    p.add_argument(
        "--reach-interval",
        type=float,
        default=5.0,
        help="WAN link ends get a one-GET reachability probe this often (s); 0 turns it off",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    setup(args.log_level)
    try:
        agent = Agent(args)
    except (ConfigError, SpoolError, ValueError) as exc:
        log("error", "cannot start", error=str(exc))
        return 2
    return asyncio.run(agent.run())


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        settings = BaseSettings()
        self.args = args
        self.name = args.agent
        self.inventory_path: Path | None = args.inventory
        self.timing = Timing(args.interval_override, args.interval_scale)
        if args.interval_scale <= 0 or (args.interval_override is not None and args.interval_override <= 0):
            raise ConfigError("--interval-scale and --interval-override must be positive")
        if args.batch_max < 1 or args.batch_interval <= 0:
            raise ConfigError("--batch-max must be >= 1 and --batch-interval positive")
        if args.config_interval <= 0:
            raise ConfigError("--config-interval must be positive")
        self.assignment: Assignment | None = None  # None: nothing assigned yet (pulling, no copy)
        self.inventory = Inventory()  # the agent's part of it when pulling, the whole file stand-alone
        if self.inventory_path is not None:
            self.set_inventory(cfg.load(self.inventory_path, self.name))
            token_env = args.token_env or self.inventory.agents[self.name].token_env
        else:
            token_env = args.token_env or DEFAULT_TOKEN_ENV
        token = cfg.read_token(args.token_file, token_env)
        parts = urlsplit(args.centre)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--centre {args.centre!r}: expected http(s)://HOST[:PORT]")
        try:
            check_target(parts.hostname)
        except TargetNotAllowed as exc:
            raise ConfigError(f"--centre: {exc}") from None
        spool_dir = Path(args.spool_dir or settings.data_dir / "agent")
        self.spool = Spool(spool_dir / f"{self.name}.db", self.name, int(args.spool_max_mb * (1 << 20)))
        self.sender = Sender(
            args.centre,
            token,
            timeout=args.push_timeout,
            ca_file=args.ca_file,
            cert_file=args.cert_file,
            key_file=args.key_file,
        )
        self.puller: Puller | None = None
        self.config_lane: ConfigLane | None = None
        if self.inventory_path is None:
            self.puller = Puller(
                args.centre,
                self.name,
                token,
                spool_dir / f"{self.name}.config.json",
                timeout=args.push_timeout,
                ca_file=args.ca_file,
                cert_file=args.cert_file,
                key_file=args.key_file,
            )
            self.config_lane = ConfigLane(self.puller, args.config_interval)
        self.creds: dict[str, Credential] = {}
        self.results = LatestResults()
        self.pinger: Pinger | None = None
        self.portals: PortalRunner | None = None
        self.reach: Reach | None = None
        self.event_service: EventService | None = None
        for opt in ("trap_listen", "syslog_listen"):
            if getattr(args, opt, None):
                parse_listen(getattr(args, opt))  # ValueError names the option's value

    # -- polling ------------------------------------------------------------------
    def target(self, job: DeviceJob) -> Target:
        return Target(
            host=job.host,
            port=job.port,
            credential=self.creds[job.credential],
            timeout=self.args.snmp_timeout,
            retries=self.args.snmp_retries,
            name=job.name,
        )

    async def poll(self, job: DeviceJob) -> dict[str, Any]:
        target = self.target(job)
        snmp = self.poller.poll(target, profile=job.profile, expected_peers=job.expected_peers)
        if self.pinger is None:
            result = await snmp
        else:  # ping while SNMP runs: "SNMP unreachable, ping ok" is not "device down"
            result, echo = await asyncio.gather(snmp, self.pinger.at_poll(job))
            result["icmp"] = echo
        result["device"] = job.name
        if self.puller is not None and (offset := self.puller.offset_s()):
            result["ts"] = float(result["ts"]) + offset  # stamped in the centre's time, not our wrong one
        return self.rates.apply(result)

    def on_result(self, job: DeviceJob, result: dict[str, Any]) -> None:
        self.spool.put_result(result)  # durable before anything else happens to it
        self.results.record(job, result)
        log(
            "info",
            "poll",
            device=job.name,
            site=job.site,
            ts=result.get("ts"),
            ok=result.get("ok"),
            error=result.get("error"),
            failed=result.get("failed") or None,  # plugins that failed while the device answered
            duration_s=result.get("duration_s"),
            interfaces=len(result.get("interfaces") or []),
            icmp=result.get("icmp"),
            confirm=result.get("confirm"),
        )

    def _jobs(self) -> list[DeviceJob]:
        """Jobs of the inventory with credentials resolved; a missing secret is a per-device problem."""
        jobs, creds = [], {}
        wan_ping_s = self.args.icmp_wan_interval if self.pinger is not None else None
        if self.assignment is None:
            return []
        for job in cfg.jobs_of(self.assignment, self.timing, self.args.sim_port, wan_ping_s):
            if job.problem is None and job.credential not in creds:
                try:
                    creds[job.credential] = resolve(
                        self.inventory.credentials[job.credential], self.args.secrets_file
                    )
                except SecretError as exc:
                    creds[job.credential] = exc
            cred = creds.get(job.credential)
            if job.problem is None and isinstance(cred, Exception):
                job = dataclasses.replace(job, problem=f"credential: {cred}")
            jobs.append(job)
        self.creds = {k: v for k, v in creds.items() if not isinstance(v, Exception)}
        return jobs

    def apply_config(self) -> None:
        jobs = self._jobs()
        for job in jobs:
            if job.problem is not None:
                log("error", "device not polled", device=job.name, site=job.site, problem=job.problem)
        self.results.set_jobs(jobs)
        changes = self.scheduler.apply(jobs)
        if self.pinger is not None:
            self.pinger.apply(jobs)
        self.confirmer.set_jobs(jobs)
        if self.reach is not None:
            self.reach.apply(jobs)
        if self.event_service is not None:
            self.event_service.update(self.inventory, self.event_credentials())
        for name in changes["removed"]:
            self.rates.forget(name)
        if self.portals is None and self.inventory.portals_of_agent(self.name):  # portals assigned later
            self.portals = PortalRunner(self.args, self.spool.put_result, jitter=not self.args.no_jitter)
        if self.portals is not None:
            self.portals.apply(self.inventory, self.name, self.timing)
        log(
            "info",
            "configuration applied",
            source=str(self.inventory_path or self.puller),
            devices=len(jobs),
            polled=sum(j.problem is None for j in jobs),
            **changes,
        )

    def set_inventory(self, inventory: Inventory) -> None:
        """Stand-alone: the whole inventory file, and this agent's assignment made from it."""
        self.inventory = inventory
        self.assignment = assignment_of(inventory, self.name)

    def set_assignment(self, assignment: Assignment) -> None:
        """Pulled: the assignment and the part of the inventory it describes."""
        self.assignment = assignment
        self.inventory = assignment.inventory()

    def take_assignment(self, assignment: Assignment) -> None:
        """A new assignment from the centre, applied like a reload (devices that stay keep state)."""
        self.set_assignment(assignment)
        self.apply_config()

    def reload(self) -> None:
        if self.config_lane is not None:  # pulling: SIGHUP asks the centre now
            self.config_lane.wake()
            return
        try:
            self.set_inventory(cfg.load(self.inventory_path, self.name))
        except ConfigError as exc:
            log("error", "reload failed, keeping the running configuration", error=str(exc))
            return
        self.apply_config()

    # -- events -------------------------------------------------------------------
    def pushed(self, outcome: Any) -> None:
        """Back in touch after the way to the centre was cut: poll every device at once, so the
        centre sees the present now (tunnels back, devices up) and not one interval later."""
        if outcome.kind == "retry" and outcome.status is None:
            self._cut_off = True
        elif outcome.kind == "ok" and self._cut_off:
            self._cut_off = False
            now = time.time()
            for name in list(self.confirmer.jobs):  # those just polled are current already
                latest = self.results.latest.get(name)
                if latest is None or now - float(latest[1].get("ts") or 0) > REFRESH_AFTER_S:
                    self.confirmer.request(name, "centre reachable again", confirm=False)

    def confirmed(self) -> None:
        """A poll out of turn is in: send it now (those finishing together share a batch); a
        change on the network may have reopened the way to the centre."""
        self.forwarder.nudge()
        if not self._seal_soon:
            self._seal_soon = True
            asyncio.get_running_loop().call_later(0.1, self._seal_now)

    def _seal_now(self) -> None:
        self._seal_soon = False
        self.seal_all()

    def event_credentials(self) -> list[Credential]:
        """The resolved credentials of this agent's devices: what traps and informs may use."""
        return [self.creds[n] for n in sorted({j.credential for j in self.results.jobs.values()
                                               if j.credential in self.creds})]

    async def start_receivers(self) -> int | None:
        """Trap and syslog receivers of this agent's devices; an exit code if they cannot start."""
        devices = {j.name for j in self.results.jobs.values()}
        try:
            self.event_service = EventService(
                self.inventory,
                self.event_lane.emit,
                self.event_credentials(),
                sim=self.args.sim_port is not None,
                state_dir=self.spool.path.parent,
            )
            await self.event_service.start(self.args.trap_listen, self.args.syslog_listen)
        except (RulesError, OSError, ValueError) as exc:
            log("error", "cannot start", error=f"--trap-listen/--syslog-listen: {exc}")
            return 2
        log(
            "info",
            "event receivers listening",
            traps=self.args.trap_listen,
            syslog=self.args.syslog_listen,
            devices=len(devices),
        )
        return None

    # -- batching -----------------------------------------------------------------
    def seal_all(self) -> int:
        n = 0
        while (batch := self.spool.seal(self.args.batch_max)) is not None:
            self.forwarder.submit(batch)
            n += 1
        return n

    async def batcher(self) -> None:
        while True:
            await asyncio.sleep(self.args.batch_interval)
            self.seal_all()

    # -- lifetime -----------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.poller = Poller(max_in_flight=self.args.max_concurrent)
        self.rates = RateTracker()
        self.forwarder = Forwarder(
            self.spool,
            self.sender,
            backoff_min=min(1.0, self.args.backoff_max),
            backoff_max=self.args.backoff_max,
            on_outcome=self.pushed,
        )
        self._cut_off = False
        self._seal_soon = False
        self.scheduler = Scheduler(
            self.poll,
            self.on_result,
            jitter=not self.args.no_jitter,
            max_concurrent=self.args.max_concurrent,
            deadline_s=lambda job: max(self.poller.budget_s + 5, 10.0),
        )
        if self.args.portal_map:  # a bad map stops the start; without one, portals start when assigned
            try:
                self.portals = PortalRunner(self.args, self.spool.put_result, jitter=not self.args.no_jitter)
            except ValueError as exc:
                log("error", "cannot start", error=str(exc))
                return 2
        if self.args.icmp == "on" or (self.args.icmp == "auto" and self.args.sim_port is None):
            try:
                self.pinger = Pinger(self.args.icmp_timeout, self.args.max_concurrent)
            except IcmpUnavailable as exc:
                if self.args.icmp == "on":
                    log("error", "cannot start", error=f"--icmp on: {exc}")
                    return 2
                log("warning", "polling without ICMP", error=str(exc))
        self.confirmer = Confirmer(
            self.poll, self.on_result, self.confirmed, min_gap_s=max(0.0, self.args.confirm_min_gap)
        )
        self.event_lane = EventLane(self.spool, self.forwarder, self.confirmer)
        if self.args.reach_interval > 0:
            self.reach = Reach(
                self.args.reach_interval,
                self.target,
                lambda name: (self.results.latest.get(name) or (None, None))[1],
                self.confirmer,
            )
        if self.args.requeue_dead_letters:
            log("info", "dead letters requeued", samples=self.spool.requeue_dead())
        server = None
        if self.args.metrics_listen != "off":
            registry = build_registry(self.name, self.results, self.spool, self.forwarder, self.scheduler)
            if self.puller is not None:
                registry.register(PullCollector(self.puller))
            try:
                server, _, port = serve(self.args.metrics_listen, registry)
            except (OSError, ValueError) as exc:
                log("error", "cannot start", error=f"--metrics-listen {self.args.metrics_listen}: {exc}")
                return 2
            log(
                "info",
                "metrics listening",
                url=f"http://{self.args.metrics_listen.rpartition(':')[0]}:{port}/metrics",
            )
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        st = self.spool.stats()
        log(
            "info",
            "agent starting",
            agent=self.name,
            centre=self.sender.url,
            spool=str(self.spool.path),
            spooled_batches=st.batches,
            pending_samples=st.pending_samples,
            next_seq=st.next_seq,
            epoch=st.epoch,
        )
        if self.config_lane is not None and (first := await self.config_lane.first()) is not None:
            self.set_assignment(first)
        self.apply_config()
        if self.args.trap_listen or self.args.syslog_listen:
            if (code := await self.start_receivers()) is not None:
                return code
        background = [
            loop.create_task(c, name=n)
            for c, n in (
                (self.forwarder.live_lane(), "live"),
                (self.forwarder.replay_lane(), "replay"),
                (self.batcher(), "batcher"),
                (self.event_lane.sealer(), "events"),
                *([(self.config_lane.run(self.take_assignment), "config")] if self.config_lane else []),
            )
        ]
        await stop.wait()
        log("info", "stopping: finishing polls in flight")
        t0 = time.monotonic()
        if self.event_service is not None:
            await self.event_service.stop()
        await self.scheduler.stop(self.args.shutdown_grace)
        if self.portals is not None:
            await self.portals.stop(self.args.shutdown_grace)
        await self.confirmer.stop()
        if self.reach is not None:
            await self.reach.stop()
        if self.pinger is not None:
            await self.pinger.stop()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        self.event_lane.flush()
        self.seal_all()
        left = await self.forwarder.flush(self.args.flush_timeout)
        log("info", "stopped", spooled_batches=left, seconds=round(time.monotonic() - t0, 2))
        self.spool.close()
        if server is not None:
            server.shutdown()
        return 0
