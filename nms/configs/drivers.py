"""A netmiko session for CLIs netmiko has no driver for (Topsec TOS, Venustech USG).

Such devices only need: find the prompt, optionally turn paging off, enter enable mode
if the vendor data says so, run one show command. Cisco-like prompts (``name>`` /
``name#``) fit netmiko's Cisco base class; nothing else of Cisco is sent.
"""

from __future__ import annotations

from functools import cache

from netmiko import BaseConnection, ConnectHandler
from netmiko.cisco_base_connection import CiscoBaseConnection

from nms.configs.vendors import VendorSpec


class PromptCli(CiscoBaseConnection):
    """Prompt-driven session; ``paging_command`` is set per vendor by :func:`driver_class`."""

    paging_command = ""

    def session_preparation(self) -> None:
        self._test_channel_read(pattern=r"[>#]")
        self.set_base_prompt()
        if self.paging_command:
            self.disable_paging(command=self.paging_command)

    def save_config(self, *args: object, **kwargs: object) -> str:  # never used: read-only backups
        raise NotImplementedError("configuration backup never saves on the device")


@cache
def driver_class(paging: str) -> type[PromptCli]:
    return type("PromptCli", (PromptCli,), {"paging_command": paging})


def connect(spec: VendorSpec, params: dict[str, object]) -> BaseConnection:
    """A logged-in session: netmiko's own driver, or :class:`PromptCli` for ``driver: prompt_cli``."""
    if spec.driver == "prompt_cli":
        return driver_class(spec.paging)(**params)
    return ConnectHandler(**params)
