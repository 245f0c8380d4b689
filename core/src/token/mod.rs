//! Capability tokens with delegation chains.
//!
//! A token is a DSSE envelope of type [`TOKEN_PAYLOAD_TYPE`] whose payload is the postcard
//! encoding of [`TokenClaims`]: who issued it, for which audience, which key holds it, which
//! capabilities and constraints it grants, and when it is valid. A token is signed exactly
//! once, by its issuer.
//!
//! **Identity and revocation.** A token's id is [`Envelope::id`]: SHA-256 of its canonical
//! compact envelope. Revocation lists name these ids, so an id must not be changeable by
//! anyone but the issuer. Three rules guarantee it: the compact form is canonical (one
//! envelope, one byte string), signatures are not malleable (strict Ed25519, ML-DSA), and a
//! token carries exactly one signature. Without the last rule, appending a junk signature
//! (which DSSE verifiers ignore) would give a fresh id that escapes the revocation list, the
//! same bypass blux-reg's re-encodable signature strings allowed.
//!
//! **Delegation.** The holder of a token may issue a child token whose `parent` is the
//! token's id, signed by the holder's key: the child's issuer is the parent's holder, its
//! capabilities a subset, every parent constraint present and equal or tighter
//! ([`ConstraintValue::is_within`]), its validity inside the parent's and its audience the
//! same. Because each token carries its holder's full public key, a verifier walks the chain
//! from a trusted root with no key store. Revoking a token revokes everything delegated from it.
//!
//! **Holder.** [`verify_token`] shows that a token is genuine and in force; it does not show
//! that whoever presents it controls `holder`. A relying party that needs that checks a
//! signature by the holder key over its own challenge.
//!
//! [`Envelope::id`]: crate::dsse::Envelope::id

#[cfg(feature = "std")]
mod builder;
mod claims;
mod constraint;
mod verify;

#[cfg(feature = "std")]
pub use builder::TokenBuilder;
pub use claims::{
    ClaimsJson, TokenClaims, MAX_AUDIENCE_LEN, MAX_CAPABILITIES, MAX_CONSTRAINTS, MAX_NAME_LEN,
};
pub use constraint::{ConstraintValue, MAX_ONE_OF, MAX_TEXT_LEN};
pub use verify::{
    authenticate_chain, check_delegation, verify_token, verify_tokens, AuthenticatedChain,
    Revocations, VerifiedToken, VerifiedTokenJson, VerifyOptions,
};

/// DSSE payload type of a capability token.
pub const TOKEN_PAYLOAD_TYPE: &str = "application/vnd.cairn.token.v1+postcard";
/// The token format version this build reads and writes.
pub const TOKEN_VERSION: u8 = 1;
/// Largest token payload accepted, in bytes.
pub const MAX_TOKEN_PAYLOAD_LEN: usize = 64 * 1024;
/// Most ancestors a token may have (a root token has none).
pub const MAX_CHAIN_DEPTH: usize = 8;
