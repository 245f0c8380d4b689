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
//! be within the configured skew of the server's clock; a nonce is accepted once per token
//! (replays are `replayed`). docs/FORMATS.md specifies these bytes.
//!
//! [`verify_token`] needs nothing of the request but its token, so a server runs it before
//! reading the body; [`verify_proof`] then checks the proof over the body. [`authorize`] is
//! both.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use cairn_core::dsse::Envelope;
use cairn_core::http::{check_request_proof, PendingProof, RequestProof};
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
/// Most nonces remembered at once; beyond, proofs are refused (`503`) until old ones expire.
/// An entry costs about 76 bytes (measured full: the map's table at its load factor, and the
/// entry filed under its second), so the cache stays near 310 MiB; at the default skew
/// (300 s) it holds about 14,000 signed requests per second sustained.
pub const MAX_REMEMBERED_NONCES: usize = 1 << 22;

/// Most nonces remembered for one token at once: a quarter of [`MAX_REMEMBERED_NONCES`], so
/// one holder signing requests as fast as it can does not use up the memory every other
/// token's requests need. Beyond, that token's proofs are refused (`429 rate_limited`) until
/// its older nonces expire.
pub const MAX_NONCES_PER_TOKEN: usize = MAX_REMEMBERED_NONCES / 4;

/// Largest `auth.max_clock_skew_seconds` (and the peer exchange's) a config may set: a proof
/// is remembered for up to twice the skew, and the window is what a captured request could be
/// replayed in were the server's memory of nonces lost.
pub const MAX_CLOCK_SKEW: u64 = 3600;

/// How far behind the latest time a nonce check used another check's clock may be and still
/// be taken for a clock read a moment before the check waited for the nonce memory (the check
/// then runs at the latest time). Further behind, the wall clock was stepped back, and the
/// check runs at its own time rather than refuse every proof until real time catches up.
pub const MAX_CLOCK_LAG: u64 = 5;

/// The time a check of a one-use memory (nonces here, proof-of-work solutions in
/// `handles`) runs at, given `latest`, the time the last check ran at, and `now`, the clock as
/// this check read it before it waited for the memory's lock: the later of the two when `now`
/// is behind by at most [`MAX_CLOCK_LAG`] (a check must never run before a time at which the
/// memory already forgot what it held), else `now` (the wall clock was stepped back). Updates
/// `latest`.
pub(crate) fn check_time(latest: &mut UnixTime, now: UnixTime) -> UnixTime {
    let at = if *latest > now && *latest - now <= MAX_CLOCK_LAG {
        *latest
    } else {
        now
    };
    *latest = at;
    at
}

/// What a nonce is remembered by: the first 16 bytes of SHA-256(token id ‖ nonce). Bound to
/// the token, so one token's holder cannot use up a nonce another is about to send; fixed in
/// size, whatever the nonce's length.
type NonceKey = [u8; 16];

