//! The signed claims of a capability token: their fields, limits and canonical encoding.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::constraint::ConstraintValue;
use super::{MAX_TOKEN_PAYLOAD_LEN, TOKEN_PAYLOAD_TYPE, TOKEN_VERSION};
use crate::crypto::{KeyId, PublicKey};
use crate::dsse::Envelope;
use crate::encoding::{from_postcard_canonical, hex_encode, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// Longest audience, in bytes.
pub const MAX_AUDIENCE_LEN: usize = 255;
/// Longest capability or constraint name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Most capabilities one token may grant.
pub const MAX_CAPABILITIES: usize = 64;
/// Most constraints one token may carry.
pub const MAX_CONSTRAINTS: usize = 32;

/// What a token says. The field order is the wire order (postcard, docs/FORMATS.md).
///
/// Capabilities and constraint names are sets and maps so that their encoding is sorted and
/// free of duplicates; a payload that lists them otherwise is not canonical and is refused
/// (`malformed`), so one set of claims has exactly one encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Format version, [`TOKEN_VERSION`] (= 1).
    pub version: u8,
    /// Key id of the key that signed this token: a trusted issuer for a root token, the
    /// parent's holder for a delegated one.
    pub issuer: KeyId,
    /// Who the token is for (a service name or URL): 1 to 255 bytes of printable ASCII.
    pub audience: String,
    /// The key allowed to use this token and to delegate it. It is the full public key, not a
    /// key id, so that a child token's signature can be checked with no key store.
    pub holder: PublicKey,
    /// Granted capabilities (1 to 64 names).
    pub capabilities: BTreeSet<String>,
    /// Named constraints on how the capabilities may be used (at most 32).
    pub constraints: BTreeMap<String, ConstraintValue>,
    /// First second of validity (inclusive).
    pub not_before: UnixTime,
    /// First second after validity (exclusive): the token is valid while
    /// `not_before <= now < expires_at`.
    pub expires_at: UnixTime,
    /// Random bytes that make two otherwise equal tokens distinct (and so revocable one by
    /// one). Not checked for uniqueness by the verifier.
    pub nonce: [u8; 16],
    /// Id of the parent token for a delegated token, `None` for a root token.
    pub parent: Option<Digest>,
}

/// Names (capabilities, constraint names) and audiences: printable ASCII without spaces, so
/// that two names that look the same are the same bytes.
fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    if name.is_empty() {
        return Err(Error::malformed(alloc::format!("{what} is empty")));
    }
    if name.len() > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("{what} is longer than {max} bytes"),
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::malformed(alloc::format!(
            "{what} {name:?} must be printable ASCII without spaces"
        )));
    }
    Ok(())
}

