# redis-server (Debian package `redis-server`) on 127.0.0.1 for jsm-sso-redis's tests and the
# broker's two-instance fleet test (crates/jsm-sso-redis/tests/*.rs,
# crates/jsm-sso-broker/tests/redis_fleet.rs), which read JSM_SSO_REDIS_URL. A throwaway
# server on a free port: no persistence (no RDB, no AOF), working directory in a temporary
# directory, no maxmemory (so nothing is evicted); killed and removed on exit.
#
# Sourced by scripts/test.sh (which defines on_exit). Can be run by hand too:
#   bash -c 'on_exit() { :; }; JSM_SSO_REQUIRE_PEERS=1; source scripts/peers.d/redis.sh; echo $JSM_SSO_REDIS_URL'
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
        echo "error: redis-server not found (Debian: redis-server)" >&2
        exit 1
    fi
    echo "warning: no redis-server; jsm-sso-redis tests will skip" >&2
else
    redis_tmp=$(mktemp -d)
    redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$redis_tmp" \
        --save '' --appendonly no --daemonize no --protected-mode yes \
        --maxmemory-policy noeviction --logfile "$redis_tmp/redis.log" &
    redis_pid=$!
    on_exit "kill $redis_pid 2>/dev/null; for _ in {1..50}; do kill -0 $redis_pid 2>/dev/null || break; sleep 0.1; done; rm -rf '$redis_tmp'"
    redis_ready=0
    for _ in $(seq 1 80); do
        if ! kill -0 "$redis_pid" 2>/dev/null; then
            break
        fi
        if python3 - "$redis_port" <<'PY' 2>/dev/null; then
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"PING\r\n")
sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
PY
            redis_ready=1
            break
        fi
        sleep 0.25
    done
    if [ "$redis_ready" = 1 ]; then
        export JSM_SSO_REDIS_URL="redis://127.0.0.1:$redis_port/"
        echo "redis-server listening on $JSM_SSO_REDIS_URL (log: $redis_tmp/redis.log)"
    else
        tail -20 "$redis_tmp/redis.log" >&2 || true
        if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
            echo "error: redis-server did not start" >&2
            exit 1
        fi
        echo "warning: redis-server did not start; jsm-sso-redis tests will skip" >&2
    fi
fi
