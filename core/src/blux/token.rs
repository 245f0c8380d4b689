//! blux-reg v1.0 capability tokens: verification in blux-reg's check order, with its
//! mistakes corrected (fingerprint check, canonical signature encoding, issuer pinning).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::json::{parse_json, Limits, Object, Value};
use super::lines::{check_len, non_blank_lines};
use super::time::parse_iso8601_micros;
use super::{canonical_hash, fingerprint, hex, str_field, verify_signed_object, SCHEMA_VERSION};
use crate::crypto::{pem, Algorithm, PublicKey};
use crate::encoding::{hex_decode_array, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// Largest revocations file accepted (each line is also held to [`Limits::DEFAULT`]).
pub const MAX_REVOCATIONS_LEN: usize = 64 * 1024 * 1024;

/// The fields blux-reg requires, in the sorted order its error message lists them.
const REQUIRED: [&str; 10] = [
    "audience",
    "capability",
    "constraints",
    "expires_at",
    "issued_at",
    "issuer",
    "schema_version",
    "signature",
    "token_type",
    "ttl_seconds",
];

/// Which issuers a token may come from.
///
/// blux-reg itself trusts **any** key embedded in the token: a token only proves that
/// whoever holds that key issued it. [`TokenPolicy::any_issuer`] reproduces that;
/// [`TokenPolicy::trusted_fingerprints`] / [`TokenPolicy::trusted_keys`] pin the issuers and
/// make any other issuer `unknown_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    trusted: Option<Vec<Digest>>,
}

impl TokenPolicy {
    /// Accept any issuer key embedded in the token (blux-reg's behaviour).
    pub fn any_issuer() -> Self {
        TokenPolicy { trusted: None }
    }

    /// Accept only issuers whose fingerprint (SHA-256 of the raw Ed25519 key) is listed.
    pub fn trusted_fingerprints(fingerprints: impl IntoIterator<Item = Digest>) -> Self {
        TokenPolicy {
            trusted: Some(fingerprints.into_iter().collect()),
        }
    }

    /// Accept only the listed issuer keys.
    pub fn trusted_keys<'a>(keys: impl IntoIterator<Item = &'a PublicKey>) -> Self {
        Self::trusted_fingerprints(keys.into_iter().map(fingerprint))
    }

    /// True if an issuer with this fingerprint is acceptable.
    pub fn trusts(&self, fp: &Digest) -> bool {
        self.trusted.as_ref().is_none_or(|set| set.contains(fp))
    }
}

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenVerdict {
    /// SHA-256 of the canonical JSON of the whole token (blux-reg's `capability_token_ref`
    /// and revocation key).
    pub token_hash: Digest,
    /// The `capability` field as written (blux-reg does not constrain its type).
    pub capability: Value,
    /// The `audience` field as written.
    pub audience: Value,
    /// The `constraints` field as written.
    pub constraints: Value,
    /// The `expires_at` text.
    pub expires_at: String,
    /// `expires_at` as Unix seconds, rounded down.
    pub expires_at_unix: i64,
    /// Fingerprint of the issuer key (checked against the token's `issuer.fingerprint`).
    pub issuer_fingerprint: Digest,
    /// The issuer's Ed25519 public key.
    pub issuer_key: PublicKey,
}

impl TokenVerdict {
    /// `token_hash` as lowercase hex.
    pub fn token_hash_hex(&self) -> String {
        hex(&self.token_hash)
    }

    /// `issuer_fingerprint` as lowercase hex.
    pub fn issuer_fingerprint_hex(&self) -> String {
        hex(&self.issuer_fingerprint)
    }
}

/// blux-reg's token hash of a token file: SHA-256 of the canonical JSON of the parsed
/// document (what `blux-reg hash` prints).
///
/// ```
/// let hash = cairn_core::blux::token_hash(r#"{"b": 1, "a": "x"}"#)?;
/// assert_eq!(hash, cairn_core::encoding::sha256(&[br#"{"a":"x","b":1}"#]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn token_hash(token_json: &str) -> Result<Digest> {
    let v = parse_json(token_json).map_err(|e| e.context("token"))?;
    Ok(canonical_hash(&v))
}

