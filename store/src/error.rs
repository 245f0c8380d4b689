//! The one error type of the store layer.
//!
//! A [`StoreError`] carries a [`StoreCode`] with a stable string form. Verification failures
//! keep cairn-core's own [`ErrorCode`] (so `signature_invalid` means the same thing whether it
//! came from a bundle in a browser or from auditing a registry file); the store adds codes for
//! what only a file on disk can do wrong (`io`, `database`, `corrupt`, `locked`, ...). Errors
//! about one ledger entry name its sequence number ([`StoreError::seq`]); validation errors
//! name the offending field ([`StoreError::field`]).

use std::fmt;

use cairn_core::error::{Error, ErrorCode};

/// Stable, machine-readable reason for a store failure.
///
/// ```
/// use cairn_store::StoreCode;
/// use cairn_core::ErrorCode;
/// assert_eq!(StoreCode::Locked.as_str(), "locked");
/// assert_eq!(StoreCode::Core(ErrorCode::ChainBroken).as_str(), "chain_broken");
/// assert_eq!(StoreCode::parse("schema_too_new"), Some(StoreCode::SchemaTooNew));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreCode {
    /// A format or verification failure; the code is cairn-core's.
    Core(ErrorCode),
    /// The operating system refused a file operation.
    Io,
    /// The database engine failed for a reason other than corruption (e.g. a transaction
    /// could not start or commit).
    Database,
    /// The file's bytes fail the database engine's own integrity checks, or a stored record
    /// does not decode: the file was damaged or edited outside cairn.
    Corrupt,
    /// Another process has the registry open for writing.
    Locked,
    /// The file was written by a newer cairn whose schema this build does not know.
    SchemaTooNew,
    /// The file is a database, but not a cairn registry (no schema record).
    NotARegistry,
    /// The named key, node, token, manifest, entry or checkpoint does not exist.
    NotFound,
    /// An object with the same identity is already stored.
    AlreadyExists,
    /// The operation needs a private key that is sealed with a passphrase, and none was given.
    PassphraseRequired,
    /// The passphrase does not open the sealed private key.
    BadPassphrase,
    /// The operation is not allowed in the object's current state (e.g. using a rotated key).
    InvalidState,
    /// The file was written by an older cairn with an older schema: `cairn migrate` (or
    /// [`Registry::migrate`](crate::Registry::migrate)) upgrades it.
    MigrationRequired,
    /// The registry was opened read-only and the operation writes.
    ReadOnly,
    /// The registry file is older than (or not an extension of) the head its anchor file
    /// records: an older copy was put back. `cairn anchor reset` accepts a genuine restore.
    RolledBack,
}

