# PostgreSQL (Debian package `postgresql`) on 127.0.0.1 for jsm-sso-audit's PostgresSink tests
# (crates/jsm-sso-audit/tests/postgres.rs, which read JSM_SSO_POSTGRES_URL). A throwaway
# cluster in a temporary directory on a free port, trust authentication for the one local
# user `jsm_sso`, the socket in the same directory; removed on exit. initdb refuses to run as
# root, so as root (CI) the server runs as the `postgres` user the package creates.
#
# Sourced by scripts/test.sh (which defines on_exit). Can be run by hand too:
#   bash -c 'on_exit() { :; }; JSM_SSO_REQUIRE_PEERS=1; source scripts/peers.d/postgres.sh; echo $JSM_SSO_POSTGRES_URL'
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
    if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
        echo "error: PostgreSQL server binaries not found (Debian: postgresql)" >&2
        exit 1
    fi
    echo "warning: no PostgreSQL server; jsm-sso-audit PostgreSQL tests will skip" >&2
else
    pg_tmp=$(mktemp -d)
    pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pg_run=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$pg_tmp"
        pg_run=(runuser -u postgres --)
    fi
    if "${pg_run[@]}" "$pg_bin/initdb" -D "$pg_tmp/data" -U jsm_sso --auth=trust -E UTF8 \
            >"$pg_tmp/initdb.log" 2>&1 &&
        "${pg_run[@]}" "$pg_bin/pg_ctl" -D "$pg_tmp/data" -l "$pg_tmp/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_tmp" start >/dev/null; then
        on_exit "${pg_run[*]} '$pg_bin/pg_ctl' -D '$pg_tmp/data' -m immediate stop >/dev/null 2>&1; rm -rf '$pg_tmp'"
        export JSM_SSO_POSTGRES_URL="postgres://jsm_sso@127.0.0.1:$pg_port/postgres"
        echo "postgresql listening on $JSM_SSO_POSTGRES_URL (log: $pg_tmp/server.log)"
    else
        tail -20 "$pg_tmp/initdb.log" "$pg_tmp/server.log" >&2 2>/dev/null || true
        rm -rf "$pg_tmp"
        if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
            echo "error: postgresql did not start" >&2
            exit 1
        fi
        echo "warning: postgresql did not start; jsm-sso-audit PostgreSQL tests will skip" >&2
    fi
fi
