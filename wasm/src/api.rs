//! The verifiers as plain Rust: parsed inputs in, a JSON view out.
//!
//! Every function here mirrors one JavaScript export (named in its doc) and returns either a
//! view of what was established (always with `"valid": true`) or the cairn-core error.

use cairn_core::crypto::{PublicKey, Signature};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, Digest};
use cairn_core::{Error, Result};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::view;

/// `verifySignature`: checks one raw signature by `key` over `message`, with the FIPS 204
/// `context` (ignored by Ed25519).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let sig = sk.sign(b"hi", b"").unwrap();
/// let v = cairn_wasm::api::verify_signature(sk.public_key(), b"hi", sig.as_bytes(), b"").unwrap();
/// assert_eq!(v["valid"], true);
/// assert_eq!(v["algorithm"], "ed25519");
/// let e = cairn_wasm::api::verify_signature(sk.public_key(), b"ho", sig.as_bytes(), b"").unwrap_err();
/// assert_eq!(e.code().as_str(), "signature_invalid");
/// ```
pub fn verify_signature(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
    context: &[u8],
) -> Result<Value> {
    let sig = Signature::from_bytes(key.algorithm(), signature)?;
    key.verify(message, context, &sig)?;
    Ok(json!({
        "valid": true,
        "algorithm": key.algorithm().name(),
        "keyId": key.key_id().to_hex(),
    }))
}

/// `verifyEnvelope`: a DSSE envelope (JSON or compact form) of `payload_type`, signed by at
/// least `threshold` distinct keys of `keys`.
pub fn verify_envelope(
    envelope: &[u8],
    payload_type: &str,
    keys: &[PublicKey],
    threshold: usize,
) -> Result<Value> {
    let env = Envelope::parse(envelope)?;
    let ok = env.verify(payload_type, keys, threshold)?;
    let mut v = view::envelope(&env);
    v["valid"] = Value::Bool(true);
    v["signers"] = view::key_ids(&ok.signers);
    Ok(v)
}

/// `inspect`: decodes any cairn object it recognises into a JSON view, verifying nothing.
/// The view's `kind` names what was found.
pub fn inspect(bytes: &[u8]) -> Result<Value> {
    match first_non_space(bytes) {
        Some(b'{') => {
            let text = core::str::from_utf8(bytes)
                .map_err(|_| Error::malformed("JSON input is not UTF-8"))?;
            inspect_json(text)
        }
        Some(_) if bytes.starts_with(cairn_core::dsse::COMPACT_MAGIC) => {
            Ok(view::envelope(&Envelope::from_compact(bytes)?))
        }
        Some(_) => Err(Error::malformed(
            "not a cairn object this build recognises (envelope)",
        )),
        None => Err(Error::malformed("empty input")),
    }
}

fn inspect_json(text: &str) -> Result<Value> {
    Ok(view::envelope(&Envelope::from_json(text)?))
}

fn first_non_space(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// `ArtifactHasher`: SHA-256 and length of an artifact fed in chunks.
#[derive(Clone, Default)]
pub struct StreamHasher {
    sha: Sha256,
    size: u64,
}

impl StreamHasher {
    /// A hasher that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.sha.update(chunk);
        self.size = self.size.saturating_add(chunk.len() as u64);
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Digest of everything fed so far (the hasher can keep going afterwards).
    pub fn digest(&self) -> Digest {
        self.sha.clone().finalize().into()
    }

    /// `{digest, size}` view.
    pub fn view(&self) -> Value {
        json!({"algorithm": "sha256", "digest": hex_encode(&self.digest()), "size": self.size})
    }
}
