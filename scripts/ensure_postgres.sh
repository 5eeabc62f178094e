#!/usr/bin/env bash
# Make sure the PostgreSQL server of the test URL answers; start the local cluster if not.
set -euo pipefail
url="${1:-postgresql://postgres@127.0.0.1:5432/test}"
hostport="${url#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5432

ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

if ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  done
fi
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL does not answer at $host:$port: start it, or set TEST_POSTGRES_URL." >&2
exit 1
