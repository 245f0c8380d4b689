//! Credentials of an HTTP write to a cairn service (docs/FORMATS.md §14a): the capability
//! token in `Authorization: Cairn <base64 token>`, and the holder's proof of possession in
//! `Cairn-Proof: t=<unix time>;n=<nonce>;s=<base64 signature>` over the request.
//!
//! Pure: parsing and checking only. The service supplies the clock (`now`), remembers nonces
//! and verifies the token against its registry; any other implementation of a client or a
//! server uses the same bytes from here.
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use cairn_core::crypto::{Algorithm, SigningKey};
//! use cairn_core::http::{sign_request, verify_request_proof, RequestProof};
//!
//! let holder = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
//! let token_id = [7u8; 32];
//! let header = sign_request(&holder, &token_id, "POST", "/api/v1/tokens", b"{}", 1_700_000_000, "0123456789abcdef")?;
//! let proof = RequestProof::parse(&header)?;
//! verify_request_proof(holder.public_key(), &token_id, "POST", "/api/v1/tokens", b"{}", &proof, 1_700_000_010, 300)?;
//! // Another body is refused.
//! assert!(verify_request_proof(holder.public_key(), &token_id, "POST", "/api/v1/tokens", b"{ }", &proof, 1_700_000_010, 300).is_err());
//! # }
//! # Ok::<(), cairn_core::Error>(())
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ops::RangeInclusive;

use crate::crypto::{PublicKey, Signature};
use crate::dsse::Envelope;
use crate::encoding::{b64_decode, b64_encode, hex_encode, sha256, Digest};
use crate::{Error, ErrorCode, Result, UnixTime};

/// Domain separation of proof-of-possession signatures (first line, and ML-DSA context).
pub const POP_CONTEXT: &[u8] = b"cairn-http-pop-v1";
/// Largest `Authorization` value accepted (a token with a delegation chain of ML-DSA keys).
pub const MAX_AUTHORIZATION_LEN: usize = 96 * 1024;
/// Largest `Cairn-Proof` value accepted.
pub const MAX_PROOF_LEN: usize = 16 * 1024;
/// Nonce length bounds, in characters of `[A-Za-z0-9_-]`.
pub const NONCE_LEN: RangeInclusive<usize> = 16..=64;

/// The bytes a holder signs to prove it sent a request: the context line, the token id, the
/// method, the path with its query, the body's SHA-256, the time and the nonce, one per line.
///
/// ```
/// let m = cairn_core::http::pop_message(&[0u8; 32], "POST", "/api/v1/registry/register", b"{}", 1700000000, "0123456789abcdef");
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

/// The `Authorization` header value for a token envelope: `Cairn <base64 compact envelope>`.
pub fn authorization_value(token: &Envelope) -> String {
    format!("Cairn {}", b64_encode(&token.to_compact()))
}

/// Parses an `Authorization` value into the token envelope it carries (`Cairn` or `Bearer`
/// scheme, base64 of the envelope in either form). `too_large`, `malformed`, or the envelope's
/// own decoding error.
///
/// ```
/// assert_eq!(cairn_core::http::parse_authorization("Basic abc").unwrap_err().code().as_str(), "malformed");
/// ```
pub fn parse_authorization(value: &str) -> Result<Envelope> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(Error::new(
            ErrorCode::TooLarge,
            "the Authorization header is too long",
        ));
    }
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or_else(|| Error::malformed("Authorization: expected `Cairn <base64 token>`"))?;
    if !scheme.eq_ignore_ascii_case("cairn") && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::malformed(format!(
            "Authorization scheme {scheme:?} is not `Cairn`"
        )));
    }
    let bytes = b64_decode(rest.trim())
        .map_err(|_| Error::malformed("Authorization: the token is not base64"))?;
    Envelope::parse(&bytes).map_err(|e| e.context("Authorization"))
}

/// A parsed `Cairn-Proof` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestProof {
    /// When the holder signed, Unix seconds.
    pub time: UnixTime,
    /// The nonce: 16 to 64 characters of `[A-Za-z0-9_-]`, never accepted twice by a server.
    pub nonce: String,
    /// The holder's signature bytes.
    pub signature: Vec<u8>,
}

