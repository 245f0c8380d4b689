//! Offline verification of a token and its delegation chain.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use super::claims::TokenClaims;
use super::{MAX_CHAIN_DEPTH, TOKEN_PAYLOAD_TYPE};
use crate::crypto::PublicKey;
use crate::dsse::Envelope;
use crate::encoding::{hex_encode, Digest};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// Answers "is this token id revoked?". Implemented for slices and sets of ids and for
/// closures, so a caller can pass a list, a set or a lookup into its own store.
pub trait Revocations {
    /// True when the token with this id is revoked.
    fn is_revoked(&self, id: &Digest) -> bool;
}

impl Revocations for [Digest] {
    fn is_revoked(&self, id: &Digest) -> bool {
        self.contains(id)
    }
}

impl Revocations for Vec<Digest> {
    fn is_revoked(&self, id: &Digest) -> bool {
        self.contains(id)
    }
}

impl Revocations for BTreeSet<Digest> {
    fn is_revoked(&self, id: &Digest) -> bool {
        self.contains(id)
    }
}

impl<F: Fn(&Digest) -> bool> Revocations for F {
    fn is_revoked(&self, id: &Digest) -> bool {
        self(id)
    }
}

/// Optional checks on the final token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions<'a> {
    /// When set, the token's audience must equal it (`domain_mismatch` otherwise).
    pub audience: Option<&'a str>,
    /// When set, the token must grant it (`unauthorized` otherwise).
    pub capability: Option<&'a str>,
}

/// What a successful [`verify_token`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The token's id (SHA-256 of its compact envelope).
    pub id: Digest,
    /// The token's claims.
    pub claims: TokenClaims,
    /// Ids of its ancestors, root first, immediate parent last (empty for a root token).
    pub chain_ids: Vec<Digest>,
    /// The trusted key that issued the root of the chain.
    pub issuer: PublicKey,
}

impl VerifiedToken {
    /// The JSON view used by the CLI and JavaScript.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json()).unwrap_or(serde_json::Value::Null)
    }

    /// The same view as [`VerifiedToken::to_json`], as a value that serializes to it
    /// directly (see [`TokenClaims::json`]).
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::token::{verify_token, TokenBuilder, VerifyOptions};
    /// let issuer = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    /// let holder = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
    /// let token = TokenBuilder::new(holder.public_key().clone())
    ///     .audience("registry.example")
    ///     .capability("read")
    ///     .validity(0, 100)
    ///     .issue(&issuer)?;
    /// let keys = [issuer.public_key().clone()];
    /// let v = verify_token(&token, &[], &keys, 10, &[][..], &VerifyOptions::default())?;
    /// let text = serde_json::to_string(&v.json())?;
    /// assert_eq!(serde_json::from_str::<serde_json::Value>(&text)?, v.to_json());
    /// assert_eq!(text, v.to_json().to_string());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn json(&self) -> VerifiedTokenJson<'_> {
        VerifiedTokenJson(self)
    }
}

/// The JSON view of a [`VerifiedToken`] ([`VerifiedToken::json`]), members in sorted order
/// like the `serde_json::Value` map of [`VerifiedToken::to_json`].
#[derive(Debug, Clone, Copy)]
pub struct VerifiedTokenJson<'a>(&'a VerifiedToken);

impl serde::Serialize for VerifiedTokenJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let v = self.0;
        let chain_ids: Vec<String> = v.chain_ids.iter().map(|d| hex_encode(d)).collect();
        let mut m = s.serialize_struct("VerifiedToken", 4)?;
        m.serialize_field("chain_ids", &chain_ids)?;
        m.serialize_field("claims", &v.claims.json())?;
        m.serialize_field("id", &hex_encode(&v.id))?;
        m.serialize_field("issuer", &v.issuer.key_id().to_hex())?;
        m.end()
    }
}

/// One authenticated and decoded link of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    id: Digest,
    claims: TokenClaims,
}

fn link_name(index: usize, len: usize) -> String {
    if index + 1 == len {
        String::from("token")
    } else {
        alloc::format!("parent {index}")
    }
}

