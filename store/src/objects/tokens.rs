//! Capability tokens: issue (root or delegated), verify, revoke, list, show.
//!
//! The registry builds tokens with the token module and checks every token it issues with the
//! same verifier a relying party runs, before recording it. A token's id is its envelope id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::schema::{self, ReadTables, KEYS, TOKENS};
use crate::objects::keys::{check_reason, KeyRecord, KeyStatus};
use crate::objects::seal::Passphrase;
use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, sha256, Digest};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::Event;
use cairn_core::token::{
    authenticate_chain, AuthenticatedChain, ConstraintValue, TokenBuilder, TokenClaims,
    VerifiedToken, VerifyOptions, MAX_CHAIN_DEPTH,
};
use cairn_core::trust::{Role, RoleSet};
use cairn_core::UnixTime;

/// Who revoked something, why, and where the ledger says so.
pub use cairn_core::ledger::Revocation;

/// What to put in a new token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The key that will hold (use, and may delegate) the token.
    pub holder: PublicKey,
    /// Who the token is for. A delegated token inherits its parent's when `None`.
    pub audience: Option<String>,
    /// Granted capabilities (at least one).
    pub capabilities: Vec<String>,
    /// Constraints on their use.
    pub constraints: Vec<(String, ConstraintValue)>,
    /// Lifetime in seconds from the registry's clock. A delegated token without one
    /// inherits its parent's validity.
    pub ttl: Option<u64>,
    /// Parent token for a delegation; the issuing key must then be the parent's holder.
    pub parent: Option<Digest>,
}

