"""gufo-snmp implementation of :class:`probes.snmp.SnmpClient` (the fast path)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import gufo.snmp as g
from gufo.snmp._fast import GetIter
from gufo.snmp.aio.client import SnmpSession

from probes.snmp.base import SnmpAuthError, SnmpError, SnmpGarbage, SnmpTimeout, Target, Value
from probes.snmp.credential import Credential, library_map

_AUTH = library_map("auth_proto", {
    "MD5": g.Md5Key,
    "SHA": g.Sha1Key,
    "SHA-224": g.Sha224Key,
    "SHA-256": g.Sha256Key,
    "SHA-384": g.Sha384Key,
    "SHA-512": g.Sha512Key,
})
_PRIV = library_map("priv_proto", {
    "DES": g.DesKey, "AES": g.Aes128Key, "AES-192": g.Aes192Key, "AES-256": g.Aes256Key,
})
_EXPANSION = {"blumenthal": g.KeyExpansion.Blumenthal, "reeder": g.KeyExpansion.Cisco}


def make_user(cred: Credential) -> g.User:
    """Build a gufo User from a credential (its names are canonical already)."""
    a, p = cred.auth_proto, cred.priv_proto
    auth_key = _AUTH[a](cred.auth_key.encode()) if a and cred.auth_key else None
    priv_key = _PRIV[p](cred.priv_key.encode()) if p and cred.priv_key else None
    return g.User(
        cred.user, auth_key=auth_key, priv_key=priv_key, key_expansion=_EXPANSION[cred.key_extension]
    )


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class GufoClient:
    """One gufo session per device; requests on it are sequential (one socket, one id)."""

    def __init__(self, session: SnmpSession, target: Target) -> None:
        self._s = session
        self._t = target
        self._sock = session._sock
        self._fd = session._fd
        self._loop = asyncio.get_running_loop()
        self._pending: tuple[asyncio.Future, Any] | None = None
        self._reading = False

    # One reader registration and one timer per request, instead of gufo's
    # add_reader/remove_reader + asyncio.wait_for per request: with thousands of
    # requests in flight the event-loop bookkeeping is most of the CPU otherwise.
    def _on_readable(self) -> None:
        pending = self._pending
        if pending is None:
            self._stop_reading()  # a late answer to a request we gave up on: gufo drops it on next recv
            return
        fut, recv = pending
        if fut.done():
            return
        try:
            result = recv()
        except BlockingIOError:
            return  # not ours (stale request id) or not complete: keep waiting
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting coroutine
            self._pending = None
            fut.set_exception(exc)
            return
        self._pending = None
        fut.set_result(result)

    def _stop_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    async def _io(self, send, recv):
        """Send a request and wait for its answer with the target's timeout."""
        await self._s._send(send)
        fut = self._loop.create_future()
        self._pending = (fut, recv)
        if not self._reading:
            self._loop.add_reader(self._fd, self._on_readable)
            self._reading = True
        timer = self._loop.call_later(self._t.timeout, _expire, fut)
        try:
            return await fut
        finally:
            timer.cancel()
            self._pending = None

    @classmethod
    async def open(cls, target: Target, recv_buffer: int = 4 << 20) -> GufoClient:
        cred = target.credential
        kw: dict[str, Any] = dict(
            addr=target.host,
            port=target.port,
            timeout=target.timeout,
            recv_buffer=recv_buffer,
            max_repetitions=target.max_repetitions or 25,
        )
        if cred.version == "v3":
            kw.update(user=make_user(cred), version=g.SnmpVersion.v3)
        else:
            kw.update(
                community=cred.community,
                version=g.SnmpVersion.v1 if cred.version == "v1" else g.SnmpVersion.v2c,
            )
        try:
            session = SnmpSession(**kw)
        except (ValueError, OSError) as exc:
            raise SnmpError(f"cannot open session: {exc}") from None
        client = cls(session, target)
        if cred.version == "v3":
            try:
                await client._retry(session.refresh)
            except SnmpTimeout:
                if session._deferred_user is None and cred.priv_proto:
                    # engine discovery answered, the encrypted exchange did not
                    raise SnmpAuthError(
                        "authentication failed: the device answered engine discovery "
                        "but nothing encrypted (wrong privacy key or protocol?)"
                    ) from None
                raise
        return client

    async def _retry(self, fn, *args):
        """Run ``fn`` with the target's retries and a short back-off, mapping errors."""
        delay = 0.05
        for attempt in range(self._t.retries + 1):
            try:
                return await fn(*args)
            except TimeoutError:
                if attempt == self._t.retries:
                    raise SnmpTimeout("timeout") from None
                await asyncio.sleep(delay)
                delay *= 2
            except g.SnmpAuthError as exc:
                raise SnmpAuthError(
                    f"authentication failed ({exc or 'wrong user, keys or protocols'})"
                ) from None
            except (g.SnmpDecodeError, g.SnmpEncodeError) as exc:
                raise SnmpGarbage(f"garbage: undecodable answer ({exc})") from None
            except g.NoSuchInstance:
                raise
            except g.SnmpError as exc:
                msg = str(exc)
                if "auth" in msg.lower() or "usm" in msg.lower():
                    raise SnmpAuthError(f"authentication failed ({msg})") from None
                raise SnmpError(msg or type(exc).__name__) from None
            except OSError as exc:
                raise SnmpError(f"socket error: {exc}") from None
        raise SnmpTimeout("timeout")

    async def _get_many(self, oids: list[str]) -> dict:
        return await self._io(lambda: self._sock.send_get_many(oids), self._sock.recv_get_many)

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        out: dict[str, Value] = dict.fromkeys(oids)
        if not oids:
            return out
        try:
            got = await self._retry(self._get_many, list(oids))
        except g.NoSuchInstance:
            return out
        for k, v in got.items():
            out[k.lstrip(".")] = v
        return out

    async def walk(self, columns: Sequence[str], max_repetitions: int = 25) -> dict[str, dict[str, Value]]:
        out: dict[str, dict[str, Value]] = {}
        for col in columns:
            out[col] = await self._retry(self._walk_one, col, max_repetitions)
        return out

    async def _walk_one(self, col: str, max_repetitions: int) -> dict[str, Value]:
        """Walk one column a whole GETBULK response at a time (no per-varbind coroutine)."""
        rows: dict[str, Value] = {}
        prefix = col + "."
        plen = len(prefix)
        session, sock = self._s, self._sock
        bulk = session._allow_bulk
        ctx = GetIter(col, max_repetitions) if bulk else GetIter(col)
        while True:
            try:  # gufo signals the end of the view with StopAsyncIteration
                if bulk:
                    batch = await self._io(lambda: sock.send_get_bulk(ctx), lambda: sock.recv_get_bulk(ctx))
                else:
                    batch = [await self._io(lambda: sock.send_get_next(ctx), lambda: sock.recv_get_next(ctx))]
            except StopAsyncIteration:
                return rows
            if not batch:
                return rows
            first, last = batch[0], batch[-1]
            if (
                first is not None
                and last is not None
                and first[0].startswith(prefix)
                and last[0].startswith(prefix)
                and None not in batch
            ):
                # Fast path (nearly every response): first and last varbind inside the column,
                # so all are (the agent answers in OID order); one dict update instead of a
                # check per varbind.  A looping agent repeats an index: fewer new rows than
                # varbinds, and the walk ends as on the slow path.
                before = len(rows)
                rows.update([(oid[plen:], value) for oid, value in batch])
                if len(rows) - before < len(batch):
                    return rows
                continue
            for item in batch:
                if item is None:
                    return rows
                oid, value = item
                if not oid.startswith(prefix):
                    return rows
                idx = oid[plen:]
                if idx in rows:  # an agent looping on itself
                    return rows
                rows[idx] = value

    async def close(self) -> None:
        self._stop_reading()
        self._s = None  # socket closes with the Rust object
