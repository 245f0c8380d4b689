//! The handle registry's pure part (feature `handle`), after seed 003's Enigma node registry:
//! a person's handle is normalised by one rule ([`normalise`]), stored and looked up only under
//! its blind index ([`blind_index`]), the identity behind it travels only inside HPKE envelopes
//! ([`seal`], [`open`], [`Keyring`]) and lookups can be made to cost a proof of work
//! ([`Challenge`], [`solve`], [`verify`]).
//!
//! Everything here is `no_std` + `alloc` and pure: callers pass the time (`now`), the
//! randomness (envelope seeds, challenge nonces) and the secrets (pepper, envelope keys,
//! proof-of-work secret). docs/FORMATS.md section 19 specifies every byte, and
//! tests/vectors/handle.json freezes them.
//!
//! ```
//! use cairn_core::handle::*;
//! let pepper = Pepper::from_bytes(&[1; 32])?;
//! let key = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[2; 32])?;
//! let ring = Keyring::new(key, vec![])?;
//!
//! // Registration: the client normalises, seals its identity to the active key, binding the
//! // normalised handle (as `cairn serve` expects: docs/FORMATS.md section 19.5); the server
//! // opens it and stores the identity under the handle's blind index.
//! let handle = normalise("Alice")?;
//! let env = seal(&ring.active().public_key(), b"register", handle.as_bytes(), b"{...}", &[3; 32])?;
//! assert_eq!(ring.open(b"register", handle.as_bytes(), &env)?, b"{...}");
//! // Every spelling that normalises alike files under one index.
//! assert_eq!(blind_index(&pepper, &handle), blind_index(&pepper, &normalise("alice")?));
//! # Ok::<(), cairn_core::Error>(())
//! ```

mod blind;
mod envelope;
mod normalise;
mod pow;

pub use blind::{blind_index, BlindIndex, Pepper, MAX_PEPPER_LEN, MIN_PEPPER_LEN};
pub use envelope::{
    max_plaintext_len, open, seal, Envelope, EnvelopePublicKey, EnvelopeSecretKey, Keyring, Kid,
    Suite, ENVELOPE_HEADER_LEN, ENVELOPE_INFO, ENVELOPE_VERSION, KID_LABEL, KID_LEN, MAX_AAD_LEN,
    MAX_ENVELOPE_LEN, MAX_KEYRING_KEYS, MAX_PURPOSE_LEN, SEAL_SEED_LEN, SECRET_KEY_LEN,
};
pub use normalise::{
    is_refused_char, normalise, Handle, MAX_HANDLE_INPUT_LEN, MAX_HANDLE_LEN, MIN_HANDLE_LEN,
};
pub use pow::{
    leading_zero_bits, solve, verify, verify_at_least, work_hash, Challenge, PowSecret, Solution,
    CHALLENGE_LEN, MAX_DIFFICULTY, MAX_POW_SECRET_LEN, MAX_SOLUTION_TEXT_LEN, MIN_POW_SECRET_LEN,
    POW_NONCE_LEN, POW_TAG_LABEL, POW_VERSION,
};