impl TokenRequest {
    /// A root token for `holder`, for `audience`, granting `capabilities` for `ttl` seconds.
    pub fn new(holder: PublicKey, audience: &str, capabilities: &[&str], ttl: u64) -> TokenRequest {
        TokenRequest {
            holder,
            audience: Some(audience.to_owned()),
            capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
            constraints: Vec::new(),
            ttl: Some(ttl),
            parent: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    /// Compact envelope.
    #[serde(with = "cairn_core::crypto::bytes_b64")]
    pub envelope: Vec<u8>,
    pub seq: u64,
    pub issued_at: UnixTime,
    pub revoked: Option<Revocation>,
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its id (SHA-256 of the compact envelope).
    pub id: Digest,
    /// The signed token.
    pub envelope: Envelope,
    /// What it says.
    pub claims: TokenClaims,
    /// The `token_issued` entry.
    pub seq: u64,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// Set once revoked.
    pub revoked: Option<Revocation>,
}

impl TokenRecord {
    pub(crate) fn info(&self) -> StoreResult<TokenInfo> {
        let envelope = Envelope::from_compact(&self.envelope)
            .map_err(|e| StoreError::corrupt(format!("stored token: {}", e.detail())))?;
        let claims = TokenClaims::from_payload(&envelope.payload)
            .map_err(|e| StoreError::corrupt(format!("stored token: {}", e.detail())))?;
        Ok(TokenInfo {
            id: envelope.id(),
            envelope,
            claims,
            seq: self.seq,
            issued_at: self.issued_at,
            revoked: self.revoked.clone(),
        })
    }
}

pub(crate) fn load_token(tx: &impl ReadTables, id: &Digest) -> StoreResult<Option<TokenRecord>> {
    tx.get_record(TOKENS, id, "token record")
}

fn not_found(id: &Digest) -> StoreError {
    StoreError::not_found(format!("no token {}", hex_encode(id)))
}

/// The stored ancestors of a token, root first.
fn chain_of(tx: &impl ReadTables, claims: &TokenClaims) -> StoreResult<Vec<TokenInfo>> {
    let mut chain = Vec::new();
    let mut next = claims.parent;
    while let Some(id) = next {
        if chain.len() >= MAX_CHAIN_DEPTH {
            return Err(StoreError::core(
                ErrorCode::TooLarge,
                "delegation chain is too deep",
            ));
        }
        // A parent this registry never recorded breaks the chain (docs/FORMATS.md, tokens).
        let info = load_token(tx, &id)?
            .ok_or_else(|| {
                StoreError::core(
                    ErrorCode::ChainBroken,
                    format!(
                        "the delegation parent {} is not recorded in this registry",
                        hex_encode(&id)
                    ),
                )
            })?
            .info()?;
        next = info.claims.parent;
        chain.push(info);
    }
    chain.reverse();
    Ok(chain)
}

/// The keys that signed a token and its recorded parents: the root issuer first, then each
/// delegator (the holder of the link above), each once.
fn signers_of(chain: &[TokenInfo], claims: &TokenClaims) -> Vec<KeyId> {
    let mut out: Vec<KeyId> = Vec::with_capacity(chain.len() + 1);
    for issuer in chain
        .iter()
        .map(|t| &t.claims.issuer)
        .chain([&claims.issuer])
    {
        if !out.contains(issuer) {
            out.push(*issuer);
        }
    }
    out
}

/// Token chains whose signatures and encodings verified ([`AuthenticatedChain`]), by the id
/// of the token (the SHA-256 of its exact bytes): a token presented again, with the same
/// stored parents and the same issuer key, is not authenticated again. Everything that can
/// change is still checked on every verification: the issuer key's status and role, the
/// parents as stored, time, revocations, delegation, audience and capability.
///
/// Beside them, what verification reads of each issuer's key record ([`IssuerKey`]), with the
/// SHA-256 of the exact stored bytes it was decoded from: it is reused only while the stored
/// record hashes the same, so a rotation, revocation or role change (a new record) is always
/// read afresh. Decoding a key record parses its public key (a point decompression for
/// Ed25519, more for ML-DSA) on every verification otherwise. The record's sealed secret is
/// not kept.
#[derive(Debug, Default)]
pub(crate) struct TokenMemo {
    chains: Mutex<HashMap<Digest, Arc<AuthenticatedChain>>>,
    issuers: Mutex<HashMap<KeyId, (Digest, Arc<IssuerKey>)>>,
}

/// What token verification reads of the root issuer's key record.
#[derive(Debug)]
pub(crate) struct IssuerKey {
    public_key: PublicKey,
    roles: RoleSet,
    status: KeyStatus,
}

impl From<KeyRecord> for IssuerKey {
    fn from(rec: KeyRecord) -> IssuerKey {
        IssuerKey {
            public_key: rec.public_key,
            roles: rec.roles,
            status: rec.status,
        }
    }
}

impl TokenMemo {
    /// Most chains (and, separately, issuer keys) remembered; when full, the memo starts
    /// over.
    const MAX: usize = 1024;

    /// The key `id` as `tx` holds it (an issuer's, or a holder's), decoded once per distinct
    /// stored record.
    fn issuer(&self, tx: &impl ReadTables, id: &KeyId) -> StoreResult<Option<Arc<IssuerKey>>> {
        let Some(bytes) = tx.get_bytes(KEYS, id.0)? else {
            return Ok(None);
        };
        let digest = sha256(&[&bytes]);
        let lock = || self.issuers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, key)) = lock().get(id) {
            if *seen == digest {
                return Ok(Some(key.clone()));
            }
        }
        let rec: KeyRecord = schema::decode(&bytes, "key record")?;
        let key = Arc::new(IssuerKey::from(rec));
        let mut m = lock();
        if m.len() >= Self::MAX {
            m.clear();
        }
        m.insert(*id, (digest, key.clone()));
        Ok(Some(key))
    }

