"""The free-space index against a full recomputation, in big v4/v6 pools, through allocate/release/split."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipam import csvio, freespace, store
from ipam.addresses import BITS, parse_prefix
from ipam.allocate import allocate, free_blocks, reindex
from ipam.errors import Conflict
from ipam.schema import ensure_schema

from .helpers import PLAN, examples
from .test_property import assert_index_matches_tree

POOLS = {4: "10.0.0.0/8", 6: "2001:db8::/32"}
POLICY = st.sampled_from(["first", "best", "last"])

ops = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), st.integers(1, 24), POLICY, st.booleans()),
        st.tuples(st.just("release"), st.integers(0, 10**6)),
        st.tuples(st.just("split"), st.integers(0, 10**6), st.integers(1, 12), POLICY),
        st.tuples(st.just("retype"), st.integers(0, 10**6)),
    ),
    max_size=40,
)


def expected(db, pool: store.Prefix, plen: int, policy: str) -> int | None:
    """The policy's pick, from the free space recomputed from the tree (not from the index)."""
    size = 1 << (BITS[pool.family] - plen)
    fits = [b for b in free_blocks(db.conn, pool) if b.plen <= plen]
    if not fits:
        return None
    if policy == "first":
        return min(b.network for b in fits)
    if policy == "last":
        return max(b.last + 1 - size for b in fits)
    return min(fits, key=lambda b: (-b.plen, b.network)).network


def _alloc_checked(db, pool: store.Prefix, plen: int, policy: str, container: bool) -> store.Prefix | None:
    """Allocate and check the pick against the recomputation, and that it overlaps no sibling."""
    want = expected(db, pool, plen, policy)
    status = "container" if container else "allocated"
    if want is None:
        with pytest.raises(Conflict):
            allocate(db, pool.id, actor="t", plen=plen, policy=policy, status=status)
        return None
    got, _ = allocate(db, pool.id, actor="t", plen=plen, policy=policy, status=status)
    assert (got.network, got.plen) == (want, plen), (policy, got.cidr)
    siblings = [c for c in store.children(db.conn, pool) if c.id != got.id]
    assert not any(c.block.overlaps(got.block) for c in siblings)
    return got


@pytest.mark.parametrize("family", [4, 6])
def test_index_equals_recomputed_free_space_after_every_step(fresh_db, db_engine, family):
    @settings(max_examples=examples(db_engine, 200), deadline=None)
    @given(sequence=ops)
    def check(sequence) -> None:
        db = fresh_db()
        pool = store.add(db, store.space_id(db, "专网"), parse_prefix(POOLS[family]), status="container",
                         actor="t", is_pool=True)
        for op in sequence:
            prefixes = store.query(db, None, within=pool, limit=-1)
            if op[0] == "alloc":
                _, depth, policy, container = op
                _alloc_checked(db, store.get(db, pool.id), pool.plen + depth, policy, container)
            elif op[0] == "release" and prefixes:
                victim = prefixes[op[1] % len(prefixes)]
                if victim.n_children:
                    with pytest.raises(Conflict):
                        store.delete(db, victim.id, actor="t")
                else:
                    store.delete(db, victim.id, actor="t")
            elif op[0] == "split":
                subpools = [p for p in prefixes if p.status == "container" and p.plen < BITS[family]]
                if subpools:
                    sub = subpools[op[1] % len(subpools)]
                    _alloc_checked(db, sub, min(sub.plen + op[2], BITS[family]), op[3], container=False)
            elif op[0] == "retype" and prefixes:
                leaves = [p for p in prefixes if not p.n_children]
                if leaves:
                    leaf = leaves[op[1] % len(leaves)]
                    new = "allocated" if leaf.status == "container" else "container"
                    store.update(db, leaf.id, {"status": new}, actor="t")
                    if new == "container" and leaf.plen < BITS[family]:  # all of it is free now
                        _alloc_checked(db, store.get(db, leaf.id), leaf.plen + 1, "best", False)
            assert_index_matches_tree(db)

    check()


