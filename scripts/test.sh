#!/usr/bin/env bash
# Runs the default test suite; pytest's "no tests collected" (5) counts as failure here
# because a suite that runs nothing proves nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# fakenos (simulated Cisco IOS over SSH) pins an old paramiko: it lives in its own venv.
$PY -m tests.configs.sim.fakenos_env >/dev/null || echo "test: could not prepare the fakenos venv" >&2
# -rs: every skip names its reason; under CI=true a skip fails the run (tests/support/ci_skips.py).
$PY -m pytest -q -rs --durations=10 -p no:cacheprovider "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "test: pytest collected no tests" >&2
  exit 1
fi
exit $rc
