//! The CLI's one error type and its exit-status mapping.
//!
//! Exit status: 0 success / verified; 1 verification failed (the input was understood and is
//! not valid: a bad signature, a broken chain, an expired or revoked object, a damaged
//! registry file); 2 usage or input error (bad arguments, unreadable or malformed input,
//! missing objects, wrong passphrase, I/O). cairn-core's codes split by
//! `ErrorCode::is_verification_failure`; the store's own codes map as the table in
//! docs/CLI.md says: `corrupt` is 1, every other store code is 2.

use std::path::Path;

use cairn_core::{Error, ErrorCode};
use cairn_store::{StoreCode, StoreError};
use serde_json::{json, Value};

/// A failure: a stable code, a message a person can act on, and the exit status.
#[derive(Debug, Clone)]
pub struct CliError {
    /// Stable code (cairn-core's, the store's, or `usage`).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// 1 or 2.
    pub exit: u8,
    /// The ledger entry concerned, if any.
    pub seq: Option<u64>,
    /// The input field concerned, if any.
    pub field: Option<String>,
    /// A report that comes with the failure (e.g. the per-file report of an import that
    /// refused files). Boxed: errors travel in every `Result` and stay small.
    pub report: Option<Box<Report>>,
}

/// What a failure reports besides its code and message.
#[derive(Debug, Clone)]
pub struct Report {
    /// Printed on stdout before the error, for people.
    pub text: String,
    /// Added to the `--json` error document.
    pub fields: serde_json::Map<String, Value>,
}

/// Exit status for a verification failure.
pub const EXIT_FAILED: u8 = 1;
/// Exit status for a usage or input error.
pub const EXIT_USAGE: u8 = 2;

/// The exit status of a store code.
pub fn exit_for(code: StoreCode) -> u8 {
    match code {
        StoreCode::Core(c) if c.is_verification_failure() => EXIT_FAILED,
        StoreCode::Corrupt | StoreCode::RolledBack => EXIT_FAILED,
        _ => EXIT_USAGE,
    }
}

impl CliError {
    fn new(code: &str, message: impl Into<String>, exit: u8) -> CliError {
        CliError {
            code: code.to_owned(),
            message: message.into(),
            exit,
            seq: None,
            field: None,
            report: None,
        }
    }

    /// A verification failure (exit 1) with a CLI-level code, e.g. `refused`.
    pub fn failed(code: &str, message: impl Into<String>) -> CliError {
        CliError::new(code, message, EXIT_FAILED)
    }

    /// Attaches a report: `text` for stdout, `fields` for the `--json` document.
    pub fn with_report(mut self, text: String, fields: Value) -> CliError {
        let fields = match fields {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        self.report = Some(Box::new(Report { text, fields }));
        self
    }

    /// A usage error: bad arguments (exit 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new("usage", message, EXIT_USAGE)
    }

    /// An error with a store code (exit status by [`exit_for`]).
    pub fn store(code: StoreCode, message: impl Into<String>) -> CliError {
        CliError::new(code.as_str(), message, exit_for(code))
    }

    /// An error with a cairn-core code.
    pub fn core(code: ErrorCode, message: impl Into<String>) -> CliError {
        CliError::store(StoreCode::Core(code), message)
    }

    /// A refusal a cairn service answered with its stable code: the exit status of that code
    /// when it is one of cairn-core's or the store's (the table in docs/CLI.md), else 2 (the
    /// service's own codes: `pow_required`, `rate_limited`, `unavailable`, ...), and `io` for
    /// a request that got no answer.
    pub fn service(code: &str, message: impl Into<String>) -> CliError {
        let exit = StoreCode::parse(code).map_or(EXIT_USAGE, exit_for);
        CliError::new(code, message, exit)
    }

