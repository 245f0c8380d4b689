//! Who may write: a cairn capability token in `Authorization`, and a proof that the request
//! comes from the token's holder.
//!
//! `Authorization: Cairn <base64 of the token's DSSE envelope, JSON or compact>` (`Bearer`
//! is accepted as the scheme too). The token is verified by the registry against its trust
//! state (issuer key and role, delegation chain, revocation of every link, validity at the
//! server's clock) with audience = the service's origin, and must grant the capability that
//! names the operation.
//!
//! `Cairn-Proof: t=<unix seconds>;n=<nonce>;s=<base64 signature>`: a signature by the token's
//! holder key, ML-DSA context [`POP_CONTEXT`], over [`pop_message`]: the token id, the method,
//! the path and query, the SHA-256 of the body, the timestamp and the nonce. The timestamp must
//! be within the configured skew of the server's clock; a nonce is accepted once (replays are
//! `replayed`). docs/FORMATS.md specifies these bytes.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use cairn_core::crypto::{Signature, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, sha256, Digest};
use cairn_core::token::{VerifiedToken, VerifyOptions};
use cairn_core::{ErrorCode, UnixTime};
use cairn_store::Registry;

use crate::error::{ServiceError, ServiceResult};

/// The request-signature header.
pub const PROOF_HEADER: &str = "cairn-proof";
/// Domain separation of proof-of-possession signatures (first line, and ML-DSA context).
pub const POP_CONTEXT: &[u8] = b"cairn-http-pop-v1";
/// Largest `Authorization` value accepted (a token with a delegation chain of ML-DSA keys).
pub const MAX_AUTHORIZATION_LEN: usize = 96 * 1024;
/// Nonce length bounds, in characters of `[A-Za-z0-9_-]`.
pub const NONCE_LEN: std::ops::RangeInclusive<usize> = 16..=64;
/// Most nonces remembered at once; beyond, proofs are refused until old ones expire.
pub const MAX_REMEMBERED_NONCES: usize = 1 << 20;

/// The bytes a holder signs to prove it sent a request.
///
/// ```
/// let m = cairn_service::auth::pop_message(&[0u8; 32], "POST", "/api/v1/registry/register", b"{}", 1700000000, "0123456789abcdef");
/// assert!(m.starts_with(b"cairn-http-pop-v1\n"));
/// ```
pub fn pop_message(
    token_id: &Digest,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    time: UnixTime,
    nonce: &str,
) -> Vec<u8> {
    format!(
        "cairn-http-pop-v1\n{}\n{}\n{}\n{}\n{}\n{}\n",
        hex_encode(token_id),
        method,
        path_and_query,
        hex_encode(&sha256(&[body])),
        time,
        nonce
    )
    .into_bytes()
}

/// The `Cairn-Proof` header value for a request, signed by the holder key.
pub fn sign_request(
    holder: &SigningKey,
    token_id: &Digest,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    time: UnixTime,
    nonce: &str,
) -> Result<String, cairn_core::Error> {
    let msg = pop_message(token_id, method, path_and_query, body, time, nonce);
    let sig = holder.sign(&msg, POP_CONTEXT)?;
    Ok(format!(
        "t={time};n={nonce};s={}",
        base64::engine::general_purpose::STANDARD.encode(sig.as_bytes())
    ))
}

/// The `Authorization` header value for a token envelope.
pub fn authorization_value(token: &Envelope) -> String {
    format!(
        "Cairn {}",
        base64::engine::general_purpose::STANDARD.encode(token.to_compact())
    )
}

/// Nonces seen, with the time after which they may be forgotten.
#[derive(Debug, Default)]
pub struct NonceCache {
    seen: Mutex<HashMap<String, UnixTime>>,
}