impl RequestProof {
    /// Parses `t=..;n=..;s=..` (in any order, each once). `malformed` for anything else.
    ///
    /// ```
    /// use cairn_core::http::RequestProof;
    /// let p = RequestProof::parse("t=1700000000;n=0123456789abcdef;s=AAAA")?;
    /// assert_eq!(p.to_header(), "t=1700000000;n=0123456789abcdef;s=AAAA");
    /// assert!(RequestProof::parse("t=1;n=short;s=AAAA").is_err());
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn parse(value: &str) -> Result<RequestProof> {
        let bad = |m: &str| Error::malformed(format!("Cairn-Proof: {m}"));
        if value.len() > MAX_PROOF_LEN {
            return Err(Error::new(ErrorCode::TooLarge, "Cairn-Proof: too long"));
        }
        let (mut t, mut n, mut s) = (None, None, None);
        for part in value.split(';') {
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
        let t = t.ok_or_else(|| bad("missing t"))?;
        let time: UnixTime = match t.parse() {
            // Decimal digits with no leading zero (docs/FORMATS.md), so one time has one form.
            Ok(v) if t.bytes().all(|b| b.is_ascii_digit()) && (t == "0" || !t.starts_with('0')) => {
                v
            }
            _ => {
                return Err(bad(
                    "t is not a Unix time (decimal digits, no leading zero)",
                ))
            }
        };
        let n = n.ok_or_else(|| bad("missing n"))?;
        if !NONCE_LEN.contains(&n.len())
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("n must be 16 to 64 characters of A-Z a-z 0-9 - _"));
        }
        let signature =
            b64_decode(s.ok_or_else(|| bad("missing s"))?).map_err(|_| bad("s is not base64"))?;
        Ok(RequestProof {
            time,
            nonce: n.to_string(),
            signature,
        })
    }

    /// The header value (`t=..;n=..;s=..`).
    pub fn to_header(&self) -> String {
        format!(
            "t={};n={};s={}",
            self.time,
            self.nonce,
            b64_encode(&self.signature)
        )
    }
}

/// Checks a proof of possession: its time within `max_skew` seconds of `now` (`expired`
/// when earlier, `not_yet_valid` when later),
/// and its signature by `holder` over [`pop_message`] of this request (`signature_invalid`,
/// or the signature's decoding error). The nonce's freshness is the server's to check.
///
/// It is [`check_request_proof`] followed by [`PendingProof::verify`]; a server checking
/// many requests at once can verify the pending signatures together instead
/// ([`PendingProof::batch_item`]).
#[allow(clippy::too_many_arguments)]
pub fn verify_request_proof(
    holder: &PublicKey,
    token_id: &Digest,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    proof: &RequestProof,
    now: UnixTime,
    max_skew: u64,
) -> Result<()> {
    check_request_proof(
        holder,
        token_id,
        method,
        path_and_query,
        body,
        proof,
        now,
        max_skew,
    )?
    .verify(holder)
}

/// Every check of [`verify_request_proof`] but the signature's: the proof's time against
/// `now`, and its signature decoded for `holder`'s algorithm. Returns the signed bytes and the
/// signature, still to be verified ([`PendingProof::verify`], or in a batch).
///
/// ```
/// # #[cfg(feature = "std")] {
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::http::{check_request_proof, sign_request, RequestProof};
///
/// let holder = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let header = sign_request(&holder, &[7; 32], "POST", "/x", b"{}", 1_700_000_000, "0123456789abcdef")?;
/// let proof = RequestProof::parse(&header)?;
/// let pending = check_request_proof(holder.public_key(), &[7; 32], "POST", "/x", b"{}", &proof, 1_700_000_010, 300)?;
/// pending.verify(holder.public_key())?;
/// // A stale proof is refused before any signature is checked.
/// let stale = check_request_proof(holder.public_key(), &[7; 32], "POST", "/x", b"{}", &proof, 1_700_001_000, 300);
/// assert_eq!(stale.unwrap_err().code(), cairn_core::ErrorCode::Expired);
/// # }
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn check_request_proof(
    holder: &PublicKey,
    token_id: &Digest,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    proof: &RequestProof,
    now: UnixTime,
    max_skew: u64,
) -> Result<PendingProof> {
    if proof.time.abs_diff(now) > max_skew {
        // A proof too old is stale, one too far ahead is from a clock running fast.
        let (code, side) = if proof.time < now {
            (ErrorCode::Expired, "before")
        } else {
            (ErrorCode::NotYetValid, "after")
        };
        return Err(Error::new(
            code,
            format!(
                "Cairn-Proof: its time {} is more than {max_skew} seconds {side} {now}",
                proof.time
            ),
        ));
    }
    let signature = Signature::from_bytes(holder.algorithm(), &proof.signature)
        .map_err(|e| e.context("Cairn-Proof"))?;
    let message = pop_message(
        token_id,
        method,
        path_and_query,
        body,
        proof.time,
        &proof.nonce,
    );
    Ok(PendingProof { message, signature })
}