/// Verifies a blux-reg v1.0 capability token at time `now`.
///
/// `revocations_jsonl` is the text of blux-reg's `trust/token_revocations.jsonl` (or `None`
/// when there is none). Checks, in order; the first failure is the verdict:
///
/// 1. the text is one JSON object (`malformed`, `too_large`) with every required field
///    (`malformed`), `token_type == "capability"` (`malformed`);
/// 2. `schema_version == "1.0"` (`unsupported_version`);
/// 3. `issuer` is an object whose `public_key` is a non-empty SPKI PEM (`malformed`) of an
///    Ed25519 key (`unsupported_algorithm`, `invalid_key` for weak keys);
/// 4. `issuer.fingerprint` is the lowercase hex SHA-256 of the raw key (`key_mismatch`);
/// 5. the policy trusts that fingerprint (`unknown_key`);
/// 6. `signature` is canonical base64 of an Ed25519 signature over the canonical JSON of
///    the token without `signature` (`signature_invalid`);
/// 7. `expires_at` parses (`malformed`) and is not before `now` (`expired`; a token is
///    still valid at its `expires_at` second);
/// 8. no non-blank revocation line names the token hash (`revoked`); a line that is not a
///    JSON object met before a match is `malformed`.
///
/// ```
/// use cairn_core::blux::{verify_token, TokenPolicy};
/// use cairn_core::ErrorCode;
/// let token = r#"{"audience": "outer-void/blux-guard", "capability": "publish",
///   "constraints": {"scope": "release"},
///   "expires_at": "2036-01-18T15:00:00+00:00", "issued_at": "2026-01-20T15:00:00+00:00",
///   "issuer": {"fingerprint": "da88a5104f8602e8c19542bf3d76924e83c312d3f3b4c6cc31a89685f07c91e6",
///     "key_name": "signer",
///     "public_key": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAc9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg=\n-----END PUBLIC KEY-----\n"},
///   "schema_version": "1.0",
///   "signature": "Ea7IeDz+pZ4MYXrvdMqDL89HCTIqmDBRHUdGJDOJCuiTgn6HE1kdWjat4fQIT+9iBd5I37UKs2aRWO4My7cIAQ==",
///   "token_type": "capability", "ttl_seconds": 315360000}"#;
/// let expires = 2_084_281_200; // 2036-01-18T15:00:00Z
/// let v = verify_token(token, expires, None, &TokenPolicy::any_issuer())?;
/// assert_eq!(v.token_hash_hex(), "68cde7f65c94ce89471f72692aa0a515c6530d15dcd90735bff1a349a36a0c4b");
/// assert_eq!(v.capability.as_str(), Some("publish"));
///
/// let late = verify_token(token, expires + 1, None, &TokenPolicy::any_issuer());
/// assert_eq!(late.unwrap_err().code(), ErrorCode::Expired);
///
/// let revocations = format!("{{\"token_hash\":\"{}\"}}\n", v.token_hash_hex());
/// let revoked = verify_token(token, expires, Some(&revocations), &TokenPolicy::any_issuer());
/// assert_eq!(revoked.unwrap_err().code(), ErrorCode::Revoked);
///
/// let pinned = TokenPolicy::trusted_fingerprints([[0u8; 32]]);
/// assert_eq!(verify_token(token, expires, None, &pinned).unwrap_err().code(), ErrorCode::UnknownKey);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_token(
    token_json: &str,
    now: UnixTime,
    revocations_jsonl: Option<&str>,
    policy: &TokenPolicy,
) -> Result<TokenVerdict> {
    verify_token_with(
        token_json,
        now,
        revocations_jsonl.map(Revocations::parse),
        policy,
    )
}

/// [`verify_token`] with the revocations file read beforehand ([`Revocations::parse`]), for
/// checking many tokens against one file: the same verdicts, the file read once. (Its
/// `too_large`, when it is one, comes at step 8 as it would.)
pub fn verify_token_against(
    token_json: &str,
    now: UnixTime,
    revocations: Option<&Revocations>,
    policy: &TokenPolicy,
) -> Result<TokenVerdict> {
    verify_token_with(token_json, now, revocations.map(Ok), policy)
}