impl TokenClaims {
    /// Checks every rule a token's claims must satisfy on their own (the chain rules are
    /// checked by the verifier): version, name syntax and limits, a non-legacy holder key,
    /// at least one capability, `not_before < expires_at`.
    pub fn validate(&self) -> Result<()> {
        if self.version != TOKEN_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("token version {} is not supported", self.version),
            ));
        }
        check_name("audience", &self.audience, MAX_AUDIENCE_LEN)?;
        if self.holder.algorithm().is_legacy() {
            return Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "a token holder may not use a legacy round-3 Dilithium key",
            ));
        }
        if self.capabilities.is_empty() {
            return Err(Error::malformed("token grants no capability"));
        }
        if self.capabilities.len() > MAX_CAPABILITIES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("token grants more than {MAX_CAPABILITIES} capabilities"),
            ));
        }
        for c in &self.capabilities {
            check_name("capability", c, MAX_NAME_LEN)?;
        }
        if self.constraints.len() > MAX_CONSTRAINTS {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("token has more than {MAX_CONSTRAINTS} constraints"),
            ));
        }
        for (name, value) in &self.constraints {
            check_name("constraint name", name, MAX_NAME_LEN)?;
            value
                .validate()
                .map_err(|e| e.context(&alloc::format!("constraint {name}")))?;
        }
        if self.not_before >= self.expires_at {
            return Err(Error::malformed(alloc::format!(
                "token validity is empty: not_before {} >= expires_at {}",
                self.not_before,
                self.expires_at
            )));
        }
        Ok(())
    }

    /// Decodes and validates a token payload. The version byte is read first, so a future
    /// version is reported as `unsupported_version` rather than as a decoding failure; the
    /// encoding must be canonical (`malformed` otherwise).
    ///
    /// This does not authenticate anything: use [`super::verify_token`] for that.
    pub fn from_payload(payload: &[u8]) -> Result<TokenClaims> {
        if payload.len() > MAX_TOKEN_PAYLOAD_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("token payload is larger than {MAX_TOKEN_PAYLOAD_LEN} bytes"),
            ));
        }
        match payload.first() {
            None => return Err(Error::malformed("token payload is empty")),
            Some(&v) if v != TOKEN_VERSION => {
                return Err(Error::new(
                    ErrorCode::UnsupportedVersion,
                    alloc::format!("token version {v} is not supported"),
                ))
            }
            Some(_) => {}
        }
        let claims: TokenClaims =
            from_postcard_canonical(payload, MAX_TOKEN_PAYLOAD_LEN, "token claims")?;
        claims.validate()?;
        Ok(claims)
    }

    /// Validates the claims and returns their canonical postcard encoding.
    pub fn to_payload(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let payload = to_postcard(self);
        if payload.len() > MAX_TOKEN_PAYLOAD_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("token payload is larger than {MAX_TOKEN_PAYLOAD_LEN} bytes"),
            ));
        }
        Ok(payload)
    }

    /// An unsigned envelope holding these claims. It becomes a token once its issuer signs it
    /// (exactly once); `TokenBuilder` (feature `std`) does both steps.
    pub fn to_envelope(&self) -> Result<Envelope> {
        Envelope::new(TOKEN_PAYLOAD_TYPE, self.to_payload()?)
    }

    /// True when this token grants `capability`.
    pub fn grants(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }

    /// The JSON view used by the CLI and JavaScript (ids and nonce in lowercase hex, the
    /// holder as `{"alg", "key"}` with base64 key bytes).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json()).unwrap_or(serde_json::Value::Null)
    }

    /// The same view as [`TokenClaims::to_json`], as a value that serializes to it directly:
    /// JSON text written from it builds no `serde_json::Value` on the way (the browser build
    /// returns verified tokens so).
    pub fn json(&self) -> ClaimsJson<'_> {
        ClaimsJson(self)
    }
}

/// The JSON view of [`TokenClaims`] ([`TokenClaims::json`]). Its members are written in
/// sorted order, the order of the `serde_json::Value` map [`TokenClaims::to_json`] returns,
/// so both give the same text.
#[derive(Debug, Clone, Copy)]
pub struct ClaimsJson<'a>(&'a TokenClaims);

impl Serialize for ClaimsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        /// The constraints, each as [`ConstraintValue::to_json`].
        struct Constraints<'a>(&'a BTreeMap<String, ConstraintValue>);
        impl Serialize for Constraints<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> core::result::Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, v.to_json())))
            }
        }
        let c = self.0;
        let mut m = s.serialize_struct("TokenClaims", 11)?;
        m.serialize_field("audience", &c.audience)?;
        m.serialize_field("capabilities", &c.capabilities)?;
        m.serialize_field("constraints", &Constraints(&c.constraints))?;
        m.serialize_field("expires_at", &c.expires_at)?;
        m.serialize_field("holder", &c.holder)?;
        m.serialize_field("holder_key_id", &c.holder.key_id().to_hex())?;
        m.serialize_field("issuer", &c.issuer.to_hex())?;
        m.serialize_field("nonce", &hex_encode(&c.nonce))?;
        m.serialize_field("not_before", &c.not_before)?;
        m.serialize_field("parent", &c.parent.map(|p| hex_encode(&p)))?;
        m.serialize_field("version", &c.version)?;
        m.end()
    }
}