fn nonce_key(token_id: &[u8; 32], nonce: &str) -> NonceKey {
    let d = cairn_core::encoding::sha256(&[token_id, nonce.as_bytes()]);
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// Nonces seen, each with the time after which it may be forgotten.
///
/// A nonce is kept until its proof's time could no longer pass the skew check (`max(now, t) +
/// skew`). Besides the map, the nonces are filed by that second, so a check forgets every
/// expired one, and only those, by taking the oldest seconds off the front: amortised O(1) per
/// nonce, whatever order the times arrive in. (A queue in arrival order would let one proof
/// dated ahead keep every nonce recorded after it, expired or not, counted against the limits
/// until its own time passed.)
///
/// The memory starts empty, at [`NonceCache::since`]: a proof dated before then may have been
/// accepted by a process that held the nonces before this one (the same service before a
/// restart), so it is refused ([`NonceCache::check_time`]) rather than taken as fresh.
#[derive(Debug)]
pub struct NonceCache {
    seen: Mutex<Nonces>,
    max_total: usize,
    max_per_token: usize,
    since: UnixTime,
}

impl Default for NonceCache {
    fn default() -> Self {
        NonceCache::with_limits(MAX_REMEMBERED_NONCES, MAX_NONCES_PER_TOKEN)
    }
}

/// Which token a remembered nonce was presented with, for the per-token count: the first 8
/// bytes of its id.
type TokenTag = u64;

#[derive(Debug, Default)]
struct Nonces {
    by_key: HashMap<NonceKey, UnixTime>,
    /// Every record, with its token, under the second after which it is forgotten (and
    /// uncounted). At most `2 * skew + 1` seconds are ever open.
    by_expiry: BTreeMap<UnixTime, Vec<(NonceKey, TokenTag)>>,
    per_token: HashMap<TokenTag, usize>,
    /// The latest `now` any check has used. The clock a check is given was read before it
    /// waited for this lock, so a check runs at this time when it is later by at most
    /// [`MAX_CLOCK_LAG`]: a nonce forgotten at `latest` is then one whose proof no check can
    /// accept any more.
    latest: UnixTime,
}

impl NonceCache {
    /// A cache remembering at most `max_total` nonces, and `max_per_token` of one token, from
    /// the beginning of time (for tests and benches: nothing is refused by its date).
    pub fn with_limits(max_total: usize, max_per_token: usize) -> NonceCache {
        NonceCache {
            seen: Mutex::default(),
            max_total,
            max_per_token,
            since: 0,
        }
    }

    /// The cache a service starts with at `now`, with the default limits: proofs dated before
    /// `now` are refused, since the nonces seen before it are not remembered.
    pub fn remembering_from(now: UnixTime) -> NonceCache {
        NonceCache {
            since: now,
            ..NonceCache::default()
        }
    }

    /// When this memory of nonces began.
    pub fn since(&self) -> UnixTime {
        self.since
    }

    /// Refuses (`401 expired`) a proof dated `time` before [`NonceCache::since`]: its nonce
    /// may have been used with a process that remembered it, and this one cannot tell. A
    /// request captured before a restart is therefore not accepted after it, unless its
    /// proof is dated from the start on: one of the very second the service started, or one
    /// its signer dated ahead of the previous process's clock (up to the skew), which this
    /// process takes as fresh. A client whose clock is behind the server's signs again (its
    /// proofs pass once its clock reaches the start).
    pub fn check_time(&self, time: UnixTime) -> ServiceResult<()> {
        if time < self.since {
            return Err(ServiceError::unauthenticated(
                ErrorCode::Expired,
                format!(
                    "Cairn-Proof: its time {time} is before {}, when this service began remembering nonces (it started then): sign the request again with the current time",
                    self.since
                ),
            ));
        }
        Ok(())
    }

    /// Records `nonce`, presented with the token `token_id` in a proof dated `proof_time`, for
    /// as long as that proof passes the skew check ([`remember_until`]); `replayed` if that
    /// token presented it before and it is not yet forgotten. `now` is the clock as the caller
    /// read it; the check runs at the latest time any check has used, if that is later by at
    /// most [`MAX_CLOCK_LAG`], and refuses (`401 expired`) a proof too old for that time, since
    /// its nonce may already be forgotten.
    pub fn check_and_record(
        &self,
        token_id: &[u8; 32],
        nonce: &str,
        proof_time: UnixTime,
        max_skew: u64,
        now: UnixTime,
    ) -> ServiceResult<()> {
        let key = nonce_key(token_id, nonce);
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&token_id[..8]);
        let tag = TokenTag::from_le_bytes(tag);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let Nonces {
            by_key,
            by_expiry,
            per_token,
            latest,
        } = &mut *seen;
        let now = check_time(latest, now);
        if proof_time.saturating_add(max_skew) < now {
            return Err(ServiceError::unauthenticated(
                ErrorCode::Expired,
                format!(
                    "Cairn-Proof: its time {proof_time} is more than {max_skew} seconds before the server's clock ({now}): sign the request again with the current time"
                ),
            ));
        }
        let forget_after = remember_until(now, proof_time, max_skew);
        while let Some(entry) = by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            let (t, records) = entry.remove_entry();
            for (k, owner) in records {
                // Only if not recorded again since (then a later entry forgets it).
                if by_key.get(&k) == Some(&t) {
                    by_key.remove(&k);
                }
                if let Some(n) = per_token.get_mut(&owner) {
                    *n -= 1;
                    if *n == 0 {
                        per_token.remove(&owner);
                    }
                }
            }
        }
        if let Some(t) = by_key.get(&key) {
            if *t >= now {
                return Err(ServiceError::unauthenticated(
                    ErrorCode::Replayed,
                    "this request's nonce was used before: sign each request with a fresh nonce",
                ));
            }
        }
        if by_key.len() >= self.max_total {
            return Err(ServiceError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many requests signed recently; retry later",
            ));
        }
        let mine = per_token.entry(tag).or_insert(0);
        if *mine >= self.max_per_token {
            return Err(ServiceError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "this token signed too many requests recently; retry later",
            )
            .with_details(serde_json::json!({"retry_after_seconds": 1, "banned": false})));
        }
        *mine += 1;
        by_key.insert(key, forget_after);
        by_expiry.entry(forget_after).or_default().push((key, tag));
        Ok(())
    }

    /// Nonces remembered now.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_key
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

