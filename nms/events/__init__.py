"""The centre's event log (issue 16): traps and syslog the agents received, stored once each,
searched and exported within the reader's county scope (:mod:`.store`, :mod:`.api`)."""