#[cfg(test)]
#[cfg(feature = "std")]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, SigningKey};

    fn sample() -> TokenClaims {
        let k = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
        TokenClaims {
            version: TOKEN_VERSION,
            issuer: k.public_key().key_id(),
            audience: "svc".into(),
            holder: k.public_key().clone(),
            capabilities: ["read".into()].into(),
            constraints: BTreeMap::new(),
            not_before: 1,
            expires_at: 2,
            nonce: [0; 16],
            parent: None,
        }
    }

    /// The view as it was built before `json()` existed (`json!`, a `Value` map), kept as the
    /// reference: the direct serialization must give the same `Value` and the same text, for
    /// claims with every kind of constraint, a parent and a hybrid holder.
    #[test]
    fn json_view_is_the_former_value_view() {
        use crate::token::verify::VerifiedToken;
        fn former_claims(c: &TokenClaims) -> serde_json::Value {
            let constraints: serde_json::Map<String, serde_json::Value> = c
                .constraints
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            serde_json::json!({
                "version": c.version,
                "issuer": c.issuer.to_hex(),
                "audience": c.audience,
                "holder": serde_json::to_value(&c.holder).unwrap(),
                "holder_key_id": c.holder.key_id().to_hex(),
                "capabilities": c.capabilities,
                "constraints": constraints,
                "not_before": c.not_before,
                "expires_at": c.expires_at,
                "nonce": hex_encode(&c.nonce),
                "parent": c.parent.map(|p| hex_encode(&p)),
            })
        }
        let mut c = sample();
        let mut plain = c.clone();
        plain.capabilities = BTreeSet::new();
        c.holder = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[3; 32])
            .public_key()
            .clone();
        c.capabilities = ["read".into(), "write \"quoted\"".into()].into();
        c.parent = Some([0xab; 32]);
        c.nonce = [0x5a; 16];
        for (name, v) in [
            ("a", ConstraintValue::Max(7)),
            ("b", ConstraintValue::Min(u64::MAX)),
            ("c", ConstraintValue::Range { min: 1, max: 9 }),
            ("d", ConstraintValue::Exact("x/y".into())),
            (
                "e",
                ConstraintValue::OneOf(["eu".into(), "us".into()].into()),
            ),
            ("f", ConstraintValue::Prefix("acme/".into())),
        ] {
            c.constraints.insert(name.into(), v);
        }
        for claims in [sample(), plain, c] {
            let former = former_claims(&claims);
            assert_eq!(claims.to_json(), former);
            assert_eq!(
                serde_json::to_string(&claims.json()).unwrap(),
                former.to_string()
            );
            for chain_ids in [alloc::vec![], alloc::vec![[1u8; 32], [2; 32]]] {
                let v = VerifiedToken {
                    id: [9; 32],
                    claims: claims.clone(),
                    chain_ids,
                    issuer: SigningKey::from_seed(Algorithm::MlDsa44, &[4; 32])
                        .public_key()
                        .clone(),
                };
                let former = serde_json::json!({
                    "id": hex_encode(&v.id),
                    "chain_ids": v.chain_ids.iter().map(|d| hex_encode(d)).collect::<Vec<String>>(),
                    "issuer": v.issuer.key_id().to_hex(),
                    "claims": former_claims(&v.claims),
                });
                assert_eq!(v.to_json(), former);
                assert_eq!(
                    serde_json::to_string(&v.json()).unwrap(),
                    former.to_string()
                );
            }
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let c = sample();
        let bytes = c.to_payload().unwrap();
        assert_eq!(TokenClaims::from_payload(&bytes).unwrap(), c);
    }

    #[test]
    fn names_are_printable_ascii_and_bounded() {
        for bad in ["", "a b", "caf\u{e9}", "tab\t"] {
            let mut c = sample();
            c.audience = bad.into();
            assert_eq!(
                c.validate().unwrap_err().code(),
                ErrorCode::Malformed,
                "{bad:?}"
            );
        }
        let mut c = sample();
        c.capabilities.insert("x".repeat(MAX_NAME_LEN + 1));
        assert_eq!(c.validate().unwrap_err().code(), ErrorCode::TooLarge);
        let mut c = sample();
        c.capabilities = (0..=MAX_CAPABILITIES)
            .map(|i| alloc::format!("c{i}"))
            .collect();
        assert_eq!(c.validate().unwrap_err().code(), ErrorCode::TooLarge);
        let mut c = sample();
        c.constraints = (0..=MAX_CONSTRAINTS)
            .map(|i| (alloc::format!("k{i}"), ConstraintValue::Max(1)))
            .collect();
        assert_eq!(c.validate().unwrap_err().code(), ErrorCode::TooLarge);
    }

    #[test]
    fn version_is_read_before_anything_else() {
        assert_eq!(
            TokenClaims::from_payload(&[2]).unwrap_err().code(),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(
            TokenClaims::from_payload(&[]).unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            TokenClaims::from_payload(&alloc::vec![1; MAX_TOKEN_PAYLOAD_LEN + 1])
                .unwrap_err()
                .code(),
            ErrorCode::TooLarge
        );
    }
}
