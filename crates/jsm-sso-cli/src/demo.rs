//! `jsm-sso demo`: the portal gateway with an embedded default (SAML IdP, OIDC issuer, JSM
//! in memory or the real site `JSM_BASE_URL` names, a sample policy, an audit log in a
//! temporary directory) on 127.0.0.1.

use std::net::SocketAddr;
use std::process::ExitCode;

/// `jsm-sso demo` options.
#[derive(Debug, clap::Args)]
#[command(after_help = jsm_sso_gateway::demo::ENV_HELP)]
pub(crate) struct Args {
    /// Where the gateway listens (loopback only: the demo's IdPs and cookies assume it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

/// Serves the demo until Ctrl-C.
#[expect(clippy::print_stderr, reason = "usage and start-up errors")]
pub(crate) fn run(args: &Args) -> ExitCode {
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "jsm-sso demo: --listen must be a loopback address (127.0.0.1:PORT), not {}",
            args.listen
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jsm-sso demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(jsm_sso_gateway::demo::run("jsm-sso demo", args.listen))
}
