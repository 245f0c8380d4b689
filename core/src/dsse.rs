//! DSSE envelopes: the wrapper of every signed cairn object.
//!
//! A signature covers `PAE(payloadType, payload)` exactly as DSSE v1 defines it, never the
//! payload alone; for ML-DSA (and the ML-DSA half of a hybrid) the FIPS 204 context string is
//! the payload type, so a signature made for one kind of object can never verify as another.
//!
//! Two encodings carry the same envelope:
//! - the JSON form, DSSE's own (`payload`, `payloadType`, `signatures[{keyid, sig}]`, standard
//!   base64), which standard DSSE tooling reads;
//! - the compact form: the magic bytes `CDSE` followed by the postcard encoding of
//!   [`Envelope`]. It is canonical (decoding re-encodes and compares), so its SHA-256 is a
//!   stable identity: [`Envelope::id`].
//!
//! Invariant: an [`Envelope`] value always satisfies the size limits below, whichever way it
//! was made, so everything derived from it is bounded.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::crypto::{bytes_b64, KeyId, PublicKey, Signature};
use crate::encoding::{
    b64_decode, b64_encode, from_postcard_canonical, sha256, to_postcard, Digest,
};
use crate::error::{Error, ErrorCode, Result};
use crate::json_read::Json;

/// Magic prefix of the compact binary form.
pub const COMPACT_MAGIC: &[u8; 4] = b"CDSE";
/// Largest payload accepted.
pub const MAX_PAYLOAD_LEN: usize = 192 * 1024;
/// Largest compact envelope accepted.
pub const MAX_ENVELOPE_LEN: usize = 256 * 1024;
/// Largest JSON envelope text accepted (base64 inflates by 4/3).
pub const MAX_JSON_LEN: usize = 384 * 1024;
/// Most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 32;
/// Longest payload type (it is also the FIPS 204 context string, which is capped at 255).
pub const MAX_PAYLOAD_TYPE_LEN: usize = 255;

/// One signature in an envelope: who signed (key id) and the raw signature bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id of the signer; the verifier's key set maps it to a public key and algorithm.
    pub keyid: KeyId,
    /// Raw signature bytes (hybrid: Ed25519 signature ‖ ML-DSA signature).
    #[serde(with = "bytes_b64")]
    pub sig: Vec<u8>,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload type, e.g. `application/vnd.cairn.token.v1+postcard`.
    pub payload_type: String,
    /// The signed payload bytes.
    #[serde(with = "bytes_b64")]
    pub payload: Vec<u8>,
    /// Signatures over `PAE(payload_type, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
///
/// ```
/// let pae = cairn_core::dsse::pae("http://example.com/HelloWorld", b"hello world");
/// assert_eq!(pae, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world");
/// ```
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(alloc::format!("{} ", payload_type.len()).as_bytes());
    out.extend_from_slice(payload_type.as_bytes());
    out.extend_from_slice(alloc::format!(" {} ", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out
}

/// What a successful [`Envelope::verify`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    /// The payload, now authenticated (still to be decoded by the caller).
    pub payload: &'a [u8],
    /// Distinct key ids whose signatures verified, in envelope order.
    pub signers: Vec<KeyId>,
}

struct JsonSig {
    keyid: String,
    sig: String,
}

struct JsonEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<JsonSig>,
}

/// The DSSE JSON form's members, read as `#[derive(Deserialize)]` structs with serde_json read
/// them (see [`crate::json_read`]); on refusal, the byte offset where the text went wrong.
fn json_envelope(text: &str) -> core::result::Result<JsonEnvelope, usize> {
    let mut j = Json::new(text);
    let (mut payload, mut payload_type, mut signatures) =
        (String::new(), String::new(), Vec::new());
    let read = j.record(&["payload", "payloadType", "signatures"], |j, k| {
        match k {
            0 => payload = j.string()?,
            1 => payload_type = j.string()?,
            _ => {
                signatures = j.list(|j| {
                    let (mut keyid, mut sig) = (String::new(), String::new());
                    j.record(&["keyid", "sig"], |j, k| {
                        *(if k == 0 { &mut keyid } else { &mut sig }) = j.string()?;
                        Some(())
                    })?;
                    Some(JsonSig { keyid, sig })
                })?
            }
        }
        Some(())
    });
    match read.and_then(|()| j.end()) {
        Some(()) => Ok(JsonEnvelope {
            payload,
            payload_type,
            signatures,
        }),
        None => Err(j.offset()),
    }
}