impl NonceCache {
    /// Records `nonce` until `forget_after`; `replayed` if it was seen and not yet forgotten.
    pub fn check_and_record(
        &self,
        nonce: &str,
        now: UnixTime,
        forget_after: UnixTime,
    ) -> ServiceResult<()> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_REMEMBERED_NONCES / 2 {
            seen.retain(|_, t| *t >= now);
        }
        if let Some(t) = seen.get(nonce) {
            if *t >= now {
                return Err(ServiceError::unauthenticated(
                    ErrorCode::Replayed,
                    "this request's nonce was used before: sign each request with a fresh nonce",
                ));
            }
        }
        if seen.len() >= MAX_REMEMBERED_NONCES {
            return Err(ServiceError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many requests signed recently; retry later",
            ));
        }
        seen.insert(nonce.to_owned(), forget_after);
        Ok(())
    }
}

/// What a write request presents.
pub struct Presented<'a> {
    /// `Authorization` header value, if any.
    pub authorization: Option<&'a str>,
    /// `Cairn-Proof` header value, if any.
    pub proof: Option<&'a str>,
    /// The request method.
    pub method: &'a str,
    /// Path and query as sent.
    pub path_and_query: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// The policy a token is checked against.
pub struct Policy<'a> {
    /// Required audience.
    pub audience: &'a str,
    /// Required capability.
    pub capability: &'a str,
    /// Whether a proof of possession is required.
    pub proof_of_possession: bool,
    /// Allowed clock skew of the proof's timestamp.
    pub max_skew: u64,
}

fn unauth(code: ErrorCode, msg: impl Into<String>) -> ServiceError {
    ServiceError::unauthenticated(code, msg)
}

/// Parses the `Authorization` header into a token envelope.
pub fn parse_authorization(value: Option<&str>) -> ServiceResult<Envelope> {
    let v = value.ok_or_else(|| {
        unauth(
            ErrorCode::Unauthorized,
            "this operation needs a capability token: Authorization: Cairn <base64 token>",
        )
    })?;
    if v.len() > MAX_AUTHORIZATION_LEN {
        return Err(unauth(
            ErrorCode::TooLarge,
            "the Authorization header is too long",
        ));
    }
    let (scheme, rest) = v.split_once(' ').ok_or_else(|| {
        unauth(
            ErrorCode::Malformed,
            "Authorization: expected `Cairn <base64 token>`",
        )
    })?;
    if !scheme.eq_ignore_ascii_case("cairn") && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauth(
            ErrorCode::Malformed,
            format!("Authorization scheme {scheme:?} is not `Cairn`"),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| {
            unauth(
                ErrorCode::Malformed,
                "Authorization: the token is not base64",
            )
        })?;
    Envelope::parse(&bytes).map_err(|e| unauth(e.code(), format!("Authorization: {}", e.detail())))
}

/// Parses `t=..;n=..;s=..`.
fn parse_proof(v: &str) -> ServiceResult<(UnixTime, &str, Vec<u8>)> {
    let bad = |m: &str| unauth(ErrorCode::Malformed, format!("Cairn-Proof: {m}"));
    if v.len() > 16 * 1024 {
        return Err(bad("too long"));
    }
    let (mut t, mut n, mut s) = (None, None, None);
    for part in v.split(';') {
        let (k, val) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| bad("expected t=..;n=..;s=.."))?;
        let slot = match k {
            "t" => &mut t,
            "n" => &mut n,
            "s" => &mut s,
            _ => return Err(bad(&format!("unknown parameter {k:?}"))),
        };
        if slot.replace(val).is_some() {
            return Err(bad(&format!("parameter {k:?} given twice")));
        }
    }
    let t: UnixTime = t
        .ok_or_else(|| bad("missing t"))?
        .parse()
        .map_err(|_| bad("t is not a Unix time"))?;
    let n = n.ok_or_else(|| bad("missing n"))?;
    if !NONCE_LEN.contains(&n.len())
        || !n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("n must be 16 to 64 characters of A-Z a-z 0-9 - _"));
    }
    let s = base64::engine::general_purpose::STANDARD
        .decode(s.ok_or_else(|| bad("missing s"))?)
        .map_err(|_| bad("s is not base64"))?;
    Ok((t, n, s))
}