/// Until when a nonce accepted at `now` with a proof dated `proof_time` must be remembered:
/// as long as that proof's time passes the skew check, so `max(now, proof_time) + skew` (a
/// proof dated ahead of the server's clock stays acceptable until its own time plus the skew).
pub fn remember_until(now: UnixTime, proof_time: UnixTime, max_skew: u64) -> UnixTime {
    now.max(proof_time).saturating_add(max_skew)
}

/// Verifies a write's credentials: the token (against the registry, at `now`), the
/// capability, and (when the policy asks) the holder's proof of possession with its nonce
/// ([`verify_token`], then [`verify_proof`]).
pub fn authorize(
    reg: &Registry,
    nonces: &NonceCache,
    req: &Presented<'_>,
    policy: &Policy<'_>,
    now: UnixTime,
) -> ServiceResult<VerifiedToken> {
    let verified = verify_token(reg, req.token, policy, now)?;
    verify_proof(nonces, &verified, req, policy, now)?;
    Ok(verified)
}

/// The token's part of [`authorize`], which needs nothing of the request but its token: the
/// token against the registry at `now` (issuer, chain, revocations, validity, audience), no
/// constraint (the service evaluates none), and the policy's capability. A server runs it
/// before it reads a request's body, so a request without a good token costs no body.
pub fn verify_token(
    reg: &Registry,
    token: &Envelope,
    policy: &Policy<'_>,
    now: UnixTime,
) -> ServiceResult<VerifiedToken> {
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
    if !verified.claims.constraints.is_empty() {
        // A constraint limits what its holder may do in terms only the relying service can
        // judge; this service judges none, so it refuses them rather than ignore them.
        let names: Vec<&String> = verified.claims.constraints.keys().collect();
        return Err(ServiceError::forbidden(
            ErrorCode::Unauthorized,
            "the token carries constraints, which this service does not evaluate: present a token without constraints",
        )
        .with_details(serde_json::json!({"constraints": names})));
    }
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
    Ok(verified)
}

/// The request's part of [`authorize`], for a token [`verify_token`] accepted: when the
/// policy asks, the holder's proof of possession over the request (its method, path, body,
/// time and nonce), then its nonce, remembered so it is accepted once.
///
/// The server itself checks the signatures of concurrent requests together
/// ([`verify_proof_batched`]); both apply the same rules, in the same order, with the same
/// errors (but for signatures crafted by their holder to pass only a batch equation:
/// [`crate::proofs`]).
pub fn verify_proof(
    nonces: &NonceCache,
    verified: &VerifiedToken,
    req: &Presented<'_>,
    policy: &Policy<'_>,
    now: UnixTime,
) -> ServiceResult<()> {
    let Some(ProofToCheck { proof, pending }) = ProofToCheck::of(verified, req, policy, now)?
    else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let verdict = pending.verify(&verified.claims.holder);
    finish_proof(
        nonces,
        verified,
        &proof,
        policy,
        now,
        verdict,
        started.elapsed(),
    )
}

