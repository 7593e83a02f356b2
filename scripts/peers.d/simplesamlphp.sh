# SimpleSAMLphp (Debian package `simplesamlphp`, run by `php -S`) as a real SAML 2.0 IdP on
# 127.0.0.1, for jsm-sso-saml's interop tests (crates/jsm-sso-saml/tests/interop_simplesamlphp.rs).
#
# Everything it needs is built afresh in a temporary directory: config.php, authsources.php
# (exampleauth:UserPass with the users alice and bob), saml20-idp-hosted.php (signs the Response
# and the Assertion with RSA-SHA256, NameID format emailAddress taken from `mail`),
# saml20-sp-remote.php (our SP: its ACS, its Single Logout endpoint and its signing certificate)
# and two new RSA-2048 keys with self-signed certificates, one the IdP's, one our SP's.
# Single Logout: the IdP signs its LogoutRequests and LogoutResponses to our SP (`sign.logout`,
# query signatures with RSA-SHA256) and requires ours to be signed by the SP key
# (`validate.logout`); it logs out with the `traditional` handler (plain HTTP redirects from SP to
# SP, no iframes or JavaScript), which is the default.
# Nothing under /etc or /usr/share is changed: SIMPLESAMLPHP_CONFIG_DIR points PHP at our copy.
#
# Sourced by scripts/test.sh (which defines on_exit and JSM_SSO_REQUIRE_PEERS). By hand:
#   bash -c 'on_exit() { :; }; JSM_SSO_REQUIRE_PEERS=1; source scripts/peers.d/simplesamlphp.sh;
#            env | grep JSM_SSO_SIMPLESAMLPHP; wait'
#
# Exports (the tests read these; fixed values are fixed so that vectors captured with one run
# match the next):
#   JSM_SSO_SIMPLESAMLPHP_URL            base URL, e.g. http://127.0.0.1:41234 (no trailing /)
#   JSM_SSO_SIMPLESAMLPHP_SSO_URL        the IdP's SingleSignOnService (HTTP-Redirect binding)
#   JSM_SSO_SIMPLESAMLPHP_IDP_ENTITY_ID  http://127.0.0.1/jsm-sso/simplesamlphp-idp (fixed)
#   JSM_SSO_SIMPLESAMLPHP_IDP_METADATA   file: the IdP's metadata XML as served by the IdP
#   JSM_SSO_SIMPLESAMLPHP_IDP_CERT       file: the IdP's signing certificate (PEM)
#   JSM_SSO_SIMPLESAMLPHP_SP_ENTITY_ID   http://127.0.0.1/jsm-sso/sp (fixed)
#   JSM_SSO_SIMPLESAMLPHP_ACS_URL        http://127.0.0.1:18080/saml/acs (fixed; nothing listens:
#                                        the test driver reads the Response from the POST form)
#   JSM_SSO_SIMPLESAMLPHP_USER1 / _PASSWORD1 / _EMAIL1   alice, alice@acme.example,
#                                                        groups staff + portal-users
#   JSM_SSO_SIMPLESAMLPHP_USER2 / _PASSWORD2 / _EMAIL2   bob, bob@partner.example, group partners
#   JSM_SSO_SIMPLESAMLPHP_VERSION        the installed package version
#   JSM_SSO_SIMPLESAMLPHP_IDP_SLO_URL    the IdP's SingleLogoutService (HTTP-Redirect binding):
#                                        takes our LogoutRequest and LogoutResponse, and with
#                                        ?ReturnTo=<url> starts an IdP-initiated logout
#   JSM_SSO_SIMPLESAMLPHP_SLO_URL        http://127.0.0.1:18080/saml/slo (fixed; our SP's
#                                        SingleLogoutService, HTTP-Redirect; nothing listens: the
#                                        test driver reads the IdP's redirect to it)
#   JSM_SSO_SIMPLESAMLPHP_SP_KEY         file: our SP's signing key (PEM, PKCS#8, RSA-2048; new
#                                        each run), which signs its logout messages
#   JSM_SSO_SIMPLESAMLPHP_SP_CERT        file: its self-signed certificate (PEM), the one the
#                                        IdP's saml20-sp-remote.php trusts
ssp_root=/usr/share/simplesamlphp
# Debian packages: the IdP itself, the PHP CLI (its built-in web server) and the extensions
# SimpleSAMLphp needs that Debian's php-cli lacks (dom from php-xml, mbstring).
ssp_packages=(simplesamlphp php-cli php-xml php-mbstring)

ssp_installed() {
    [ -f "$ssp_root/www/_include.php" ] && command -v php >/dev/null 2>&1 &&
        php -r 'exit(extension_loaded("dom") && extension_loaded("mbstring") && extension_loaded("openssl") ? 0 : 1);'
}

ssp_fail() {
    if [ "$JSM_SSO_REQUIRE_PEERS" = 1 ]; then
        echo "error: $*" >&2
        exit 1
    fi
    echo "warning: $*; jsm-sso-saml's SimpleSAMLphp interop tests will skip" >&2
    return 1
}

