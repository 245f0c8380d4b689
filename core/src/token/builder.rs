//! Issuing root tokens and delegating them (feature `std`).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use rand_core::{OsRng, RngCore};

use super::claims::TokenClaims;
use super::constraint::ConstraintValue;
use super::verify::check_delegation;
use super::{TOKEN_PAYLOAD_TYPE, TOKEN_VERSION};
use crate::crypto::{PublicKey, SigningKey};
use crate::dsse::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// Builds and signs tokens: root tokens with [`TokenBuilder::issue`], delegated ones with
/// [`TokenBuilder::delegate`]. Every token it returns satisfies the rules the verifier
/// checks, so a mistake surfaces when issuing rather than when a relying party verifies.
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::token::{ConstraintValue, TokenBuilder, TokenClaims};
/// let issuer = SigningKey::from_seed(Algorithm::MlDsa44, &[1; 32]);
/// let holder = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
/// let token = TokenBuilder::new(holder.public_key().clone())
///     .audience("registry.example")
///     .capability("publish")
///     .constraint("max_size", ConstraintValue::Max(1 << 20))
///     .validity(1_700_000_000, 1_700_086_400)
///     .issue(&issuer)
///     ?;
/// let claims = TokenClaims::from_payload(&token.payload)?;
/// assert_eq!(claims.issuer, issuer.public_key().key_id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenBuilder {
    holder: PublicKey,
    audience: Option<String>,
    capabilities: BTreeSet<String>,
    constraints: BTreeMap<String, ConstraintValue>,
    validity: Option<(UnixTime, UnixTime)>,
    nonce: Option<[u8; 16]>,
    deterministic: bool,
}

impl TokenBuilder {
    /// Starts a token for `holder`, the key that will use (and may delegate) it.
    pub fn new(holder: PublicKey) -> TokenBuilder {
        TokenBuilder {
            holder,
            audience: None,
            capabilities: BTreeSet::new(),
            constraints: BTreeMap::new(),
            validity: None,
            nonce: None,
            deterministic: false,
        }
    }

    /// Sets the audience (required for a root token; a delegated token inherits its parent's
    /// and may only repeat it).
    pub fn audience(mut self, audience: &str) -> TokenBuilder {
        self.audience = Some(audience.into());
        self
    }

    /// Adds a capability (at least one is required).
    pub fn capability(mut self, capability: &str) -> TokenBuilder {
        self.capabilities.insert(capability.into());
        self
    }

    /// Sets a constraint. A delegated token starts from its parent's constraints; setting one
    /// here replaces the parent's value of that name (it must be equal or tighter) or adds a
    /// new one.
    pub fn constraint(mut self, name: &str, value: ConstraintValue) -> TokenBuilder {
        self.constraints.insert(name.into(), value);
        self
    }

    /// Sets the validity `not_before <= now < expires_at` (required for a root token; a
    /// delegated token defaults to its parent's).
    pub fn validity(mut self, not_before: UnixTime, expires_at: UnixTime) -> TokenBuilder {
        self.validity = Some((not_before, expires_at));
        self
    }

    /// Sets the nonce (by default 16 bytes from the operating system's generator).
    pub fn nonce(mut self, nonce: [u8; 16]) -> TokenBuilder {
        self.nonce = Some(nonce);
        self
    }

    /// Signs with FIPS 204's deterministic variant instead of the hedged one, so that fixed
    /// inputs (and a fixed nonce) give the same token bytes: for test vectors and fixtures.
    pub fn deterministic(mut self) -> TokenBuilder {
        self.deterministic = true;
        self
    }

    fn nonce_or_random(&self) -> [u8; 16] {
        self.nonce.unwrap_or_else(|| {
            let mut n = [0u8; 16];
            OsRng.fill_bytes(&mut n);
            n
        })
    }

    fn sign(&self, claims: &TokenClaims, key: &SigningKey) -> Result<Envelope> {
        let mut env = Envelope::new(TOKEN_PAYLOAD_TYPE, claims.to_payload()?)?;
        if self.deterministic {
            env.sign_deterministic(key)?;
        } else {
            env.sign(key)?;
        }
        Ok(env)
    }

    /// Issues a root token signed by `issuer` (which verifiers must list as trusted).
    ///
    /// Errors: `malformed` when the audience or validity is missing or a claim breaks the
    /// token rules (see [`TokenClaims::validate`]).
    pub fn issue(&self, issuer: &SigningKey) -> Result<Envelope> {
        let audience = self
            .audience
            .clone()
            .ok_or_else(|| Error::malformed("a root token needs an audience"))?;
        let (not_before, expires_at) = self
            .validity
            .ok_or_else(|| Error::malformed("a root token needs a validity period"))?;
        let claims = TokenClaims {
            version: TOKEN_VERSION,
            issuer: issuer.public_key().key_id(),
            audience,
            holder: self.holder.clone(),
            capabilities: self.capabilities.clone(),
            constraints: self.constraints.clone(),
            not_before,
            expires_at,
            nonce: self.nonce_or_random(),
            parent: None,
        };
        self.sign(&claims, issuer)
    }

    /// Issues a token delegated from `parent`, signed by `holder_key`, which must be the
    /// parent's holder (`key_mismatch`). Audience, validity and constraints default to the
    /// parent's; the result must narrow the parent (`delegation_invalid`).
    ///
    /// The parent is decoded but not verified: verify it first if it came from elsewhere.
    pub fn delegate(&self, parent: &Envelope, holder_key: &SigningKey) -> Result<Envelope> {
        if parent.payload_type != TOKEN_PAYLOAD_TYPE {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                "the parent is not a capability token",
            ));
        }
        let parent_claims = TokenClaims::from_payload(&parent.payload)?;
        if holder_key.public_key() != &parent_claims.holder {
            return Err(Error::new(
                ErrorCode::KeyMismatch,
                "only the parent's holder may delegate it",
            ));
        }
        let mut constraints = parent_claims.constraints.clone();
        constraints.extend(self.constraints.clone());
        let (not_before, expires_at) = self
            .validity
            .unwrap_or((parent_claims.not_before, parent_claims.expires_at));
        let claims = TokenClaims {
            version: TOKEN_VERSION,
            issuer: holder_key.public_key().key_id(),
            audience: self
                .audience
                .clone()
                .unwrap_or_else(|| parent_claims.audience.clone()),
            holder: self.holder.clone(),
            capabilities: self.capabilities.clone(),
            constraints,
            not_before,
            expires_at,
            nonce: self.nonce_or_random(),
            parent: Some(parent.id()),
        };
        claims.validate()?;
        check_delegation(&claims, &parent_claims, &parent.id())?;
        self.sign(&claims, holder_key)
    }
}
