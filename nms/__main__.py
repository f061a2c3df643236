"""``nms`` command line: one entry, subcommands registered by the module that owns them."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes ``register(subparsers)`` adding its subcommands; each subcommand
# sets ``func`` (args -> exit code) via ``set_defaults``.
COMMAND_MODULES = (
    "nms.serve",
    "nms.init",
    "nms.migrate_cli",
    "nms.doctor",
    "nms.inventory_changes",
    "nms.auth.cli",
    "nms.backup",
    "nms.availability",
    "nms.alerts.cli",
    "nms.configs.cli",
    "ipam.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nms", description="Provincial network centre")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
