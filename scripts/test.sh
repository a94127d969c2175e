#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, starts Postgres and Redis if
# they are not running, then runs lint, format check, type check and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[dev,demo]"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }

if ! pg_up; then
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "installing PostgreSQL (Debian package)"; apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -n 1)" main start || true
fi
if ! redis_up; then
  if ! command -v redis-server >/dev/null; then
    echo "installing Redis (Debian package)"; apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  fi
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
for _ in $(seq 1 60); do pg_up && redis_up && break; sleep 0.5; done
pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
redis_up || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

echo "== ruff";  .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy";  .venv/bin/mypy
if ! command -v docker-compose >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq docker-compose) >/dev/null 2>&1 || true
fi
if command -v docker-compose >/dev/null; then
  echo "== docker-compose config"; docker-compose -f docker-compose.yml config -q
else
  echo "warning: docker-compose (Debian package) unavailable; docker-compose.yml not checked" >&2
fi
echo "== pytest"
exec .venv/bin/pytest "$@"
