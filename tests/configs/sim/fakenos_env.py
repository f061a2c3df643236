"""Make (once) and locate the virtual environment that runs fakenos.

fakenos pins paramiko <= 4.0 while the project runs paramiko 5, so it lives in its
own venv and runs as a separate process.  The venv is cached under
``$NMS_FAKENOS_VENV`` (default ``~/.cache/nms/fakenos-venv``).  ``.ci/run`` can call
``python -m tests.configs.sim.fakenos_env`` to build it ahead of the tests; tests
build it on first use and skip if that fails (no registry reachable).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

FAKENOS_REQUIREMENT = "fakenos==1.2.1"


def venv_dir() -> Path:
    env = os.environ.get("NMS_FAKENOS_VENV")
    return Path(env) if env else Path.home() / ".cache" / "nms" / "fakenos-venv"


def venv_python() -> Path:
    return venv_dir() / "bin" / "python"


def ready() -> bool:
    py = venv_python()
    if not py.exists():
        return False
    return subprocess.run([str(py), "-c", "import fakenos"], capture_output=True).returncode == 0


def ensure() -> Path:
    """Return the venv's python, creating the venv and installing fakenos if needed."""
    if ready():
        return venv_python()
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir())
    subprocess.run([str(venv_python()), "-m", "pip", "install", "-q", FAKENOS_REQUIREMENT], check=True)
    return venv_python()


if __name__ == "__main__":
    print(ensure())
    sys.exit(0)
