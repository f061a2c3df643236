"""Run ``nms serve`` in a child process for the crash test.

Skips blueprint/command modules whose parent package does not exist yet (nms.server and
nms.__main__ only tolerate a missing leaf module); otherwise exactly ``nms serve``.
"""

from __future__ import annotations

import importlib.util
import sys


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


if __name__ == "__main__":
    from nms import __main__ as cli
    from nms import server

    server.BLUEPRINT_MODULES = tuple(m for m in server.BLUEPRINT_MODULES if _importable(m))
    cli.COMMAND_MODULES = tuple(m for m in cli.COMMAND_MODULES if _importable(m))
    sys.exit(cli.main(["serve", *sys.argv[1:]]))
