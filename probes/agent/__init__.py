"""The probe agent: schedules polls, spools results on disk, pushes them to the centre.

``agent.py run`` (:mod:`probes.agent.run`) wires the parts together; each part has one job:
:mod:`config` (what to poll, from the inventory), :mod:`scheduler` (when),
:mod:`spool` (durable store and forward), :mod:`push` (HTTP to the centre),
:mod:`metrics` (Prometheus exposition), :mod:`logs` (structured logging).
"""
