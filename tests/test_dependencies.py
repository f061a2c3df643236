"""requirements.txt (what CI and the demo install) and pyproject.toml (what `pip install .`
installs) name the same run-time dependencies at the same minimum versions, and the README
says why each one is there."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_SECTION = "# Tests and benchmarks"


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            out[_name(name)] = version.strip()
    return out


def _requirements() -> tuple[dict[str, str], dict[str, str]]:
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    runtime, sep, tests = text.partition(TEST_SECTION)
    assert sep, f"requirements.txt has no {TEST_SECTION!r} line separating run-time from test deps"
    return _pins(runtime.splitlines()), _pins(tests.splitlines())


def test_pyproject_and_requirements_agree() -> None:
    runtime, _ = _requirements()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {}
    for spec in project["dependencies"]:
        m = re.search(r">=\s*([\w.]+)", spec)
        assert m, f"pyproject.toml: {spec!r} has no minimum version"
        declared[_name(spec)] = m.group(1)
    missing = sorted(set(runtime) - set(declared))
    extra = sorted(set(declared) - set(runtime))
    assert not missing, f"in requirements.txt but not in pyproject.toml dependencies: {missing}"
    assert not extra, f"in pyproject.toml dependencies but not in requirements.txt: {extra}"
    differ = {n: (runtime[n], declared[n]) for n in runtime if runtime[n] != declared[n]}
    assert not differ, f"pinned version != pyproject minimum (requirements, pyproject): {differ}"


def test_readme_says_why_for_each_dependency() -> None:
    runtime, tests = _requirements()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.partition("## Dependencies and why")[2]
    assert table, "README has no 'Dependencies and why' section"
    cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("|")]
    named = {_name(name) for cell in cells for name in cell.split(",")}
    unexplained = sorted(n for n in {**runtime, **tests} if n not in named)
    assert not unexplained, f"README 'Dependencies and why' has no row for: {unexplained}"
