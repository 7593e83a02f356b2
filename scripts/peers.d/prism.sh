# Prism (@stoplight/prism-cli, pinned in scripts/node/prism/package-lock.json) serving
# Atlassian's JSM spec plus the Jira platform paths jsm-sso-jira uses, with request validation,
# on 127.0.0.1. jsm-sso-jira's contract tests (crates/jsm-sso-jira/tests/contract_prism.rs) send
# every client operation to it and read JSM_SSO_PRISM_URL.
#
# Sourced by scripts/test.sh (which defines on_exit). Can be run by hand too:
#   bash -c 'on_exit() { :; }; source scripts/peers.d/prism.sh; echo $JSM_SSO_PRISM_URL; wait'
prism_dir=scripts/node/prism
prism_spec_src="${JSM_SSO_OPENAPI_DIR:-crates/jsm-sso-jira/tests/vectors/jsm-openapi}"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
        echo "error: node and npm are needed for the Prism peer (Debian: nodejs npm)" >&2
        exit 1
    fi
    echo "warning: node/npm missing; jsm-sso-jira contract tests will skip" >&2
elif [ ! -f "$prism_spec_src/jsm.v3.json" ]; then
    if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
        echo "error: $prism_spec_src/jsm.v3.json not found (set JSM_SSO_OPENAPI_DIR)" >&2
        exit 1
    fi
    echo "warning: no JSM OpenAPI spec at $prism_spec_src; contract tests will skip" >&2
else
    if [ ! -x "$prism_dir/node_modules/.bin/prism" ]; then
        echo "npm ci in $prism_dir"
        (cd "$prism_dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    prism_tmp=$(mktemp -d)
    python3 "$prism_dir/build-spec.py" "$prism_spec_src" "$prism_tmp/jsm-sso.prism.json"
    prism_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$prism_dir/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$prism_port" \
        "$prism_tmp/jsm-sso.prism.json" >"$prism_tmp/prism.log" 2>&1 &
    prism_pid=$!
    on_exit "kill $prism_pid 2>/dev/null; for _ in {1..50}; do kill -0 $prism_pid 2>/dev/null || break; sleep 0.1; done; rm -rf '$prism_tmp'"
    prism_ready=0
    for _ in $(seq 1 120); do
        if ! kill -0 "$prism_pid" 2>/dev/null; then
            break
        fi
        if python3 - "$prism_port" <<'PY' 2>/dev/null; then
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/rest/servicedeskapi/info", timeout=2)
except urllib.error.HTTPError:
    pass  # any HTTP answer (401 without credentials) means it is listening
PY
            prism_ready=1
            break
        fi
        sleep 0.5
    done
    if [ "$prism_ready" = 1 ]; then
        export JSM_SSO_PRISM_URL="http://127.0.0.1:$prism_port"
        echo "prism listening on $JSM_SSO_PRISM_URL (log: $prism_tmp/prism.log)"
    else
        tail -20 "$prism_tmp/prism.log" >&2 || true
        if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
            echo "error: prism did not start" >&2
            exit 1
        fi
        echo "warning: prism did not start; jsm-sso-jira contract tests will skip" >&2
    fi
fi