impl Envelope {
    /// Builds an unsigned envelope after checking the size limits.
    pub fn new(payload_type: &str, payload: Vec<u8>) -> Result<Envelope> {
        let env = Envelope {
            payload_type: payload_type.into(),
            payload,
            signatures: Vec::new(),
        };
        env.check_limits()?;
        Ok(env)
    }

    pub(crate) fn check_limits(&self) -> Result<()> {
        if self.payload_type.is_empty() || self.payload_type.len() > MAX_PAYLOAD_TYPE_LEN {
            return Err(Error::malformed(
                "envelope: payload type must be 1 to 255 bytes",
            ));
        }
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "envelope: payload is too large",
            ));
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "envelope: too many signatures",
            ));
        }
        Ok(())
    }

    /// The bytes every signature covers: `PAE(payload_type, payload)`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Adds a signature by `key` (feature `std`). ML-DSA uses the payload type as context.
    ///
    /// ```
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::dsse::Envelope;
    /// let key = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[9; 32]);
    /// let mut env = Envelope::new("application/example", b"payload".to_vec())?;
    /// env.sign(&key)?;
    /// let ok = env.verify("application/example", &[key.public_key().clone()], 1)?;
    /// assert_eq!(ok.signers, vec![key.public_key().key_id()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn sign(&mut self, key: &crate::crypto::SigningKey) -> Result<()> {
        let sig = key.sign(&self.signed_bytes(), self.payload_type.as_bytes())?;
        self.push_signature(key.public_key().key_id(), sig)
    }

    /// Like [`Envelope::sign`] with FIPS 204's deterministic variant (reproducible vectors).
    #[cfg(feature = "std")]
    pub fn sign_deterministic(&mut self, key: &crate::crypto::SigningKey) -> Result<()> {
        let sig = key.sign_deterministic(&self.signed_bytes(), self.payload_type.as_bytes())?;
        self.push_signature(key.public_key().key_id(), sig)
    }

    #[cfg(feature = "std")]
    fn push_signature(&mut self, keyid: KeyId, sig: Signature) -> Result<()> {
        if self.signatures.iter().any(|s| s.keyid == keyid) {
            return Err(Error::malformed("envelope: key has already signed"));
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "envelope: too many signatures",
            ));
        }
        self.signatures.push(EnvelopeSignature {
            keyid,
            sig: sig.into_bytes(),
        });
        Ok(())
    }

    /// Verifies the envelope against a key set: the payload type must equal `expected_type`
    /// (`domain_mismatch`), and at least `threshold` distinct keys of `keys` must have valid
    /// signatures. Signatures by keys outside the set are ignored, as DSSE prescribes.
    ///
    /// Errors: `domain_mismatch`; `unknown_key` when no signature is by a key of the set;
    /// `signature_invalid` when a signature by a key of the set does not verify and too few
    /// remain; `threshold_not_met` when every known signature verified but there are too few.
    /// A threshold of 0 is refused (`malformed`): it would accept anything.
    pub fn verify(
        &self,
        expected_type: &str,
        keys: &[PublicKey],
        threshold: usize,
    ) -> Result<Verified<'_>> {
        self.verify_with(expected_type, keys, threshold, false)
    }

    /// [`Envelope::verify`], where `first_checked` says that the caller has verified the
    /// envelope's first signature over its PAE, under the first key of `keys` with that
    /// signature's key id, with [`PublicKey::verify`]'s rules (a batch verification did:
    /// `token::verify_tokens`), so it is not verified again. Everything else is as `verify`.
    pub(crate) fn verify_with(
        &self,
        expected_type: &str,
        keys: &[PublicKey],
        threshold: usize,
        first_checked: bool,
    ) -> Result<Verified<'_>> {
        self.check_limits()?;
        // The payload type first, then the threshold (docs/FORMATS.md sections 5 and 7).
        if self.payload_type != expected_type {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                alloc::format!(
                    "expected payload type {expected_type:?}, found {:?}",
                    self.payload_type
                ),
            ));
        }
        if threshold == 0 {
            return Err(Error::malformed(
                "envelope: a threshold of 0 accepts anything",
            ));
        }
        let message = self.signed_bytes();
        let mut signers: Vec<KeyId> = Vec::new();
        let mut known = 0usize;
        let mut first_failure: Option<Error> = None;
        for (i, s) in self.signatures.iter().enumerate() {
            let Some(key) = keys.iter().find(|k| k.key_id() == s.keyid) else {
                continue;
            };
            known += 1;
            if signers.contains(&s.keyid) {
                continue;
            }
            let checked = if i == 0 && first_checked {
                Ok(())
            } else {
                Signature::from_bytes(key.algorithm(), &s.sig)
                    .and_then(|sig| key.verify(&message, self.payload_type.as_bytes(), &sig))
            };
            match checked {
                Ok(()) => signers.push(s.keyid),
                Err(e) => {
                    first_failure
                        .get_or_insert(e.context(&alloc::format!("signature by {}", s.keyid)));
                }
            }
        }
        if signers.len() >= threshold {
            return Ok(Verified {
                payload: &self.payload,
                signers,
            });
        }
        if known == 0 {
            return Err(Error::new(
                ErrorCode::UnknownKey,
                "no signature is by a trusted key",
            ));
        }
        if let Some(e) = first_failure {
            return Err(e);
        }
        Err(Error::new(
            ErrorCode::ThresholdNotMet,
            alloc::format!("{} valid signatures, {threshold} required", signers.len()),
        ))
    }

    /// The compact binary form: `CDSE` ‖ postcard(envelope).
    pub fn to_compact(&self) -> Vec<u8> {
        let mut out = Vec::from(&COMPACT_MAGIC[..]);
        out.extend_from_slice(&to_postcard(self));
        out
    }

    /// Parses the compact binary form (canonical encoding required).
    pub fn from_compact(bytes: &[u8]) -> Result<Envelope> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(Error::new(ErrorCode::TooLarge, "envelope is too large"));
        }
        let body = bytes
            .strip_prefix(&COMPACT_MAGIC[..])
            .ok_or_else(|| Error::malformed("envelope: missing CDSE magic"))?;
        let env: Envelope = from_postcard_canonical(body, MAX_ENVELOPE_LEN, "envelope")?;
        env.check_limits()?;
        Ok(env)
    }

    /// The DSSE JSON form (keys in DSSE's order, no whitespace).
    pub fn to_json(&self) -> String {
        let sigs: Vec<serde_json::Value> = self
            .signatures
            .iter()
            .map(|s| serde_json::json!({"keyid": s.keyid.to_hex(), "sig": b64_encode(&s.sig)}))
            .collect();
        serde_json::json!({
            "payload": b64_encode(&self.payload),
            "payloadType": self.payload_type,
            "signatures": sigs,
        })
        .to_string()
    }

    /// Parses the DSSE JSON form. Key order and whitespace do not matter; unknown members are
    /// ignored (they are not signed); base64 must be strict; `keyid` must be a cairn key id.
    pub fn from_json(text: &str) -> Result<Envelope> {
        if text.len() > MAX_JSON_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "envelope JSON is too large",
            ));
        }
        let raw = json_envelope(text).map_err(|at| {
            Error::malformed(alloc::format!(
                "envelope JSON: not {{payload, payloadType, signatures: [{{keyid, sig}}]}} \
                 (invalid at byte {at})"
            ))
        })?;
        if raw.signatures.len() > MAX_SIGNATURES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "envelope: too many signatures",
            ));
        }
        let mut signatures = Vec::with_capacity(raw.signatures.len());
        for s in raw.signatures {
            signatures.push(EnvelopeSignature {
                keyid: KeyId::from_hex(&s.keyid)?,
                sig: b64_decode(&s.sig).map_err(|e| e.context("signature"))?,
            });
        }
        let payload = b64_decode(&raw.payload).map_err(|e| e.context("payload"))?;
        let env = Envelope {
            payload_type: raw.payload_type,
            payload,
            signatures,
        };
        env.check_limits()?;
        Ok(env)
    }

    /// Parses either form: JSON if the first non-space byte is `{`, compact otherwise.
    pub fn parse(bytes: &[u8]) -> Result<Envelope> {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {
                let text = core::str::from_utf8(bytes)
                    .map_err(|_| Error::malformed("envelope JSON is not UTF-8"))?;
                Envelope::from_json(text)
            }
            _ => Envelope::from_compact(bytes),
        }
    }

    /// Identity of the envelope: SHA-256 of its compact form ([`compact_id`]). Token ids are
    /// this value.
    pub fn id(&self) -> Digest {
        compact_id(&self.to_compact())
    }
}

/// The identity ([`Envelope::id`]) of the envelope whose compact form is `compact`, without
/// decoding it: for a stored envelope, whose bytes are the canonical compact form.
///
/// ```
/// use cairn_core::dsse::{compact_id, Envelope};
/// let env = Envelope::new("application/example", b"payload".to_vec())?;
/// assert_eq!(compact_id(&env.to_compact()), env.id());
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn compact_id(compact: &[u8]) -> Digest {
    sha256(&[compact])
}