    fn get(&self, id: &Digest) -> Option<Arc<AuthenticatedChain>> {
        self.chains
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn remember(&self, id: Digest, chain: Arc<AuthenticatedChain>) {
        let mut m = self.chains.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= Self::MAX {
            m.clear();
        }
        m.insert(id, chain);
    }
}

/// Verifies a token against the registry: its chain from the stored parents, the root
/// issuer's key (which must hold the token-issuer role and not be revoked), revocations of
/// any link, validity at `now`.
fn verify_in(
    tx: &impl ReadTables,
    env: &Envelope,
    now: UnixTime,
    opts: &VerifyOptions<'_>,
    memo: Option<&TokenMemo>,
) -> StoreResult<VerifiedToken> {
    let id = memo.map(|_| env.id());
    let known = memo.zip(id.as_ref()).and_then(|(m, id)| m.get(id));
    // The claims name the parent; a remembered chain has them decoded already.
    let decoded;
    let claims = match known.as_deref().and_then(AuthenticatedChain::claims) {
        Some(c) => c,
        None => {
            decoded = TokenClaims::from_payload(&env.payload)?;
            &decoded
        }
    };
    let chain = chain_of(tx, claims)?;
    let root_issuer = chain.first().map_or(claims.issuer, |t| t.claims.issuer);
    let issuer = match memo {
        Some(m) => m.issuer(tx, &root_issuer)?,
        None => crate::objects::keys::load_key(tx, &root_issuer)?.map(|r| Arc::new(r.into())),
    };
    let issuer = issuer.ok_or_else(|| {
        StoreError::core(
            ErrorCode::UnknownKey,
            format!("the issuer {root_issuer} is not in this registry"),
        )
    })?;
    if let KeyStatus::Revoked { reason, .. } = &issuer.status {
        return Err(StoreError::core(
            ErrorCode::Revoked,
            format!("the issuer {root_issuer} is revoked: {reason}"),
        ));
    }
    if !issuer.roles.contains(Role::TokenIssuer) {
        return Err(StoreError::core(
            ErrorCode::Unauthorized,
            format!("the issuer {root_issuer} does not hold the token-issuer role"),
        ));
    }
    // Every delegating key too: revoking a key refuses every token it signed, a delegation as
    // much as a root token (as the bundle verifier rules offline). A delegator this registry
    // does not hold has no status here.
    if !chain.is_empty() {
        for delegator in signers_of(&chain, claims).iter().skip(1) {
            if let Some(rec) = crate::objects::keys::load_key(tx, delegator)? {
                if let KeyStatus::Revoked { reason, .. } = &rec.status {
                    return Err(StoreError::core(
                        ErrorCode::Revoked,
                        format!("the delegating key {delegator} is revoked: {reason}"),
                    ));
                }
            }
        }
    }
    // The holder's key too, when it is this registry's: a token bound to a key revoked here
    // (a lost laptop's client key) is refused, as its proofs of possession would be signed by
    // that key. Offline, a bundle proves its signers' keys only (docs/SECURITY.md).
    let holder = claims.holder.key_id();
    let holder_key = match memo {
        Some(m) => m.issuer(tx, &holder)?.map(|k| k.status.clone()),
        None => crate::objects::keys::load_key(tx, &holder)?.map(|r| r.status),
    };
    if let Some(KeyStatus::Revoked { reason, .. }) = &holder_key {
        return Err(StoreError::core(
            ErrorCode::Revoked,
            format!("the holder key {holder} is revoked: {reason}"),
        ));
    }
    // Fails closed: a record that cannot be read counts as revoked (the same transaction has
    // just read these records, so this is a damaged file, never a normal answer).
    let revoked =
        |id: &Digest| load_token(tx, id).map_or(true, |r| r.is_some_and(|r| r.revoked.is_some()));
    // A remembered chain stands only for these exact envelopes under this exact issuer key.
    let same = |c: &AuthenticatedChain| {
        let ids = c.ids();
        ids.len() == chain.len() + 1
            && chain.iter().zip(&ids).all(|(t, id)| t.id == *id)
            && ids.last() == id.as_ref()
            && c.issuer() == Some(&issuer.public_key)
    };
    let authenticated = match known.filter(|c| same(c)) {
        Some(c) => c,
        None => {
            let parents: Vec<Envelope> = chain.iter().map(|t| t.envelope.clone()).collect();
            let c = Arc::new(authenticate_chain(
                env,
                &parents,
                core::slice::from_ref(&issuer.public_key),
            )?);
            if let (Some(m), Some(id)) = (memo, id) {
                m.remember(id, c.clone());
            }
            c
        }
    };
    Ok(authenticated.check(now, &revoked, opts)?)
}

/// What [`Registry::verify_token_with`] does with a token the ledger does not record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Unrecorded {
    /// Refuse it (`unauthorized`): an issuer's authority, as this registry sees it, covers
    /// only the tokens its ledger records. The default.
    #[default]
    Refuse,
    /// Accept it only if its `not_before` lies inside the issuing key's validity window as
    /// the ledger records it: from the key's `key_added` entry to its `key_rotated` or
    /// `key_revoked` entry (or its expiry), end exclusive. The key's holder chooses
    /// `not_before`, so this only stops a rotated key from minting tokens that admit to being
    /// new; a leaked key can still backdate one. Use it only where unrecorded tokens are
    /// expected (tokens minted offline by a key this registry lists).
    AllowInKeyWindow,
}