/// Checks that `env` is a token signed by one of `keys`, then decodes it. Signature first:
/// nothing of the payload is read before the signature over its bytes has verified.
fn authenticate(
    env: &Envelope,
    keys: &[PublicKey],
    delegated: bool,
    signature_checked: bool,
) -> Result<TokenClaims> {
    if env.payload_type != TOKEN_PAYLOAD_TYPE {
        return Err(Error::new(
            ErrorCode::DomainMismatch,
            alloc::format!(
                "expected payload type {TOKEN_PAYLOAD_TYPE:?}, found {:?}",
                env.payload_type
            ),
        ));
    }
    // Exactly one signature keeps the id fixed: were extra signatures tolerated, anyone could
    // append one and obtain a new id that a revocation list does not name.
    if env.signatures.len() != 1 {
        return Err(Error::malformed(alloc::format!(
            "a token carries exactly one signature, found {}",
            env.signatures.len()
        )));
    }
    let verified = env
        .verify_with(TOKEN_PAYLOAD_TYPE, keys, 1, signature_checked)
        .map_err(|e| {
            if delegated && e.code() == ErrorCode::UnknownKey {
                Error::new(
                    ErrorCode::DelegationInvalid,
                    "delegated token is not signed by its parent's holder",
                )
            } else {
                e
            }
        })?;
    let claims = TokenClaims::from_payload(verified.payload)?;
    if verified.signers.first() != Some(&claims.issuer) {
        return Err(Error::new(
            ErrorCode::KeyMismatch,
            alloc::format!(
                "token names issuer {} but is signed by another key",
                claims.issuer
            ),
        ));
    }
    Ok(claims)
}

/// Checks that `child` is a valid delegation of `parent` (whose id is `parent_id`): it links
/// to the parent, is issued by the parent's holder, and narrows or keeps every grant.
///
/// Errors: `chain_broken` when `child.parent` is not `parent_id`; `delegation_invalid` when
/// the issuer is not the parent's holder, the audience differs, or a capability, constraint
/// or validity bound is wider than the parent's (or a parent constraint is missing).
pub fn check_delegation(
    child: &TokenClaims,
    parent: &TokenClaims,
    parent_id: &Digest,
) -> Result<()> {
    let invalid = |detail: String| Error::new(ErrorCode::DelegationInvalid, detail);
    if child.parent.as_ref() != Some(parent_id) {
        return Err(Error::new(
            ErrorCode::ChainBroken,
            alloc::format!(
                "token names parent {} but its parent is {}",
                child
                    .parent
                    .map_or_else(|| String::from("none"), |p| hex_encode(&p)),
                hex_encode(parent_id)
            ),
        ));
    }
    if child.issuer != parent.holder.key_id() {
        return Err(invalid(String::from(
            "delegated token is not issued by its parent's holder",
        )));
    }
    if child.audience != parent.audience {
        return Err(invalid(alloc::format!(
            "audience {:?} differs from the parent's {:?}",
            child.audience,
            parent.audience
        )));
    }
    if let Some(extra) = child.capabilities.difference(&parent.capabilities).next() {
        return Err(invalid(alloc::format!(
            "capability {extra:?} is not granted by the parent"
        )));
    }
    for (name, parent_value) in &parent.constraints {
        match child.constraints.get(name) {
            None => {
                return Err(invalid(alloc::format!(
                    "constraint {name:?} of the parent is missing"
                )))
            }
            Some(v) if !v.is_within(parent_value) => {
                return Err(invalid(alloc::format!(
                    "constraint {name:?} is wider than the parent's"
                )))
            }
            Some(_) => {}
        }
    }
    if child.not_before < parent.not_before {
        return Err(invalid(alloc::format!(
            "not_before {} is earlier than the parent's {}",
            child.not_before,
            parent.not_before
        )));
    }
    if child.expires_at > parent.expires_at {
        return Err(invalid(alloc::format!(
            "expires_at {} is later than the parent's {}",
            child.expires_at,
            parent.expires_at
        )));
    }
    Ok(())
}

