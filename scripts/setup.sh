#!/usr/bin/env bash
# Installs everything the platform, its simulated province and its tests need, on a fresh
# Debian 12 machine (as root) or an already prepared one (then it only checks).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(snmpd snmp snmptrapd rsyslog bsdutils prometheus victoria-metrics prometheus-alertmanager prometheus-snmp-exporter prometheus-blackbox-exporter
      chromium chromium-driver openssh-server sqlite3 rsync fonts-wqy-microhei nginx
      postgresql haproxy)
missing=()
for p in "${DEBS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! $PY -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python 3.11+ is needed as '$PY' (set PYTHON=...)" >&2
  exit 1
fi
$PY -m pip install -q --disable-pip-version-check -r requirements.txt
$PY -m pip install -q --disable-pip-version-check --no-deps -e .

# ECharts for the dashboards comes from the npm registry at set-up, never vendored in git.
if [ -f package.json ] && [ ! -d node_modules/echarts ]; then
  npm install --no-audit --no-fund --silent
fi
echo "setup: ok"