/// [`verify_proof`], its signature checked in a batch with those of concurrent requests
/// ([`crate::proofs`]). The metrics count each signature's share of its batch's time.
pub async fn verify_proof_batched(
    batcher: &crate::proofs::ProofBatcher,
    nonces: &NonceCache,
    verified: &VerifiedToken,
    req: &Presented<'_>,
    policy: &Policy<'_>,
    now: UnixTime,
) -> ServiceResult<()> {
    let Some(ProofToCheck { proof, pending }) = ProofToCheck::of(verified, req, policy, now)?
    else {
        return Ok(());
    };
    let checked = batcher
        .verify(verified.claims.holder.clone(), pending)
        .await
        .ok_or_else(|| ServiceError::internal("the proof of possession's check failed"))?;
    finish_proof(
        nonces,
        verified,
        &proof,
        policy,
        now,
        checked.verdict,
        checked.cost,
    )
}

/// A proof of possession parsed and checked up to its signature.
struct ProofToCheck {
    proof: RequestProof,
    pending: PendingProof,
}

impl ProofToCheck {
    /// The proof of `req`, or `None` when the policy asks for none. Every check before the
    /// signature's: the header present and well formed, its time within the skew (a failure
    /// here is counted as a failed verification, as the signature's would be).
    fn of(
        verified: &VerifiedToken,
        req: &Presented<'_>,
        policy: &Policy<'_>,
        now: UnixTime,
    ) -> ServiceResult<Option<ProofToCheck>> {
        if !policy.proof_of_possession {
            return Ok(None);
        }
        let v = req.proof.ok_or_else(|| {
            unauth(
                ErrorCode::Unauthorized,
                "this operation needs a proof of possession by the token's holder: Cairn-Proof: t=..;n=..;s=..",
            )
        })?;
        let proof = RequestProof::parse(v).map_err(|e| unauth(e.code(), e.detail()))?;
        let holder = &verified.claims.holder;
        let checked = check_request_proof(
            holder,
            &verified.id,
            req.method,
            req.path_and_query,
            req.body,
            &proof,
            now,
            policy.max_skew,
        );
        match checked {
            Ok(pending) => Ok(Some(ProofToCheck { proof, pending })),
            Err(e) => {
                if let Some(m) = policy.metrics {
                    m.verification("proof", Some(holder.algorithm()), false, Default::default());
                }
                Err(unauth(e.code(), e.detail()))
            }
        }
    }
}

