"""Where a principal may act: the subtree of the site its account is bound to.

The site tree comes from the inventory.  Tests (or a caller that already loaded it)
put an :class:`~probes.common.inventory_model.Inventory` in ``app.config["NMS_INVENTORY"]``;
otherwise it is loaded from ``Settings.inventory_path`` and reloaded when the file
changes; a file that does not load leaves the last valid tree in place (after a restart,
the centre's accepted copy, :mod:`nms.inventory_changes`).  Without a tree, scope shrinks
to the bound site itself (fail closed).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, has_app_context

from probes.common.inventory import load_inventory
from probes.common.inventory_model import Inventory

log = logging.getLogger(__name__)


def site_tree(app: Flask | None = None) -> Inventory | None:
    """The inventory of the app (None when it cannot be loaded; the error is logged)."""
    if app is None:
        if not has_app_context():
            return None
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    given = app.config.get("NMS_INVENTORY")
    if given is not None:
        return given
    settings = app.config.get("NMS_SETTINGS")
    if settings is None:
        return None
    path = settings.inventory_path
    cache: dict[str, Any] = app.extensions.setdefault("nms_auth_tree", {})
    try:
        mtime = path.stat().st_mtime
    except OSError:
        if not cache.get("warned"):
            log.error("inventory %s missing: account scopes shrink to their own site", path)
            cache["warned"] = True
        return None
    if cache.get("mtime") == mtime:
        return cache.get("tree")
    try:
        tree = load_inventory(path)
    except Exception as exc:  # an unreadable inventory must not open access; log and fail closed
        log.error("cannot load inventory %s for account scopes: %s", path, exc)
        tree = cache.get("tree") or load_accepted(settings)  # keep the last good one
    cache.update(mtime=mtime, tree=tree)
    return tree


ACCEPTED = "inventory.accepted.yaml"  # in the data directory, written by nms.inventory_changes


def load_accepted(settings: Any) -> Inventory | None:
    """The inventory the centre last accepted (:mod:`nms.inventory_changes`): after a restart
    with a broken file, what it runs with.  None if there is none or it cannot be read."""
    path = settings.data_dir / ACCEPTED
    if not path.exists():
        return None
    try:
        inv = load_inventory(path)
    except Exception as exc:  # the copy was valid when written; say so if it no longer is
        log.error("the accepted inventory copy %s is unusable: %s", path, exc)
        return None
    inv.source = str(settings.inventory_path)
    return inv


def scope_of_site(site: str | None, tree: Inventory | None) -> frozenset[str] | None:
    """Sites covered by an account bound to ``site``: None means the whole province."""
    if site is None:
        return None
    if tree is None or site not in tree.sites:
        return frozenset({site})
    if tree.sites[site].parent is None:
        return None
    return frozenset(tree.subtree(site))


def known_site(site: str, tree: Inventory | None) -> bool:
    """True when the site exists in the tree (or when no tree is loaded to say otherwise)."""
    return tree is None or site in tree.sites


def audit_site(sites: frozenset[str] | None, tree: Inventory | None) -> str | None:
    """The one site an audit row about a subject reaching ``sites`` is filed under:
    the narrowest site whose subtree holds them all (None = province only)."""
    if not sites:
        return None
    return common_site(sorted(sites), tree)  # type: ignore[arg-type]


def common_site(sites: list[str | None], tree: Inventory | None) -> str | None:
    """The lowest site of the tree that is or holds every one of ``sites``; None if none is known
    (or one of them has no site: then the province holds them)."""
    if not sites or not all(sites):
        return None
    if len(set(sites)) == 1:
        return sites[0]
    if tree is None or any(s not in tree.sites for s in sites):
        return None
    chains = [_ancestors(s, tree) for s in sites]
    shared = set(chains[0]).intersection(*chains[1:])
    for site in chains[0]:  # from the site upwards: the first shared one is the lowest
        if site in shared:
            return site
    return None


def _ancestors(site: str, tree: Inventory) -> list[str]:
    chain = [site]
    while tree.sites[chain[-1]].parent is not None:
        chain.append(tree.sites[chain[-1]].parent)  # type: ignore[arg-type]
    return chain