/// Verifies a capability token and the chain of tokens it was delegated from.
///
/// - `parents`: the ancestors, root token first and the token's immediate parent last;
///   empty for a root token. At most [`MAX_CHAIN_DEPTH`] (`too_large`).
/// - `trusted_issuers`: keys allowed to issue root tokens. A delegated token's signer is
///   never looked up here: it is the `holder` key written in its parent, so the whole chain
///   verifies with no key store.
/// - `now`: Unix seconds; every token of the chain must satisfy
///   `not_before <= now < expires_at` (at `expires_at` a token is already expired).
/// - `revoked`: the token and every ancestor are looked up by id.
///
/// Checks, in this order (the first failure is returned):
/// 1. for each token from the root down: payload type (`domain_mismatch`), exactly one
///    signature (`malformed`), the signature by a trusted issuer (root; `unknown_key`) or by
///    the parent's holder (delegated; `delegation_invalid`) over the exact bytes
///    (`signature_invalid`), then decoding (`malformed`, `unsupported_version`, `too_large`)
///    and the claimed issuer against the signer (`key_mismatch`);
/// 2. time of each token (`not_yet_valid`, `expired`);
/// 3. revocation of each token (`revoked`);
/// 4. chain links: the root has no parent, each other token names its parent's id
///    (`chain_broken`) and narrows it ([`check_delegation`], `delegation_invalid`);
/// 5. `opts.audience` (`domain_mismatch`) and `opts.capability` (`unauthorized`).
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::token::{verify_token, TokenBuilder, VerifyOptions};
/// let issuer = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let alice = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
/// let bob = SigningKey::from_seed(Algorithm::Ed25519, &[3; 32]);
/// let root = TokenBuilder::new(alice.public_key().clone())
///     .audience("registry.example")
///     .capability("publish")
///     .capability("read")
///     .validity(1_000, 2_000)
///     .issue(&issuer)
///     ?;
/// let child = TokenBuilder::new(bob.public_key().clone())
///     .capability("read")
///     .delegate(&root, &alice)
///     ?;
/// let trusted = [issuer.public_key().clone()];
/// let opts = VerifyOptions { audience: Some("registry.example"), capability: Some("read") };
/// let ok = verify_token(&child, &[root.clone()], &trusted, 1_500, &[][..], &opts)?;
/// assert_eq!(ok.chain_ids, vec![root.id()]);
/// assert_eq!(ok.claims.holder, *bob.public_key());
/// // Revoking the parent revokes the child.
/// let revoked = [root.id()];
/// let err = verify_token(&child, &[root], &trusted, 1_500, &revoked[..], &opts).unwrap_err();
/// assert_eq!(err.code().as_str(), "revoked");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_token<R: Revocations + ?Sized>(
    token: &Envelope,
    parents: &[Envelope],
    trusted_issuers: &[PublicKey],
    now: UnixTime,
    revoked: &R,
    opts: &VerifyOptions<'_>,
) -> Result<VerifiedToken> {
    verify_token_inner(token, parents, trusted_issuers, now, revoked, opts, false)
}

/// Verifies many tokens (each with its delegation parents, root first) under the same issuers,
/// time, revocations and options; one result per token, each exactly what [`verify_token`]
/// returns for it.
///
/// The signatures of the chains' root links by trusted Ed25519 issuers are checked first with
/// one batch equation ([`crate::crypto::batch`]: the strict encoding rules per signature, then
/// the equation); when it holds, those signatures are not verified again one by one. When it
/// fails, every token is verified alone, so errors are those of [`verify_token`].
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::token::{verify_tokens, TokenBuilder, VerifyOptions};
/// let issuer = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let holder = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
/// let tokens: Vec<_> = ["read", "write"].iter()
///     .map(|c| TokenBuilder::new(holder.public_key().clone()).audience("api").capability(c)
///         .validity(1_000, 2_000).deterministic().issue(&issuer))
///     .collect::<Result<_, _>>()?;
/// let items: Vec<_> = tokens.iter().map(|t| (t, &[][..])).collect();
/// let trusted = [issuer.public_key().clone()];
/// let out = verify_tokens(&items, &trusted, 1_500, &[][..], &VerifyOptions::default());
/// assert!(out.iter().all(|r| r.is_ok()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_tokens<R: Revocations + ?Sized>(
    tokens: &[(&Envelope, &[Envelope])],
    trusted_issuers: &[PublicKey],
    now: UnixTime,
    revoked: &R,
    opts: &VerifyOptions<'_>,
) -> Vec<Result<VerifiedToken>> {
    use crate::crypto::batch::{verify_batch, BatchItem};
    use crate::crypto::{Algorithm, Signature};

    let issuer_ids: Vec<_> = trusted_issuers.iter().map(PublicKey::key_id).collect();
    // Root links signed by a trusted Ed25519 issuer: (token index, key, signature, PAE).
    let mut candidates: Vec<(usize, &PublicKey, Signature, Vec<u8>)> = Vec::new();
    for (i, (token, parents)) in tokens.iter().enumerate() {
        let root = parents.first().unwrap_or(token);
        if parents.len() > MAX_CHAIN_DEPTH
            || root.payload_type != TOKEN_PAYLOAD_TYPE
            || root.signatures.len() != 1
            || root.check_limits().is_err()
        {
            continue;
        }
        let s = &root.signatures[0];
        // The key Envelope::verify would pick: the first trusted key with this id.
        let Some(key) = issuer_ids
            .iter()
            .position(|id| *id == s.keyid)
            .map(|at| &trusted_issuers[at])
        else {
            continue;
        };
        if key.algorithm() != Algorithm::Ed25519 {
            continue;
        }
        if let Ok(sig) = Signature::from_bytes(key.algorithm(), &s.sig) {
            candidates.push((i, key, sig, root.signed_bytes()));
        }
    }
    let items: Vec<BatchItem<'_>> = candidates
        .iter()
        .map(|(_, key, sig, message)| BatchItem {
            key,
            message,
            context: TOKEN_PAYLOAD_TYPE.as_bytes(),
            signature: sig,
        })
        .collect();
    let batch_holds = !items.is_empty() && verify_batch(&items).is_ok();
    let mut checked = alloc::vec![false; tokens.len()];
    if batch_holds {
        for (i, ..) in &candidates {
            checked[*i] = true;
        }
    }
    tokens
        .iter()
        .zip(checked)
        .map(|((token, parents), root_checked)| {
            verify_token_inner(
                token,
                parents,
                trusted_issuers,
                now,
                revoked,
                opts,
                root_checked,
            )
        })
        .collect()
}

