//! The handle registry's client side for JavaScript (feature `handle`, cairn-core feature
//! `handle`): handle normalisation and the blind index, envelope keys, sealing and opening
//! envelopes (HPKE, docs/FORMATS.md section 19), and proof-of-work challenges. Plain Rust, like
//! [`crate::api`]: each function takes parsed inputs and returns a JSON view, so the wasm
//! module and the native addon answer alike.
//!
//! Randomness is the caller's: `sealEnvelope` takes a 32-byte seed, and a fresh envelope key
//! is `envelopeKey` of 32 random bytes (`crypto.getRandomValues` in a browser or Node).
//!
//! Suites: `x25519` (the default; 32-byte public keys) and `xwing` (X-Wing, ML-KEM-768 +
//! X25519; 1216-byte public keys), by their short or full names.

use cairn_core::encoding::{b64_encode, hex_encode, Digest};
use cairn_core::handle::{
    self, Challenge, EnvelopePublicKey, EnvelopeSecretKey, Keyring, Kid, Pepper, PowSecret,
    Solution, Suite,
};
use cairn_core::{Error, Result};
use serde_json::{json, Value};

/// Most keys `openEnvelope` takes (the active one first, then retired ones).
pub const MAX_ENVELOPE_KEYS: usize = handle::MAX_KEYRING_KEYS;
/// Most iterations `solvePow` runs when the caller sets none (2^28: a difficulty of 24 bits
/// fails to solve with it about once in 2^22 tries).
pub const DEFAULT_POW_ITERATIONS: u64 = 1 << 28;

/// An envelope secret key as JavaScript gives it: 32 bytes, optional kid (16 hex digits) and
/// suite name.
#[derive(Debug, Clone)]
pub struct SecretKeyArg {
    /// The private key: an X25519 scalar or an X-Wing seed.
    pub secret: Digest,
    /// The configured key id (default: derived from the public key).
    pub kid: Option<String>,
    /// The suite name (default: X25519 with ChaCha20-Poly1305).
    pub suite: Option<String>,
}

fn suite(name: Option<&str>) -> Result<Suite> {
    match name {
        None => Ok(Suite::X25519ChaCha20Poly1305),
        Some(n) => Suite::from_name(n).map_err(|e| e.context("suite")),
    }
}

/// Longest public key a recipient may give (X-Wing's, 1216 bytes).
pub const MAX_ENVELOPE_PUBLIC_KEY_LEN: usize = Suite::XWingChaCha20Poly1305.public_key_len();

/// A recipient's public key given as text: hex when every character is a hex digit, base64
/// otherwise. Unambiguous for keys of the suites' lengths: base64 of 32 or 1216 bytes always
/// ends in `=`, so never looks like hex.
///
/// ```
/// let k = cairn_wasm::handle::public_key_text(&"ab".repeat(32), "key")?;
/// assert_eq!(k, [0xab; 32]);
/// let b = cairn_wasm::handle::public_key_text("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=", "key")?;
/// assert_eq!(b, [0xab; 32]);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn public_key_text(text: &str, what: &str) -> Result<Vec<u8>> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        cairn_core::encoding::hex_decode(t).map_err(|e| e.context(what))
    } else {
        crate::input::base64_arg(t, what)
    }
}

fn kid(text: Option<&str>) -> Result<Option<Kid>> {
    text.map(|t| Kid::from_hex(t).map_err(|e| e.context("kid")))
        .transpose()
}

fn secret_key(k: &SecretKeyArg) -> Result<EnvelopeSecretKey> {
    EnvelopeSecretKey::from_bytes(
        suite(k.suite.as_deref())?,
        kid(k.kid.as_deref())?,
        &k.secret,
    )
}

/// `normaliseHandle`: the handle as the registry stores and compares it.
pub fn normalise_handle(input: &str) -> Result<Value> {
    let h = handle::normalise(input)?;
    Ok(json!({"handle": h.as_str()}))
}

/// `handleBlindIndex`: the normalised handle and its peppered blind index (hex).
pub fn blind_index(pepper: &[u8], input: &str) -> Result<Value> {
    let pepper = Pepper::from_bytes(pepper).map_err(|e| e.context("pepper"))?;
    let h = handle::normalise(input)?;
    Ok(json!({"handle": h.as_str(), "blind_index": handle::blind_index(&pepper, &h).to_hex()}))
}

