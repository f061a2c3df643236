"""Flask pages: the NOC wall, the operator console and the county administrator's pages."""
