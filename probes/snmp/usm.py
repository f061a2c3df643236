"""SNMPv3 User-based Security Model (RFC 3414, 3826, 7860) for the simulator and the receiver.

Hundreds of simulated devices use v3 authPriv; one pysnmp engine per device would
cost the memory and start-up time the issue measured (1.1 GB, 163 s), and the agent's
notification receiver must decode hundreds of traps per second, so USM is done here
once for both: key localisation, HMAC-SHA/SHA-2 auth, AES-CFB128 privacy, engine-ID
discovery, time window and the usmStats reports a sender relies on.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # cryptography >= 47 moved CFB to "decrepit"; SNMP's AES (RFC 3826) still needs it
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from probes.snmp import ber
from probes.snmp.credential import AUTH_PROTOCOLS, PRIV_PROTOCOLS, Credential, library_map, unsupported

# every auth protocol of the one table; privacy: AES only (no DES)
AUTH = library_map("auth_proto", {p.name: p for p in AUTH_PROTOCOLS})
PRIV = library_map("priv_proto", {p.name: p for p in PRIV_PROTOCOLS if p.cipher == "aes"}, complete=False)
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 1, 2, 4
TIME_WINDOW_S = 150

USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
UNSUPPORTED_SEC_LEVELS, NOT_IN_TIME_WINDOWS, UNKNOWN_USER_NAMES = 1, 2, 3
UNKNOWN_ENGINE_IDS, WRONG_DIGESTS, DECRYPTION_ERRORS = 4, 5, 6


class UsmConfigError(ValueError):
    """A v3 credential the simulator cannot serve; the message says which part."""


@lru_cache(maxsize=64)
def password_to_key(hash_name: str, password: str | bytes) -> bytes:
    """RFC 3414 A.2: hash of the password repeated to 1 MiB."""
    pw = password.encode() if isinstance(password, str) else password
    if not pw:
        raise UsmConfigError("empty SNMPv3 password")
    h = hashlib.new(hash_name)
    block = (pw * (64 // len(pw) + 2))
    count = 0
    while count < 1048576:
        take = min(64, 1048576 - count)
        start = count % len(pw)
        h.update(block[start:start + take])
        count += take
    return h.digest()


def localize(hash_name: str, master: bytes, engine_id: bytes) -> bytes:
    return hashlib.new(hash_name, master + engine_id + master).digest()


def extend_key(hash_name: str, key: bytes, length: int, engine_id: bytes, how: str) -> bytes:
    """Stretch a localized key for AES-192/256: draft-blumenthal-aes-usm hashes the key,
    draft-reeder-snmpv3-usm-3desede localizes the key used as a password (Cisco's way)."""
    while len(key) < length:
        if how == "reeder":
            key += localize(hash_name, password_to_key(hash_name, key), engine_id)
        else:
            key += hashlib.new(hash_name, key).digest()
    return key[:length]


@dataclass
class UsmUser:
    name: bytes
    auth_proto: str | None
    auth_key: bytes = field(default=b"", repr=False)  # localized
    priv_proto: str | None = None
    priv_key: bytes = field(default=b"", repr=False)  # localized, cut to the cipher's key size

    @classmethod
    def create(cls, cred: Credential, engine_id: bytes) -> UsmUser:
        """The user ``cred`` describes, keys localized to ``engine_id``."""
        ap, pp = cred.auth_proto, cred.priv_proto
        if pp is not None and pp not in PRIV:
            raise UsmConfigError(f"user {cred.user}: {unsupported('the simulator', 'priv_proto', pp, PRIV)}")
        akey = pkey = b""
        if ap:
            hn = AUTH[ap].hash
            akey = localize(hn, password_to_key(hn, cred.auth_key or ""), engine_id)
            if pp:
                local = localize(hn, password_to_key(hn, cred.priv_key or ""), engine_id)
                pkey = extend_key(hn, local, PRIV[pp].key_len, engine_id, cred.key_extension or "")
        return cls(cred.user.encode(), ap, akey, pp, pkey)

    @property
    def level(self) -> int:
        return (FLAG_AUTH if self.auth_proto else 0) | (FLAG_PRIV if self.priv_proto else 0)

    def sign(self, msg: bytes) -> bytes:
        assert self.auth_proto is not None
        proto = AUTH[self.auth_proto]
        return hmac.new(self.auth_key, msg, proto.hash).digest()[:proto.mac_len]

    def verify(self, m: V3Message) -> bool:
        """Whether ``m``'s digest is this user's HMAC of the message."""
        n = len(m.auth_params)
        if not self.auth_proto or n != self.auth_len():
            return False
        zeroed = m.data[:m.auth_at] + b"\x00" * n + m.data[m.auth_at + n:]
        return hmac.compare_digest(self.sign(zeroed), m.auth_params)

    def auth_len(self) -> int:
        return AUTH[self.auth_proto].mac_len if self.auth_proto else 0


@dataclass(frozen=True)
class V3Message:
    """The header fields of one SNMPv3 message and where its parts lie in ``data``."""

    data: bytes
    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    etime: int
    user_name: bytes
    auth_params: bytes
    auth_at: int  # offset of the auth parameters (zeroed to check the digest)
    priv_params: bytes
    msg_data: bytes  # scopedPDU, or the OCTET STRING holding it encrypted


def parse_v3(data: bytes) -> V3Message | None:
    """Slice a v3 message's header; None when it is not version 3. BerError when malformed."""
    _, ms, me = ber.read_tlv(data, 0)
    _, vs, ve = ber.read_tlv(data, ms)
    if ber.dec_int(data, vs, ve) != 3:
        return None
    _, gs, ge = ber.read_tlv(data, ve)
    _, a, b = ber.read_tlv(data, gs)
    msg_id = ber.dec_int(data, a, b)
    _, a2, b2 = ber.read_tlv(data, b)
    max_size = ber.dec_int(data, a2, b2)
    _, a3, b3 = ber.read_tlv(data, b2)
    flags = data[a3] if b3 > a3 else 0
    _, a4, b4 = ber.read_tlv(data, b3)
    if ber.dec_int(data, a4, b4) != 3:
        return None
    _, ss, se = ber.read_tlv(data, ge)
    _, ps, _ = ber.read_tlv(data, ss)  # USM SEQUENCE
    _, e1, e2 = ber.read_tlv(data, ps)
    _, t1, t2 = ber.read_tlv(data, e2)
    _, t3, t4 = ber.read_tlv(data, t2)
    _, u1, u2 = ber.read_tlv(data, t4)
    _, au1, au2 = ber.read_tlv(data, u2)
    _, pr1, pr2 = ber.read_tlv(data, au2)
    return V3Message(data, msg_id, max_size, flags, data[e1:e2], ber.dec_int(data, t1, t2),
                     ber.dec_int(data, t3, t4), data[u1:u2], data[au1:au2], au1,
                     data[pr1:pr2], data[se:me])


def open_scoped(m: V3Message, priv_user: UsmUser | None) -> tuple[tuple[bytes, bytes], bytes]:
    """((context engine ID, context name), PDU) of ``m``, decrypted with ``priv_user``'s key
    when given. BerError when the (decrypted) scoped PDU is not one."""
    if priv_user is not None:
        ttag, c1, c2 = ber.read_tlv(m.msg_data, 0)
        if ttag != ber.OCTET_STRING or len(m.priv_params) != 8:
            raise ber.BerError("encrypted scoped PDU or salt malformed")
        iv = m.boots.to_bytes(4, "big") + m.etime.to_bytes(4, "big") + m.priv_params
        scoped = _aes(priv_user.priv_key, iv, m.msg_data[c1:c2], encrypt=False)
    else:
        scoped = m.msg_data
    stag, s1, s2 = ber.read_tlv(scoped, 0)
    if stag != ber.SEQUENCE:
        raise ber.BerError("scoped PDU is not a SEQUENCE")
    _, c1, c2 = ber.read_tlv(scoped, s1)
    _, n1, n2 = ber.read_tlv(scoped, c2)
    return (scoped[c1:c2], scoped[n1:n2]), scoped[n2:s2]


def _aes(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    c = Cipher(algorithms.AES(key), CFB(iv))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


class UsmEngine:
    """The USM side of one simulated device (its engine ID, boots, time, users)."""

    def __init__(self, engine_id: bytes, boots_fn, time_fn, users: list[UsmUser]) -> None:  # noqa: ANN001
        self.engine_id = engine_id
        self.boots_fn = boots_fn  # () -> engineBoots
        self.time_fn = time_fn  # () -> engineTime
        self.users = {u.name: u for u in users}
        self.stats = {k: 0 for k in range(1, 7)}
        self._salt = int.from_bytes(os.urandom(8), "big")

    def handle(self, data: bytes, pdu_handler) -> bytes | None:  # noqa: ANN001
        """Unwrap one v3 message, call ``pdu_handler(pdu_bytes, max_size) -> response PDU``.

        ``pdu_handler`` may return None (nothing to answer, e.g. an unconfirmed PDU)."""
        m = parse_v3(data)
        if m is None:
            return None
        level = m.flags & (FLAG_AUTH | FLAG_PRIV)
        reqid = self._plain_reqid(m.msg_data) if not m.flags & FLAG_PRIV else b"\x02\x01\x00"
        user_name = m.user_name

        if m.engine_id != self.engine_id:
            return self._report(m.msg_id, UNKNOWN_ENGINE_IDS, reqid, None, user_name)
        user = self.users.get(user_name)
        if user is None:
            return self._report(m.msg_id, UNKNOWN_USER_NAMES, reqid, None, user_name)
        if level & ~user.level or (level & FLAG_PRIV and not level & FLAG_AUTH):
            return self._report(m.msg_id, UNSUPPORTED_SEC_LEVELS, reqid, None, user_name)
        if level & FLAG_AUTH:
            if not user.verify(m):
                return self._report(m.msg_id, WRONG_DIGESTS, reqid, None, user_name)
            if m.boots != self.boots_fn() or abs(m.etime - self.time_fn()) > TIME_WINDOW_S:
                return self._report(m.msg_id, NOT_IN_TIME_WINDOWS, reqid, user, user_name)
        try:
            ctx, pdu = open_scoped(m, user if level & FLAG_PRIV else None)
            resp = pdu_handler(pdu, min(m.max_size, 65507) - 200)
        except ber.BerError:
            if level & FLAG_PRIV:
                return self._report(m.msg_id, DECRYPTION_ERRORS, b"\x02\x01\x00", None, user_name)
            raise
        if resp is None:
            return None
        return self._wrap(m.msg_id, user if level else None, level, user_name, ctx, resp)

    def notification(self, msg_id: int, user_name: bytes, pdu: bytes) -> bytes:
        """A v3 message carrying ``pdu`` (an SNMPv2-Trap) from this engine, authoritative
        for a trap, at ``user_name``'s own security level: how a device sends one."""
        user = self.users[user_name]
        return self._wrap(msg_id, user, user.level, user_name, (self.engine_id, b""), pdu)

    @staticmethod
    def _plain_reqid(msg_data: bytes) -> bytes:
        try:
            _, s1, _ = ber.read_tlv(msg_data, 0)
            _, _, c2 = ber.read_tlv(msg_data, s1)
            _, _, n2 = ber.read_tlv(msg_data, c2)
            _, p1, _ = ber.read_tlv(msg_data, n2)
            _, r1, r2 = ber.read_tlv(msg_data, p1)
            return msg_data[p1:r2]
        except ber.BerError:
            return b"\x02\x01\x00"

    def _report(self, msg_id: int, which: int, reqid: bytes, user: UsmUser | None,
                user_name: bytes) -> bytes:
        self.stats[which] += 1
        vb = ber.tlv(ber.SEQUENCE, ber.enc_oid(USM_STATS + (which, 0))
                     + ber.enc_int(self.stats[which], ber.COUNTER32))
        pdu = ber.tlv(ber.REPORT, reqid + ber.enc_int(0) + ber.enc_int(0) + ber.tlv(ber.SEQUENCE, vb))
        level = FLAG_AUTH if user is not None else 0
        return self._wrap(msg_id, user, level, user_name if user else b"", (self.engine_id, b""), pdu)

    def _wrap(self, msg_id: int, user: UsmUser | None, level: int, user_name: bytes,
              ctx: tuple[bytes, bytes], pdu: bytes) -> bytes:
        boots, etime = self.boots_fn(), self.time_fn()
        ctx_engine = ctx[0] or self.engine_id
        scoped = ber.tlv(ber.SEQUENCE, ber.tlv(ber.OCTET_STRING, ctx_engine)
                         + ber.tlv(ber.OCTET_STRING, ctx[1]) + pdu)
        priv_params = b""
        if user is not None and level & FLAG_PRIV:
            self._salt = (self._salt + 1) % 2**64
            priv_params = self._salt.to_bytes(8, "big")
            iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + priv_params
            msg_data = ber.tlv(ber.OCTET_STRING, _aes(user.priv_key, iv, scoped, encrypt=True))
        else:
            msg_data = scoped
        auth_len = user.auth_len() if user is not None and level & FLAG_AUTH else 0
        head = (ber.tlv(ber.OCTET_STRING, self.engine_id) + ber.enc_int(boots) + ber.enc_int(etime)
                + ber.tlv(ber.OCTET_STRING, user_name))
        sec_body = (head + ber.tlv(ber.OCTET_STRING, b"\x00" * auth_len)
                    + ber.tlv(ber.OCTET_STRING, priv_params))
        sec = ber.tlv(ber.SEQUENCE, sec_body)
        glob = ber.tlv(ber.SEQUENCE, ber.enc_int(msg_id) + ber.enc_int(65507)
                       + ber.tlv(ber.OCTET_STRING, bytes((level,))) + ber.enc_int(3))
        sec_os = ber.tlv(ber.OCTET_STRING, sec)
        body = ber.enc_int(3) + glob + sec_os + msg_data
        msg = ber.tlv(ber.SEQUENCE, body)
        if auth_len:
            outer_hdr = len(msg) - len(body)
            sec_os_hdr = len(sec_os) - len(sec)
            sec_hdr = len(sec) - len(sec_body)
            off = outer_hdr + 3 + len(glob) + sec_os_hdr + sec_hdr + len(head) + 2
            assert user is not None
            digest = user.sign(msg)
            msg = msg[:off] + digest + msg[off + auth_len:]
        return msg


def engine_time(boot: float) -> int:
    return max(0, int(time.time() - boot))