impl StoreCode {
    /// Every store-only code (the `Core` codes are [`ErrorCode::ALL`]).
    pub const STORE_ONLY: &'static [StoreCode] = &[
        StoreCode::Io,
        StoreCode::Database,
        StoreCode::Corrupt,
        StoreCode::Locked,
        StoreCode::SchemaTooNew,
        StoreCode::NotARegistry,
        StoreCode::NotFound,
        StoreCode::AlreadyExists,
        StoreCode::PassphraseRequired,
        StoreCode::BadPassphrase,
        StoreCode::InvalidState,
        StoreCode::MigrationRequired,
        StoreCode::ReadOnly,
        StoreCode::RolledBack,
    ];

    /// The stable string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            StoreCode::Core(c) => c.as_str(),
            StoreCode::Io => "io",
            StoreCode::Database => "database",
            StoreCode::Corrupt => "corrupt",
            StoreCode::Locked => "locked",
            StoreCode::SchemaTooNew => "schema_too_new",
            StoreCode::NotARegistry => "not_a_registry",
            StoreCode::NotFound => "not_found",
            StoreCode::AlreadyExists => "already_exists",
            StoreCode::PassphraseRequired => "passphrase_required",
            StoreCode::BadPassphrase => "bad_passphrase",
            StoreCode::InvalidState => "invalid_state",
            StoreCode::MigrationRequired => "migration_required",
            StoreCode::ReadOnly => "read_only",
            StoreCode::RolledBack => "rolled_back",
        }
    }

    /// Parses the string form back into a code.
    pub fn parse(s: &str) -> Option<StoreCode> {
        ErrorCode::parse(s).map(StoreCode::Core).or_else(|| {
            StoreCode::STORE_ONLY
                .iter()
                .copied()
                .find(|c| c.as_str() == s)
        })
    }

    /// The cairn-core code, if this is a format or verification failure.
    pub const fn core(self) -> Option<ErrorCode> {
        match self {
            StoreCode::Core(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Display for StoreCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A store failure: a stable [`StoreCode`], a sentence a person can act on, and where known
/// the ledger sequence number and the field it concerns.
///
/// ```
/// use cairn_store::{StoreCode, StoreError};
/// use cairn_core::ErrorCode;
/// let e = StoreError::core(ErrorCode::ChainBroken, "previous-hash link does not match").at_seq(7);
/// assert_eq!(e.code(), StoreCode::Core(ErrorCode::ChainBroken));
/// assert_eq!(e.seq(), Some(7));
/// assert_eq!(e.to_string(), "chain_broken: entry 7: previous-hash link does not match");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    code: StoreCode,
    detail: String,
    seq: Option<u64>,
    field: Option<String>,
}

impl StoreError {
    /// Builds an error from a code and a human-readable detail.
    pub fn new(code: StoreCode, detail: impl Into<String>) -> StoreError {
        StoreError {
            code,
            detail: detail.into(),
            seq: None,
            field: None,
        }
    }

    /// Builds an error carrying a cairn-core code.
    pub fn core(code: ErrorCode, detail: impl Into<String>) -> StoreError {
        StoreError::new(StoreCode::Core(code), detail)
    }

    /// A `not_found` error.
    pub fn not_found(detail: impl Into<String>) -> StoreError {
        StoreError::new(StoreCode::NotFound, detail)
    }

    /// A `corrupt` error: a stored record that does not decode or breaks an invariant.
    pub fn corrupt(detail: impl Into<String>) -> StoreError {
        StoreError::new(StoreCode::Corrupt, detail)
    }

    /// A field-level validation error (`malformed` or `too_large`).
    pub fn field(code: ErrorCode, field: &str, detail: impl Into<String>) -> StoreError {
        StoreError {
            field: Some(field.to_owned()),
            ..StoreError::core(code, detail)
        }
    }

    /// Marks the error as concerning `field` of the input.
    pub fn in_field(mut self, field: &str) -> StoreError {
        self.field = Some(field.to_owned());
        self
    }

    /// Marks the error as concerning ledger entry `seq`.
    pub fn at_seq(mut self, seq: u64) -> StoreError {
        self.seq = Some(seq);
        self
    }

    /// Prefixes the detail with where the error happened, keeping code, seq and field.
    pub fn context(mut self, what: &str) -> StoreError {
        self.detail = format!("{what}: {}", self.detail);
        self
    }

    /// The stable code.
    pub fn code(&self) -> StoreCode {
        self.code
    }

    /// The human-readable detail (without code, entry or field prefix).
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The ledger sequence number the error concerns, if any.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// The field a validation error concerns, if any (e.g. `endpoints[2].url`).
    pub fn field_name(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.code)?;
        if let Some(seq) = self.seq {
            write!(f, "entry {seq}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.detail)
    }
}

impl std::error::Error for StoreError {}

impl From<Error> for StoreError {
    fn from(e: Error) -> StoreError {
        match e.field() {
            Some(f) => StoreError::field(e.code(), f, e.detail()),
            None => StoreError::core(e.code(), e.detail()),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> StoreError {
        StoreError::new(StoreCode::Io, e.to_string())
    }
}

impl From<redb::StorageError> for StoreError {
    fn from(e: redb::StorageError) -> StoreError {
        match e {
            redb::StorageError::Corrupted(msg) => {
                StoreError::corrupt(format!("the database file is damaged: {msg}"))
            }
            redb::StorageError::Io(io) => StoreError::from(io),
            redb::StorageError::ValueTooLarge(n) => StoreError::core(
                ErrorCode::TooLarge,
                format!("a value of {n} bytes is too large to store"),
            ),
            other => StoreError::new(StoreCode::Database, other.to_string()),
        }
    }
}

impl From<redb::DatabaseError> for StoreError {
    fn from(e: redb::DatabaseError) -> StoreError {
        match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::new(
                StoreCode::Locked,
                "the registry is open in another process (or another handle in this one)",
            ),
            redb::DatabaseError::Storage(s) => StoreError::from(s),
            // Only a read-only open gives up this way (`Registry::open` lets redb repair).
            redb::DatabaseError::RepairAborted => StoreError::new(
                StoreCode::Database,
                "the file was not closed cleanly (a process that had it open for writing crashed or was killed) and a read-only open cannot recover it; run `cairn check` once, which opens it for writing, recovers and checks every page, then retry",
            ),
            redb::DatabaseError::UpgradeRequired(v) => StoreError::new(
                StoreCode::SchemaTooNew,
                format!("the database file format {v} is not supported by this build"),
            ),
            other => StoreError::new(StoreCode::Database, other.to_string()),
        }
    }
}

impl From<redb::TransactionError> for StoreError {
    fn from(e: redb::TransactionError) -> StoreError {
        match e {
            redb::TransactionError::Storage(s) => StoreError::from(s),
            other => StoreError::new(StoreCode::Database, other.to_string()),
        }
    }
}

impl From<redb::TableError> for StoreError {
    fn from(e: redb::TableError) -> StoreError {
        match e {
            redb::TableError::Storage(s) => StoreError::from(s),
            other => StoreError::corrupt(format!("unexpected table layout: {other}")),
        }
    }
}

impl From<redb::CommitError> for StoreError {
    fn from(e: redb::CommitError) -> StoreError {
        match e {
            redb::CommitError::Storage(s) => StoreError::from(s),
            other => StoreError::new(StoreCode::Database, other.to_string()),
        }
    }
}

impl From<redb::CompactionError> for StoreError {
    fn from(e: redb::CompactionError) -> StoreError {
        match e {
            redb::CompactionError::Storage(s) => StoreError::from(s),
            other => StoreError::new(StoreCode::Database, other.to_string()),
        }
    }
}

/// Result alias of the store layer.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_do_not_collide() {
        let mut seen = std::collections::BTreeSet::new();
        for c in StoreCode::STORE_ONLY
            .iter()
            .copied()
            .chain(ErrorCode::ALL.iter().copied().map(StoreCode::Core))
        {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert_eq!(StoreCode::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn core_errors_keep_their_code() {
        let e: StoreError = Error::new(ErrorCode::Expired, "gone").into();
        assert_eq!(e.code().core(), Some(ErrorCode::Expired));
        let f = StoreError::field(ErrorCode::TooLarge, "name", "over 128 bytes");
        assert_eq!(f.field_name(), Some("name"));
        assert_eq!(f.to_string(), "too_large: field name: over 128 bytes");
    }
}