/// The validity window the ledger gives a key: `[added_at, end)`, `end` the time of its
/// rotation or revocation entry or its expiry, whichever is first.
pub(crate) fn key_window(rec: &crate::objects::keys::KeyRecord) -> (UnixTime, Option<UnixTime>) {
    let closed = match &rec.status {
        KeyStatus::Active => None,
        KeyStatus::Rotated { at, .. } | KeyStatus::Revoked { at, .. } => Some(*at),
    };
    let end = match (closed, rec.expires_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (rec.added_at, end)
}

/// [`verify_in`] for a token presented from outside: it must be recorded by the ledger, or,
/// with [`Unrecorded::AllowInKeyWindow`], issued inside the validity window of the root
/// issuer's key and of the registry key that signed it.
fn verify_presented(
    tx: &impl ReadTables,
    env: &Envelope,
    now: UnixTime,
    opts: &VerifyOptions<'_>,
    unrecorded: Unrecorded,
    memo: &TokenMemo,
) -> StoreResult<VerifiedToken> {
    let verified = verify_in(tx, env, now, opts, Some(memo))?;
    let id = verified.id;
    if let Some(rec) = load_token(tx, &id)? {
        // The stored envelope's id, from its compact form (its claims are the presented
        // token's, which verified).
        if cairn_core::dsse::compact_id(&rec.envelope) == id {
            return Ok(verified);
        }
        return Err(StoreError::corrupt(
            "a token record is stored under another id",
        ));
    }
    if unrecorded == Unrecorded::Refuse {
        return Err(StoreError::core(
            ErrorCode::Unauthorized,
            format!(
                "token {} is not recorded in this registry's ledger: its issuer's authority covers only recorded tokens (a rotated or leaked key can still sign); accept unrecorded tokens explicitly to check it against the issuer key's validity window",
                hex_encode(&id)
            ),
        ));
    }
    let nb = verified.claims.not_before;
    let mut signers = vec![verified.issuer.key_id()];
    if verified.claims.issuer != signers[0] {
        signers.push(verified.claims.issuer);
    }
    for key in signers {
        let Some(rec) = crate::objects::keys::load_key(tx, &key)? else {
            continue;
        };
        let (start, end) = key_window(&rec);
        let fmt_end = end.map_or_else(|| "no end".to_owned(), |e| e.to_string());
        if nb < start || end.is_some_and(|e| nb >= e) {
            return Err(StoreError::core(
                ErrorCode::Unauthorized,
                format!(
                    "token {} is not recorded and claims to be issued at {nb}, outside the validity window of key {key} ({start} .. {fmt_end}, closed by its rotation, revocation or expiry)",
                    hex_encode(&id)
                ),
            ));
        }
    }
    Ok(verified)
}

impl Txn<'_> {
    /// Issues a token signed by `issuer` (opened with `passphrase`) and records it. A root
    /// token's issuer must hold the token-issuer role; a delegated token (`request.parent`)
    /// is signed by the parent's holder, which must be a key of this registry. The token is
    /// verified like a relying party would before it is recorded.
    pub fn issue_token(
        &mut self,
        issuer: &KeyId,
        passphrase: Option<&Passphrase>,
        request: &TokenRequest,
    ) -> StoreResult<TokenInfo> {
        let now = self.now();
        let mut b = TokenBuilder::new(request.holder.clone());
        if let Some(a) = &request.audience {
            b = b.audience(a);
        }
        for c in &request.capabilities {
            b = b.capability(c);
        }
        for (name, value) in &request.constraints {
            b = b.constraint(name, value.clone());
        }
        if let Some(ttl) = request.ttl {
            let end = now.checked_add(ttl).ok_or_else(|| {
                StoreError::field(ErrorCode::Malformed, "ttl", "overflows the time range")
            })?;
            b = b.validity(now, end);
        }
        let env = match &request.parent {
            None => {
                let (_, sk) = self.signer(issuer, passphrase, Role::TokenIssuer)?;
                b.issue(&sk)?
            }
            Some(parent_id) => {
                let parent = load_token(&self.tx, parent_id)?
                    .ok_or_else(|| not_found(parent_id))?
                    .info()?;
                // Active and unexpired: a delegation is something new it signs.
                let rec = self.key_record(issuer)?;
                rec.check_active(now)?;
                let sk = self.reg.open_keys.unseal(&rec, passphrase)?;
                b.delegate(&parent.envelope, &sk)?
            }
        };
        let verified = verify_in(&self.tx, &env, now, &VerifyOptions::default(), None)?;
        // The rule the audit applies to every stored token (the entry carries neither parent
        // nor holder): checked here too, from the records the token will be judged by.
        let issuer_roles = self.key_record(&verified.claims.issuer)?.roles;
        let parent = match verified.claims.parent {
            Some(p) => match load_token(&self.tx, &p)? {
                Some(r) => Some((r.seq, r.info()?.claims.holder.key_id())),
                None => None,
            },
            None => None,
        };
        cairn_core::ledger::check_token_authority(
            &verified.claims,
            issuer_roles,
            parent,
            self.head.next_seq,
        )?;
        let id = env.id();
        let seq = self.append(
            Event::TokenIssued {
                token_id: id,
                issuer: verified.claims.issuer,
                audience: verified.claims.audience.clone(),
                expires_at: verified.claims.expires_at,
            },
            &[],
        )?;
        let rec = TokenRecord {
            envelope: env.to_compact(),
            seq,
            issued_at: now,
            revoked: None,
        };
        self.tx
            .open_table(TOKENS)?
            .insert(id, schema::encode(&rec).as_slice())?;
        rec.info()
    }

    /// Revokes a token (and so everything delegated from it). The revoker is the token's
    /// issuer or a key holding the root role; its signature on the entry proves it.
    pub fn revoke_token(
        &mut self,
        id: &Digest,
        reason: &str,
        revoker: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<u64> {
        check_reason(reason)?;
        let rec = load_token(&self.tx, id)?.ok_or_else(|| not_found(id))?;
        if rec.revoked.is_some() {
            return Err(StoreError::new(
                StoreCode::InvalidState,
                format!("token {} is already revoked", hex_encode(id)),
            ));
        }
        let info = rec.info()?;
        let sk = self.revoker(revoker, passphrase, *revoker == info.claims.issuer)?;
        let seq = self.append(
            Event::TokenRevoked {
                token_id: *id,
                reason: reason.to_owned(),
                revoker: *revoker,
            },
            &[&sk],
        )?;
        let rec = TokenRecord {
            revoked: Some(Revocation {
                reason: reason.to_owned(),
                revoker: *revoker,
                seq,
                at: self.now(),
            }),
            ..rec
        };
        self.tx
            .open_table(TOKENS)?
            .insert(*id, schema::encode(&rec).as_slice())?;
        Ok(seq)
    }
}

impl Registry {
    /// Issues a token (one transaction). See [`Txn::issue_token`].
    ///
    /// ```
    /// use cairn_core::crypto::Algorithm;
    /// use cairn_store::{CreateOptions, KeySpec, Protection, Registry, TokenRequest};
    /// use cairn_core::token::VerifyOptions;
    /// use cairn_core::trust::{Role, RoleSet};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let issuer = reg.generate_key(Algorithm::Ed25519, &KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer])), &Protection::Insecure)?;
    /// let holder = reg.generate_key(Algorithm::Ed25519, &KeySpec::new("holder", RoleSet::of(&[Role::Peer])), &Protection::Insecure)?;
    /// let token = reg.issue_token(&issuer.key_id, None, &TokenRequest::new(holder.public_key, "svc.example", &["read"], 3600))?;
    /// assert!(reg.verify_token(&token.envelope, reg.now(), &VerifyOptions::default()).is_ok());
    /// reg.revoke_token(&token.id, "lost", &issuer.key_id, None)?;
    /// let err = reg.verify_token(&token.envelope, reg.now(), &VerifyOptions::default()).unwrap_err();
    /// assert_eq!(err.code().as_str(), "revoked");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issue_token(
        &self,
        issuer: &KeyId,
        passphrase: Option<&Passphrase>,
        request: &TokenRequest,
    ) -> StoreResult<TokenInfo> {
        self.write(|tx| tx.issue_token(issuer, passphrase, request))
    }

    /// Revokes a token (one transaction). See [`Txn::revoke_token`].
    pub fn revoke_token(
        &self,
        id: &Digest,
        reason: &str,
        revoker: &KeyId,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<u64> {
        self.write(|tx| tx.revoke_token(id, reason, revoker, passphrase))
    }

    /// Verifies a token (stored or presented) against this registry at `now`: its issuer key
    /// and role, its delegation chain from the stored parents, revocation of any link, its
    /// validity, and `opts`. A token the ledger does not record is refused (`unauthorized`),
    /// even one whose signature verifies: a rotated (possibly leaked) key must not be able to
    /// mint tokens this registry accepts. [`Registry::verify_token_with`] can accept
    /// unrecorded tokens issued inside the issuing key's validity window.
    pub fn verify_token(
        &self,
        token: &Envelope,
        now: UnixTime,
        opts: &VerifyOptions<'_>,
    ) -> StoreResult<VerifiedToken> {
        self.verify_token_with(token, now, opts, Unrecorded::Refuse)
    }

    /// [`Registry::verify_token`], choosing what happens to a token the ledger does not
    /// record (see [`Unrecorded`]).
    pub fn verify_token_with(
        &self,
        token: &Envelope,
        now: UnixTime,
        opts: &VerifyOptions<'_>,
        unrecorded: Unrecorded,
    ) -> StoreResult<VerifiedToken> {
        self.read(|rtx| verify_presented(&rtx, token, now, opts, unrecorded, &self.token_memo))
    }

    /// Whether [`Registry::verify_token`] has authenticated `token`'s chain before and still
    /// remembers it, so that verifying it again needs no signature verification (only the
    /// reads and checks every call makes). A server can check such a token inline and send
    /// the others, which may cost several signature verifications, to a worker thread.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, KeySpec, Protection, Registry, TokenRequest};
    /// use cairn_core::crypto::Algorithm;
    /// use cairn_core::token::VerifyOptions;
    /// use cairn_core::trust::{Role, RoleSet};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let issuer = reg.generate_key(Algorithm::Ed25519, &KeySpec::new("i", RoleSet::of(&[Role::TokenIssuer])), &Protection::Insecure)?;
    /// let holder = reg.generate_key(Algorithm::Ed25519, &KeySpec::new("h", RoleSet::of(&[Role::Peer])), &Protection::Insecure)?;
    /// let token = reg.issue_token(&issuer.key_id, None, &TokenRequest::new(holder.public_key, "svc.example", &["read"], 3600))?;
    /// assert!(!reg.remembers_token(&token.envelope));
    /// reg.verify_token(&token.envelope, reg.now(), &VerifyOptions::default())?;
    /// assert!(reg.remembers_token(&token.envelope));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remembers_token(&self, token: &Envelope) -> bool {
        self.token_memo.get(&token.id()).is_some()
    }

    /// One token.
    pub fn token(&self, id: &Digest) -> StoreResult<TokenInfo> {
        self.read(|rtx| {
            let info = load_token(&rtx, id)?.ok_or_else(|| not_found(id))?.info()?;
            if info.id != *id {
                return Err(StoreError::corrupt(
                    "a token record is stored under another id",
                ));
            }
            crate::objects::verified::Proof::new(self, &rtx)?.token(&info)?;
            Ok(info)
        })
    }

    /// Every token, in id order.
    pub fn list_tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(|rtx| {
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            let t = rtx.open_table(TOKENS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let rec: TokenRecord = schema::decode(row?.1.value(), "token record")?;
                let info = rec.info()?;
                proof.token(&info)?;
                out.push(info);
            }
            Ok(out)
        })
    }

    /// The stored ancestors of a token, root first (what a bundle carries as `parents`).
    pub fn token_parents(&self, id: &Digest) -> StoreResult<Vec<Envelope>> {
        self.read(|rtx| {
            let info = load_token(&rtx, id)?.ok_or_else(|| not_found(id))?.info()?;
            Ok(chain_of(&rtx, &info.claims)?
                .into_iter()
                .map(|t| t.envelope)
                .collect())
        })
    }
}
