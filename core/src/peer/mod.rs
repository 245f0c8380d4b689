//! Peer key exchange: signed `KeyRequest` / `KeyResponse` messages, the replay and
//! pending-request state machine ([`ExchangeConfig`], [`PeerExchangeState`]) and the vouching
//! policy that decides whether a peer's key may be trusted ([`vouch`]).
//!
//! Both messages are DSSE envelopes ([`Envelope`]) signed by the sender's own signing key,
//! which the payload carries: [`KEY_REQUEST_TYPE`] and [`KEY_RESPONSE_TYPE`] are their payload
//! types (and the FIPS 204 context of their ML-DSA signatures), so neither can be taken for the
//! other or for any other cairn object. The payload is the postcard encoding of a versioned
//! struct ([`KeyRequest`], [`KeyResponse`]) that names both the requester and the responder, so
//! a message cannot be reflected back to its sender or redirected to a third peer; a response
//! also echoes the nonce of the request it answers. Signing keys are ML-DSA-65 or hybrid
//! Ed25519 + ML-DSA-65 (round-3 Dilithium3 with the `legacy-dilithium` feature, for migrating
//! existing peers); the encapsulation key is ML-KEM-768, checked as FIPS 203 section 7.2
//! requires. docs/FORMATS.md ("Peer key exchange") specifies every byte.
//!
//! A valid signature proves only that the sender holds the key it sent. Whether that key is
//! the peer's is the vouching policy's decision: a bootstrap pin in the trust root (role
//! `peer`), a key-transparency proof (a cairn [`Bundle`] whose subject is the response and
//! whose ledger entry records the key), or trust on first use, explicitly chosen.
//!
//! On the wire a request is a compact DSSE envelope (`CDSE` ...); a response is either a
//! compact envelope or a bundle (`CBDL` ...) whose subject is the response envelope.
//! Everything here is pure: callers pass `now` and nonces.

mod replay;
mod vouch;

