"""Stores own their tables: no SQL on a table outside its owner, one transaction helper, schema made once.

The map is ``nms.schema.OWNERS``; the scanner reads every ``.py`` file of the code
(not the tests, which may look into tables to check what was stored) and reports:

* a string literal with SQL naming a table (``FROM``/``INTO``/``JOIN``/``UPDATE``/``TABLE``/
  ``ON`` followed by the table), or a literal that is exactly a table's name
  (``db["ipam_prefixes"]``, ``db.table(...)``, ``"x" in db.table_names()``), in a module that
  does not own that table, and any such SQL in a blueprint (web) module, even the owner's:
  views call the store;
* ``BEGIN``/``COMMIT``/``ROLLBACK`` statements, ``.commit()``/``.rollback()`` or ``with <x>.conn:``
  outside ``nms/db.py``
  (the agent's spool, a file of its own in a process without the centre, keeps its own);
* ``ensure_schema(...)`` called anywhere but ``nms/schema.py`` and the stores' own
  ``ensure_schema`` functions (tables are made once at start, never per call);
* ``connect(...)`` called directly by a view function of a blueprint module (requests use
  ``nms.db.request_db``; a thread the view starts opens its own).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from nms.schema import OWNERS

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("nms", "ipam", "dashboards", "probes")
TRANSACTIONS_OWNED_BY = {"nms.db", "nms.dbpg", "probes.agent.spool"}
SCHEMA_SETUP = {"nms.schema"}

TABLE_OWNER: dict[str, str] = {t: owner for owner, tables in OWNERS.items() for t in tables}
SQL_REF = re.compile(
    r"\b(?:FROM|INTO|JOIN|UPDATE|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|ON|table_info\()\s*[\"'`]?(\w+)",
    re.IGNORECASE,
)
# SQL keywords are upper case in this code ("release" in prose is not a statement)
TXN = re.compile(r"^\s*(?:BEGIN|COMMIT|ROLLBACK|END\s+TRANSACTION|SAVEPOINT|RELEASE)\b")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def owns(module: str, owner: str) -> bool:
    return module == owner or module.startswith(owner + ".")


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _tables_named(text: str) -> set[str]:
    named = {m.group(1) for m in SQL_REF.finditer(text)} & TABLE_OWNER.keys()
    # db["x"], db.table("x"), "x" in db.table_names(); plain words like "pending" are not names
    if text in TABLE_OWNER and "_" in text:
        named.add(text)
    return named


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: str, where: str, tree: ast.AST) -> None:
        self.module, self.where = module, where
        self.docstrings = _docstrings(tree)
        self.functions: list[str] = []
        self.blueprint = "Blueprint(" in ast.unparse(tree)
        self.problems: list[str] = []

    def _add(self, node: ast.AST, what: str) -> None:
        self.problems.append(f"{self.where}:{getattr(node, 'lineno', 0)}: {what}")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Constant(self, node: ast.Constant) -> None:
        if not isinstance(node.value, str) or id(node) in self.docstrings:
            return
        for table in sorted(_tables_named(node.value)):
            if self.module not in SCHEMA_SETUP and not owns(self.module, TABLE_OWNER[table]):
                self._add(node, f"table {table} is owned by {TABLE_OWNER[table]}; call its functions")
            elif self.blueprint:
                self._add(node, f"SQL on {table} in a web module: call {TABLE_OWNER[table]}'s functions")
        if TXN.match(node.value) and self.module not in TRANSACTIONS_OWNED_BY:
            self._add(node, f"{node.value.split()[0]} outside nms.db: use nms.db.transaction")

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            expr = item.context_expr
            if (isinstance(expr, ast.Attribute) and expr.attr == "conn"
                    and self.module not in TRANSACTIONS_OWNED_BY):
                self._add(node, "`with <db>.conn:` outside nms.db: use nms.db.transaction")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        setup = self.module in SCHEMA_SETUP or "ensure_schema" in self.functions
        if name == "ensure_schema" and not setup:
            self._add(node, "ensure_schema() outside schema setup: nms.schema.migrate makes tables once")
        if name in ("commit", "rollback") and isinstance(func, ast.Attribute) and not node.args:
            if self.module not in TRANSACTIONS_OWNED_BY:
                self._add(node, f"{name}() outside nms.db: use nms.db.transaction")
        if name == "connect" and self.blueprint and len(self.functions) == 1 and isinstance(func, ast.Name):
            self._add(node, "a view opens its own connection: use nms.db.request_db")
        self.generic_visit(node)


def scan_source(source: str, module: str, where: str = "<string>") -> list[str]:
    """Ownership problems of one module's source."""
    tree = ast.parse(source)
    scanner = _Scanner(module, where, tree)
    scanner.visit(tree)
    return scanner.problems


