"""SNMP polling, device profiles, the probe agent and the simulated province."""