pub use replay::{ExchangeConfig, PeerExchangeState, PendingRequest};
pub use vouch::{vouch, PeerLog, Vouch, VouchPolicy, VouchRule};

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, BUNDLE_MAGIC, MAX_BUNDLE_LEN};
use crate::crypto::{bytes_b64, Algorithm, KeyId, PublicKey};
use crate::dsse::{Envelope, COMPACT_MAGIC};
use crate::encoding::{from_postcard_canonical, hex_encode, sha256, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::ledger::MAX_ID_LEN;
use crate::UnixTime;

/// DSSE payload type of a key request.
pub const KEY_REQUEST_TYPE: &str = "application/vnd.cairn.peer-key-request.v1+postcard";
/// DSSE payload type of a key response.
pub const KEY_RESPONSE_TYPE: &str = "application/vnd.cairn.peer-key-response.v1+postcard";
/// The message format version this build reads and writes (first byte of the payload).
pub const PEER_MESSAGE_VERSION: u8 = 1;
/// Largest encoded key request or bare key response (envelope bytes) accepted.
pub const MAX_KEY_MESSAGE_LEN: usize = 16 * 1024;
/// ML-KEM-768 encapsulation key length (FIPS 203 table 3: 384·k + 32, k = 3).
pub const MLKEM768_EK_LEN: usize = 1184;

/// The signing algorithms a peer may use in the exchange.
pub fn peer_signing_algorithm_allowed(alg: Algorithm) -> bool {
    match alg {
        Algorithm::MlDsa65 | Algorithm::Ed25519MlDsa65 => true,
        Algorithm::Dilithium3R3 => cfg!(feature = "legacy-dilithium"),
        Algorithm::Ed25519
        | Algorithm::MlDsa44
        | Algorithm::Ed25519MlDsa44
        | Algorithm::Dilithium2R3 => false,
    }
}

fn check_signing_key(key: &PublicKey, whose: &str) -> Result<()> {
    let alg = key.algorithm();
    if peer_signing_algorithm_allowed(alg) {
        return Ok(());
    }
    let detail = if alg == Algorithm::Dilithium3R3 {
        alloc::format!("{whose} signs with {alg}, which needs the legacy-dilithium feature")
    } else {
        alloc::format!("{whose} signs with {alg}; peer keys are ml-dsa-65 or ed25519+ml-dsa-65")
    };
    Err(Error::new(ErrorCode::UnsupportedAlgorithm, detail))
}

/// An ML-KEM-768 encapsulation key that passed the FIPS 203 section 7.2 input checks: the
/// type check (exactly [`MLKEM768_EK_LEN`] bytes) and the modulus check (every 12-bit
/// coefficient of `t̂` below q = 3329, i.e. `ByteEncode12(ByteDecode12(ek)) == ek`).
///
/// ```
/// use cairn_core::peer::KemPublicKey;
/// assert_eq!(KemPublicKey::from_bytes(&[0u8; 1184])?.as_bytes().len(), 1184);
/// // 0xfff is not below q: the modulus check refuses it.
/// let err = KemPublicKey::from_bytes(&[0xff; 1184]).unwrap_err();
/// assert_eq!(err.code().as_str(), "invalid_key");
/// assert!(KemPublicKey::from_bytes(&[0u8; 1183]).is_err());
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KemPublicKey(Vec<u8>);

/// FIPS 203 section 7.2's modulus check of an ML-KEM-768 encapsulation key of the right
/// length: `ByteEncode12(ByteDecode12(ek[0..1152])) == ek[0..1152]`, which holds exactly when
/// every 12-bit little-endian coefficient (two per three bytes) is below q = 3329. Written out
/// rather than through an ML-KEM crate: the check is all cairn needs of ML-KEM here, and this
/// keeps a KEM out of the verifier builds (tests compare it with the ml-kem crate's check).
fn mlkem768_modulus_check(ek: &[u8]) -> bool {
    const Q: u16 = 3329;
    ek[..MLKEM768_EK_LEN - 32].chunks_exact(3).all(|c| {
        let (b0, b1, b2) = (u16::from(c[0]), u16::from(c[1]), u16::from(c[2]));
        let d1 = b0 | ((b1 & 0x0f) << 8);
        let d2 = (b1 >> 4) | (b2 << 4);
        d1 < Q && d2 < Q
    })
}

impl KemPublicKey {
    /// Checks and wraps an encapsulation key (`invalid_key` on a wrong length or a
    /// coefficient out of range).
    pub fn from_bytes(bytes: &[u8]) -> Result<KemPublicKey> {
        if bytes.len() != MLKEM768_EK_LEN {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "ML-KEM-768 encapsulation key must be {MLKEM768_EK_LEN} bytes, got {}",
                    bytes.len()
                ),
            ));
        }
        if !mlkem768_modulus_check(bytes) {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                "ML-KEM-768 encapsulation key fails the modulus check (a coefficient is not below 3329)",
            ));
        }
        Ok(KemPublicKey(bytes.to_vec()))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// SHA-256 of the key bytes, for display and comparison (not a [`KeyId`]: the KEM key is
    /// bound to the peer by the signed response, not recorded on its own).
    pub fn digest(&self) -> Digest {
        sha256(&[&self.0])
    }
}

impl core::fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "KemPublicKey(ml-kem-768, {})",
            hex_encode(&self.digest())
        )
    }
}

impl Serialize for KemPublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        bytes_b64::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for KemPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let bytes = bytes_b64::deserialize(d)?;
        KemPublicKey::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// A request for a peer's keys: who asks, whom, when, with which nonce, and the requester's
/// own signing key (which signs the envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// Format version, [`PEER_MESSAGE_VERSION`].
    pub version: u8,
    /// The requesting peer's id.
    pub requester_id: String,
    /// The peer whose keys are requested.
    pub responder_id: String,
    /// The requester's signing key (it signs this request).
    pub requester_key: PublicKey,
    /// When the request was made (Unix seconds).
    pub timestamp: UnixTime,
    /// The requester's nonce: strictly increasing over the requester's messages to this peer.
    pub nonce: u64,
}

