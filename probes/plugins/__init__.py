"""The poller's plugins, in the order they run (docs/profiles.md, "Plugins").

:class:`~probes.plugins.identity.Identity` always runs first: it reads the system group
and chooses the profile.  Then each plugin of :data:`PLUGINS` whose ``can_handle`` says
yes to that profile runs, in this order, within the device's time budget.  Adding a kind
of data means one small module here, one line in :data:`PLUGINS`, its field in
:class:`~probes.result.PollResult` and in the contract; nothing in the Poller changes.
"""

from __future__ import annotations

from probes.plugins.addresses import Addresses
from probes.plugins.base import Plugin, PollContext
from probes.plugins.health import Health, Sessions
from probes.plugins.identity import Identity
from probes.plugins.interfaces import Interfaces
from probes.plugins.sdh import Sdh
from probes.plugins.tunnels import Tunnels

PLUGINS: tuple[type[Plugin], ...] = (Interfaces, Health, Sessions, Tunnels, Sdh, Addresses)

__all__ = ["PLUGINS", "Identity", "Plugin", "PollContext"]
