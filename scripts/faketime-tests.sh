#!/usr/bin/env bash
# Runs tests with the wall clock moved by OFFSET (libfaketime syntax: +2y, -200d), to show
# that the suite does not depend on the day it runs.  Not part of `make test`.
#   scripts/faketime-tests.sh +2y tests/alerts/test_api.py tests/auth/test_tokens.py
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: $0 OFFSET [pytest args...]   (e.g. +2y, -200d)" >&2
  exit 2
fi
command -v faketime >/dev/null || { echo "faketime: apt-get install faketime" >&2; exit 1; }
offset=$1
shift
# The monotonic clock stays real (see tests/support/faketime/sitecustomize.py for why).
export FAKETIME_DONT_FAKE_MONOTONIC=1
export PYTHONPATH="$PWD/tests/support/faketime:$PWD${PYTHONPATH:+:$PYTHONPATH}"
echo "faketime $offset: now is $(faketime -f "$offset" date -u '+%Y-%m-%d %H:%M UTC')"
exec faketime -f "$offset" "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider "$@"