def _fragmented(fresh_db, family: int):
    db = fresh_db()
    pool = store.add(db, store.space_id(db, "外网"), parse_prefix(POOLS[family]), status="container",
                     actor="t", is_pool=True)
    blocks = [allocate(db, pool.id, actor="t", plen=pool.plen + 12 + i % 3)[0] for i in range(60)]
    for b in blocks[::4]:
        store.delete(db, b.id, actor="t")
    return db, store.get(db, pool.id)


@pytest.mark.parametrize("family", [4, 6])
def test_missing_index_is_rebuilt_on_first_allocation(fresh_db, family):
    db, pool = _fragmented(fresh_db, family)
    before = freespace.indexed_blocks(db.conn, pool)
    freespace.forget(db.conn, pool.id)
    got, _ = allocate(db, pool.id, actor="t", plen=pool.plen + 14, policy="best")
    assert got.network == max((b for b in before if b.plen <= pool.plen + 14),
                              key=lambda b: (b.plen, -b.network)).network
    assert_index_matches_tree(db)


def test_database_from_before_the_index_gets_it_from_reindex_or_allocation(fresh_db):
    db, pool = _fragmented(fresh_db, 4)
    sub, _ = allocate(db, pool.id, actor="t", plen=20, status="container")
    db.execute("DROP TABLE ipam_free")
    db.execute("DROP TABLE ipam_free_pools")
    ensure_schema(db)  # what nms.schema.migrate runs on an old centre.db: empty index, nothing built
    assert not freespace.is_built(db.conn, pool.id)
    allocate(db, sub.id, actor="t", plen=24)
    assert freespace.is_built(db.conn, sub.id) and not freespace.is_built(db.conn, pool.id)
    rebuilt = reindex(db)
    assert rebuilt == {"pools": 2, "free_blocks": db.execute("SELECT count(*) FROM ipam_free").fetchone()[0]}
    assert_index_matches_tree(db)


def test_imported_plan_is_indexed(fresh_db):
    db = fresh_db()
    result = csvio.import_csv(db, PLAN.read_text(encoding="utf-8"), actor="t")
    assert result["created"] > 800
    assert db.execute("SELECT count(*) FROM ipam_free_pools").fetchone()[0] > 100
    assert_index_matches_tree(db)


@pytest.mark.parametrize("top, kids, first, last", [
    ("0.0.0.0/0", ["255.0.0.0/8", "0.0.0.0/8", "128.0.0.0/8", "127.0.0.0/8"], "1.0.0.0/8", "254.0.0.0/8"),
    ("::/0", ["ff00::/8", "::/8", "8000::/8", "7f00::/8"], "100::/8", "fe00::/8"),
])
def test_addresses_with_the_high_bit_set_sort_by_value(fresh_db, top, kids, first, last):
    """Addresses are stored as 16 bytes (BLOB/BYTEA): both engines must order them as numbers,
    so children, streamed free space, the index and first/last fit agree with ipaddress."""
    db = fresh_db()
    space = store.space_id(db, "外网")
    pool = store.add(db, space, parse_prefix(top), status="container", actor="t", is_pool=True)
    for kid in kids:
        store.add(db, space, parse_prefix(kid), status="allocated", actor="t")
    pool = store.get(db, pool.id)
    nets = sorted(ipaddress.ip_network(k) for k in kids)
    assert [c.cidr for c in store.children(db.conn, pool)] == [str(n) for n in nets]
    gaps, low = [], ipaddress.ip_network(top).network_address
    for n in nets:
        if n.network_address > low:
            gaps += ipaddress.summarize_address_range(low, n.network_address - 1)
        if n != nets[-1]:  # the last kid ends the address space
            low = n.broadcast_address + 1
    assert [b.cidr for b in free_blocks(db.conn, pool)] == [str(g) for g in gaps]
    assert freespace.indexed_blocks(db.conn, pool) == list(free_blocks(db.conn, pool))
    assert allocate(db, pool.id, actor="t", plen=8, policy="first")[0].cidr == first
    assert allocate(db, pool.id, actor="t", plen=8, policy="last")[0].cidr == last
    assert_index_matches_tree(db)
