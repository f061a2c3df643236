"""Random allocate/release sequences against a brute-force model of the pool's addresses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipam import freespace, store
from ipam.addresses import BITS, Block, parse_prefix
from ipam.allocate import allocate, free_blocks
from ipam.errors import BadInput, Conflict

from .helpers import examples

POOLS = {4: "10.20.30.0/24", 6: "2001:db8::f00/120"}  # 256 addresses each: brute force is cheap

ops = st.lists(
    st.tuples(st.sampled_from(["alloc", "alloc", "release"]), st.integers(0, 8),
              st.sampled_from(["first", "best", "last"]), st.integers(0, 10**6)),
    max_size=60,
)


def assert_index_matches_tree(db) -> None:
    """Every container's free-space index equals its free space recomputed from the tree; no stray rows."""
    containers = store.query(db, None, status="container", limit=-1)
    for pool in containers:
        assert freespace.is_built(db.conn, pool.id), pool.cidr
        assert freespace.indexed_blocks(db.conn, pool) == list(free_blocks(db.conn, pool)), pool.cidr
    ids = {p.id for p in containers}
    assert {r[0] for r in db.execute("SELECT DISTINCT pool_id FROM ipam_free")} <= ids
    assert {r[0] for r in db.execute("SELECT pool_id FROM ipam_free_pools")} == ids


def _model_free(pool: Block, taken: dict[int, Block]) -> set[int]:
    used: set[int] = set()
    for b in taken.values():
        used.update(range(b.network, b.last + 1))
    return set(range(pool.network, pool.last + 1)) - used


def _expected(pool: Block, free: set[int], plen: int, policy: str) -> int | None:
    """Brute force: every aligned candidate whose addresses are all free, chosen by policy."""
    size = 1 << (BITS[pool.family] - plen)
    fits = [c for c in range(pool.network, pool.last + 1, size) if all(a in free for a in range(c, c + size))]
    if not fits:
        return None
    if policy == "first":
        return fits[0]
    if policy == "last":
        return fits[-1]
    # best: inside the smallest maximal free aligned block able to hold it (lowest on ties)
    def block_of(c: int) -> int:
        s = size
        while s < pool.last - pool.network + 1:
            base = c - (c - pool.network) % (2 * s)
            if not all(a in free for a in range(base, base + 2 * s)):
                break
            s *= 2
        return s
    smallest = min(block_of(c) for c in fits)
    return min(c for c in fits if block_of(c) == smallest)


@pytest.mark.parametrize("family", [4, 6])
def test_random_allocate_release_matches_brute_force(fresh_db, db_engine, family):
    @settings(max_examples=examples(db_engine, 250), deadline=None)
    @given(sequence=ops)
    def check(sequence) -> None:
        db = fresh_db()
        pool_block = parse_prefix(POOLS[family])
        pool = store.add(db, store.space_id(db, "外网"), pool_block, status="container", actor="t",
                         is_pool=True)
        taken: dict[int, Block] = {}
        for op, n, policy, pick in sequence:
            if op == "release" and taken:
                pid = sorted(taken)[pick % len(taken)]
                store.delete(db, pid, actor="t")
                del taken[pid]
            else:
                plen = BITS[family] - n  # sizes 1..256 addresses
                if n == 8:  # the whole pool: refused, nothing stored
                    with pytest.raises(BadInput):
                        allocate(db, pool.id, actor="t", plen=plen, policy=policy)
                    continue
                free = _model_free(pool_block, taken)
                want = _expected(pool_block, free, plen, policy)
                if want is None:
                    with pytest.raises(Conflict):
                        allocate(db, pool.id, actor="t", plen=plen, policy=policy)
                    continue
                got, created = allocate(db, pool.id, actor="t", plen=plen, policy=policy)
                assert created
                assert got.network == want, (policy, plen, got.cidr)
                taken[got.id] = got.block
            # free space streamed from the index equals the model, block by block
            free = _model_free(pool_block, taken)
            streamed: set[int] = set()
            fresh = store.get(db, pool.id)
            for b in free_blocks(db.conn, fresh):
                assert not streamed & set(range(b.network, b.last + 1))
                streamed.update(range(b.network, b.last + 1))
            assert streamed == free
            assert fresh.used == sum(b.size for b in taken.values())
            assert fresh.n_children == len(taken)
            assert_index_matches_tree(db)

    check()


@pytest.mark.parametrize("family", [4, 6])
def test_manual_adds_never_overlap(fresh_db, db_engine, family):
    """Adding given blocks: accepted exactly when no partial overlap (containers may wrap)."""

    @settings(max_examples=examples(db_engine, 100), deadline=None)
    @given(blocks=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 255), st.booleans()), max_size=30))
    def check(blocks) -> None:
        db = fresh_db()
        pool_block = parse_prefix(POOLS[family])
        space = store.space_id(db, "专网")
        pool = store.add(db, space, pool_block, status="container", actor="t", is_pool=True)
        held: list[tuple[Block, bool]] = []  # (block, is_container)
        for n, offset, container in blocks:
            size = 1 << n
            block = Block(family, pool_block.network + (offset // size * size) % 256, BITS[family] - n)
            if block == pool_block:
                continue
            clash = [(b, c) for b, c in held if b.overlaps(block)]
            ok = all(
                (b.contains(block) and c and b != block) or (block.contains(b) and container and b != block)
                for b, c in clash
            )
            try:
                store.add(db, space, block, status="container" if container else "allocated", actor="t")
            except (Conflict, BadInput):
                assert not ok, (block, clash)
            else:
                assert ok, (block, clash)
                held.append((block, container))
            assert_index_matches_tree(db)
        # leaves never overlap, and the pool's counters match its direct children
        leaves = sorted((b for b, c in held if not c), key=lambda b: b.network)
        assert all(a.last < b.network for a, b in zip(leaves, leaves[1:], strict=False))
        fresh = store.get(db, pool.id)
        kids = store.children(db.conn, fresh)
        assert fresh.n_children == len(kids) and fresh.used == sum(k.size for k in kids)
        assert fresh.alloc == sum(b.size for b in leaves)
        assert_index_matches_tree(db)  # containers that wrapped existing blocks split the pool's free space


    check()
