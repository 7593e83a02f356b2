//! `jsm-sso audit`: check and export the tamper-evident audit log.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use jsm_sso_audit::ocsf::{CloudEventsOptions, to_cloudevent, to_ocsf};
use jsm_sso_audit::record::Record;
use jsm_sso_audit::verify::{Verifier, VerifyReport};
use jsm_sso_audit::{CodedError, VerifyingKey};
use serde::Serialize;

use crate::failure::{Failure, Kind, Outcome};
use crate::input::{self, Input};
use crate::output;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Verify a hash-chained audit log: every line's hash, every link, every sequence number,
    /// and the closing checkpoint; with --key also every checkpoint signature
    ///
    /// Give rotated files oldest first. Exit 0 prints {"verified":true,"count":..,"head":..,
    /// "events":..,"checkpoints":..,"first_seq":..,"last_seq":..,"signatures":"verified"|
    /// "unchecked","gaps":[[from, to], ..]}; head is the hash of the last record, to publish or
    /// compare later. Exit 1 names the file and the first line that was altered, removed,
    /// reordered or truncated (codes audit.verify.*). Without --key, someone who rewrites
    /// the whole file can recompute the chain: only the signatures tell.
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Print the log's events as JSON lines in a standard shape, for a SIEM
    ///
    /// --format ocsf prints one OCSF 1.8.0 event per line; --format cloudevents wraps each in
    /// a CloudEvents 1.0 JSON envelope. The log is verified first (as `audit verify`, with
    /// --key if given) and nothing is printed if it fails; --unverified skips that for a log
    /// still being written. Unlike the other commands this prints one JSON object per event.
    #[command(verbatim_doc_comment)]
    Export(ExportArgs),
}

/// Arguments of `jsm-sso audit verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The audit signing key's public key (PEM `PUBLIC KEY`, or the raw key in base64)
    #[arg(long, value_name = "PUB")]
    key: Option<Input>,

    /// The log file(s), oldest first, or `-` for standard input
    #[arg(value_name = "LOG.jsonl", required = true)]
    logs: Vec<Input>,
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// OCSF 1.8.0 events
    Ocsf,
    /// CloudEvents 1.0 (structured JSON) with the OCSF event as data
    Cloudevents,
}

/// Arguments of `jsm-sso audit export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Output shape
    #[arg(long, value_enum)]
    format: Format,

    /// CloudEvents `source` (a URI-reference naming this deployment)
    #[arg(long, value_name = "URI", default_value = "urn:jsm-sso:audit")]
    source: String,

    /// Public key to check signatures with while verifying
    #[arg(long, value_name = "PUB")]
    key: Option<Input>,

    /// Export without verifying first (a log that is still being written)
    #[arg(long)]
    unverified: bool,

    /// The log file(s), oldest first, or `-` for standard input
    #[arg(value_name = "LOG.jsonl", required = true)]
    logs: Vec<Input>,
}

/// What `audit verify` prints on success.
#[derive(Debug, Serialize)]
struct Verified {
    verified: bool,
    count: u64,
    head: String,
    events: u64,
    checkpoints: u64,
    first_seq: u64,
    last_seq: u64,
    signatures: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    gaps: Vec<(u64, u64)>,
}

/// Runs an `audit` subcommand.
pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify(args) => output::finish(verify(&args)),
        Command::Export(args) => match export(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => output::finish::<()>(Err(failure)),
        },
    }
}

fn verify(args: &VerifyArgs) -> Outcome<Verified> {
    input::stdin_at_most_once(args.key.iter().chain(&args.logs))?;
    let key = read_key(args.key.as_ref())?;
    let report = check(&args.logs, key.as_ref())?;
    Ok(Verified {
        verified: true,
        count: report.count,
        head: report.head.to_string(),
        events: report.events,
        checkpoints: report.checkpoints,
        first_seq: report.first_seq,
        last_seq: report.last_seq,
        signatures: if report.signatures_checked {
            "verified"
        } else {
            "unchecked"
        },
        key_id: key.map(|k| k.key_id().to_owned()),
        gaps: report.gaps,
    })
}

fn read_key(key: Option<&Input>) -> Result<Option<VerifyingKey>, Failure> {
    key.map(|k| {
        let pem = input::read(k)?;
        VerifyingKey::from_pem(&pem).map_err(|e| Failure::coded(Kind::Config, &e).in_input(k))
    })
    .transpose()
}

fn check(logs: &[Input], key: Option<&VerifyingKey>) -> Result<VerifyReport, Failure> {
    let mut verifier = Verifier::new(key);
    let mut last = None;
    for log in logs {
        let bytes = input::read(log)?;
        verifier
            .feed_file(&bytes)
            .map_err(|e| Failure::coded(Kind::Rejected, &e).in_input(log))?;
        last = Some(log);
    }
    verifier.finish().map_err(|e| {
        let failure = Failure::coded(Kind::Rejected, &e);
        match last {
            Some(log) => failure.in_input(log),
            None => failure,
        }
    })
}

fn export(args: &ExportArgs) -> Result<(), Failure> {
    input::stdin_at_most_once(args.key.iter().chain(&args.logs))?;
    let key = read_key(args.key.as_ref())?;
    let mut files = Vec::new();
    for log in &args.logs {
        files.push((log, input::read(log)?));
    }
    if !args.unverified {
        check(&args.logs, key.as_ref())?;
    }
    let mut options = CloudEventsOptions::default();
    options.source.clone_from(&args.source);
    let mut out = Vec::new();
    let mut last_seq = None;
    for (log, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for (index, line) in text.lines().enumerate() {
            let record = Record::from_line(line).map_err(|e| {
                let message = format!("line {}: {e}", index.saturating_add(1));
                Failure::new(Kind::Rejected, e.code(), message, e.hint()).in_input(log)
            })?;
            if last_seq.is_some_and(|l| record.seq() <= l) {
                continue; // the rotate checkpoint repeated at the top of the next file
            }
            last_seq = Some(record.seq());
            let Some(event) = record.event() else {
                continue;
            };
            let value = match args.format {
                Format::Ocsf => to_ocsf(event),
                Format::Cloudevents => to_cloudevent(event, &options),
            };
            serde_json::to_writer(&mut out, &value).map_err(|e| write_failure(&e.into()))?;
            out.push(b'\n');
        }
    }
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(|e| write_failure(&e))
}

fn write_failure(error: &io::Error) -> Failure {
    Failure::new(
        Kind::Config,
        "cli.output.unwritable",
        format!("cannot write to stdout: {error}"),
        "check where standard output goes",
    )
}
