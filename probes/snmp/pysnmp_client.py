"""pysnmp 7 implementation of :class:`probes.snmp.SnmpClient`.

The second implementation: used for what gufo-snmp 0.13 cannot express (SNMPv3
context names) and to cross-check gufo in the tests.  Slower, pure Python, but
it sends one GETBULK for several columns at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as A
from pysnmp.proto import rfc1902, rfc1905

from probes.snmp.base import SnmpAuthError, SnmpError, SnmpGarbage, SnmpTimeout, Target, Value
from probes.snmp.credential import library_map

_AUTH = library_map("auth_proto", {
    "MD5": A.USM_AUTH_HMAC96_MD5,
    "SHA": A.USM_AUTH_HMAC96_SHA,
    "SHA-224": A.USM_AUTH_HMAC128_SHA224,
    "SHA-256": A.USM_AUTH_HMAC192_SHA256,
    "SHA-384": A.USM_AUTH_HMAC256_SHA384,
    "SHA-512": A.USM_AUTH_HMAC384_SHA512,
})
# by key extension; pysnmp's plain AES-192/256 are Reeder's, DES and AES-128 need none
_PRIV = {
    "blumenthal": library_map("priv_proto", {
        "DES": A.USM_PRIV_CBC56_DES,
        "AES": A.USM_PRIV_CFB128_AES,
        "AES-192": A.USM_PRIV_CFB192_AES_BLUMENTHAL,
        "AES-256": A.USM_PRIV_CFB256_AES_BLUMENTHAL,
    }),
    "reeder": library_map("priv_proto", {
        "DES": A.USM_PRIV_CBC56_DES,
        "AES": A.USM_PRIV_CFB128_AES,
        "AES-192": A.USM_PRIV_CFB192_AES,
        "AES-256": A.USM_PRIV_CFB256_AES,
    }),
}
_AUTH_ERRORS = (
    "wrongDigest",
    "unknownUserName",
    "authenticationFailure",
    "decryptionError",
    "unsupportedSecLevel",
    "unknownEngineID",
    "notInTimeWindow",
    "unknownSecurityName",
)


def _py(value: Any) -> Value:
    """pysnmp value -> the plain Python value gufo would give."""
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, rfc1902.ObjectIdentifier):
        return str(value)
    if isinstance(value, rfc1902.IpAddress):
        return bytes(value.asOctets())
    if isinstance(value, rfc1902.OctetString):
        return bytes(value.asOctets())
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


class PysnmpClient:
    def __init__(self, engine, auth, transport, context, bulk: bool) -> None:
        self._engine, self._auth, self._transport, self._ctx = engine, auth, transport, context
        self._bulk = bulk
        self._answered = False

    @classmethod
    async def open(cls, target: Target) -> PysnmpClient:
        cred = target.credential
        if cred.version == "v3":
            a, p = cred.auth_proto, cred.priv_proto
            auth = UsmUserData(
                cred.user,
                authKey=cred.auth_key if a else None,
                privKey=cred.priv_key if p else None,
                authProtocol=_AUTH[a] if a else A.USM_AUTH_NONE,
                privProtocol=_PRIV[cred.key_extension][p] if p else A.USM_PRIV_NONE,
            )
        else:
            auth = CommunityData(cred.community, mpModel=0 if cred.version == "v1" else 1)
        transport = await UdpTransportTarget.create(
            (target.host, target.port), timeout=target.timeout, retries=target.retries
        )
        context = ContextData(contextName=cred.context)
        return cls(SnmpEngine(), auth, transport, context, bulk=cred.version != "v1")

    @staticmethod
    def _check(err_ind, err_status, err_index) -> None:
        if err_ind:
            name = type(err_ind).__name__ if not isinstance(err_ind, str) else err_ind
            text = str(err_ind)
            if "RequestTimedOut" in name or "timeout" in text.lower():
                raise SnmpTimeout("timeout")
            if any(e.lower() in (name + text).lower() for e in _AUTH_ERRORS):
                raise SnmpAuthError(f"authentication failed ({text})")
            raise SnmpGarbage(f"garbage: {text}")
        if err_status and int(err_status) not in (2,):  # noSuchName (v1) = end of view / missing
            raise SnmpError(f"device error {err_status.prettyPrint()} at {err_index}")

    async def _verdict(self, r) -> None:
        """Raise for errors; a v3 device silent to us but alive means our privacy key is wrong."""
        try:
            self._check(*r[:3])
        except SnmpTimeout:
            if (
                not self._answered
                and isinstance(self._auth, UsmUserData)
                and self._auth.privProtocol != A.USM_PRIV_NONE
                and await self._alive()
            ):
                raise SnmpAuthError(
                    "authentication failed: the device answers but not to our encrypted "
                    "requests (wrong privacy key or protocol?)"
                ) from None
            raise
        self._answered = True

    async def _alive(self) -> bool:
        probe = UsmUserData("probe-no-such-user")
        r = await get_cmd(
            SnmpEngine(),
            probe,
            self._transport,
            ContextData(),
            ObjectType(ObjectIdentity("1.3.6.1.2.1.1.2.0")),
        )
        return bool(r[0]) and "RequestTimedOut" not in type(r[0]).__name__ and "timed out" not in str(r[0])

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        out: dict[str, Value] = dict.fromkeys(oids)
        if not oids:
            return out
        r = await get_cmd(
            self._engine,
            self._auth,
            self._transport,
            self._ctx,
            *[ObjectType(ObjectIdentity(o)) for o in oids],
        )
        await self._verdict(r)
        for oid, val in r[3]:
            out[str(oid)] = _py(val)
        return out

    async def walk(self, columns: Sequence[str], max_repetitions: int = 25) -> dict[str, dict[str, Value]]:
        """One GETBULK carries every unfinished column; a column ends when it leaves its subtree."""
        out: dict[str, dict[str, Value]] = {c: {} for c in columns}
        cursor = {c: c for c in columns}
        while cursor:
            cols = list(cursor)
            vbs = [ObjectType(ObjectIdentity(cursor[c])) for c in cols]
            if self._bulk:
                r = await bulk_cmd(
                    self._engine,
                    self._auth,
                    self._transport,
                    self._ctx,
                    0,
                    max(1, max_repetitions // len(cols)) if len(cols) > 1 else max_repetitions,
                    *vbs,
                )
            else:
                r = await next_cmd(self._engine, self._auth, self._transport, self._ctx, *vbs)
            await self._verdict(r)
            table = r[3]
            if not table:
                break
            done: set[str] = set()
            # the response interleaves columns: row k holds varbind k % len(cols)
            for k, (oid, val) in enumerate(table):
                col = cols[k % len(cols)]
                if col in done:
                    continue
                oid_s = str(oid)
                if (
                    not oid_s.startswith(col + ".")
                    or _py(val) is None
                    and isinstance(val, rfc1905.EndOfMibView)
                ):
                    done.add(col)
                    continue
                idx = oid_s[len(col) + 1 :]
                if idx in out[col]:
                    done.add(col)
                    continue
                out[col][idx] = _py(val)
                cursor[col] = oid_s
            for col in cols:
                if col in done or (len(table) < len(cols)):
                    cursor.pop(col, None)
        return out

    async def close(self) -> None:
        self._engine.close_dispatcher()
