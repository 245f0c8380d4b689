//! The peer key registry: this registry's own peer identity, the keys of other peers, the
//! replay state of the exchange with each of them, and the operations of seed 004 (store, get
//! signing key, get KEM key, has complete keys, mark verified, list verified, request keys if
//! needed, clean up expired requests, remove).
//!
//! Every accepted key and every change is a ledger entry through the rule book
//! (`peer_key_stored`, `peer_key_verified`, `peer_key_removed`). A key is marked verified only
//! by a vouching rule ([`cairn_core::peer::vouch`]) or by an operator's acceptance, which is
//! itself recorded: a changed key replaces the pinned one only through
//! [`Txn::accept_peer_key`], which removes the old key with a reason naming the new one, then
//! stores and verifies the new one. The replay state (last nonces, pending requests) is kept
//! in the file, so a restart does not reopen a replay window: pending requests and our own
//! nonces per peer id, the last nonce received per peer id and signing key (a message signed
//! by another key but claiming the peer's id must not use up the peer's nonces).

use redb::{ReadTransaction, ReadableTable};
use serde::{Deserialize, Serialize};

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::schema::{self, ReadTables, META, PEERS, PEER_EXCHANGE, PEER_NONCES};
use crate::objects::keys::{check_reason, WeakerAlgorithm};
use crate::objects::seal::Passphrase;
use cairn_core::bundle::Bundle;
use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::{Event, LedgerPeerKey};
use cairn_core::peer::{
    peer_signing_algorithm_allowed, verify_key_request, verify_key_response, vouch, ExchangeConfig,
    KemPublicKey, KeyRequest, KeyResponse, PeerExchangeState, VerifiedKeyResponse, Vouch,
    VouchPolicy, VouchRule, PEER_MESSAGE_VERSION,
};
use cairn_core::trust::Role;
use cairn_core::UnixTime;

/// `meta` key of this registry's own peer identity.
pub(crate) const META_PEER_IDENTITY: &[u8] = b"peer_identity";

/// This registry's identity as a peer: its id, the registry key that signs its messages (role
/// `peer`), and its ML-KEM-768 encapsulation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerIdentity {
    /// The peer id.
    pub peer_id: String,
    /// The signing key (a key of this registry holding the `peer` role).
    pub key_id: KeyId,
    /// The encapsulation key it publishes.
    pub kem_key: KemPublicKey,
    /// The `peer_key_stored` entry recording it (what a key-transparency proof points at).
    pub stored_seq: u64,
}

/// How a stored key came to be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The rule that vouched for it.
    pub rule: VouchRule,
    /// The `peer_key_verified` entry.
    pub seq: u64,
    /// When.
    pub at: UnixTime,
}

/// A key a peer presented that differs from its pinned one, refused with `key_changed` and
/// kept until an operator accepts it ([`Txn::accept_peer_key`]) or the peer is removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedKey {
    /// The presented signing key.
    pub signing_key: PublicKey,
    /// The presented encapsulation key.
    pub kem_key: KemPublicKey,
    /// When it was presented.
    pub seen_at: UnixTime,
}

/// A peer's keys as the registry holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The peer id.
    pub peer_id: String,
    /// Its signing key.
    pub signing_key: PublicKey,
    /// Its encapsulation key.
    pub kem_key: KemPublicKey,
    /// The `peer_key_stored` entry.
    pub stored_seq: u64,
    /// When it was stored.
    pub stored_at: UnixTime,
    /// How it was verified, if it was.
    pub verified: Option<Verification>,
    /// A different key the peer presented since, waiting for an operator.
    pub proposed: Option<ProposedKey>,
}

impl PeerInfo {
    /// The signing key's id.
    pub fn key_id(&self) -> KeyId {
        self.signing_key.key_id()
    }

    /// True for a round-3 Dilithium signing key (a migrated peer).
    pub fn is_legacy(&self) -> bool {
        self.signing_key.algorithm().is_legacy()
    }

    /// True once a vouching rule or an operator verified the key.
    pub fn is_verified(&self) -> bool {
        self.verified.is_some()
    }
}

/// What receiving a key response did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The peer's record afterwards.
    pub peer: PeerInfo,
    /// The rule that vouched for the key; `None` when nothing did and the key was stored
    /// unverified (an operator may accept it).
    pub vouch: Option<Vouch>,
}

/// The registry's own trust root as the bootstrap pins of the key responses it receives
/// ([`Txn::own_bootstrap_pins`]): the one rule `cairn peer receive` and `cairn serve` share.
///
/// An own root past its validity pins nothing, rather than every response being refused as
/// `expired`; and first use is then off, since a pin no longer checked must not let a
/// stranger's key be taken for the peer it pinned (other rules still vouch, and a key nothing
/// vouches for is stored unverified for an operator). A root the caller names on purpose is
/// not this: it is held to its validity, and refuses.
#[derive(Debug, Clone, Default)]
pub struct OwnBootstrapPins {
    root: Option<cairn_core::trust::VerifiedRoot>,
    expired: bool,
}