/// A proof of possession that passed [`check_request_proof`]: what is left is its signature.
/// Only [`check_request_proof`] makes one, so every one has passed its checks.
#[derive(Debug, Clone)]
pub struct PendingProof {
    /// The signed bytes ([`pop_message`] of the request).
    message: Vec<u8>,
    /// The holder's signature, decoded.
    signature: Signature,
}

impl PendingProof {
    /// Verifies the signature by `holder` (`signature_invalid` when it does not verify).
    pub fn verify(&self, holder: &PublicKey) -> Result<()> {
        holder
            .verify(&self.message, POP_CONTEXT, &self.signature)
            .map_err(proof_signature_refused)
    }

    /// The signature as an item of [`crate::crypto::batch::verify_batch`] or
    /// [`crate::crypto::batch::verify_each`]. Their errors are single verification's; map
    /// them with [`proof_signature_refused`] to have [`PendingProof::verify`]'s.
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use cairn_core::crypto::{batch::verify_batch, Algorithm, SigningKey};
    /// use cairn_core::http::{check_request_proof, proof_signature_refused, sign_request, RequestProof};
    ///
    /// let holder = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    /// let pending = ["/a", "/b"].iter().map(|path| {
    ///     let header = sign_request(&holder, &[7; 32], "POST", path, b"{}", 1_700_000_000, "0123456789abcdef")?;
    ///     check_request_proof(holder.public_key(), &[7; 32], "POST", path, b"{}", &RequestProof::parse(&header)?, 1_700_000_000, 300)
    /// }).collect::<Result<Vec<_>, _>>()?;
    /// let items: Vec<_> = pending.iter().map(|p| p.batch_item(holder.public_key())).collect();
    /// verify_batch(&items).map_err(|f| proof_signature_refused(f.error))?;
    /// # }
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn batch_item<'a>(&'a self, holder: &'a PublicKey) -> crate::crypto::batch::BatchItem<'a> {
        crate::crypto::batch::BatchItem {
            key: holder,
            message: &self.message,
            context: POP_CONTEXT,
            signature: &self.signature,
        }
    }
}

/// The error of a proof whose signature does not verify, from the signature check's error
/// `e`: `signature_invalid`, naming the header.
pub fn proof_signature_refused(e: Error) -> Error {
    Error::new(
        ErrorCode::SignatureInvalid,
        format!(
            "Cairn-Proof: not signed by the token's holder ({})",
            e.detail()
        ),
    )
}

