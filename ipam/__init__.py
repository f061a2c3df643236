"""Central IP address planning and allocation."""
