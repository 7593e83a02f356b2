#!/usr/bin/env bash
# The whole jsm-sso test suite, from a fresh machine: `bash scripts/test.sh`.
#
# README.md names this command and .ci/run calls exactly it. It installs the real peers the
# interop tests talk to (once; a second run finds them and installs nothing), then runs, in
# order: rustfmt, clippy, rustdoc, the benches once each in test mode, the fuzz smoke (every
# fuzz target briefly, scripts/fuzz-smoke.sh), the bench ratios in quick mode (each hot path
# beside its floor, scripts/bench-ratios.py), and the tests. The last thing it prints is cargo
# test's summary.
#
# Environment:
#   JSM_SSO_REQUIRE_PEERS  1 (the default here): interop tests FAIL when a peer (xmlsec1,
#                          python3 with lxml, ...) is missing instead of skipping. This script
#                          installs the peers, so a missing one is a broken set-up, not a
#                          reason to pass. Set it to 0 to let those tests skip, for example on
#                          a machine where you cannot install packages. Plain `cargo test`
#                          without the variable skips them too (with a note on stderr).
#   CI                     when set (CI sets CI=true), incremental compilation is turned off,
#                          which a one-off build does not profit from.
#
# Peers are installed by name from Debian's packages and PyPI only. To add one:
#   - a Debian package: add "command:package" to APT_PEERS below;
#   - a Python package: pin it in scripts/requirements-test.txt;
#   - a server (oidc-provider, redis, SimpleSAMLphp, ...): add scripts/peers.d/NAME.sh. Each is
#     sourced here after the packages are in place; it starts its server on 127.0.0.1, exports
#     the address for the tests (JSM_SSO_<NAME>_URL), and registers its clean-up with
#     `on_exit "kill $pid"`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS

section() {
    printf '\n==> %s  [%ds]\n' "$*" "$((SECONDS - started))"
}

exit_hooks=()
on_exit() {
    exit_hooks+=("$1")
}
run_exit_hooks() {
    local hook
    for hook in "${exit_hooks[@]+"${exit_hooks[@]}"}"; do
        eval "$hook" || true
    done
}
trap run_exit_hooks EXIT

export JSM_SSO_REQUIRE_PEERS="${JSM_SSO_REQUIRE_PEERS:-1}"
if [ -n "${CI:-}" ]; then
    export CARGO_INCREMENTAL=0
fi

# ---------------------------------------------------------------------------------------------
section "peers: Debian packages"
# "command:package": the package is installed when the command is not on PATH.
APT_PEERS=(
    "xmlsec1:xmlsec1" # reference XML-DSig signer/verifier (jsm-sso-xmldsig interop tests)
    # Node for Prism serving Atlassian's JSM spec (scripts/peers.d/prism.sh: npm ci of the
    # pinned @stoplight/prism-cli in scripts/node/prism; jsm-sso-jira contract tests)
    "node:nodejs"
    "npm:npm"
    # RSA-OAEP-SHA256 reference for the xmlenc11 rsa-oaep interop (xmlsec1 1.2 lacks it)
    "openssl:openssl"
    # SimpleSAMLphp, a real SAML IdP served by `php -S` (scripts/peers.d/simplesamlphp.sh, which
    # also installs the PHP extensions php-xml and php-mbstring it needs); the package has no
    # command on PATH, so one of its scripts stands for it.
    "php:php-cli"
    "/usr/share/simplesamlphp/bin/console:simplesamlphp"
    # PostgreSQL server for jsm-sso-audit's PostgresSink tests (scripts/peers.d/postgres.sh);
    # its binaries are not on PATH, so initdb's Debian 12 path stands for it.
    "/usr/lib/postgresql/15/bin/initdb:postgresql"
    # Redis for jsm-sso-redis's store tests and the broker's two-instance fleet test
    # (scripts/peers.d/redis.sh)
    "redis-server:redis-server"
    # headless Chromium and its WebDriver for the portal gateway's browser tests
    # (examples/portal-gateway/tests/browser.rs; loopback only, background services off)
    "chromium:chromium"
    "chromedriver:chromium-driver"
)
missing=()
for peer in "${APT_PEERS[@]}"; do
    if command -v "${peer%%:*}" >/dev/null 2>&1; then
        echo "found ${peer%%:*}: $(command -v "${peer%%:*}")"
    else
        missing+=("${peer#*:}")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    elif [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
        echo "error: missing ${missing[*]} and cannot install (needs root and apt-get);" \
            "install them, or run with JSM_SSO_REQUIRE_PEERS=0 to skip the interop tests" >&2
        exit 1
    else
        echo "warning: missing ${missing[*]}; interop tests that need them will skip" >&2
    fi
fi

section "peers: Python packages (scripts/requirements-test.txt)"
python3 --version
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    -r scripts/requirements-test.txt
python3 -c 'import lxml; print("lxml", lxml.__version__)'

shopt -s nullglob
peer_scripts=(scripts/peers.d/*.sh)
shopt -u nullglob
if [ "${#peer_scripts[@]}" -gt 0 ]; then
    section "peers: servers (scripts/peers.d)"
    for peer_script in "${peer_scripts[@]}"; do
        echo "starting ${peer_script}"
        # shellcheck source=/dev/null
        source "$peer_script"
    done
fi

# ---------------------------------------------------------------------------------------------
section "toolchain"
cargo --version
rustc --version
# MSRV: Cargo.toml states rust-version = "1.88", but only this toolchain can be had here.
# clippy's incompatible_msrv lint (denied below through -D warnings) reads rust-version and
# flags standard-library items stabilised after it. See docs/testing.md.
grep -q '^rust-version = "1.88"' Cargo.toml

section "cargo fmt --all --check"
cargo fmt --all --check

section "cargo clippy --workspace --all-targets --all-features -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

section "cargo doc --workspace --no-deps --all-features (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

# Benches are built in the test profile (sharing the test build's dependencies) and each
# benchmark runs once, so they cannot rot; timing them is `cargo bench`'s job, not CI's.
shopt -s nullglob
bench_files=(crates/*/benches/*.rs)
shopt -u nullglob
if [ "${#bench_files[@]}" -gt 0 ]; then
    section "benches, each once in test mode: cargo test --workspace --all-features --bench '*'"
    cargo test --workspace --all-features --bench '*'
fi

section "fuzz smoke: each fuzz target ${FUZZ_SMOKE_SECONDS:-10}s from its seed corpus (scripts/fuzz-smoke.sh)"
bash scripts/fuzz-smoke.sh

section "bench ratios, quick mode: hot path / floor (scripts/bench-ratios.py)"
python3 scripts/bench-ratios.py

section "cargo test --workspace --all-features (JSM_SSO_REQUIRE_PEERS=$JSM_SSO_REQUIRE_PEERS)"
cargo test --workspace --all-features