/// The `Cairn-Proof` header value for a request, signed by the holder key.
#[cfg(feature = "std")]
pub fn sign_request(
    holder: &crate::crypto::SigningKey,
    token_id: &Digest,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    time: UnixTime,
    nonce: &str,
) -> Result<String> {
    let msg = pop_message(token_id, method, path_and_query, body, time, nonce);
    let sig = holder.sign(&msg, POP_CONTEXT)?;
    Ok(RequestProof {
        time,
        nonce: nonce.to_string(),
        signature: sig.as_bytes().to_vec(),
    }
    .to_header())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_headers_parse_strictly() {
        let ok = "t=5;n=0123456789abcdef;s=AAAA";
        assert_eq!(RequestProof::parse(ok).unwrap().time, 5);
        assert_eq!(RequestProof::parse(ok).unwrap().to_header(), ok);
        assert_eq!(
            RequestProof::parse("t=0;n=0123456789abcdef;s=AAAA")
                .unwrap()
                .time,
            0
        );
        for bad in [
            "",
            "t=5;n=0123456789abcdef",
            "t=x;n=0123456789abcdef;s=AAAA",
            "t=+5;n=0123456789abcdef;s=AAAA",
            "t=05;n=0123456789abcdef;s=AAAA",
            "t=00;n=0123456789abcdef;s=AAAA",
            "t=;n=0123456789abcdef;s=AAAA",
            "t=5;n=short;s=AAAA",
            "t=5;n=0123456789abcdef!;s=AAAA",
            "t=5;t=6;n=0123456789abcdef;s=AAAA",
            "t=5;n=0123456789abcdef;s=AAAA;x=1",
            "t=5;n=0123456789abcdef;s=***",
        ] {
            let e = RequestProof::parse(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Malformed, "{bad}");
        }
    }

    /// Each way a proof can fail: the one that verifies, then flipped and cut signatures, a
    /// proof for another method, path, body, token or time, a nonce swapped, a holder
    /// signature under another context, another holder, and times past the skew either way.
    #[cfg(feature = "std")]
    #[test]
    fn proofs_verify_only_for_their_request() {
        use crate::crypto::{Algorithm, SigningKey};
        for alg in [
            Algorithm::Ed25519,
            Algorithm::MlDsa44,
            Algorithm::Ed25519MlDsa44,
        ] {
            let holder = SigningKey::from_seed(alg, &[3; 32]);
            let other = SigningKey::from_seed(alg, &[4; 32]);
            let (tok, t, nonce) = ([7u8; 32], 1_700_000_000, "0123456789abcdef");
            let (m, p, body) = ("POST", "/api/v1/registry/register", &b"{}"[..]);
            let header = sign_request(&holder, &tok, m, p, body, t, nonce).unwrap();
            let proof = RequestProof::parse(&header).unwrap();
            let check = |key: &SigningKey,
                         proof: &RequestProof,
                         tok: &Digest,
                         m: &str,
                         p: &str,
                         body: &[u8],
                         now| {
                verify_request_proof(key.public_key(), tok, m, p, body, proof, now, 300)
                    .err()
                    .map(|e| e.code())
            };
            assert_eq!(
                check(&holder, &proof, &tok, m, p, body, t + 10),
                None,
                "{alg:?}"
            );
            let with_sig = |f: &dyn Fn(&mut Vec<u8>)| {
                let mut q = proof.clone();
                f(&mut q.signature);
                q
            };
            let flipped = with_sig(&|s| s[0] ^= 1);
            let cut = with_sig(&|s| {
                s.pop();
            });
            let mut renonced = proof.clone();
            renonced.nonce = "fedcba9876543210".into();
            let mut retimed = proof.clone();
            retimed.time += 1;
            let foreign_ctx = RequestProof {
                signature: holder
                    .sign(&pop_message(&tok, m, p, body, t, nonce), b"other-context")
                    .unwrap()
                    .as_bytes()
                    .to_vec(),
                ..proof.clone()
            };
            let sig = Some(ErrorCode::SignatureInvalid);
            for (what, got, want) in [
                (
                    "flipped",
                    check(&holder, &flipped, &tok, m, p, body, t),
                    sig,
                ),
                (
                    "method",
                    check(&holder, &proof, &tok, "DELETE", p, body, t),
                    sig,
                ),
                (
                    "path",
                    check(&holder, &proof, &tok, m, "/api/v1/tokens", body, t),
                    sig,
                ),
                ("body", check(&holder, &proof, &tok, m, p, b"{ }", t), sig),
                (
                    "token",
                    check(&holder, &proof, &[8; 32], m, p, body, t),
                    sig,
                ),
                ("nonce", check(&holder, &renonced, &tok, m, p, body, t), sig),
                ("time", check(&holder, &retimed, &tok, m, p, body, t), sig),
                (
                    "context",
                    check(&holder, &foreign_ctx, &tok, m, p, body, t),
                    // Ed25519 takes no context: its domain is the message's first line.
                    if alg == Algorithm::Ed25519 { None } else { sig },
                ),
                ("holder", check(&other, &proof, &tok, m, p, body, t), sig),
                (
                    "stale",
                    check(&holder, &proof, &tok, m, p, body, t + 301),
                    Some(ErrorCode::Expired),
                ),
                (
                    "ahead",
                    check(&holder, &proof, &tok, m, p, body, t - 301),
                    Some(ErrorCode::NotYetValid),
                ),
            ] {
                assert_eq!(got, want, "{alg:?}: {what}");
            }
            // A cut signature is not one of the algorithm's length: refused before checking.
            assert!(
                check(&holder, &cut, &tok, m, p, body, t).is_some(),
                "{alg:?}: cut"
            );
        }
    }

    #[test]
    fn authorization_values_parse_strictly() {
        for bad in ["Cairn", "Basic abc", "Cairn !!!", "Cairn AAAA"] {
            assert_eq!(
                parse_authorization(bad).unwrap_err().code(),
                ErrorCode::Malformed,
                "{bad}"
            );
        }
        let long = alloc::format!("Cairn {}", "A".repeat(MAX_AUTHORIZATION_LEN));
        assert_eq!(
            parse_authorization(&long).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }
}
