//! The `cairn` command line: argument parsing, output and exit codes only. Every decision
//! lives in cairn-core.
//!
//! Exit status: 0 verified / success, 1 verification failed, 2 usage or input error.

mod demo;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// cairn: an embedded trust registry whose proofs verify offline.
#[derive(Parser)]
#[command(name = "cairn", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  cairn demo            run the whole story in memory and watch a tampered copy fail\n  cairn demo --json     the same, as one JSON document"
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate keys, sign a token, a manifest and a checkpoint, verify them offline, and show
    /// tampered copies failing.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(cli.json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "error": e.code().as_str(), "message": e.detail()})
                );
            } else {
                eprintln!("cairn: {e}");
            }
            ExitCode::from(if e.code().is_verification_failure() {
                1
            } else {
                2
            })
        }
    }
}