/// A peer's keys, answering one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyResponse {
    /// Format version, [`PEER_MESSAGE_VERSION`].
    pub version: u8,
    /// The responding peer's id (whose keys these are).
    pub responder_id: String,
    /// The peer that asked (the request's requester).
    pub requester_id: String,
    /// The responder's signing key (it signs this response).
    pub signing_key: PublicKey,
    /// The responder's ML-KEM-768 encapsulation key.
    pub kem_key: KemPublicKey,
    /// The nonce of the request this answers.
    pub request_nonce: u64,
    /// When the response was made (Unix seconds).
    pub timestamp: UnixTime,
    /// The responder's nonce: strictly increasing over the responder's messages to this peer.
    pub nonce: u64,
}

fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::malformed(alloc::format!("{field} is empty")));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("{field} is {} bytes, the limit is {MAX_ID_LEN}", id.len()),
        ));
    }
    Ok(())
}

fn check_parties(requester: &str, responder: &str) -> Result<()> {
    check_id("requester_id", requester)?;
    check_id("responder_id", responder)?;
    if requester == responder {
        return Err(Error::malformed(
            "requester and responder are the same peer",
        ));
    }
    Ok(())
}

/// Decodes a payload after checking its version byte: `unsupported_version` for another
/// version, `malformed` for anything but the canonical encoding.
fn decode_payload<T: serde::de::DeserializeOwned + Serialize>(
    payload: &[u8],
    what: &str,
) -> Result<T> {
    match payload.first() {
        None => return Err(Error::malformed(alloc::format!("{what}: empty payload"))),
        Some(&PEER_MESSAGE_VERSION) => {}
        Some(v) => {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("{what} format version {v} is not supported"),
            ))
        }
    }
    from_postcard_canonical(payload, MAX_KEY_MESSAGE_LEN, what)
}

fn check_type(env: &Envelope, want: &str) -> Result<()> {
    if env.payload_type != want {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!("expected {want}, found {:?}", env.payload_type),
        ));
    }
    Ok(())
}

fn parse_message(bytes: &[u8]) -> Result<Envelope> {
    if bytes.len() > MAX_KEY_MESSAGE_LEN {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!(
                "key exchange message is {} bytes, the limit is {MAX_KEY_MESSAGE_LEN}",
                bytes.len()
            ),
        ));
    }
    if !bytes.starts_with(&COMPACT_MAGIC[..]) {
        return Err(Error::malformed(
            "key exchange message: not a compact DSSE envelope (CDSE)",
        ));
    }
    Envelope::from_compact(bytes)
}

/// Checks `timestamp` lies within `max_skew` seconds of `now`: `expired` when older,
/// `not_yet_valid` when newer.
pub fn check_timestamp(timestamp: UnixTime, now: UnixTime, max_skew: u64) -> Result<()> {
    if timestamp.saturating_add(max_skew) < now {
        return Err(Error::new(
            ErrorCode::Expired,
            alloc::format!("message time {timestamp} is more than {max_skew} s before now ({now})"),
        ));
    }
    if timestamp > now.saturating_add(max_skew) {
        return Err(Error::new(
            ErrorCode::NotYetValid,
            alloc::format!("message time {timestamp} is more than {max_skew} s after now ({now})"),
        ));
    }
    Ok(())
}

/// Verifies the one signature of a self-signed message with `key` (the key its payload
/// carries): exactly one signature, by that key.
fn verify_self_signed(env: &Envelope, key: &PublicKey, payload_type: &str) -> Result<()> {
    if env.signatures.len() != 1 {
        return Err(Error::new(
            ErrorCode::SignatureInvalid,
            alloc::format!(
                "a key exchange message carries exactly one signature, found {}",
                env.signatures.len()
            ),
        ));
    }
    if env.signatures[0].keyid != key.key_id() {
        return Err(Error::new(
            ErrorCode::KeyMismatch,
            alloc::format!(
                "signed by {}, but the message carries key {}",
                env.signatures[0].keyid,
                key.key_id()
            ),
        ));
    }
    env.verify(payload_type, core::slice::from_ref(key), 1)
        .map(|_| ())
}