/// `envelopeKey`: the public half of an envelope secret key, its kid and suite.
pub fn envelope_key(key: &SecretKeyArg) -> Result<Value> {
    let k = secret_key(key)?;
    let public = k.public_key();
    Ok(json!({
        "suite": k.suite().name(),
        "kid": k.kid().to_hex(),
        "public_key": hex_encode(public.as_bytes()),
        "derived_kid": Kid::derive(k.suite(), public.as_bytes()).to_hex(),
    }))
}

/// `sealEnvelope`: `plaintext` sealed to the recipient's key for `purpose` and `aad`, from the
/// caller's 32-byte `seed`; the envelope as base64.
#[allow(clippy::too_many_arguments)]
pub fn seal_envelope(
    public_key: &[u8],
    kid_hex: Option<&str>,
    suite_name: Option<&str>,
    purpose: &str,
    aad: &[u8],
    plaintext: &[u8],
    seed: &Digest,
) -> Result<Value> {
    let suite = suite(suite_name)?;
    let pk = EnvelopePublicKey::from_bytes(suite, kid(kid_hex)?, public_key)
        .map_err(|e| e.context("recipient"))?;
    let envelope = handle::seal(&pk, purpose.as_bytes(), aad, plaintext, seed)?;
    Ok(json!({
        "envelope": b64_encode(&envelope),
        "kid": pk.kid().to_hex(),
        "suite": suite.name(),
    }))
}

/// `openEnvelope`: the plaintext of an envelope sealed to one of `keys` (the first is the
/// active one), as hex and, when it is UTF-8, as text.
pub fn open_envelope(
    keys: &[SecretKeyArg],
    envelope: &[u8],
    purpose: &str,
    aad: &[u8],
) -> Result<Value> {
    let mut keys = keys
        .iter()
        .map(secret_key)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.context("keys"))?;
    if keys.is_empty() {
        return Err(Error::malformed("keys: give at least one envelope key"));
    }
    let active = keys.remove(0);
    let ring = Keyring::new(active, keys)?;
    let plaintext = ring.open(purpose.as_bytes(), aad, envelope)?;
    let kid = handle::Envelope::parse(envelope)?.kid;
    let text = core::str::from_utf8(&plaintext).ok().map(String::from);
    Ok(json!({"kid": kid.to_hex(), "plaintext": hex_encode(&plaintext), "text": text}))
}

/// `issuePowChallenge`: a challenge authenticated by the server's `secret` (server side).
pub fn issue_pow_challenge(
    secret: &[u8],
    nonce: &[u8],
    difficulty: u64,
    expires: u64,
) -> Result<Value> {
    let secret = PowSecret::from_bytes(secret).map_err(|e| e.context("secret"))?;
    let nonce: [u8; handle::POW_NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| Error::malformed("nonce: give 16 bytes"))?;
    let difficulty =
        u8::try_from(difficulty).map_err(|_| Error::malformed("difficulty: at most 32 bits"))?;
    let c = Challenge::issue(&secret, nonce, difficulty, expires)?;
    Ok(
        json!({"challenge": c.encode(), "id": hex_encode(&c.id()), "difficulty": c.difficulty(), "expires": c.expires()}),
    )
}

/// `solvePow`: the first counter whose work hash has the challenge's leading zero bits, and the
/// solution text to send back (`null` for both when `max_iterations` did not find one).
pub fn solve_pow(challenge: &str, max_iterations: u64) -> Result<Value> {
    let c = Challenge::decode(challenge).map_err(|e| e.context("challenge"))?;
    Ok(match handle::solve(&c, max_iterations) {
        Some(counter) => json!({
            "counter": counter,
            "solution": Solution { challenge: c, counter }.encode(),
        }),
        None => json!({"counter": null, "solution": null}),
    })
}

/// `verifyPowSolution`: the server's check of a solution (authentic, not expired at `now`, the
/// work done, a challenge asking at least `min_difficulty` bits); the challenge's id to refuse
/// a replay by.
pub fn verify_pow_solution(
    solution: &str,
    secret: &[u8],
    now: u64,
    min_difficulty: u64,
) -> Result<Value> {
    let min_difficulty = u8::try_from(min_difficulty).map_err(|_| {
        cairn_core::Error::new(
            cairn_core::ErrorCode::TooLarge,
            "options.minDifficulty is over 255",
        )
    })?;
    let secret = PowSecret::from_bytes(secret).map_err(|e| e.context("secret"))?;
    let s = Solution::decode(solution).map_err(|e| e.context("solution"))?;
    let id = handle::verify_at_least(&s.challenge, s.counter, &secret, now, min_difficulty)?;
    Ok(json!({
        "valid": true,
        "id": hex_encode(&id),
        "difficulty": s.challenge.difficulty(),
        "expires": s.challenge.expires(),
    }))
}
