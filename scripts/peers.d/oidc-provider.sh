# Node oidc-provider (OpenID Certified OP; pinned in scripts/node/oidc-provider/package-lock.json)
# on 127.0.0.1 with test clients, accounts and devInteractions login/consent, for
# crates/jsm-sso-oidc/tests/interop_oidc_provider.rs, which reads JSM_SSO_OIDC_PROVIDER_URL.
#
# Sourced by scripts/test.sh (which defines on_exit). Can be run by hand too:
#   bash -c 'on_exit() { :; }; JSM_SSO_REQUIRE_PEERS=1; source scripts/peers.d/oidc-provider.sh; \
#            echo $JSM_SSO_OIDC_PROVIDER_URL; wait'
op_dir=scripts/node/oidc-provider
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
        echo "error: node and npm are needed for the oidc-provider peer (Debian: nodejs npm)" >&2
        exit 1
    fi
    echo "warning: node/npm missing; jsm-sso-oidc interop tests will skip" >&2
else
    if [ ! -d "$op_dir/node_modules/oidc-provider" ]; then
        echo "npm ci in $op_dir"
        (cd "$op_dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    op_tmp=$(mktemp -d)
    op_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    (cd "$op_dir" && exec node provider.mjs "$op_port") >"$op_tmp/oidc-provider.log" 2>&1 &
    op_pid=$!
    on_exit "kill $op_pid 2>/dev/null; for _ in {1..50}; do kill -0 $op_pid 2>/dev/null || break; sleep 0.1; done; rm -rf '$op_tmp'"
    op_ready=0
    for _ in $(seq 1 120); do
        if ! kill -0 "$op_pid" 2>/dev/null; then
            break
        fi
        if python3 - "$op_port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/.well-known/openid-configuration", timeout=2)
PY
            op_ready=1
            break
        fi
        sleep 0.25
    done
    if [ "$op_ready" = 1 ]; then
        export JSM_SSO_OIDC_PROVIDER_URL="http://127.0.0.1:$op_port"
        echo "oidc-provider listening on $JSM_SSO_OIDC_PROVIDER_URL (log: $op_tmp/oidc-provider.log)"
    else
        tail -20 "$op_tmp/oidc-provider.log" >&2 || true
        if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
            echo "error: oidc-provider did not start" >&2
            exit 1
        fi
        echo "warning: oidc-provider did not start; jsm-sso-oidc interop tests will skip" >&2
    fi
fi