/// After a proof's signature `verdict` (which took `took`): the metrics, then the nonce,
/// remembered so it is accepted once.
fn finish_proof(
    nonces: &NonceCache,
    verified: &VerifiedToken,
    proof: &RequestProof,
    policy: &Policy<'_>,
    now: UnixTime,
    verdict: cairn_core::Result<()>,
    took: std::time::Duration,
) -> ServiceResult<()> {
    if let Some(m) = policy.metrics {
        let alg = verified.claims.holder.algorithm();
        m.verification("proof", Some(alg), verdict.is_ok(), took);
    }
    verdict.map_err(|e| unauth(e.code(), e.detail()))?;
    nonces.check_time(proof.time)?;
    nonces.check_and_record(
        &verified.id,
        proof.nonce.as_str(),
        proof.time,
        policy.max_skew,
        now,
    )
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

    /// `check_and_record` with a proof dated `t` and the default skew (300 s), at `now`.
    fn record(c: &NonceCache, tok: &[u8; 32], nonce: &str, t: u64, now: u64) -> ServiceResult<()> {
        c.check_and_record(tok, nonce, t, 300, now)
    }

    #[test]
    fn nonces_are_accepted_once_until_forgotten() {
        let c = NonceCache::default();
        let tok = [1u8; 32];
        record(&c, &tok, "n1", 100, 100).unwrap();
        assert_eq!(
            record(&c, &tok, "n1", 100, 200).unwrap_err().code,
            "replayed"
        );
        record(&c, &tok, "n2", 200, 200).unwrap();
        // After its window the nonce is forgotten, and its proof no longer passes either.
        assert_eq!(
            record(&c, &tok, "n1", 100, 401).unwrap_err().code,
            "expired"
        );
        record(&c, &tok, "n1", 400, 401).unwrap();
        // n1's first record (until 400) is gone, its second stands (until 701); n2 (until
        // 500) too.
        assert_eq!(c.len(), 2);
        assert_eq!(
            record(&c, &tok, "n1", 400, 600).unwrap_err().code,
            "replayed"
        );
        record(&c, &tok, "n3", 702, 702).unwrap();
        assert_eq!(c.len(), 1, "n1 and n2 forgotten once their times passed");
        record(&c, &tok, "n5", 1003, 1003).unwrap();
        assert_eq!(c.len(), 1);
    }

    /// A check given a clock older than one another check used (read before it waited for the
    /// lock, or a wall clock stepped back) runs at the later time: a proof that time has put
    /// out of the window is refused as expired, not taken because its nonce was forgotten.
    #[test]
    fn a_stale_clock_does_not_reopen_a_forgotten_nonce() {
        let c = NonceCache::default();
        let tok = [4u8; 32];
        record(&c, &tok, "captured-nonce-01", 1000, 1000).unwrap();
        // Any check at 1301 forgets every nonce kept until 1300, this one among them.
        record(&c, &[9; 32], "other-token-nonce", 1301, 1301).unwrap();
        assert_eq!(c.len(), 1);
        // The captured request again, its clock read at 1300, when its time still passed.
        let e = record(&c, &tok, "captured-nonce-01", 1000, 1300).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (401, "expired"));
        // A proof that passes at the later time is taken, and remembered from it.
        record(&c, &tok, "fresh-nonce-0001", 1001, 1300).unwrap();
        assert_eq!(
            record(&c, &tok, "fresh-nonce-0001", 1001, 1301)
                .unwrap_err()
                .code,
            "replayed"
        );
        // A clock stepped back further than a late read (after running an hour ahead): the
        // checks run at their own time again, rather than refuse every proof for an hour.
        record(&c, &tok, "ahead-nonce-00001", 5000, 5000).unwrap();
        record(&c, &tok, "after-correction1", 1400, 1400).unwrap();
        assert_eq!(
            record(&c, &tok, "after-correction1", 1400, 1401)
                .unwrap_err()
                .code,
            "replayed"
        );
    }

    /// One token's share of the remembered nonces used up is a 429 shaped as the limiter's
    /// (`retry_after_seconds`, `banned`), and leaves other tokens their share.
    #[test]
    fn a_token_past_its_share_of_nonces_is_rate_limited() {
        let c = NonceCache::with_limits(16, 2);
        record(&c, &[5; 32], "share-nonce-0001", 100, 100).unwrap();
        record(&c, &[5; 32], "share-nonce-0002", 100, 100).unwrap();
        let e = record(&c, &[5; 32], "share-nonce-0003", 100, 100).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (429, "rate_limited"));
        assert_eq!(
            e.details,
            serde_json::json!({"retry_after_seconds": 1, "banned": false})
        );
        record(&c, &[6; 32], "share-nonce-0003", 100, 100).unwrap();
    }

    #[test]
    fn a_proof_dated_ahead_is_remembered_while_its_time_passes() {
        let (skew, now) = (300, 1000);
        let c = NonceCache::default();
        for t in [now - skew, now, now + 5, now + skew] {
            let nonce = format!("nonce-dated-{t:06}");
            c.check_and_record(&[3; 32], &nonce, t, skew, now).unwrap();
            // Every later second at which the proof's time still passes the skew check
            // (|t - later| <= skew) finds the nonce remembered.
            for later in [now + 1, t + skew] {
                if later.abs_diff(t) <= skew && later >= now {
                    let e = c
                        .check_and_record(&[3; 32], &nonce, t, skew, later)
                        .unwrap_err();
                    assert_eq!(e.code, "replayed", "t={t} later={later}");
                }
            }
        }
        assert_eq!(remember_until(now, now + 5, skew), now + 5 + skew);
        assert_eq!(remember_until(now, now - 5, skew), now + skew);
        assert_eq!(remember_until(now, now, u64::MAX), u64::MAX, "no overflow");
    }

    /// One token cannot use up the memory of nonces: beyond its share, its proofs are
    /// refused (429) while other tokens' still pass, until its nonces expire.
    #[test]
    fn one_token_cannot_use_up_the_nonce_memory() {
        let c = NonceCache::with_limits(6, 3);
        let (greedy, other) = ([1u8; 32], [2u8; 32]);
        for i in 0..3 {
            c.check_and_record(&greedy, &format!("greedy-nonce-{i:04}"), 100, 300, 100)
                .unwrap();
        }
        let e = c
            .check_and_record(&greedy, "greedy-nonce-0003", 100, 300, 100)
            .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (429, "rate_limited"));
        for i in 0..3 {
            c.check_and_record(&other, &format!("other-nonce-{i:04}"), 100, 300, 100)
                .unwrap();
        }
        // The memory is full now: every token waits.
        let e = c
            .check_and_record(&[3; 32], "third-nonce-0000", 100, 300, 100)
            .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (503, "unavailable"));
        // Once its nonces expire, the greedy token signs again.
        c.check_and_record(&greedy, "greedy-nonce-0004", 400, 300, 401)
            .unwrap();
        assert_eq!(c.len(), 1);
    }

    /// A proof dated ahead (up to the skew) is remembered longer than the nonces recorded
    /// after it; those are still forgotten, and uncounted, as soon as their own times pass.
    #[test]
    fn a_proof_dated_ahead_does_not_hold_back_later_nonces() {
        let c = NonceCache::with_limits(4, 4);
        let tok = [5u8; 32];
        c.check_and_record(&tok, "dated-ahead-0001", 1300, 300, 1000)
            .unwrap();
        for i in 0..3 {
            c.check_and_record(&tok, &format!("on-time-nonce-{i:03}"), 1000, 300, 1000)
                .unwrap();
        }
        // The cache is full until 1300; past it, only the proof dated ahead remains.
        assert_eq!(
            c.check_and_record(&tok, "on-time-nonce-003", 1000, 300, 1000)
                .unwrap_err()
                .code,
            "unavailable"
        );
        c.check_and_record(&tok, "on-time-nonce-004", 1310, 300, 1310)
            .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.check_and_record(&tok, "dated-ahead-0001", 1300, 300, 1310)
                .unwrap_err()
                .code,
            "replayed"
        );
    }

    /// A proof dated before the memory began (signed before a restart) is refused; one of that
    /// second or later is taken.
    #[test]
    fn proofs_dated_before_the_memory_began_are_refused() {
        let c = NonceCache::remembering_from(1000);
        assert_eq!(c.since(), 1000);
        let e = c.check_time(999).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (401, "expired"));
        assert!(e.message.contains("before 1000"), "{}", e.message);
        c.check_time(1000).unwrap();
        c.check_time(1300).unwrap();
        NonceCache::default().check_time(0).unwrap();
    }

    #[test]
    fn a_nonce_belongs_to_its_token() {
        let c = NonceCache::default();
        c.check_and_record(&[1; 32], "shared-nonce-0001", 100, 300, 100)
            .unwrap();
        // Another token's holder sending the same nonce neither fails nor takes it away.
        c.check_and_record(&[2; 32], "shared-nonce-0001", 100, 300, 100)
            .unwrap();
        assert_eq!(
            c.check_and_record(&[1; 32], "shared-nonce-0001", 101, 300, 101)
                .unwrap_err()
                .code,
            "replayed"
        );
    }
}