/// [`verify_token`]; `root_checked`: the root link's signature was verified by a batch.
fn verify_token_inner<R: Revocations + ?Sized>(
    token: &Envelope,
    parents: &[Envelope],
    trusted_issuers: &[PublicKey],
    now: UnixTime,
    revoked: &R,
    opts: &VerifyOptions<'_>,
    root_checked: bool,
) -> Result<VerifiedToken> {
    authenticate_chain_inner(token, parents, trusted_issuers, root_checked)?
        .check(now, revoked, opts)
}

/// A token and its delegation chain with every signature and encoding checked: step 1 of
/// [`verify_token`] ([`authenticate_chain`]). What remains to check ([`AuthenticatedChain::check`]:
/// time, revocation, the links' narrowing, audience and capability) depends on the moment
/// and on the revocations; this does not.
///
/// It is a function of the exact bytes of the envelopes (which their ids name) and of the
/// issuer key that verified the root, so a verifier may remember it by those
/// ([`AuthenticatedChain::ids`], [`AuthenticatedChain::issuer`]) and skip the signatures
/// and the decoding when the same token comes again, still calling `check` every time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedChain {
    links: Vec<Link>,
    /// The trusted key the root is issued by (`None` fails `check`, as `verify_token` does).
    issuer: Option<PublicKey>,
}

/// Step 1 of [`verify_token`]: authenticates and decodes each link of the chain, root first
/// (payload type, one signature, the signature by a trusted issuer or by the parent's holder
/// over the exact bytes, decoding, the claimed issuer against the signer), with the same
/// errors. [`AuthenticatedChain::check`] does the rest:
/// `authenticate_chain(t, p, k)?.check(now, r, o)` is `verify_token(t, p, k, now, r, o)`.
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::token::{authenticate_chain, TokenBuilder, VerifyOptions};
/// let issuer = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let alice = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
/// let token = TokenBuilder::new(alice.public_key().clone())
///     .audience("registry.example")
///     .capability("publish")
///     .validity(1_000, 2_000)
///     .issue(&issuer)?;
/// let chain = authenticate_chain(&token, &[], &[issuer.public_key().clone()])?;
/// assert_eq!(chain.ids(), vec![token.id()]);
/// let opts = VerifyOptions { audience: Some("registry.example"), capability: Some("publish") };
/// assert!(chain.check(1_500, &[][..], &opts).is_ok());
/// assert_eq!(chain.check(2_000, &[][..], &opts).unwrap_err().code().as_str(), "expired");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn authenticate_chain(
    token: &Envelope,
    parents: &[Envelope],
    trusted_issuers: &[PublicKey],
) -> Result<AuthenticatedChain> {
    authenticate_chain_inner(token, parents, trusted_issuers, false)
}

fn authenticate_chain_inner(
    token: &Envelope,
    parents: &[Envelope],
    trusted_issuers: &[PublicKey],
    root_checked: bool,
) -> Result<AuthenticatedChain> {
    if parents.len() > MAX_CHAIN_DEPTH {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!(
                "delegation chain of {} parents exceeds the limit of {MAX_CHAIN_DEPTH}",
                parents.len()
            ),
        ));
    }
    let chain: Vec<&Envelope> = parents.iter().chain(core::iter::once(token)).collect();
    let len = chain.len();

    // 1. Authenticate and decode each link, root first: a child's key is its parent's holder.
    let mut links: Vec<Link> = Vec::with_capacity(len);
    let mut issuer: Option<PublicKey> = None;
    for (i, env) in chain.iter().enumerate() {
        let claims = match links.last() {
            None => authenticate(env, trusted_issuers, false, root_checked),
            Some(parent) => authenticate(
                env,
                core::slice::from_ref(&parent.claims.holder),
                true,
                false,
            ),
        }
        .map_err(|e| e.context(&link_name(i, len)))?;
        if i == 0 {
            issuer = trusted_issuers
                .iter()
                .find(|k| k.key_id() == claims.issuer)
                .cloned();
        }
        links.push(Link {
            id: env.id(),
            claims,
        });
    }
    Ok(AuthenticatedChain { links, issuer })
}

