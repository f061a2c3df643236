#!/usr/bin/env python3
"""net-snmp ``pass_persist`` helper: serves OIDs from a JSON file the test rewrites.

The file maps numeric OIDs to ``[type, value]`` (net-snmp pass types: integer, gauge,
counter, timeticks, ipaddress, objectid, string).  It is re-read when it changes, so a
test changes what the real snmpd answers between two polls.
"""

import json
import os
import sys

path = sys.argv[1]
cache = {"mtime": None, "rows": []}


def key(oid):
    return tuple(int(x) for x in oid.strip(".").split("."))


def rows():
    try:
        m = os.stat(path).st_mtime_ns
    except OSError:
        return []
    if m != cache["mtime"]:
        with open(path) as f:
            data = json.load(f)
        cache["rows"] = sorted(((key(o), o.strip("."), t, v) for o, (t, v) in data.items()))
        cache["mtime"] = m
    return cache["rows"]


def answer(row):
    _, oid, t, v = row
    sys.stdout.write(f".{oid}\n{t}\n{v}\n")


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        cmd = line.strip()
        if cmd == "PING":
            sys.stdout.write("PONG\n")
        elif cmd in ("get", "getnext"):
            want = key(sys.stdin.readline())
            found = None
            for row in rows():
                if (cmd == "get" and row[0] == want) or (cmd == "getnext" and row[0] > want):
                    found = row
                    break
            answer(found) if found else sys.stdout.write("NONE\n")
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            sys.stdout.write("not-writable\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
