"""``nms ipam`` subcommands (parser built from ipam.cli.register, as nms.__main__ does)."""

from __future__ import annotations

import argparse
import json

from ipam import cli

from .helpers import PLAN


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="nms")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_import_allocate_idempotent_export(tmp_path, database_url, monkeypatch, capsys):
    monkeypatch.setenv("NMS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NMS_DATABASE_URL", database_url)
    assert run("ipam", "import", str(PLAN)) == 0
    assert '"created": ' in capsys.readouterr().out
    assert run("ipam", "allocate", "10.0.0.0/8", "24", "--key", "k1", "--purpose", "lab") == 0
    first = capsys.readouterr().out.strip()
    assert run("ipam", "allocate", "10.0.0.0/8", "24", "--key", "k1", "--purpose", "lab") == 0
    assert capsys.readouterr().out.strip() == f"{first} (already allocated under this key)"
    assert run("ipam", "allocate", "10.0.0.0/8", "7") == 2
    assert "prefix_length" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("space,prefix,status\n专网,10.0.0.1/8,container\n", encoding="utf-8")
    assert run("ipam", "import", str(bad)) == 2
    assert "line 2: prefix:" in capsys.readouterr().err
    assert run("ipam", "reindex") == 0
    rebuilt = json.loads(capsys.readouterr().out)
    assert rebuilt["pools"] > 100 and rebuilt["free_blocks"] > 0
    out = tmp_path / "out.csv"
    assert run("ipam", "export", "--out", str(out)) == 0
    assert f"{first},allocated" in out.read_text(encoding="utf-8")