fn verify_token_with<R: core::borrow::Borrow<Revocations>>(
    token_json: &str,
    now: UnixTime,
    revocations: Option<Result<R>>,
    policy: &TokenPolicy,
) -> Result<TokenVerdict> {
    let value = parse_json(token_json).map_err(|e| e.context("token"))?;
    let token = value
        .as_object()
        .ok_or_else(|| Error::malformed("token: not a JSON object"))?;
    check_shape(token)?;
    let issuer_key = issuer_key(token)?;
    let issuer_fingerprint = check_fingerprint(token, &issuer_key)?;
    if !policy.trusts(&issuer_fingerprint) {
        return Err(Error::new(
            ErrorCode::UnknownKey,
            alloc::format!(
                "token: issuer {} is not a trusted issuer",
                hex(&issuer_fingerprint)
            ),
        ));
    }
    verify_signed_object(token, &issuer_key).map_err(|e| e.context("token"))?;

    let expires_at = str_field(token, "expires_at", "token")?;
    let expires_micros =
        parse_iso8601_micros(expires_at).map_err(|e| e.context("token expires_at"))?;
    if expires_micros < i128::from(now) * 1_000_000 {
        return Err(Error::new(
            ErrorCode::Expired,
            alloc::format!("token expired at {expires_at}"),
        ));
    }

    let token_hash = canonical_hash(&value);
    if let Some(revocations) = revocations {
        if revocations?.borrow().is_revoked(&token_hash)? {
            return Err(Error::new(
                ErrorCode::Revoked,
                alloc::format!("token {} has been revoked", hex(&token_hash)),
            ));
        }
    }

    let field = |name: &str| token.get(name).cloned().unwrap_or(Value::Null);
    Ok(TokenVerdict {
        token_hash,
        capability: field("capability"),
        audience: field("audience"),
        constraints: field("constraints"),
        expires_at: String::from(expires_at),
        // Dividing toward negative infinity keeps "expired iff below now" in whole seconds.
        expires_at_unix: i64::try_from(expires_micros.div_euclid(1_000_000)).unwrap_or(i64::MIN),
        issuer_fingerprint,
        issuer_key,
    })
}

fn check_shape(token: &Object) -> Result<()> {
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|k| !token.contains_key(k))
        .collect();
    if !missing.is_empty() {
        return Err(Error::malformed(alloc::format!(
            "token: missing fields {missing:?}"
        )));
    }
    if token.get("token_type").and_then(Value::as_str) != Some("capability") {
        return Err(Error::malformed("token: token_type is not \"capability\""));
    }
    if token.get("schema_version").and_then(Value::as_str) != Some(SCHEMA_VERSION) {
        return Err(Error::new(
            ErrorCode::UnsupportedVersion,
            "token: schema_version is not \"1.0\"",
        ));
    }
    Ok(())
}

fn issuer_key(token: &Object) -> Result<PublicKey> {
    let issuer = token
        .get("issuer")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::malformed("token: issuer is not an object"))?;
    let pem_value = issuer.get("public_key").filter(|v| v.is_truthy());
    let pem_text = pem_value
        .ok_or_else(|| Error::malformed("token: issuer has no public key"))?
        .as_str()
        .ok_or_else(|| Error::malformed("token: issuer.public_key is not a string"))?;
    let key = pem::public_key_from_pem(pem_text).map_err(|e| e.context("token issuer key"))?;
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(Error::new(
            ErrorCode::UnsupportedAlgorithm,
            alloc::format!(
                "token: issuer key is {}, blux-reg signs with Ed25519",
                key.algorithm()
            ),
        ));
    }
    Ok(key)
}

fn check_fingerprint(token: &Object, key: &PublicKey) -> Result<Digest> {
    let fp = fingerprint(key);
    let claimed = token
        .get("issuer")
        .and_then(|i| i.get("fingerprint"))
        .and_then(Value::as_str)
        .ok_or_else(|| Error::malformed("token: issuer.fingerprint is missing or not a string"))?;
    if claimed != hex(&fp) {
        return Err(Error::new(
            ErrorCode::KeyMismatch,
            alloc::format!(
                "token: issuer.fingerprint {claimed:?} is not the fingerprint {} of the embedded key",
                hex(&fp)
            ),
        ));
    }
    Ok(fp)
}

