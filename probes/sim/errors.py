"""The simulator's one error: a fault or option naming something the province does not have."""


class SimError(ValueError):
    """A fault or option naming something the province does not have."""
