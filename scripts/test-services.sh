#!/usr/bin/env bash
# Make sure the real services the tests talk to are installed and running:
# Redis (and redis-sentinel, for the failover test), PostgreSQL (started as its own
# user, with its client tools for the backup test), Chromium, Firefox ESR and coturn.
set -euo pipefail

need=()
for pkg in redis-server redis-sentinel postgresql postgresql-client chromium firefox-esr coturn iproute2 util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "starting redis"
    mkdir -p /var/lib/redis /var/log/redis
    # As in production (docs/operations.md): an append-only file, no RDB snapshots.
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly yes --appendfsync everysec --dir /var/lib/redis \
        --logfile /var/log/redis/ci.log
fi

version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1 || true)
if [[ -z "$version" ]]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_createcluster "$version" main >/dev/null
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "starting postgresql $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done

# A role of our own, with a password, works under both trust and scram auth.
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'safecall') THEN
    CREATE ROLE safecall LOGIN CREATEDB PASSWORD 'safecall';
  END IF;
END $$;
SQL
for _ in $(seq 1 10); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
command -v node >/dev/null || { echo "node (20 or later) is missing: the JS tests need it" >&2; exit 1; }
echo "services ready: redis, postgresql $version, chromium, firefox-esr, coturn"
