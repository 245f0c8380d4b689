//! The one error type of cairn-core.
//!
//! Every failure carries an [`ErrorCode`] whose string form (`err.code().as_str()`) is stable:
//! it is what the CLI prints with `--json`, what JavaScript sees as `err.code` and what the
//! test vectors name. Codes are never renamed; new ones may be added.

use alloc::string::String;
use core::fmt;

/// Stable, machine-readable reason for a failure.
///
/// ```
/// use cairn_core::ErrorCode;
/// assert_eq!(ErrorCode::SignatureInvalid.as_str(), "signature_invalid");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Input does not parse: bad encoding, wrong length, trailing bytes, bad text layout.
    Malformed,
    /// Input is larger than the limit for its kind.
    TooLarge,
    /// The object declares a format version this build does not know.
    UnsupportedVersion,
    /// The algorithm is unknown, or not compiled into this build.
    UnsupportedAlgorithm,
    /// Key bytes are not a valid key for their algorithm (wrong length, weak or non-canonical point).
    InvalidKey,
    /// A signature did not verify.
    SignatureInvalid,
    /// No trusted key matches the signer named by the object.
    UnknownKey,
    /// Fewer valid signatures (or distinct signers) than the policy requires.
    ThresholdNotMet,
    /// The object is of another kind than the caller asked for (payload type, context, origin).
    DomainMismatch,
    /// The object's validity ended before `now`.
    Expired,
    /// The object's validity starts after `now`.
    NotYetValid,
    /// The object, or a key it depends on, has been revoked.
    Revoked,
    /// A Merkle inclusion or consistency proof does not verify.
    ProofInvalid,
    /// A hash chain is broken: a previous-hash link, sequence number or rotation step is wrong.
    ChainBroken,
    /// A delegated token widens its parent (capability, constraint or expiry).
    DelegationInvalid,
    /// An artifact's size or digest differs from what the manifest states.
    DigestMismatch,
    /// The signer's key exists but lacks the role, or its validity window excludes `now`.
    Unauthorized,
    /// A key claimed by the object (fingerprint, key id) does not match the key provided.
    KeyMismatch,
    /// A nonce or sequence number was seen before.
    Replayed,
    /// A peer presented a key other than the one pinned for it; the detail names both key
    /// ids. Only an operator's acceptance (itself a ledger entry) moves the pin.
    KeyChanged,
    /// Two checkpoints of one log, both validly signed, state different trees (or different
    /// revocation maps) at the same size: the log showed different histories to different
    /// verifiers. The detail names both roots.
    SplitView,
    /// The newest evidence of freshness (the witnesses' cosignature times) is older than the
    /// verifier's policy allows.
    Stale,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::Malformed,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnsupportedAlgorithm,
        ErrorCode::InvalidKey,
        ErrorCode::SignatureInvalid,
        ErrorCode::UnknownKey,
        ErrorCode::ThresholdNotMet,
        ErrorCode::DomainMismatch,
        ErrorCode::Expired,
        ErrorCode::NotYetValid,
        ErrorCode::Revoked,
        ErrorCode::ProofInvalid,
        ErrorCode::ChainBroken,
        ErrorCode::DelegationInvalid,
        ErrorCode::DigestMismatch,
        ErrorCode::Unauthorized,
        ErrorCode::KeyMismatch,
        ErrorCode::Replayed,
        ErrorCode::KeyChanged,
        ErrorCode::SplitView,
        ErrorCode::Stale,
    ];

    /// The stable string form of the code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnsupportedAlgorithm => "unsupported_algorithm",
            ErrorCode::InvalidKey => "invalid_key",
            ErrorCode::SignatureInvalid => "signature_invalid",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::ThresholdNotMet => "threshold_not_met",
            ErrorCode::DomainMismatch => "domain_mismatch",
            ErrorCode::Expired => "expired",
            ErrorCode::NotYetValid => "not_yet_valid",
            ErrorCode::Revoked => "revoked",
            ErrorCode::ProofInvalid => "proof_invalid",
            ErrorCode::ChainBroken => "chain_broken",
            ErrorCode::DelegationInvalid => "delegation_invalid",
            ErrorCode::DigestMismatch => "digest_mismatch",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::KeyMismatch => "key_mismatch",
            ErrorCode::Replayed => "replayed",
            ErrorCode::KeyChanged => "key_changed",
            ErrorCode::SplitView => "split_view",
            ErrorCode::Stale => "stale",
        }
    }

    /// Parses the string form back into a code.
    ///
    /// ```
    /// use cairn_core::ErrorCode;
    /// assert_eq!(ErrorCode::parse("expired"), Some(ErrorCode::Expired));
    /// assert_eq!(ErrorCode::parse("nope"), None);
    /// ```
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// True for codes that mean "the input was understood and is not valid" as opposed to
    /// "the input could not be read". The CLI maps the first to exit status 1, the second to 2.
    pub const fn is_verification_failure(self) -> bool {
        !matches!(
            self,
            ErrorCode::Malformed
                | ErrorCode::TooLarge
                | ErrorCode::UnsupportedVersion
                | ErrorCode::UnsupportedAlgorithm
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure: a stable [`ErrorCode`] plus a sentence a person can act on.
///
/// ```
/// use cairn_core::{Error, ErrorCode};
/// let e = Error::new(ErrorCode::Expired, "token expired at 1700000000");
/// assert_eq!(e.code(), ErrorCode::Expired);
/// assert_eq!(e.to_string(), "expired: token expired at 1700000000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    code: ErrorCode,
    detail: String,
    /// The input field concerned, for documents validated field by field (a node spec's
    /// `endpoints[0].url`); `None` elsewhere.
    field: Option<String>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: field {field}: {}", self.code, self.detail),
            None => write!(f, "{}: {}", self.code, self.detail),
        }
    }
}

impl Error {
    /// Builds an error from a code and a human-readable detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Error {
            code,
            detail: detail.into(),
            field: None,
        }
    }

    /// Names the input field the error concerns (a path such as `endpoints[0].url`).
    ///
    /// ```
    /// use cairn_core::{Error, ErrorCode};
    /// let e = Error::new(ErrorCode::TooLarge, "over 128 bytes").in_field("name");
    /// assert_eq!(e.field(), Some("name"));
    /// assert_eq!(e.to_string(), "too_large: field name: over 128 bytes");
    /// ```
    pub fn in_field(mut self, field: &str) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The input field the error concerns, when known.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable detail (without the code prefix).
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Shorthand for [`ErrorCode::Malformed`].
    pub fn malformed(detail: impl Into<String>) -> Self {
        Error::new(ErrorCode::Malformed, detail)
    }

    /// Prefixes the detail with where the error happened, keeping the code.
    ///
    /// ```
    /// use cairn_core::{Error, ErrorCode};
    /// let e = Error::malformed("bad base64").context("token");
    /// assert_eq!(e.detail(), "token: bad base64");
    /// ```
    pub fn context(self, what: &str) -> Self {
        Error {
            detail: alloc::format!("{what}: {}", self.detail),
            ..self
        }
    }
}

/// Result alias used throughout cairn-core.
pub type Result<T, E = Error> = core::result::Result<T, E>;