ssp_start() {
    if ! ssp_installed; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "installing: ${ssp_packages[*]}"
            local apt_log
            apt_log=$(mktemp)
            # Without an update first (scripts/test.sh has just run one); with one if that fails.
            if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${ssp_packages[@]}" >"$apt_log" 2>&1; then
                { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                    --no-install-recommends "${ssp_packages[@]}"; } >"$apt_log" 2>&1 ||
                    tail -20 "$apt_log" >&2
            fi
            rm -f "$apt_log"
        fi
        ssp_installed ||
            { ssp_fail "SimpleSAMLphp is missing (Debian: ${ssp_packages[*]})"; return; }
    fi
    if ! command -v openssl >/dev/null 2>&1; then
        ssp_fail "openssl is needed to make the SimpleSAMLphp signing key"
        return
    fi

    local dir port pid
    dir=$(mktemp -d "${TMPDIR:-/tmp}/jsm-sso-simplesamlphp.XXXXXX")
    mkdir -p "$dir/config" "$dir/metadata" "$dir/cert" "$dir/data" "$dir/tmp" "$dir/log" \
        "$dir/sessions"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local base="http://127.0.0.1:$port"
    local idp_entity=http://127.0.0.1/jsm-sso/simplesamlphp-idp
    local sp_entity=http://127.0.0.1/jsm-sso/sp
    local acs=http://127.0.0.1:18080/saml/acs
    local slo=http://127.0.0.1:18080/saml/slo

    openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 \
        -subj "/CN=jsm-sso SimpleSAMLphp test IdP" \
        -keyout "$dir/cert/idp.key" -out "$dir/cert/idp.pem" >"$dir/log/openssl.log" 2>&1 ||
        { cat "$dir/log/openssl.log" >&2; ssp_fail "openssl could not make the IdP key"; return; }
    # Our SP's key: the tests sign LogoutRequests and LogoutResponses with it.
    openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 \
        -subj "/CN=jsm-sso SimpleSAMLphp test SP" \
        -keyout "$dir/cert/sp.key" -out "$dir/cert/sp.pem" >"$dir/log/openssl.log" 2>&1 ||
        { cat "$dir/log/openssl.log" >&2; ssp_fail "openssl could not make the SP key"; return; }

    # Throwaway secrets: this IdP lives for one test run on 127.0.0.1.
    local salt admin
    salt=$(openssl rand -hex 24)
    admin=$(openssl rand -hex 12)

    cat >"$dir/config/config.php" <<PHP
<?php
// Written by scripts/peers.d/simplesamlphp.sh for one test run; see there.
\$config = [
    'baseurlpath' => '$base/',
    'certdir' => '$dir/cert/',
    'loggingdir' => '$dir/log/',
    'datadir' => '$dir/data/',
    'tempdir' => '$dir/tmp',
    'metadatadir' => '$dir/metadata/',
    'attributenamemapdir' => '$ssp_root/config/attributemap/',
    'secretsalt' => '$salt',
    'auth.adminpassword' => '$admin',
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,
    'technicalcontact_name' => 'jsm-sso tests',
    'technicalcontact_email' => 'na@example.org',
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,
    'module.enable' => ['core' => true, 'saml' => true, 'exampleauth' => true],
    'assertion.allowed_clock_skew' => 180,
    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'logging.level' => SimpleSAML\Logger::INFO,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'logging.processname' => 'simplesamlphp',
    'statistics.out' => [],
    'store.type' => 'phpsession',
    'session.duration' => 8 * 60 * 60,
    'session.datastore.timeout' => 4 * 60 * 60,
    'session.state.timeout' => 60 * 60,
    'session.cookie.name' => 'SimpleSAMLSessionID',
    'session.cookie.lifetime' => 0,
    'session.cookie.path' => '/',
    'session.cookie.domain' => null,
    // Plain HTTP on 127.0.0.1: a Secure cookie would never come back.
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.savepath' => '$dir/sessions',
    'session.phpsession.httponly' => true,
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken',
    'session.rememberme.enable' => false,
    'language.available' => ['en'],
    'language.default' => 'en',
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,
    'theme.use' => 'default',
    'template.auto_reload' => false,
    'production' => true,
    // Where the IdP may send the browser (ReturnTo of an IdP-initiated logout): a port other
    // than 80/443 must be listed with the host.
    'trusted.url.domains' => ['127.0.0.1', '127.0.0.1:18080'],
    'authproc.idp' => [],
];
PHP

    cat >"$dir/config/authsources.php" <<'PHP'
<?php
// Two portal customers of different companies (scripts/peers.d/simplesamlphp.sh).
$config = [
    'admin' => ['core:AdminPassword'],
    'jsm-sso-users' => [
        'exampleauth:UserPass',
        'alice:alice-pass-1' => [
            'uid' => ['alice'],
            'mail' => ['alice@acme.example'],
            'groups' => ['staff', 'portal-users'],
            'displayName' => ['Alice Example'],
        ],
        'bob:bob-pass-2' => [
            'uid' => ['bob'],
            'mail' => ['bob@partner.example'],
            'groups' => ['partners'],
            'displayName' => ['Bob Partner'],
        ],
    ],
];
PHP

    cat >"$dir/metadata/saml20-idp-hosted.php" <<PHP
<?php
\$metadata['$idp_entity'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.pem',
    'auth' => 'jsm-sso-users',
    // SSOService.php takes both bindings; say so in the metadata (the default names Redirect).
    'SingleSignOnServiceBinding' => [
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
    ],
    'userid.attribute' => 'uid',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'mail',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    // Release only what the SP's metadata lists under 'attributes' (uid stays at the IdP).
    'authproc' => [50 => ['class' => 'core:AttributeLimit']],
];
PHP

    cat >"$dir/metadata/saml20-sp-remote.php" <<PHP
<?php
\$metadata['$sp_entity'] = [
    'AssertionConsumerService' => [
        [
            'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
            'Location' => '$acs',
            'index' => 0,
        ],
    ],
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'mail',
    'attributes' => ['mail', 'groups', 'displayName'],
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'validate.authnrequest' => false,
    'assertion.encryption' => false,
    // Single Logout, HTTP-Redirect both ways: the IdP signs what it sends us and accepts only
    // logout messages signed by our SP's key.
    'SingleLogoutService' => [
        [
            'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
            'Location' => '$slo',
        ],
    ],
    'certificate' => 'sp.pem',
    'sign.logout' => true,
    'validate.logout' => true,
];
PHP

    # php -S serves www/ as the document root; module.php/... and the saml2/idp/*.php scripts
    # get their PATH_INFO from the built-in server as they would from Apache.
    SIMPLESAMLPHP_CONFIG_DIR="$dir/config" php -d display_errors=stderr \
        -d session.save_path="$dir/sessions" -S "127.0.0.1:$port" -t "$ssp_root/www" \
        >"$dir/log/php-server.log" 2>&1 &
    pid=$!
    on_exit "kill $pid 2>/dev/null; rm -rf '$dir'"

    local ready=0 deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        if python3 - "$base/saml2/idp/metadata.php" "$dir/idp-metadata.xml" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    body = r.read()
if r.status != 200 or b"EntityDescriptor" not in body:
    sys.exit(1)
open(sys.argv[2], "wb").write(body)
PY
            ready=1
            break
        fi
        sleep 0.2
    done
    if [ "$ready" != 1 ]; then
        echo "--- $dir/log/php-server.log" >&2
        tail -40 "$dir/log/php-server.log" >&2 || true
        if [ -f "$dir/log/simplesamlphp.log" ]; then
            echo "--- $dir/log/simplesamlphp.log" >&2
            tail -30 "$dir/log/simplesamlphp.log" >&2
        fi
        ssp_fail "SimpleSAMLphp did not serve its metadata at $base/saml2/idp/metadata.php"
        return
    fi

    export JSM_SSO_SIMPLESAMLPHP_URL="$base"
    export JSM_SSO_SIMPLESAMLPHP_SSO_URL="$base/saml2/idp/SSOService.php"
    export JSM_SSO_SIMPLESAMLPHP_IDP_ENTITY_ID="$idp_entity"
    export JSM_SSO_SIMPLESAMLPHP_IDP_METADATA="$dir/idp-metadata.xml"
    export JSM_SSO_SIMPLESAMLPHP_IDP_CERT="$dir/cert/idp.pem"
    export JSM_SSO_SIMPLESAMLPHP_SP_ENTITY_ID="$sp_entity"
    export JSM_SSO_SIMPLESAMLPHP_ACS_URL="$acs"
    export JSM_SSO_SIMPLESAMLPHP_USER1=alice JSM_SSO_SIMPLESAMLPHP_PASSWORD1=alice-pass-1
    export JSM_SSO_SIMPLESAMLPHP_EMAIL1=alice@acme.example
    export JSM_SSO_SIMPLESAMLPHP_USER2=bob JSM_SSO_SIMPLESAMLPHP_PASSWORD2=bob-pass-2
    export JSM_SSO_SIMPLESAMLPHP_EMAIL2=bob@partner.example
    JSM_SSO_SIMPLESAMLPHP_VERSION=$(dpkg-query -W -f='${Version}' simplesamlphp 2>/dev/null || echo unknown)
    export JSM_SSO_SIMPLESAMLPHP_VERSION
    export JSM_SSO_SIMPLESAMLPHP_IDP_SLO_URL="$base/saml2/idp/SingleLogoutService.php"
    export JSM_SSO_SIMPLESAMLPHP_SLO_URL="$slo"
    export JSM_SSO_SIMPLESAMLPHP_SP_KEY="$dir/cert/sp.key"
    export JSM_SSO_SIMPLESAMLPHP_SP_CERT="$dir/cert/sp.pem"
    echo "simplesamlphp $JSM_SSO_SIMPLESAMLPHP_VERSION listening on $base (dir: $dir)"
}

ssp_start || true
