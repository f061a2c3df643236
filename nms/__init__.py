"""The network centre: ingest, store, state, availability, alerts, accounts, config backup."""
