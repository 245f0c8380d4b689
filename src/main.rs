//! The `cairn` command line: argument parsing, output and exit codes only. Every decision
//! lives in cairn-core.
//!
//! Exit status: 0 verified / success, 1 verification failed, 2 usage or input error
//! (docs/CLI.md has the table).

mod cli;
mod demo;

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;
use serde_json::{json, Value};

use cli::args::Cli;
use cli::error::{CliError, EXIT_USAGE};

/// The process's allocator (the default feature `mimalloc`; Cargo.toml says why).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Prints to stdout; a closed pipe (`cairn ... | head`) is not an error worth a panic.
fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn print_json(v: &Value) {
    print_out(&serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()));
}

fn fail(e: &CliError, json_out: bool) -> ExitCode {
    if json_out {
        print_json(&e.to_json());
    } else {
        if let Some(r) = e.report.as_ref().filter(|r| !r.text.is_empty()) {
            print_out(&r.text);
        }
        eprintln!("{}", e.to_text());
    }
    ExitCode::from(e.exit)
}

fn main() -> ExitCode {
    // The store turns a panic inside the database engine (which redb raises on some damaged
    // pages instead of an error) into a `corrupt` error with its own message; print nothing
    // for those, and the usual report for any other panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_redb = info
            .location()
            .is_some_and(|l| l.file().contains("/redb-") || l.file().contains("\\redb-"));
        if !in_redb {
            default_hook(info);
        }
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let wants_json = std::env::args_os().any(|a| a == "--json");
            if wants_json {
                let msg = e.render().to_string();
                let first = msg
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .trim_start_matches("error: ")
                    .to_owned();
                return fail(&CliError::usage(first), true);
            }
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let json_out = cli.global.json;
    match cli::run(cli) {
        Ok(out) => {
            if json_out {
                let mut doc = json!({"ok": true});
                if let (Some(d), Value::Object(m)) = (doc.as_object_mut(), out.json) {
                    d.extend(m);
                }
                print_json(&doc);
            } else if !out.text.is_empty() {
                print_out(&out.text);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, json_out),
    }
}
