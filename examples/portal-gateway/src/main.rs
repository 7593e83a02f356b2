//! `portal-gateway`: serves the gateway. `--demo` runs the embedded default (as
//! `jsm-sso demo`); `--config FILE [--check]` validates a deployment's TOML file.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// The jsm-sso portal gateway.
#[derive(Debug, Parser)]
#[command(name = "portal-gateway", version, after_help = jsm_sso_gateway::demo::ENV_HELP)]
struct Args {
    /// The TOML configuration file (docs/gateway.md).
    #[arg(long, value_name = "FILE", required_unless_present = "demo")]
    config: Option<std::path::PathBuf>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Run the embedded demo instead of a configuration (JSM in memory, or the real site
    /// JSM_BASE_URL names: see below).
    #[arg(long, conflicts_with = "config")]
    demo: bool,
    /// Where the demo listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

#[expect(clippy::print_stderr, reason = "a command-line program")]
fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portal-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        if let Some(path) = &args.config {
            return jsm_sso_gateway::config::run(path, args.check).await;
        }
        jsm_sso_gateway::demo::run("portal-gateway", args.listen).await
    })
}
