"""Serve one Cisco IOS device with fakenos, its ``show running-config`` read from a file at each call.

Runs under the fakenos venv's python (see fakenos_env.py), not the project's:
``python fakenos_cisco.py PORT USERNAME PASSWORD CONFIG_FILE HOSTNAME``.
Prints ``ready`` once listening; serves until killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fakenos import FakeNOS


def main(port: str, username: str, password: str, config_file: str, hostname: str) -> None:
    def running_config(*_args, **_kwargs) -> str:
        return Path(config_file).read_text(encoding="utf-8").rstrip("\n")

    inventory = {
        "hosts": {
            hostname: {
                "username": username,
                "password": password,
                "port": int(port),
                "platform": "cisco_ios",
                "server": {"plugin": "ParamikoSshServer",
                           "configuration": {"address": "127.0.0.1", "timeout": 1}},
                "nos": {"plugin": "cisco_ios", "configuration": {"commands": {
                    "show running-config": {
                        "output": running_config,
                        "help": "running configuration",
                        "prompt": ["{base_prompt}#"],
                    },
                }}},
            }
        }
    }
    net = FakeNOS(inventory=inventory)
    net.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        net.stop()


if __name__ == "__main__":
    main(*sys.argv[1:6])