impl KeyRequest {
    /// The payload bytes (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        to_postcard(self)
    }

    /// Checks what the encoding cannot: version, id bounds, distinct parties, signing key
    /// algorithm.
    pub fn validate(&self) -> Result<()> {
        if self.version != PEER_MESSAGE_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("key request version {} is not supported", self.version),
            ));
        }
        check_parties(&self.requester_id, &self.responder_id)?;
        check_signing_key(&self.requester_key, "the requester")
    }

    /// Signs the request with the requester's key (feature `std`), returning the wire bytes
    /// (a compact DSSE envelope). `key` must be `requester_key`.
    #[cfg(feature = "std")]
    pub fn sign(&self, key: &crate::crypto::SigningKey) -> Result<Vec<u8>> {
        self.validate()?;
        if key.public_key() != &self.requester_key {
            return Err(Error::new(
                ErrorCode::KeyMismatch,
                "the signing key is not the request's requester_key",
            ));
        }
        let mut env = Envelope::new(KEY_REQUEST_TYPE, self.to_bytes())?;
        env.sign_deterministic(key)?;
        Ok(env.to_compact())
    }
}

impl KeyResponse {
    /// The payload bytes (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        to_postcard(self)
    }

    /// Checks what the encoding cannot: version, id bounds, distinct parties, signing key
    /// algorithm (the KEM key was checked when it was built).
    pub fn validate(&self) -> Result<()> {
        if self.version != PEER_MESSAGE_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("key response version {} is not supported", self.version),
            ));
        }
        check_parties(&self.requester_id, &self.responder_id)?;
        check_signing_key(&self.signing_key, "the responder")
    }

    /// Signs the response with the responder's key (feature `std`), returning the response
    /// envelope. `key` must be `signing_key`. Its compact form is the wire message; a bundle
    /// with it as subject is the wire message with a key-transparency proof.
    #[cfg(feature = "std")]
    pub fn sign(&self, key: &crate::crypto::SigningKey) -> Result<Envelope> {
        self.validate()?;
        if key.public_key() != &self.signing_key {
            return Err(Error::new(
                ErrorCode::KeyMismatch,
                "the signing key is not the response's signing_key",
            ));
        }
        let mut env = Envelope::new(KEY_RESPONSE_TYPE, self.to_bytes())?;
        env.sign_deterministic(key)?;
        Ok(env)
    }
}

/// [`KeyResponse`] as decoded, before the KEM key's check: the same encoding, so that a KEM
/// key failing FIPS 203's checks is reported as `invalid_key` rather than `malformed`.
#[derive(Serialize, Deserialize)]
struct ResponseWire {
    version: u8,
    responder_id: String,
    requester_id: String,
    signing_key: PublicKey,
    #[serde(with = "bytes_b64")]
    kem_key: Vec<u8>,
    request_nonce: u64,
    timestamp: UnixTime,
    nonce: u64,
}

impl ResponseWire {
    fn check(self) -> Result<KeyResponse> {
        let response = KeyResponse {
            version: self.version,
            responder_id: self.responder_id,
            requester_id: self.requester_id,
            signing_key: self.signing_key,
            kem_key: KemPublicKey::from_bytes(&self.kem_key)
                .map_err(|e| e.context("key response"))?,
            request_nonce: self.request_nonce,
            timestamp: self.timestamp,
            nonce: self.nonce,
        };
        response.validate()?;
        Ok(response)
    }
}

/// A key request whose signature, addressee and time were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKeyRequest {
    /// The request.
    pub request: KeyRequest,
}

/// A key response whose signature, addressee, KEM key and time were checked, with its
/// key-transparency bundle if it came as one (the bundle is checked by [`vouch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKeyResponse {
    /// The response.
    pub response: KeyResponse,
    /// The response envelope (what a bundle's subject must be).
    pub envelope: Envelope,
    /// The bundle the response arrived in, if any.
    pub proof: Option<Bundle>,
}

impl VerifiedKeyResponse {
    /// The id of the responder's signing key.
    pub fn key_id(&self) -> KeyId {
        self.response.signing_key.key_id()
    }
}

