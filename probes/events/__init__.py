"""Events the devices report on their own: SNMP notifications and syslog (issue 16).

Receivers (:mod:`.traps`, :mod:`.syslog`) decode what arrives, :mod:`.sources` maps the
sender's address to an inventory device, :mod:`.rules` gives it meaning from the
``traps:``/``syslog:`` blocks of the vendor profiles, and :mod:`.flood` keeps one chatty
source from starving the rest.  Part of the agent side: imports nothing from ``nms``.
"""