/// A revocations file (`token_revocations.jsonl`) read once, to check many tokens against it
/// with the verdicts [`verify_token`] gives one at a time: blux-reg reads the lines in order and
/// stops at the first that names the token, so a line that is not a JSON object is an error
/// only for a token no earlier line revokes.
///
/// ```
/// use cairn_core::blux::Revocations;
/// let r = Revocations::parse(&format!("{{\"token_hash\":\"{}\"}}\nnot json\n", "ab".repeat(32)))?;
/// assert_eq!(r.is_revoked(&[0xab; 32]), Ok(true));
/// assert!(r.is_revoked(&[0xcd; 32]).is_err(), "the bad line is met before any match");
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    /// Each revoked token hash, with the index of the first line naming it.
    first_line: BTreeMap<Digest, usize>,
    /// The first line that is not a JSON object, with its index and error.
    bad_line: Option<(usize, Error)>,
    /// Non-blank lines read (up to and including a bad line).
    lines: usize,
    /// The number of the first line, read before any bad line, that is a JSON object without
    /// a `token_hash` string.
    unnamed_line: Option<usize>,
}

impl Revocations {
    /// Reads every non-blank line; only a file over [`MAX_REVOCATIONS_LEN`] is refused here
    /// (`too_large`), a bad line being an error for the tokens that reach it.
    pub fn parse(text: &str) -> Result<Revocations> {
        check_len(text, MAX_REVOCATIONS_LEN, "revocations file")?;
        let mut out = Revocations::default();
        for (i, line) in non_blank_lines(text).enumerate() {
            let number = line.number;
            out.lines = i + 1;
            let entry = line
                .parse(&Limits::DEFAULT)
                .map_err(|e| e.context("revocations"))
                .and_then(|v| match v {
                    Value::Object(o) => Ok(o),
                    _ => Err(Error::malformed(alloc::format!(
                        "revocations: line {number} is not a JSON object"
                    ))),
                });
            let entry = match entry {
                Ok(o) => o,
                Err(e) => {
                    out.bad_line = Some((i, e));
                    break;
                }
            };
            // Compared as hashes, so an upper-case revocation still revokes: honouring a
            // revocation is the safe side of a spelling difference.
            match entry.get("token_hash").and_then(Value::as_str) {
                Some(s) => {
                    if let Ok(h) = hex_decode_array::<32>(s) {
                        out.first_line.entry(h).or_insert(i);
                    }
                }
                None => {
                    out.unnamed_line.get_or_insert(number);
                }
            }
        }
        Ok(out)
    }

    /// [`Revocations::parse`] for a file taken whole (as an import records it): every
    /// non-blank line must be a JSON object with a `token_hash` string (`malformed`, naming
    /// the first line that is not), so that no token meets a line blux-reg could not read.
    ///
    /// ```
    /// use cairn_core::blux::Revocations;
    /// let line = format!("{{\"token_hash\":\"{}\"}}", "ab".repeat(32));
    /// assert_eq!(Revocations::parse_whole(&format!("{line}\r\n\r{line}\n"))?.lines(), 2);
    /// assert!(Revocations::parse_whole(&format!("{line}\n{{}}\n")).is_err());
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn parse_whole(text: &str) -> Result<Revocations> {
        let out = Revocations::parse(text)?;
        if let Some((_, e)) = &out.bad_line {
            return Err(e.clone());
        }
        if let Some(number) = out.unnamed_line {
            return Err(Error::malformed(alloc::format!(
                "revocations: line {number} has no token_hash"
            )));
        }
        Ok(out)
    }

    /// Non-blank lines read: every line of a file [`Revocations::parse_whole`] accepted.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Whether a line names `token_hash` before any bad line; the bad line's error when one
    /// comes first.
    pub fn is_revoked(&self, token_hash: &Digest) -> Result<bool> {
        match (self.first_line.get(token_hash), &self.bad_line) {
            (Some(line), Some((bad, _))) if line < bad => Ok(true),
            (Some(_), None) => Ok(true),
            (_, Some((_, e))) => Err(e.clone()),
            (None, None) => Ok(false),
        }
    }
}