impl AuthenticatedChain {
    /// The envelope ids of the chain, root first, the token last.
    pub fn ids(&self) -> Vec<Digest> {
        self.links.iter().map(|l| l.id).collect()
    }

    /// The trusted key that issued the root, if it is among the keys given.
    pub fn issuer(&self) -> Option<&PublicKey> {
        self.issuer.as_ref()
    }

    /// The token's claims (the last link's), authenticated.
    pub fn claims(&self) -> Option<&TokenClaims> {
        self.links.last().map(|l| &l.claims)
    }

    /// Steps 2 to 5 of [`verify_token`] over the authenticated chain: time of each token
    /// (`not_yet_valid`, `expired`), revocation of each (`revoked`), the chain's links and
    /// narrowing (`chain_broken`, `delegation_invalid`), then `opts.audience` and
    /// `opts.capability`.
    pub fn check<R: Revocations + ?Sized>(
        &self,
        now: UnixTime,
        revoked: &R,
        opts: &VerifyOptions<'_>,
    ) -> Result<VerifiedToken> {
        let links = &self.links;
        let len = links.len();
        // 2. Time.
        for (i, link) in links.iter().enumerate() {
            let c = &link.claims;
            if now < c.not_before {
                return Err(Error::new(
                    ErrorCode::NotYetValid,
                    alloc::format!(
                        "{} is valid from {}, now is {now}",
                        link_name(i, len),
                        c.not_before
                    ),
                ));
            }
            if now >= c.expires_at {
                return Err(Error::new(
                    ErrorCode::Expired,
                    alloc::format!(
                        "{} expired at {}, now is {now}",
                        link_name(i, len),
                        c.expires_at
                    ),
                ));
            }
        }

        // 3. Revocation of the token or any ancestor.
        for (i, link) in links.iter().enumerate() {
            if revoked.is_revoked(&link.id) {
                return Err(Error::new(
                    ErrorCode::Revoked,
                    alloc::format!(
                        "{} ({}) is revoked",
                        link_name(i, len),
                        hex_encode(&link.id)
                    ),
                ));
            }
        }

        // 4. Chain links and narrowing.
        let mut prev: Option<&Link> = None;
        for (i, link) in links.iter().enumerate() {
            match prev {
                None => {
                    if let Some(p) = link.claims.parent {
                        return Err(Error::new(
                            ErrorCode::ChainBroken,
                            alloc::format!(
                                "{} is delegated from {} but no parent token was given",
                                link_name(i, len),
                                hex_encode(&p)
                            ),
                        ));
                    }
                }
                Some(parent) => check_delegation(&link.claims, &parent.claims, &parent.id)
                    .map_err(|e| e.context(&link_name(i, len)))?,
            }
            prev = Some(link);
        }

        // Neither can be missing (the chain holds at least `token`, and the root's issuer was
        // authenticated against `trusted_issuers`); failing closed keeps that a non-panic.
        let (Some((leaf, ancestors)), Some(issuer)) = (links.split_last(), self.issuer.clone())
        else {
            return Err(Error::new(
                ErrorCode::UnknownKey,
                "root issuer is not trusted",
            ));
        };

        // 5. What the caller asked for.
        if let Some(aud) = opts.audience {
            if leaf.claims.audience != aud {
                return Err(Error::new(
                    ErrorCode::DomainMismatch,
                    alloc::format!(
                        "token is for audience {:?}, not {aud:?}",
                        leaf.claims.audience
                    ),
                ));
            }
        }
        if let Some(cap) = opts.capability {
            if !leaf.claims.grants(cap) {
                return Err(Error::new(
                    ErrorCode::Unauthorized,
                    alloc::format!("token does not grant {cap:?}"),
                ));
            }
        }
        Ok(VerifiedToken {
            id: leaf.id,
            claims: leaf.claims.clone(),
            chain_ids: ancestors.iter().map(|l| l.id).collect(),
            issuer,
        })
    }
}