impl OwnBootstrapPins {
    /// What to say when [`OwnBootstrapPins::expired`]: callers add how to renew the root.
    pub const EXPIRED: &'static str =
        "the registry's trust root has expired: its bootstrap pins were not applied, nor first use";

    /// The root whose `peer`-role keys pin bootstrap peers, if the registry has an unexpired one.
    pub fn root(&self) -> Option<&cairn_core::trust::VerifiedRoot> {
        self.root.as_ref()
    }

    /// Whether the registry's own root has expired, so that its pins were not applied (the
    /// caller should say so).
    pub fn expired(&self) -> bool {
        self.expired
    }

    /// Whether trust on first use may apply, when the caller's policy `wanted` it.
    pub fn trust_on_first_use(&self, wanted: bool) -> bool {
        wanted && !self.expired
    }
}

fn open_peers_read(
    rtx: &ReadTransaction,
) -> StoreResult<Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>> {
    match rtx.open_table(PEERS) {
        Ok(t) => Ok(Some(t)),
        // A file created before the peer tables existed: no peers.
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn load_peer(tx: &redb::WriteTransaction, id: &str) -> StoreResult<Option<PeerInfo>> {
    tx.get_record(PEERS, id.as_bytes(), "peer record")
}

pub(crate) fn load_identity(tx: &impl ReadTables) -> StoreResult<Option<PeerIdentity>> {
    tx.get_record(META, META_PEER_IDENTITY, "peer identity")
}

/// The ledger's view of a peer key, from the tables (the rule book's `peer_key`).
pub(crate) fn ledger_peer_key(
    tx: &redb::WriteTransaction,
    peer_id: &str,
    key: &KeyId,
) -> StoreResult<Option<LedgerPeerKey>> {
    if let Some(me) = load_identity(tx)? {
        if me.peer_id == peer_id && me.key_id == *key {
            return Ok(Some(LedgerPeerKey {
                stored_seq: me.stored_seq,
                verified_seq: None,
            }));
        }
    }
    Ok(load_peer(tx, peer_id)?
        .filter(|p| p.key_id() == *key)
        .map(|p| LedgerPeerKey {
            stored_seq: p.stored_seq,
            verified_seq: p.verified.map(|v| v.seq),
        }))
}

/// Every peer key the tables hold ([`table_peer_keys`]): (peer id, key id) → the key as the
/// ledger should describe it, with the (entry, time) stamps its record gives.
pub(crate) type TablePeerKeys =
    std::collections::BTreeMap<(String, KeyId), (LedgerPeerKey, Vec<(u64, UnixTime)>)>;

/// Every peer key the tables hold, as the ledger should describe it: this registry's identity
/// (stored, never verified) and each peer record's pinned key. The writer's view of one key
/// ([`ledger_peer_key`]) and the audit's comparison with the replayed ledger read the tables
/// the same way.
pub(crate) fn table_peer_keys(rtx: &ReadTransaction) -> StoreResult<TablePeerKeys> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(me) = load_identity(rtx)? {
        out.insert(
            (me.peer_id, me.key_id),
            (
                LedgerPeerKey {
                    stored_seq: me.stored_seq,
                    verified_seq: None,
                },
                Vec::new(),
            ),
        );
    }
    if let Some(t) = open_peers_read(rtx)? {
        for row in t.iter()? {
            let (k, v) = row?;
            let p: PeerInfo = schema::decode(v.value(), "peer record")?;
            if p.peer_id.as_bytes() != k.value() {
                return Err(StoreError::corrupt(format!(
                    "the peer record under {:?} is peer {:?}",
                    String::from_utf8_lossy(k.value()),
                    p.peer_id
                )));
            }
            out.insert(
                (p.peer_id.clone(), p.key_id()),
                (
                    LedgerPeerKey {
                        stored_seq: p.stored_seq,
                        verified_seq: p.verified.map(|v| v.seq),
                    },
                    core::iter::once((p.stored_seq, p.stored_at))
                        .chain(p.verified.map(|v| (v.seq, v.at)))
                        .collect(),
                ),
            );
        }
    }
    Ok(out)
}

/// The `peer_nonces` key of (peer id, signing key): the key id, then the peer id.
fn nonce_key(peer_id: &str, key: &KeyId) -> Vec<u8> {
    let mut k = key.0.to_vec();
    k.extend_from_slice(peer_id.as_bytes());
    k
}

fn check_peer_id(id: &str) -> StoreResult<()> {
    if id.is_empty() || id.len() > cairn_core::ledger::MAX_ID_LEN {
        return Err(StoreError::field(
            ErrorCode::Malformed,
            "peer_id",
            "a peer id is 1 to 256 bytes",
        ));
    }
    Ok(())
}

impl Txn<'_> {
    fn put_peer(&self, info: &PeerInfo) -> StoreResult<()> {
        self.tx
            .open_table(PEERS)?
            .insert(info.peer_id.as_bytes(), schema::encode(info).as_slice())?;
        Ok(())
    }

    fn exchange_state(&self, peer_id: &str) -> StoreResult<PeerExchangeState> {
        Ok(self
            .tx
            .get_record(PEER_EXCHANGE, peer_id.as_bytes(), "peer exchange state")?
            .unwrap_or_default())
    }

    fn put_exchange_state(&self, peer_id: &str, state: &PeerExchangeState) -> StoreResult<()> {
        self.tx
            .open_table(PEER_EXCHANGE)?
            .insert(peer_id.as_bytes(), schema::encode(state).as_slice())?;
        Ok(())
    }

    /// The exchange state with `peer_id` for a message signed by `key`: the pending requests
    /// and our nonces are the peer id's, the last nonce received is the key's.
    fn exchange_state_for(&self, peer_id: &str, key: &KeyId) -> StoreResult<PeerExchangeState> {
        let mut state = self.exchange_state(peer_id)?;
        let t = self.tx.open_table(PEER_NONCES)?;
        state.last_received = t
            .get(nonce_key(peer_id, key).as_slice())?
            .map(|v| v.value());
        Ok(state)
    }

    fn put_exchange_state_for(
        &self,
        peer_id: &str,
        key: &KeyId,
        state: &PeerExchangeState,
    ) -> StoreResult<()> {
        if let Some(n) = state.last_received {
            self.tx
                .open_table(PEER_NONCES)?
                .insert(nonce_key(peer_id, key).as_slice(), n)?;
        }
        let stored = PeerExchangeState {
            last_received: None,
            ..state.clone()
        };
        self.put_exchange_state(peer_id, &stored)
    }

    fn identity(&self) -> StoreResult<PeerIdentity> {
        load_identity(&self.tx)?.ok_or_else(|| {
            StoreError::new(
                StoreCode::InvalidState,
                "this registry has no peer identity: set one first (cairn peer init)",
            )
        })
    }

    /// Makes this registry a peer: `peer_id`, signing with registry key `key_id` (which must
    /// hold the `peer` role and be ML-DSA-65 or hybrid Ed25519 + ML-DSA-65), publishing
    /// `kem_key`. Records `peer_key_stored` for it, the entry a key-transparency proof of this
    /// registry's responses points at.
    ///
    /// Set again, it re-keys the identity, which keeps its peer id (`invalid_state` for
    /// another): a new signing key is recorded as `peer_key_removed` of the old one (naming the
    /// new) and `peer_key_stored` of the new, which later proofs point at; a new KEM key with
    /// the same signing key is published with no entry (the responses' signatures bind it).
    /// The same keys again are `already_exists`. Re-keying does not revoke the old key: a key
    /// that leaked is revoked too ([`Txn::revoke_key`]), so that the version 2 bundles of this
    /// registry's log stop vouching for it (docs/FORMATS.md, peer key exchange).
    pub fn set_peer_identity(
        &mut self,
        peer_id: &str,
        key_id: &KeyId,
        kem_key: &KemPublicKey,
    ) -> StoreResult<PeerIdentity> {
        check_peer_id(peer_id)?;
        let current = load_identity(&self.tx)?;
        if let Some(me) = &current {
            if me.peer_id != peer_id {
                return Err(StoreError::new(
                    StoreCode::InvalidState,
                    format!(
                        "this registry is peer {:?}: a peer keeps its id (its keys may change)",
                        me.peer_id
                    ),
                ));
            }
            if me.key_id == *key_id && me.kem_key == *kem_key {
                return Err(StoreError::new(
                    StoreCode::AlreadyExists,
                    format!("this registry is already peer {peer_id:?} with these keys"),
                ));
            }
        }
        let rec = self.key_record(key_id)?;
        rec.check_usable(Role::Peer, self.now())?;
        if !peer_signing_algorithm_allowed(rec.public_key.algorithm())
            || rec.public_key.algorithm().is_legacy()
        {
            return Err(StoreError::core(
                ErrorCode::UnsupportedAlgorithm,
                format!(
                    "a peer signs with ml-dsa-65 or ed25519+ml-dsa-65, not {}",
                    rec.public_key.algorithm()
                ),
            ));
        }
        let me = match current {
            // A new KEM key alone: published, no entry.
            Some(me) if me.key_id == *key_id => PeerIdentity {
                kem_key: kem_key.clone(),
                ..me
            },
            Some(me) => {
                self.append(
                    Event::PeerKeyRemoved {
                        peer_id: peer_id.into(),
                        key_id: me.key_id,
                        reason: format!("replaced by key {key_id}"),
                    },
                    &[],
                )?;
                self.identity_stored(peer_id, key_id, kem_key)?
            }
            None => {
                if load_peer(&self.tx, peer_id)?.is_some() {
                    return Err(StoreError::new(
                        StoreCode::AlreadyExists,
                        format!("peer {peer_id:?} is a stored peer; remove it first"),
                    ));
                }
                self.identity_stored(peer_id, key_id, kem_key)?
            }
        };
        self.tx
            .open_table(META)?
            .insert(META_PEER_IDENTITY, schema::encode(&me).as_slice())?;
        Ok(me)
    }

    /// Records `peer_key_stored` for this registry's identity key: the identity it makes.
    fn identity_stored(
        &mut self,
        peer_id: &str,
        key_id: &KeyId,
        kem_key: &KemPublicKey,
    ) -> StoreResult<PeerIdentity> {
        let seq = self.append(
            Event::PeerKeyStored {
                peer_id: peer_id.into(),
                key_id: *key_id,
            },
            &[],
        )?;
        Ok(PeerIdentity {
            peer_id: peer_id.into(),
            key_id: *key_id,
            kem_key: kem_key.clone(),
            stored_seq: seq,
        })
    }

    /// Seed 004's "request keys if needed": `None` when `peer_id`'s keys are stored and
    /// verified; otherwise a signed key request (wire bytes) whose nonce is now pending.
    /// Refused with `too_large` when `config.max_pending` requests are already outstanding.
    pub fn request_peer_keys(
        &mut self,
        peer_id: &str,
        config: &ExchangeConfig,
        passphrase: Option<&Passphrase>,
        force: bool,
    ) -> StoreResult<Option<Vec<u8>>> {
        check_peer_id(peer_id)?;
        if !force && load_peer(&self.tx, peer_id)?.is_some_and(|p| p.is_verified()) {
            return Ok(None);
        }
        let me = self.identity()?;
        let (_, key) = self.signer(&me.key_id, passphrase, Role::Peer)?;
        let now = self.now();
        let mut state = self.exchange_state(peer_id)?;
        let nonce = state.next_nonce(now);
        config.open_request(&mut state, nonce, now)?;
        let request = KeyRequest {
            version: PEER_MESSAGE_VERSION,
            requester_id: me.peer_id,
            responder_id: peer_id.into(),
            requester_key: key.public_key().clone(),
            timestamp: now,
            nonce,
        };
        let bytes = request.sign(&key)?;
        self.put_exchange_state(peer_id, &state)?;
        Ok(Some(bytes))
    }

    /// Answers a key request addressed to this registry's peer identity: verifies it
    /// ([`verify_key_request`]), accepts its nonce (replay state), and returns the signed
    /// response, as a bundle proving the identity's ledger entry when `with_proof` (the
    /// caller builds that with [`Registry::key_response_bundle`] after this commits).
    /// Returns the response envelope and the requester's id.
    pub fn respond_to_key_request(
        &mut self,
        request: &[u8],
        config: &ExchangeConfig,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<(cairn_core::dsse::Envelope, KeyRequest)> {
        let me = self.identity()?;
        let now = self.now();
        let req = verify_key_request(request, &me.peer_id, now, config.max_skew)?.request;
        let sender = req.requester_key.key_id();
        let mut state = self.exchange_state_for(&req.requester_id, &sender)?;
        config.accept_request(&mut state, &req, now)?;
        let (_, key) = self.signer(&me.key_id, passphrase, Role::Peer)?;
        let nonce = state.next_nonce(now);
        config.record_sent(&mut state, nonce)?;
        let response = KeyResponse {
            version: PEER_MESSAGE_VERSION,
            responder_id: me.peer_id,
            requester_id: req.requester_id.clone(),
            signing_key: key.public_key().clone(),
            kem_key: me.kem_key,
            request_nonce: req.nonce,
            timestamp: now,
            nonce,
        };
        let env = response.sign(&key)?;
        self.put_exchange_state_for(&req.requester_id, &sender, &state)?;
        Ok((env, req))
    }

    /// The registry's own trust root as bootstrap pins for a key response received in this
    /// transaction (see [`OwnBootstrapPins`] for what an expired root does).
    pub fn own_bootstrap_pins(&self) -> StoreResult<OwnBootstrapPins> {
        let Some(root) = self.current_trust_root()?.map(|r| r.root) else {
            return Ok(OwnBootstrapPins::default());
        };
        Ok(if root.check_unexpired(self.now()).is_ok() {
            OwnBootstrapPins {
                root: Some(root),
                expired: false,
            }
        } else {
            OwnBootstrapPins {
                root: None,
                expired: true,
            }
        })
    }

    /// Receives a key response: verifies it ([`verify_key_response`]), checks it answers a
    /// pending request with a fresh nonce (the replay state, kept even when the key is then
    /// refused, so the same response cannot be tried again), and asks `policy` who vouches
    /// for the key, against the peer's pinned (verified) key.
    ///
    /// - Vouched: the key is stored (`peer_key_stored`, replacing an unverified key of the
    ///   peer with `peer_key_removed`) and verified (`peer_key_verified`), with the rule.
    /// - Nothing vouches (`unauthorized`): a first key is stored unverified for an operator to
    ///   accept, and the same unverified key again is answered the same way; a peer already
    ///   stored with another key keeps its key and the new one is proposed (`key_changed`).
    ///   First use vouches only for a peer not stored yet (or for the key it is stored with).
    /// - `key_changed`: the key is kept as the peer's proposed key and the error returned; only
    ///   [`Txn::accept_peer_key`] moves the pin.
    /// - Any other refusal (`key_mismatch` against a bootstrap pin, an invalid proof, ...)
    ///   stores nothing.
    ///
    /// The outer result fails when nothing may be committed; the inner one is the verdict on
    /// the key, which is committed either way.
    pub fn receive_key_response(
        &mut self,
        response: &[u8],
        config: &ExchangeConfig,
        policy: &VouchPolicy<'_>,
    ) -> StoreResult<Result<Received, StoreError>> {
        let me = self.identity()?;
        let now = self.now();
        let v = verify_key_response(response, &me.peer_id, now, config.max_skew)?;
        let peer_id = v.response.responder_id.clone();
        let sender = v.key_id();
        let mut state = self.exchange_state_for(&peer_id, &sender)?;
        config.accept_response(&mut state, &v.response, now)?;
        self.put_exchange_state_for(&peer_id, &sender, &state)?;
        let current = load_peer(&self.tx, &peer_id)?;
        let pinned = current
            .as_ref()
            .filter(|p| p.is_verified())
            .map(|p| p.key_id());
        // First use is the first key seen: for a peer stored (unverified) with another key,
        // a different key is a change, proposed for an operator like any other, never taken
        // on first use.
        let not_first = current.as_ref().is_some_and(|p| p.key_id() != v.key_id());
        let without_first_use = VouchPolicy {
            trust_on_first_use: false,
            ..policy.clone()
        };
        let policy = if not_first {
            &without_first_use
        } else {
            policy
        };
        match vouch(&v, pinned.as_ref(), policy, now) {
            Ok(vouched) => {
                let peer = self.store_vouched(&v, vouched.rule)?;
                Ok(Ok(Received {
                    peer,
                    vouch: Some(vouched),
                }))
            }
            Err(e) if e.code() == ErrorCode::KeyChanged || e.code() == ErrorCode::Unauthorized => {
                match current {
                    Some(mut p) if p.key_id() != v.key_id() => {
                        let stored = p.key_id();
                        p.proposed = Some(ProposedKey {
                            signing_key: v.response.signing_key.clone(),
                            kem_key: v.response.kem_key.clone(),
                            seen_at: now,
                        });
                        self.put_peer(&p)?;
                        if e.code() == ErrorCode::Unauthorized {
                            // Another key than the one stored (unverified), which nothing
                            // vouches for either: a key change, kept as proposed, as for a
                            // pinned peer.
                            return Ok(Err(StoreError::core(
                                ErrorCode::KeyChanged,
                                format!(
                                    "peer {peer_id:?} presented key {}, not its stored key {stored}, and nothing vouches for it: kept as proposed until an operator accepts it",
                                    v.key_id()
                                ),
                            )));
                        }
                    }
                    // The same key again, still unverified: answered as when it was first
                    // stored (nothing vouches, stored unverified), not as a refusal; a new KEM
                    // key it signs refreshes the record, as for a pinned key (`store_keys`),
                    // so that an operator's later acceptance verifies the peer's current keys.
                    Some(p) if e.code() == ErrorCode::Unauthorized && !p.is_verified() => {
                        let peer = self.store_keys(&v.response, None)?;
                        return Ok(Ok(Received { peer, vouch: None }));
                    }
                    Some(_) => {}
                    None => {
                        let peer = self.store_keys(&v.response, None)?;
                        return Ok(Ok(Received { peer, vouch: None }));
                    }
                }
                Ok(Err(e.into()))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    /// Stores `response`'s keys as the peer's (`peer_key_stored`), removing a different key
    /// the peer had (`peer_key_removed` with `removal_reason`).
    fn store_keys(
        &mut self,
        response: &KeyResponse,
        removal_reason: Option<&str>,
    ) -> StoreResult<PeerInfo> {
        let peer_id = &response.responder_id;
        if load_identity(&self.tx)?.is_some_and(|me| me.peer_id == *peer_id) {
            return Err(StoreError::core(
                ErrorCode::DomainMismatch,
                format!("{peer_id:?} is this registry's own peer id"),
            ));
        }
        let key_id = response.signing_key.key_id();
        if let Some(old) = load_peer(&self.tx, peer_id)? {
            if old.key_id() != key_id {
                self.append(
                    Event::PeerKeyRemoved {
                        peer_id: peer_id.clone(),
                        key_id: old.key_id(),
                        reason: removal_reason
                            .map_or_else(|| format!("replaced by key {key_id}"), str::to_owned),
                    },
                    &[],
                )?;
            } else {
                // Same signing key: the record is refreshed (a new KEM key is bound by the
                // signature of the key already stored), no new entry.
                let mut p = old;
                p.kem_key = response.kem_key.clone();
                self.put_peer(&p)?;
                return Ok(p);
            }
        }
        let seq = self.append(
            Event::PeerKeyStored {
                peer_id: peer_id.clone(),
                key_id,
            },
            &[],
        )?;
        let info = PeerInfo {
            peer_id: peer_id.clone(),
            signing_key: response.signing_key.clone(),
            kem_key: response.kem_key.clone(),
            stored_seq: seq,
            stored_at: self.now(),
            verified: None,
            proposed: None,
        };
        self.put_peer(&info)?;
        Ok(info)
    }

    fn mark_verified(&mut self, mut info: PeerInfo, rule: VouchRule) -> StoreResult<PeerInfo> {
        if info.verified.is_none() {
            let seq = self.append(
                Event::PeerKeyVerified {
                    peer_id: info.peer_id.clone(),
                    key_id: info.key_id(),
                },
                &[],
            )?;
            info.verified = Some(Verification {
                rule,
                seq,
                at: self.now(),
            });
        }
        info.proposed = None;
        self.put_peer(&info)?;
        Ok(info)
    }

    fn store_vouched(&mut self, v: &VerifiedKeyResponse, rule: VouchRule) -> StoreResult<PeerInfo> {
        let info = self.store_keys(&v.response, None)?;
        self.mark_verified(info, rule)
    }

    /// An operator's acceptance of `key_id` for `peer_id`: the peer's proposed (changed) key,
    /// which replaces the pinned one (`peer_key_removed` naming the new key, then
    /// `peer_key_stored` and `peer_key_verified`), or its stored unverified key, which is
    /// verified. Rule [`VouchRule::OperatorAccepted`]. `not_found` if the peer holds no such
    /// key. A proposed key of a weaker algorithm than the one it replaces (less post-quantum
    /// strength, or a hybrid's Ed25519 half dropped) is refused (`invalid_state`, nothing
    /// written) unless `weaker` is [`WeakerAlgorithm::Allow`]: the rule this registry's own key
    /// rotations follow.
    pub fn accept_peer_key(
        &mut self,
        peer_id: &str,
        key_id: &KeyId,
        weaker: WeakerAlgorithm,
    ) -> StoreResult<PeerInfo> {
        let p = load_peer(&self.tx, peer_id)?
            .ok_or_else(|| StoreError::not_found(format!("no peer {peer_id:?}")))?;
        if let Some(prop) = p
            .proposed
            .clone()
            .filter(|x| x.signing_key.key_id() == *key_id)
        {
            weaker.check(
                &format!("the key of peer {peer_id:?}"),
                p.signing_key.algorithm(),
                prop.signing_key.algorithm(),
            )?;
            let response = KeyResponse {
                version: PEER_MESSAGE_VERSION,
                responder_id: peer_id.into(),
                requester_id: String::new(),
                signing_key: prop.signing_key,
                kem_key: prop.kem_key,
                request_nonce: 0,
                timestamp: 0,
                nonce: 0,
            };
            let reason = format!(
                "key change accepted by an operator: {} replaced by {key_id}",
                p.key_id()
            );
            let info = self.store_keys(&response, Some(&reason))?;
            return self.mark_verified(info, VouchRule::OperatorAccepted);
        }
        if p.key_id() == *key_id {
            if p.is_verified() {
                return Err(StoreError::core(
                    ErrorCode::Replayed,
                    format!("key {key_id} of peer {peer_id:?} is already verified"),
                ));
            }
            return self.mark_verified(p, VouchRule::OperatorAccepted);
        }
        Err(StoreError::not_found(format!(
            "peer {peer_id:?} has no key {key_id} to accept"
        )))
    }

    /// Removes a peer: its key (`peer_key_removed`), its record and its exchange state except
    /// the last nonce it used, which is kept so that its old messages stay refused.
    pub fn remove_peer(&mut self, peer_id: &str, reason: &str) -> StoreResult<u64> {
        check_reason(reason)?;
        let p = load_peer(&self.tx, peer_id)?
            .ok_or_else(|| StoreError::not_found(format!("no peer {peer_id:?}")))?;
        let seq = self.append(
            Event::PeerKeyRemoved {
                peer_id: peer_id.into(),
                key_id: p.key_id(),
                reason: reason.into(),
            },
            &[],
        )?;
        self.tx.open_table(PEERS)?.remove(peer_id.as_bytes())?;
        let mut state = self.exchange_state(peer_id)?;
        state.pending.clear();
        self.put_exchange_state(peer_id, &state)?;
        Ok(seq)
    }

    /// Drops every pending request older than `config.pending_ttl`; returns how many.
    pub fn cleanup_expired_requests(&mut self, config: &ExchangeConfig) -> StoreResult<usize> {
        let now = self.now();
        let mut changed = Vec::new();
        let mut dropped = 0;
        {
            let t = self.tx.open_table(PEER_EXCHANGE)?;
            for row in t.iter()? {
                let (k, v) = row?;
                let mut state: PeerExchangeState =
                    schema::decode(v.value(), "peer exchange state")?;
                let n = config.cleanup(&mut state, now);
                if n > 0 {
                    dropped += n;
                    changed.push((k.value().to_vec(), state));
                }
            }
        }
        let mut t = self.tx.open_table(PEER_EXCHANGE)?;
        for (k, state) in changed {
            t.insert(k.as_slice(), schema::encode(&state).as_slice())?;
        }
        Ok(dropped)
    }
}

impl Registry {
    /// Sets this registry's peer identity (one transaction). See [`Txn::set_peer_identity`].
    pub fn set_peer_identity(
        &self,
        peer_id: &str,
        key_id: &KeyId,
        kem_key: &KemPublicKey,
    ) -> StoreResult<PeerIdentity> {
        self.write(|tx| tx.set_peer_identity(peer_id, key_id, kem_key))
    }

    /// This registry's peer identity, if set.
    pub fn peer_identity(&self) -> StoreResult<Option<PeerIdentity>> {
        self.read(|rtx| load_identity(&rtx))
    }

    /// Seed 004's "request keys if needed" (one transaction). See [`Txn::request_peer_keys`].
    pub fn request_peer_keys(
        &self,
        peer_id: &str,
        config: &ExchangeConfig,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Option<Vec<u8>>> {
        self.write(|tx| tx.request_peer_keys(peer_id, config, passphrase, false))
    }

    /// A key request to `peer_id` even if its keys are verified (to refresh them).
    pub fn request_peer_keys_again(
        &self,
        peer_id: &str,
        config: &ExchangeConfig,
        passphrase: Option<&Passphrase>,
    ) -> StoreResult<Vec<u8>> {
        self.write(|tx| tx.request_peer_keys(peer_id, config, passphrase, true))?
            .ok_or_else(|| StoreError::new(StoreCode::InvalidState, "no request was made"))
    }

    /// Answers a key request (one transaction), returning the response's wire bytes: the
    /// compact envelope, or with `with_proof` a bundle proving this registry's identity entry.
    pub fn respond_to_key_request(
        &self,
        request: &[u8],
        config: &ExchangeConfig,
        passphrase: Option<&Passphrase>,
        with_proof: bool,
    ) -> StoreResult<Vec<u8>> {
        if with_proof {
            // What the proof needs, before the request's nonce is spent on an answer.
            let seq = self.key_response_proof_entry()?;
            if self.bundle_needs_checkpoint(seq)? {
                self.create_checkpoint()?;
            }
        }
        let (env, _) = self.write(|tx| tx.respond_to_key_request(request, config, passphrase))?;
        if with_proof {
            Ok(self.key_response_bundle(env)?.to_bytes())
        } else {
            Ok(env.to_compact())
        }
    }

    /// The ledger entry a proof of this registry's peer identity includes (its
    /// `peer_key_stored`), once what such a proof needs is known to be there: the identity
    /// (`invalid_state` without one) and a trust root (`invalid_state`). A responder asked for
    /// a proof checks this, and that a checkpoint covers the entry, before it answers: a key
    /// request is accepted once, so one spent on an answer that cannot be proven is lost.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let e = reg.key_response_proof_entry().unwrap_err();
    /// assert_eq!(e.code().as_str(), "invalid_state");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_response_proof_entry(&self) -> StoreResult<u64> {
        let me = self.peer_identity()?.ok_or_else(|| {
            StoreError::new(
                StoreCode::InvalidState,
                "this registry has no peer identity",
            )
        })?;
        if self.trust_roots()?.is_empty() {
            return Err(StoreError::new(
                StoreCode::InvalidState,
                "a proof of this registry's peer identity needs a trust root: create one first",
            ));
        }
        Ok(me.stored_seq)
    }

    /// The bundle proving this registry's peer identity: `response` (one of its key
    /// responses) as subject, and the identity's `peer_key_stored` entry with its inclusion
    /// proof under the newest checkpoint (written first if none covers it) and the trust-root
    /// chain. Needs a trust root.
    pub fn key_response_bundle(&self, response: cairn_core::dsse::Envelope) -> StoreResult<Bundle> {
        let me = self.peer_identity()?.ok_or_else(|| {
            StoreError::new(
                StoreCode::InvalidState,
                "this registry has no peer identity",
            )
        })?;
        let b = self.bundle(me.stored_seq, response, Vec::new())?;
        // Under a checkpoint that commits to a revocation map, verifiers take only a version 2
        // bundle (`cairn_core::peer::vouch`): one that cannot be made here (the registry
        // read-only or its log key locked, its newest checkpoint older than the map) is
        // refused rather than sent to be refused.
        if b.version == cairn_core::bundle::BUNDLE_VERSION {
            let line = cairn_core::note::Note::parse(b.checkpoint.as_bytes())
                .and_then(|n| cairn_core::checkpoint::Checkpoint::parse_text(n.text()))
                .and_then(|c| c.revocations())?;
            if line.is_some() {
                return Err(StoreError::new(
                    StoreCode::InvalidState,
                    "a key response's proof needs a checkpoint of the revocation map as it stands, which this registry cannot sign now: open it for writing, with its log key",
                ));
            }
        }
        Ok(b)
    }

    /// Receives a key response (one transaction) and returns the verdict on its key. See
    /// [`Txn::receive_key_response`]; the replay state is committed whatever the verdict.
    pub fn receive_key_response(
        &self,
        response: &[u8],
        config: &ExchangeConfig,
        policy: &VouchPolicy<'_>,
    ) -> StoreResult<Received> {
        self.write(|tx| tx.receive_key_response(response, config, policy))?
    }

    /// An operator accepts a peer's key (one transaction). See [`Txn::accept_peer_key`].
    pub fn accept_peer_key(
        &self,
        peer_id: &str,
        key_id: &KeyId,
        weaker: WeakerAlgorithm,
    ) -> StoreResult<PeerInfo> {
        self.write(|tx| tx.accept_peer_key(peer_id, key_id, weaker))
    }

    /// Removes a peer (one transaction). See [`Txn::remove_peer`].
    pub fn remove_peer(&self, peer_id: &str, reason: &str) -> StoreResult<u64> {
        self.write(|tx| tx.remove_peer(peer_id, reason))
    }

    /// Drops expired pending requests (one transaction); returns how many.
    pub fn cleanup_expired_requests(&self, config: &ExchangeConfig) -> StoreResult<usize> {
        self.write(|tx| tx.cleanup_expired_requests(config))
    }

    /// One peer (`not_found` if unknown), its record checked against its ledger entries.
    pub fn peer(&self, peer_id: &str) -> StoreResult<PeerInfo> {
        self.read(|rtx| {
            let Some(t) = open_peers_read(&rtx)? else {
                return Err(StoreError::not_found(format!("no peer {peer_id:?}")));
            };
            let Some(v) = t.get(peer_id.as_bytes())? else {
                return Err(StoreError::not_found(format!("no peer {peer_id:?}")));
            };
            let info: PeerInfo = schema::decode(v.value(), "peer record")?;
            self.check_peer_once(&rtx, &info, v.value())?;
            Ok(info)
        })
    }

    /// Checks a peer record against its ledger entries, unless these very bytes were checked
    /// before under a head the registry still trusts (`kernel::known`).
    fn check_peer_once(
        &self,
        rtx: &ReadTransaction,
        info: &PeerInfo,
        bytes: &[u8],
    ) -> StoreResult<()> {
        let digest = crate::kernel::known::record_digest("peers", bytes);
        // First the snapshot's head: one adopted from another process empties the cache.
        self.head_in(rtx)?;
        if self.known_subtrees_read().record_proven(&digest) {
            return Ok(());
        }
        crate::objects::verified::Proof::new(self, rtx)?.peer(info)?;
        self.known_subtrees().insert_record(digest);
        Ok(())
    }

    /// One peer as stored, without checking it against the ledger (for measurements).
    #[doc(hidden)]
    pub fn peer_unverified(&self, peer_id: &str) -> StoreResult<Option<PeerInfo>> {
        self.read(|rtx| {
            let Some(t) = open_peers_read(&rtx)? else {
                return Ok(None);
            };
            t.get(peer_id.as_bytes())?
                .map(|v| schema::decode(v.value(), "peer record"))
                .transpose()
        })
    }

    /// Seed 004's "get signing key": the peer's signing key, only once verified
    /// (`invalid_state` before).
    pub fn peer_signing_key(&self, peer_id: &str) -> StoreResult<PublicKey> {
        let p = self.verified_peer(peer_id)?;
        Ok(p.signing_key)
    }

    /// Seed 004's "get KEM key": the peer's encapsulation key, only once verified.
    pub fn peer_kem_key(&self, peer_id: &str) -> StoreResult<KemPublicKey> {
        let p = self.verified_peer(peer_id)?;
        Ok(p.kem_key)
    }

    fn verified_peer(&self, peer_id: &str) -> StoreResult<PeerInfo> {
        let p = self.peer(peer_id)?;
        if !p.is_verified() {
            return Err(StoreError::new(
                StoreCode::InvalidState,
                format!("the keys of peer {peer_id:?} are not verified"),
            ));
        }
        Ok(p)
    }

    /// Seed 004's "has complete keys": both keys stored and verified.
    pub fn has_complete_keys(&self, peer_id: &str) -> StoreResult<bool> {
        match self.peer(peer_id) {
            Ok(p) => Ok(p.is_verified()),
            Err(e) if e.code() == StoreCode::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every stored peer, in id order, each checked against its ledger entries.
    pub fn list_peers(&self) -> StoreResult<Vec<PeerInfo>> {
        self.read(|rtx| {
            let Some(t) = open_peers_read(&rtx)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for row in t.iter()? {
                let row = row?;
                let info: PeerInfo = schema::decode(row.1.value(), "peer record")?;
                self.check_peer_once(&rtx, &info, row.1.value())?;
                out.push(info);
            }
            Ok(out)
        })
    }

    /// Seed 004's "get verified peers": the verified ones, in id order.
    pub fn list_verified_peers(&self) -> StoreResult<Vec<PeerInfo>> {
        Ok(self
            .list_peers()?
            .into_iter()
            .filter(PeerInfo::is_verified)
            .collect())
    }

    /// The highest nonce `peer_id` used under signing key `key` in a message this registry
    /// accepted.
    pub fn peer_last_nonce(&self, peer_id: &str, key: &KeyId) -> StoreResult<Option<u64>> {
        self.read(|rtx| {
            let t = match rtx.open_table(PEER_NONCES) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            Ok(t.get(nonce_key(peer_id, key).as_slice())?
                .map(|v| v.value()))
        })
    }

    /// The exchange state kept for `peer_id`: our pending requests and the last nonce we used
    /// (`last_received` is kept per signing key: [`Registry::peer_last_nonce`]).
    pub fn peer_exchange_state(&self, peer_id: &str) -> StoreResult<PeerExchangeState> {
        self.read(|rtx| {
            let t = match rtx.open_table(PEER_EXCHANGE) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Default::default()),
                Err(e) => return Err(e.into()),
            };
            Ok(match t.get(peer_id.as_bytes())? {
                Some(v) => schema::decode(v.value(), "peer exchange state")?,
                None => PeerExchangeState::default(),
            })
        })
    }
}