def scan_tree() -> list[str]:
    problems = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            rel = str(path.relative_to(ROOT))
            problems += scan_source(path.read_text(encoding="utf-8"), module_of(path), rel)
    return problems


# ---- the scanner itself ----------------------------------------------------------------------


def test_scanner_finds_planted_violations() -> None:
    planted = '''
from nms.db import connect
bp = Blueprint("x", __name__)

def view(db):
    """Reads alert_alerts FROM alert_alerts (a docstring is prose, not SQL)."""
    rows = db.execute("SELECT rule FROM alert_alerts WHERE id = ?", (1,))
    n = db.execute(f"select count(*) from {x} JOIN state_events ON 1").fetchone()
    db["ipam_prefixes"].count
    db.execute("BEGIN IMMEDIATE")
    with db.conn:
        ensure_schema(db)
    return connect(settings, "centre") or db.conn.commit()

def ensure_schema(db):
    audit.ensure_schema(db)
'''
    problems = scan_source(planted, "dashboards.views", "planted.py")
    joined = "\n".join(problems)
    assert "planted.py:7: table alert_alerts is owned by nms.alerts" in joined
    assert "planted.py:8: table state_events is owned by nms.state" in joined
    assert "planted.py:9: table ipam_prefixes is owned by ipam" in joined
    assert "planted.py:10: BEGIN outside nms.db" in joined
    assert "planted.py:11: `with <db>.conn:`" in joined
    assert "planted.py:12: ensure_schema() outside schema setup" in joined
    assert "planted.py:13: a view opens its own connection" in joined
    assert "planted.py:13: commit() outside nms.db" in joined
    assert len(problems) == 8, problems  # not the docstring, not the nested ensure_schema
    # the owner's web module still calls the store: no SQL in a blueprint module
    in_owner_views = scan_source(planted, "nms.alerts.api")
    assert "<string>:7: SQL on alert_alerts in a web module: call nms.alerts's functions" in in_owner_views
    in_store = scan_source(planted.replace('bp = Blueprint("x", __name__)', ""), "nms.alerts.store")
    assert not any("alert_alerts" in p for p in in_store) and len(in_store) == 6, in_store
    owner_source = 'db.execute("SELECT rule FROM alert_alerts")\ndb.execute("DELETE FROM alert_history")\n'
    assert scan_source(owner_source, "nms.alerts.engine") == []
    assert scan_source(owner_source, "nms.alertsx") != []


def test_every_table_has_one_owner() -> None:
    tables = [t for ts in OWNERS.values() for t in ts]
    assert len(tables) == len(set(tables)), "a table listed under two owners"
    for owner in OWNERS:
        path = ROOT / Path(*owner.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), owner


def test_every_created_table_is_in_the_map_and_made_by_its_owner() -> None:
    created = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"']?(\w+)", re.IGNORECASE)
    seen: dict[str, str] = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            for table in created.findall(path.read_text(encoding="utf-8")):
                if table.endswith("_old") or table == "t":  # rebuild scratch names of add_key_column
                    continue
                seen[table] = module_of(path)
    assert set(seen) == set(TABLE_OWNER), (set(seen) ^ set(TABLE_OWNER))
    for table, module in seen.items():
        assert owns(module, TABLE_OWNER[table]), f"{table} made by {module}, owned by {TABLE_OWNER[table]}"


def test_no_sql_on_a_store_s_tables_outside_that_store() -> None:
    problems = scan_tree()
    assert problems == [], "\n".join(problems)


def test_docs_list_the_same_owners() -> None:
    """docs/storage.md "Who touches which tables": one row per owner, its tables in the first column."""
    text = (ROOT / "docs" / "storage.md").read_text(encoding="utf-8")
    section = text.split("### Who touches which tables", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[1].startswith("`"):
            documented[cells[1].strip("`")] = set(re.findall(r"`(\w+)`", cells[0]))
    assert documented == {owner: set(tables) for owner, tables in OWNERS.items()}
