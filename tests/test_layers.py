"""The layers of the code, checked from its imports (issue 15, point 4; docs/architecture.md).

    composition   nms.serve, nms.demo, nms.server, nms.__main__ (they load the rest by name too)
    pages         dashboards/
    centre        nms/ (the rest), ipam/
    agent side    probes/ (poller, plugins, agent, simulator), agent.py
    foundation    probes/common/ (+ probes.snmp.credential, the one credential type)

An agent installs without the centre (tests/agent/test_install_without_centre.py), so
``probes/`` never imports ``nms``, ``ipam`` or ``dashboards``; the foundation imports only
itself; only the composition imports the composition, the pages or the simulator;
module-level imports have no cycle; and a function-level import of project code is allowed
only when ``LAZY`` lists it with the reason it is deliberate (heavy or optional).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nms", "probes", "ipam", "dashboards")
CENTRE = ("nms", "ipam", "dashboards")
FOUNDATION = "probes.common"
FOUNDATION_MAY_IMPORT = ("probes.common", "probes.snmp.credential")
COMPOSITION = ("nms.serve", "nms.demo", "nms.server", "nms.__main__")
# Only the composition brings these in: the pages, and the simulated province.
ABOVE_THE_CENTRE = ("dashboards", "probes.sim")

# (importer, imported) -> why the import sits in a function.  Nothing here may hide a cycle.
LAZY: dict[tuple[str, str], str] = {
    ("agent", "probes.agent.cli"): "agent.py puts its own directory on sys.path before importing probes",
    ("probes.portals.cli", "probes.portals.baseline"): "httpx and selectolax load only for check-site",
    ("probes.portals.cli", "probes.portals.check"): "httpx and selectolax load only for check-site",
    ("probes.portals.cli", "probes.portals.detect"): "httpx and selectolax load only for check-site",
    ("probes.portals.cli", "probes.portals.fetch"): "httpx and selectolax load only for check-site",
    ("probes.portals.cli", "probes.portals.lists"): "httpx and selectolax load only for check-site",
    ("probes.portals.cli", "probes.portals.page"): "httpx and selectolax load only for check-site",
    ("probes.agent.portals", "probes.portals.probe"): "httpx, selectolax: only agents with portals",
    ("probes.agent.portals", "probes.portals.fetch"): "httpx, selectolax: only agents with portals",
    ("probes.snmp", "probes.snmp.gufo_client"): "the backend is chosen per target; load only the one used",
    ("probes.snmp", "probes.snmp.pysnmp_client"): "pysnmp takes ~0.35 s to import and is only the fallback",
    ("nms.db", "nms.dbpg"): "psycopg and its pool load only when NMS_DATABASE_URL selects PostgreSQL",
}


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    line: int
    in_function: bool
    type_checking: bool = False


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    found["agent"] = ROOT / "agent.py"
    return found


def _resolve(name: str) -> str | None:
    """The project module an imported name lives in (``a.b.func`` -> ``a.b``), else None."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules():
            return ".".join(parts)
        parts.pop()
    return None


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING")


def _scan(module: str) -> list[Import]:
    path = modules()[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package[: len(package) - child.level + 1] + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in child.names]
            for name in names:
                target = _resolve(name) if name.split(".")[0] in PACKAGES else None
                if target and target != module:
                    found.append(Import(module, target, child.lineno, in_function, type_checking))
            visit(
                child,
                in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef),
                type_checking or _is_type_checking(child),
            )

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False, False)
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for m in sorted(modules()) for i in _scan(m))


def _under(module: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _where(i: Import) -> str:
    return f"{modules()[i.importer].relative_to(ROOT)}:{i.line}: {i.target}"


def test_the_agent_side_imports_nothing_of_the_centre():
    agent_side = ("probes", "agent")
    bad = [_where(i) for i in all_imports() if _under(i.importer, agent_side) and _under(i.target, CENTRE)]
    assert not bad, "probes/ and agent.py must run without nms/ipam/dashboards:\n" + "\n".join(bad)


def test_the_foundation_imports_only_itself():
    bad = [
        _where(i)
        for i in all_imports()
        if _under(i.importer, FOUNDATION) and not _under(i.target, FOUNDATION_MAY_IMPORT)
    ]
    assert not bad, f"{FOUNDATION} may import only {FOUNDATION_MAY_IMPORT}:\n" + "\n".join(bad)


def _may_import(importer: str, target: str) -> bool:
    """Only the composition imports the composition; only a package above the centre
    (the pages, the simulator) and the composition import that package."""
    if _under(importer, COMPOSITION):
        return True
    if _under(target, COMPOSITION):
        return False
    above = next((top for top in ABOVE_THE_CENTRE if _under(target, top)), None)
    return above is None or _under(importer, above)


def test_nothing_below_imports_the_composition():
    bad = [_where(i) for i in all_imports() if not _may_import(i.importer, i.target)]
    assert not bad, (
        f"only {', '.join(COMPOSITION)} may import each other, dashboards and probes.sim:\n" + "\n".join(bad)
    )


def test_the_composition_rule_refuses_what_it_should():
    assert not _may_import("nms.state", "nms.serve")
    assert not _may_import("nms.alerts.engine", "dashboards.walldata")
    assert not _may_import("nms.pipeline", "probes.sim.province")
    assert _may_import("nms.demo", "probes.sim.wan") and _may_import("dashboards.views", "dashboards.sse")
    assert _may_import("probes.sim.wan", "probes.sim.province") and _may_import("nms.state", "nms.store")


def module_graph(extra: tuple[Import, ...] = ()) -> dict[str, set[str]]:
    """Module-level imports as run when a module loads: also the packages above the imported
    module (their ``__init__`` runs first), except the importer's own (already loading)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for i in (*(i for i in all_imports() if not i.in_function and not i.type_checking), *extra):
        parts = i.target.split(".")
        for n in range(1, len(parts) + 1):
            target = ".".join(parts[:n])
            if target in modules() and target != i.importer and not _under(i.importer, target):
                graph[i.importer].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_module_level_imports_have_no_cycle():
    found = cycles(module_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_are_deliberate():
    lazy = [i for i in all_imports() if i.in_function]
    unlisted = sorted({_where(i) for i in lazy if (i.importer, i.target) not in LAZY})
    stale = sorted(set(LAZY) - {(i.importer, i.target) for i in lazy})
    assert not unlisted, (
        "function-level imports of project code: move them to the top of the module, or list the "
        "deliberate ones (heavy or optional) in LAZY with the reason:\n" + "\n".join(unlisted)
    )
    assert not stale, f"LAZY lists imports that are gone: {stale}"


def test_no_deliberate_lazy_import_hides_a_cycle():
    """Were each listed import at the top of its module, there would still be no cycle."""
    hoisted = tuple(Import(a, b, 0, False) for a, b in LAZY)
    found = cycles(module_graph(hoisted))
    assert not found, "a lazy import hides a cycle:\n" + "\n".join(" <-> ".join(c) for c in found)