    /// A file could not be read or written (exit 2).
    pub fn io(path: &Path, e: &std::io::Error) -> CliError {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            StoreCode::NotFound
        } else {
            StoreCode::Io
        };
        CliError::store(code, format!("{}: {e}", path.display()))
    }

    /// Prefixes the message with where the error happened.
    pub fn context(mut self, what: &str) -> CliError {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The `--json` form: `{"ok": false, "error": code, "class", "message", "seq"?,
    /// "field"?}`; `class` is `"invalid"` for exit status 1 and `"error"` for 2, the same
    /// words the npm package's errors carry (cairn-core's `view::error_class`).
    pub fn to_json(&self) -> Value {
        let class = if self.exit == EXIT_FAILED {
            "invalid"
        } else {
            "error"
        };
        let mut v =
            json!({"ok": false, "error": self.code, "class": class, "message": self.message});
        if let Some(seq) = self.seq {
            v["seq"] = json!(seq);
        }
        if let Some(f) = &self.field {
            v["field"] = json!(f);
        }
        if let (Some(r), Value::Object(m)) = (&self.report, &mut v) {
            for (k, x) in &r.fields {
                m.entry(k.clone()).or_insert_with(|| x.clone());
            }
        }
        v
    }

    /// The text form, for stderr.
    pub fn to_text(&self) -> String {
        let mut s = format!("cairn: {}: ", self.code);
        if let Some(seq) = self.seq {
            s.push_str(&format!("entry {seq}: "));
        }
        if let Some(f) = &self.field {
            s.push_str(&format!("field {f}: "));
        }
        s.push_str(&self.message);
        s
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        CliError {
            seq: e.seq(),
            field: e.field_name().map(str::to_owned),
            ..CliError::store(e.code(), e.detail())
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> CliError {
        CliError {
            field: e.field().map(str::to_owned),
            ..CliError::core(e.code(), e.detail())
        }
    }
}

/// A service's own failure in this process (`cairn serve`, `cairn witness serve`: a config
/// refused, a port taken, a runtime that would not start), as [`CliError::service`] rules it:
/// cairn-core's and the store's codes keep their exit status, the service's own are 2.
impl From<cairn_service::ServiceError> for CliError {
    fn from(e: cairn_service::ServiceError) -> CliError {
        CliError {
            field: e.details["field"].as_str().map(str::to_owned),
            ..CliError::service(e.code, e.message)
        }
    }
}

/// Result alias of the CLI.
pub type CliResult<T> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_follow_the_documented_table() {
        assert_eq!(exit_for(StoreCode::Core(ErrorCode::SignatureInvalid)), 1);
        assert_eq!(exit_for(StoreCode::Core(ErrorCode::ChainBroken)), 1);
        assert_eq!(exit_for(StoreCode::Core(ErrorCode::Malformed)), 2);
        assert_eq!(exit_for(StoreCode::Core(ErrorCode::TooLarge)), 2);
        assert_eq!(exit_for(StoreCode::Corrupt), 1);
        assert_eq!(exit_for(StoreCode::RolledBack), 1);
        for c in StoreCode::STORE_ONLY {
            if ![StoreCode::Corrupt, StoreCode::RolledBack].contains(c) {
                assert_eq!(exit_for(*c), 2, "{c}");
            }
        }
        let e: CliError = StoreError::core(ErrorCode::ChainBroken, "x")
            .at_seq(4)
            .into();
        assert_eq!(e.to_json()["seq"], 4);
        assert_eq!(e.to_text(), "cairn: chain_broken: entry 4: x");
        // A service's refusal keeps its code; the exit status is the code's, 2 for codes only
        // the service has.
        for (code, exit) in [
            ("signature_invalid", 1),
            ("replayed", 1),
            ("malformed", 2),
            ("already_exists", 2),
            ("io", 2),
            ("pow_required", 2),
            ("rate_limited", 2),
        ] {
            let e = CliError::service(code, "x");
            assert_eq!((e.code.as_str(), e.exit), (code, exit));
        }
    }

    #[test]
    fn the_json_class_is_the_one_the_npm_package_gives_for_the_same_code() {
        for c in ErrorCode::ALL {
            let v = CliError::core(*c, "x").to_json();
            assert_eq!(v["class"], cairn_core::view::error_class(*c), "{c}");
            assert_eq!(v["class"] == "invalid", exit_for(StoreCode::Core(*c)) == 1);
        }
        assert_eq!(CliError::usage("x").to_json()["class"], "error");
        assert_eq!(
            CliError::store(StoreCode::Corrupt, "x").to_json()["class"],
            "invalid"
        );
    }

    /// A service failing in this process (`cairn serve`) exits as docs/CLI.md says: its own
    /// codes (`internal`, ...) are errors, exit 2, not verification failures.
    #[test]
    fn a_service_failure_exits_with_its_codes_status() {
        use cairn_service::ServiceError;
        let e = CliError::from(ServiceError::internal("the runtime did not start"));
        assert_eq!((e.exit, e.to_json()["class"].as_str()), (2, Some("error")));
        let e = CliError::from(ServiceError::core(ErrorCode::SignatureInvalid, "x"));
        assert_eq!(
            (e.exit, e.to_json()["error"].as_str()),
            (1, Some("signature_invalid"))
        );
        let e = CliError::from(ServiceError::config("address 1.2.3.4:5: in use"));
        assert_eq!(e.exit, 2);
    }
}
