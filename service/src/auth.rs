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

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use cairn_core::dsse::Envelope;
use cairn_core::http::{verify_request_proof, RequestProof};
use cairn_core::token::{VerifiedToken, VerifyOptions};
use cairn_core::{ErrorCode, UnixTime};
use cairn_store::Registry;

use crate::error::{ServiceError, ServiceResult};

/// The request-signature header.
pub const PROOF_HEADER: &str = "cairn-proof";
// The credential formats are cairn-core's (docs/FORMATS.md §14a), shared with clients.
pub use cairn_core::http::{
    authorization_value, pop_message, sign_request, MAX_AUTHORIZATION_LEN, NONCE_LEN, POP_CONTEXT,
};
/// Most nonces remembered at once; beyond, proofs are refused until old ones expire.
pub const MAX_REMEMBERED_NONCES: usize = 1 << 20;

/// Nonces seen, with the time after which they may be forgotten.
///
/// Forgetting is amortised O(1) per check: besides the map, a queue holds each nonce in the
/// order recorded, with its time; a check first forgets the expired ones at the queue's front.
/// Times are recorded as `now + skew`, so they arrive nearly in order; a time out of order (the
/// clock stepped back) only keeps a nonce a little longer than needed.
#[derive(Debug, Default)]
pub struct NonceCache {
    seen: Mutex<Nonces>,
}

#[derive(Debug, Default)]
struct Nonces {
    by_nonce: HashMap<String, UnixTime>,
    in_order: VecDeque<(UnixTime, String)>,
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
        let Nonces { by_nonce, in_order } = &mut *seen;
        while let Some((t, _)) = in_order.front() {
            if *t >= now {
                break;
            }
            if let Some((t, n)) = in_order.pop_front() {
                // Only if not recorded again since (then a later entry forgets it).
                if by_nonce.get(&n) == Some(&t) {
                    by_nonce.remove(&n);
                }
            }
        }
        if let Some(t) = by_nonce.get(nonce) {
            if *t >= now {
                return Err(ServiceError::unauthenticated(
                    ErrorCode::Replayed,
                    "this request's nonce was used before: sign each request with a fresh nonce",
                ));
            }
        }
        if by_nonce.len() >= MAX_REMEMBERED_NONCES {
            return Err(ServiceError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many requests signed recently; retry later",
            ));
        }
        by_nonce.insert(nonce.to_owned(), forget_after);
        in_order.push_back((forget_after, nonce.to_owned()));
        Ok(())
    }

    /// Nonces remembered now.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_nonce
            .len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a write request presents.
pub struct Presented<'a> {
    /// The capability token, parsed from the `Authorization` header ([`parse_authorization`]).
    pub token: &'a Envelope,
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
    /// Where verification outcomes and latencies are recorded, if anywhere.
    pub metrics: Option<&'a crate::metrics::Metrics>,
}

fn unauth(code: ErrorCode, msg: impl Into<String>) -> ServiceError {
    ServiceError::unauthenticated(code, msg)
}

/// Parses the `Authorization` header into a token envelope (cairn-core's
/// [`cairn_core::http::parse_authorization`]); every failure is a 401.
pub fn parse_authorization(value: Option<&str>) -> ServiceResult<Envelope> {
    let v = value.ok_or_else(|| {
        unauth(
            ErrorCode::Unauthorized,
            "this operation needs a capability token: Authorization: Cairn <base64 token>",
        )
    })?;
    cairn_core::http::parse_authorization(v).map_err(|e| unauth(e.code(), e.detail()))
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
    let token = req.token;
    let opts = VerifyOptions {
        audience: Some(policy.audience),
        capability: None,
    };
    let started = std::time::Instant::now();
    let verified = reg.verify_token(token, now, &opts);
    if let Some(m) = policy.metrics {
        let alg = verified.as_ref().ok().map(|v| v.issuer.algorithm());
        m.verification("token", alg, verified.is_ok(), started.elapsed());
    }
    let verified = verified.map_err(|e| {
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
        let proof = RequestProof::parse(v).map_err(|e| unauth(e.code(), e.detail()))?;
        let holder = &verified.claims.holder;
        let started = std::time::Instant::now();
        let checked = verify_request_proof(
            holder,
            &verified.id,
            req.method,
            req.path_and_query,
            req.body,
            &proof,
            now,
            policy.max_skew,
        );
        if let Some(m) = policy.metrics {
            m.verification(
                "proof",
                Some(holder.algorithm()),
                checked.is_ok(),
                started.elapsed(),
            );
        }
        checked.map_err(|e| unauth(e.code(), e.detail()))?;
        let nonce = proof.nonce.as_str();
        nonces.check_and_record(nonce, now, now + policy.max_skew)?;
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // n1's first record (until 400) is gone, its second stands; n2 (until 500) too.
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.check_and_record("n1", 600, 900).unwrap_err().code,
            "replayed"
        );
        c.check_and_record("n3", 701, 1000).unwrap();
        assert_eq!(c.len(), 1, "n1 and n2 forgotten once their times passed");
        // A time out of order (a clock stepped back) is kept, and forgotten after its own.
        c.check_and_record("n4", 650, 800).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.check_and_record("n4", 700, 900).is_err());
        c.check_and_record("n5", 1001, 1200).unwrap();
        assert_eq!(c.len(), 1);
    }
}
