"""Configuration backup: fetch running configs over SSH (netmiko), version, diff, export.

See docs/configs.md.  Modules: ``vendors`` (per-vendor data), ``masking`` (volatile
lines and secrets), ``hostkeys`` (pinning), ``fetch`` (SSH, parallel, deadlines),
``store`` (versions, status, events), ``targets`` (which devices, which credentials),
``job`` (scheduled run with retries), ``views`` and ``cli``.
"""