/// Verifies a write's credentials: the token (against the registry, at `now`), the
/// capability, and (when the policy asks) the holder's proof of possession with its nonce.
pub fn authorize(
    reg: &Registry,
    nonces: &NonceCache,
    req: &Presented<'_>,
    policy: &Policy<'_>,
    now: UnixTime,
) -> ServiceResult<VerifiedToken> {
    let token = parse_authorization(req.authorization)?;
    let opts = VerifyOptions {
        audience: Some(policy.audience),
        capability: None,
    };
    let verified = reg.verify_token(&token, now, &opts).map_err(|e| {
        let code = match e.code() {
            cairn_store::StoreCode::Core(c) => c,
            cairn_store::StoreCode::NotFound => ErrorCode::Unauthorized,
            _ => return ServiceError::from(e),
        };
        unauth(code, format!("the capability token: {}", e.detail()))
    })?;
    if !verified.claims.grants(policy.capability) {
        return Err(ServiceError::forbidden(
            ErrorCode::Unauthorized,
            format!(
                "the token does not grant the capability {:?} this operation needs",
                policy.capability
            ),
        )
        .with_details(serde_json::json!({"capability": policy.capability})));
    }
    if policy.proof_of_possession {
        let v = req.proof.ok_or_else(|| {
            unauth(
                ErrorCode::Unauthorized,
                "this operation needs a proof of possession by the token's holder: Cairn-Proof: t=..;n=..;s=..",
            )
        })?;
        let (t, nonce, sig) = parse_proof(v)?;
        if t.abs_diff(now) > policy.max_skew {
            return Err(unauth(
                ErrorCode::Expired,
                format!(
                    "Cairn-Proof: its time {t} is more than {} seconds from the server's {now}",
                    policy.max_skew
                ),
            ));
        }
        let holder = &verified.claims.holder;
        let sig = Signature::from_bytes(holder.algorithm(), &sig)
            .map_err(|e| unauth(e.code(), format!("Cairn-Proof: {}", e.detail())))?;
        let msg = pop_message(
            &verified.id,
            req.method,
            req.path_and_query,
            req.body,
            t,
            nonce,
        );
        holder.verify(&msg, POP_CONTEXT, &sig).map_err(|e| {
            unauth(
                ErrorCode::SignatureInvalid,
                format!(
                    "Cairn-Proof: not signed by the token's holder ({})",
                    e.detail()
                ),
            )
        })?;
        nonces.check_and_record(nonce, now, now + policy.max_skew)?;
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_headers_parse_strictly() {
        let ok = "t=5;n=0123456789abcdef;s=AAAA";
        assert_eq!(parse_proof(ok).unwrap().0, 5);
        for bad in [
            "",
            "t=5;n=0123456789abcdef",
            "t=x;n=0123456789abcdef;s=AAAA",
            "t=5;n=short;s=AAAA",
            "t=5;n=0123456789abcdef!;s=AAAA",
            "t=5;t=6;n=0123456789abcdef;s=AAAA",
            "t=5;n=0123456789abcdef;s=AAAA;x=1",
            "t=5;n=0123456789abcdef;s=***",
        ] {
            assert_eq!(parse_proof(bad).unwrap_err().code, "malformed", "{bad}");
        }
    }

    #[test]
    fn authorization_values_parse_strictly() {
        assert_eq!(parse_authorization(None).unwrap_err().code, "unauthorized");
        for bad in ["Cairn", "Basic abc", "Cairn !!!", "Cairn AAAA"] {
            let e = parse_authorization(Some(bad)).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::UNAUTHORIZED, "{bad}");
            assert_eq!(e.code, "malformed", "{bad}");
        }
    }

    #[test]
    fn nonces_are_accepted_once_until_forgotten() {
        let c = NonceCache::default();
        c.check_and_record("n1", 100, 400).unwrap();
        assert_eq!(
            c.check_and_record("n1", 200, 500).unwrap_err().code,
            "replayed"
        );
        c.check_and_record("n2", 200, 500).unwrap();
        // After its window the nonce is forgotten (its timestamp is then out of skew anyway).
        c.check_and_record("n1", 401, 700).unwrap();
    }
}
