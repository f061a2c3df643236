"""The foundation both sides stand on: network guard, inventory model and loader, topology
of the inventory, secrets.  It imports nothing from ``nms`` (the centre) so that a probe agent
installs and runs with ``probes/`` and ``agent.py`` alone."""