/// Verifies a key request addressed to `me` at time `now`.
///
/// In order: size and `CDSE` framing (`too_large`, `malformed`), payload type
/// [`KEY_REQUEST_TYPE`] (`domain_mismatch`), version (`unsupported_version`), canonical
/// decoding (`malformed`), ids and key algorithm (`malformed`, `too_large`,
/// `unsupported_algorithm`), the one signature by the carried key (`key_mismatch`,
/// `signature_invalid`), the addressee (`domain_mismatch` when the request is for another
/// peer), the timestamp within `max_skew` of `now` (`expired`, `not_yet_valid`). Nonces are
/// the state machine's business ([`ExchangeConfig::accept_request`]).
pub fn verify_key_request(
    bytes: &[u8],
    me: &str,
    now: UnixTime,
    max_skew: u64,
) -> Result<VerifiedKeyRequest> {
    let env = parse_message(bytes).map_err(|e| e.context("key request"))?;
    check_type(&env, KEY_REQUEST_TYPE)?;
    let request: KeyRequest = decode_payload(&env.payload, "key request")?;
    request.validate()?;
    verify_self_signed(&env, &request.requester_key, KEY_REQUEST_TYPE)
        .map_err(|e| e.context("key request"))?;
    if request.responder_id != me {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!(
                "the key request is addressed to {:?}, not to {me:?}",
                request.responder_id
            ),
        ));
    }
    check_timestamp(request.timestamp, now, max_skew).map_err(|e| e.context("key request"))?;
    Ok(VerifiedKeyRequest { request })
}

/// Splits a response message into its envelope and, for a bundle, the bundle.
fn parse_response_message(bytes: &[u8]) -> Result<(Envelope, Option<Bundle>)> {
    if bytes.starts_with(&BUNDLE_MAGIC[..]) {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "key response bundle is larger than 1 MiB",
            ));
        }
        let bundle = Bundle::from_bytes(bytes)?;
        if !bundle.parents.is_empty() {
            return Err(Error::malformed("a key response bundle carries no parents"));
        }
        let env = bundle.subject.clone();
        let compact = env.to_compact();
        if compact.len() > MAX_KEY_MESSAGE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "key response envelope is too large",
            ));
        }
        Ok((env, Some(bundle)))
    } else {
        Ok((parse_message(bytes)?, None))
    }
}

/// Verifies a key response addressed to `me` at time `now`: a compact envelope, or a bundle
/// whose subject is the envelope (a key-transparency proof, checked later by [`vouch`]).
///
/// In order: framing (`too_large`, `malformed`), payload type [`KEY_RESPONSE_TYPE`]
/// (`domain_mismatch`), version (`unsupported_version`), canonical decoding with the FIPS 203
/// check of the KEM key (`malformed`, `invalid_key`), ids and signing algorithm, the one
/// signature by the carried signing key (`key_mismatch`, `signature_invalid`), the addressee
/// (`domain_mismatch` when the response answers another peer), the timestamp within
/// `max_skew` of `now` (`expired`, `not_yet_valid`). Whether it answers an outstanding request
/// is [`ExchangeConfig::accept_response`]'s business; whether its key is trusted, [`vouch`]'s.
pub fn verify_key_response(
    bytes: &[u8],
    me: &str,
    now: UnixTime,
    max_skew: u64,
) -> Result<VerifiedKeyResponse> {
    let (env, proof) = parse_response_message(bytes).map_err(|e| e.context("key response"))?;
    check_type(&env, KEY_RESPONSE_TYPE)?;
    let response = decode_payload::<ResponseWire>(&env.payload, "key response")?.check()?;
    verify_self_signed(&env, &response.signing_key, KEY_RESPONSE_TYPE)
        .map_err(|e| e.context("key response"))?;
    if response.requester_id != me {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!(
                "the key response answers {:?}, not {me:?}",
                response.requester_id
            ),
        ));
    }
    check_timestamp(response.timestamp, now, max_skew).map_err(|e| e.context("key response"))?;
    Ok(VerifiedKeyResponse {
        response,
        envelope: env,
        proof,
    })
}
