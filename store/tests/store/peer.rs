//! The peer key registry: two registries exchanging keys in process, replay protection kept
//! across a restart, the vouching rules, operator acceptance of a changed key, and every change
//! recorded in the ledger.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::crypto::{Algorithm, KeyId};
use cairn_core::ledger::Event;
use cairn_core::peer::{ExchangeConfig, KemPublicKey, VouchPolicy, VouchRule};
use cairn_core::trust::{Role, RoleSet, Thresholds, VerifiedRoot};
use cairn_store::*;
use ml_kem::KeyExport;

const T0: u64 = 1_800_000_000;

pub(crate) fn kem(n: u8) -> KemPublicKey {
    let mut seed = [n; 64];
    seed[32..].fill(n ^ 0x5a);
    let dk = ml_kem::DecapsulationKey768::from_seed(seed.into());
    let ek = dk.encapsulation_key().to_bytes();
    KemPublicKey::from_bytes(&ek).unwrap()
}

struct Peer {
    dir: tempfile::TempDir,
    reg: Registry,
    clock: Arc<AtomicU64>,
    key: KeyId,
}

fn open(dir: &tempfile::TempDir, clock: &Arc<AtomicU64>) -> Registry {
    let mut reg = Registry::open(dir.path().join("r.redb"), None).unwrap();
    let c = clock.clone();
    reg.set_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    reg
}

/// A registry that is peer `id`, signing with a fresh key of `alg`.
fn peer(id: &str, alg: Algorithm, kem_n: u8) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicU64::new(T0));
    let mut reg = Registry::create(
        dir.path().join("r.redb"),
        CreateOptions::new(&format!("{id}.example.test/log"), Protection::Insecure),
    )
    .unwrap();
    let c = clock.clone();
    reg.set_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    let key = reg
        .generate_key(
            alg,
            &KeySpec::new(id, RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id;
    reg.set_peer_identity(id, &key, &kem(kem_n)).unwrap();
    Peer {
        dir,
        reg,
        clock,
        key,
    }
}

fn code(e: &StoreError) -> &'static str {
    e.code().as_str()
}

fn tofu() -> VouchPolicy<'static> {
    VouchPolicy {
        trust_on_first_use: true,
        ..Default::default()
    }
}

fn events(reg: &Registry) -> Vec<Event> {
    reg.entries(0, u64::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.entry.event)
        .collect()
}

/// `a` asks `b` for its keys; returns `b`'s response bytes.
fn exchange(a: &Peer, b: &Peer, b_id: &str, proof: bool) -> Vec<u8> {
    let cfg = ExchangeConfig::default();
    let req = a.reg.request_peer_keys_again(b_id, &cfg, None).unwrap();
    b.reg
        .respond_to_key_request(&req, &cfg, None, proof)
        .unwrap()
}

/// A request asked to be answered with a proof the responder cannot give (it has no trust
/// root) is refused before it is accepted: the same request, sent again without asking for
/// the proof, is answered, not refused as replayed.
#[test]
fn a_proof_that_cannot_be_given_spends_no_request() -> Result<(), Box<dyn std::error::Error>> {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    let req = alice.reg.request_peer_keys_again("bob", &cfg, None)?;
    let size = bob.reg.tree_size()?;
    let e = bob
        .reg
        .respond_to_key_request(&req, &cfg, None, true)
        .unwrap_err();
    assert_eq!(code(&e), "invalid_state");
    assert!(e.to_string().contains("trust root"), "{e}");
    assert_eq!(bob.reg.tree_size()?, size, "nothing written");
    let resp = bob.reg.respond_to_key_request(&req, &cfg, None, false)?;
    alice.reg.receive_key_response(&resp, &cfg, &tofu())?;
    Ok(())
}

#[test]
fn peer_exchange_first_use_then_seed_004_operations() {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::Ed25519MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    assert!(!alice.reg.has_complete_keys("bob").unwrap());
    let req = alice
        .reg
        .request_peer_keys("bob", &cfg, None)
        .unwrap()
        .unwrap();
    let resp = bob
        .reg
        .respond_to_key_request(&req, &cfg, None, false)
        .unwrap();
    let got = alice
        .reg
        .receive_key_response(&resp, &cfg, &tofu())
        .unwrap();
    assert_eq!(got.vouch.unwrap().rule, VouchRule::FirstUse);
    assert_eq!(got.peer.verified.unwrap().rule, VouchRule::FirstUse);

    assert!(alice.reg.has_complete_keys("bob").unwrap());
    let bob_pk = bob.reg.key(&bob.key).unwrap().public_key;
    assert_eq!(alice.reg.peer_signing_key("bob").unwrap(), bob_pk);
    assert_eq!(alice.reg.peer_kem_key("bob").unwrap(), kem(2));
    let verified: Vec<String> = alice
        .reg
        .list_verified_peers()
        .unwrap()
        .into_iter()
        .map(|p| p.peer_id)
        .collect();
    assert_eq!(verified, vec!["bob".to_string()]);
    // Keys known and verified: no request needed.
    assert_eq!(
        alice.reg.request_peer_keys("bob", &cfg, None).unwrap(),
        None
    );
    // Bob learned nothing about Alice's keys from her request (requests vouch for nothing),
    // but remembers her nonce.
    assert!(bob.reg.list_peers().unwrap().is_empty());
    assert!(bob
        .reg
        .peer_last_nonce("alice", &alice.key)
        .unwrap()
        .is_some());
    assert!(bob
        .reg
        .peer_exchange_state("alice")
        .unwrap()
        .last_sent
        .is_some());

    // The ledger has the key stored and verified, and the registry audits clean.
    let tail: Vec<Event> = events(&alice.reg).into_iter().rev().take(2).collect();
    assert!(
        matches!(&tail[0], Event::PeerKeyVerified { peer_id, key_id } if peer_id == "bob" && *key_id == bob.key)
    );
    assert!(
        matches!(&tail[1], Event::PeerKeyStored { peer_id, key_id } if peer_id == "bob" && *key_id == bob.key)
    );
    alice.reg.audit().unwrap();

    // Remove: a ledger entry, and the peer is gone.
    alice.reg.remove_peer("bob", "decommissioned").unwrap();
    assert!(!alice.reg.has_complete_keys("bob").unwrap());
    assert_eq!(code(&alice.reg.peer("bob").unwrap_err()), "not_found");
    assert!(
        matches!(events(&alice.reg).last().unwrap(), Event::PeerKeyRemoved { reason, .. } if reason == "decommissioned")
    );
    // Its old response is still refused (its nonce is remembered).
    let e = alice
        .reg
        .receive_key_response(&resp, &cfg, &tofu())
        .unwrap_err();
    assert_eq!(code(&e), "replayed");
    alice.reg.audit().unwrap();
}

#[test]
fn peer_replayed_and_unsolicited_responses_change_nothing() {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    let resp = exchange(&alice, &bob, "bob", false);
    alice
        .reg
        .receive_key_response(&resp, &cfg, &tofu())
        .unwrap();
    let size = alice.reg.tree_size().unwrap();
    let e = alice
        .reg
        .receive_key_response(&resp, &cfg, &tofu())
        .unwrap_err();
    assert_eq!(code(&e), "replayed");
    assert_eq!(alice.reg.tree_size().unwrap(), size);
    // A request replayed to Bob is refused too.
    let req = alice
        .reg
        .request_peer_keys_again("bob", &cfg, None)
        .unwrap();
    bob.reg
        .respond_to_key_request(&req, &cfg, None, false)
        .unwrap();
    assert_eq!(
        code(
            &bob.reg
                .respond_to_key_request(&req, &cfg, None, false)
                .unwrap_err()
        ),
        "replayed"
    );
    // A response to a request Alice never sent: Carol's registry answering Alice's request to Bob.
    let carol = peer("carol", Algorithm::MlDsa65, 3);
    let req = alice
        .reg
        .request_peer_keys_again("bob", &cfg, None)
        .unwrap();
    assert_eq!(
        code(
            &carol
                .reg
                .respond_to_key_request(&req, &cfg, None, false)
                .unwrap_err()
        ),
        "domain_mismatch"
    );
}

#[test]
fn peer_pending_requests_survive_a_restart_and_expire() {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    let req = alice
        .reg
        .request_peer_keys("bob", &cfg, None)
        .unwrap()
        .unwrap();
    // Restart between request and response.
    let Peer {
        dir,
        reg,
        clock,
        key,
    } = alice;
    drop(reg);
    let reg = open(&dir, &clock);
    assert_eq!(reg.peer_exchange_state("bob").unwrap().pending.len(), 1);
    let resp = bob
        .reg
        .respond_to_key_request(&req, &cfg, None, false)
        .unwrap();
    reg.receive_key_response(&resp, &cfg, &tofu()).unwrap();
    drop(reg);
    // Restart again: the response's nonce is still remembered.
    let reg = open(&dir, &clock);
    assert_eq!(
        code(&reg.receive_key_response(&resp, &cfg, &tofu()).unwrap_err()),
        "replayed"
    );
    let alice = Peer {
        dir,
        reg,
        clock,
        key,
    };

    // Expiry: 30 s to answer; at most 4 pending; cleanup drops expired ones.
    let req = alice
        .reg
        .request_peer_keys_again("bob", &cfg, None)
        .unwrap();
    for _ in 0..3 {
        alice
            .reg
            .request_peer_keys_again("bob", &cfg, None)
            .unwrap();
    }
    assert_eq!(
        code(
            &alice
                .reg
                .request_peer_keys_again("bob", &cfg, None)
                .unwrap_err()
        ),
        "too_large"
    );
    let resp = bob
        .reg
        .respond_to_key_request(&req, &cfg, None, false)
        .unwrap();
    alice.clock.store(T0 + 31, Ordering::SeqCst);
    assert_eq!(
        code(
            &alice
                .reg
                .receive_key_response(&resp, &cfg, &tofu())
                .unwrap_err()
        ),
        "expired"
    );
    assert_eq!(alice.reg.cleanup_expired_requests(&cfg).unwrap(), 4);
    assert!(alice
        .reg
        .peer_exchange_state("bob")
        .unwrap()
        .pending
        .is_empty());
    assert_eq!(alice.reg.cleanup_expired_requests(&cfg).unwrap(), 0);
}

/// A changed key of a weaker algorithm is refused at acceptance unless asked for, as this
/// registry's own rotations are; the view shows the proposed key's algorithm to weigh.
#[test]
fn accepting_a_weaker_peer_key_must_be_asked_for() -> Result<(), Box<dyn std::error::Error>> {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::Ed25519MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    let resp = exchange(&alice, &bob, "bob", false);
    alice.reg.receive_key_response(&resp, &cfg, &tofu())?;
    // Peers sign with ML-DSA-65, alone or in the hybrid: the hybrid's Ed25519 half dropped is
    // what weakens here.
    for (alg, seed, weaker) in [
        (Algorithm::MlDsa65, 10, true),
        (Algorithm::Ed25519MlDsa65, 11, false),
    ] {
        let next = peer("bob", alg, seed);
        let resp = exchange(&alice, &next, "bob", false);
        let e = alice
            .reg
            .receive_key_response(&resp, &cfg, &tofu())
            .unwrap_err();
        assert_eq!(code(&e), "key_changed");
        let p = alice.reg.peer("bob")?;
        assert_eq!(
            cairn_store::view::peer(&p)["proposed_algorithm"],
            alg.name(),
            "{alg}"
        );
        let size = alice.reg.tree_size()?;
        let refused = alice
            .reg
            .accept_peer_key("bob", &next.key, WeakerAlgorithm::Refuse);
        if weaker {
            let e = refused.unwrap_err();
            assert_eq!(code(&e), "invalid_state", "{alg}");
            assert!(e.to_string().contains("weaker"), "{e}");
            assert_eq!(alice.reg.tree_size()?, size, "{alg}: nothing written");
            assert_eq!(alice.reg.peer("bob")?.key_id(), bob.key);
        } else {
            assert_eq!(refused?.key_id(), next.key, "{alg}");
        }
    }
    Ok(())
}

#[test]
fn peer_key_change_is_refused_until_an_operator_accepts_it(
) -> Result<(), Box<dyn std::error::Error>> {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    let resp = exchange(&alice, &bob, "bob", false);
    alice.reg.receive_key_response(&resp, &cfg, &tofu())?;
    // "bob" comes back with another key (a new install, or a man in the middle).
    let bob2 = peer("bob", Algorithm::Ed25519MlDsa65, 9);
    let resp = exchange(&alice, &bob2, "bob", false);
    let size = alice.reg.tree_size()?;
    let e = alice
        .reg
        .receive_key_response(&resp, &cfg, &tofu())
        .unwrap_err();
    assert_eq!(code(&e), "key_changed");
    assert!(
        e.to_string().contains(&bob.key.to_hex()) && e.to_string().contains(&bob2.key.to_hex()),
        "{e}"
    );
    assert_eq!(
        alice.reg.tree_size()?,
        size,
        "a refused key writes no entry"
    );
    let p = alice.reg.peer("bob")?;
    assert_eq!(p.key_id(), bob.key, "the pin holds");
    assert_eq!(
        p.proposed
            .as_ref()
            .ok_or("a proposed key")?
            .signing_key
            .key_id(),
        bob2.key
    );
    assert_eq!(alice.reg.peer_signing_key("bob")?.key_id(), bob.key);
    // Accepting a key nobody proposed is refused.
    assert_eq!(
        code(
            &alice
                .reg
                .accept_peer_key("bob", &KeyId([3; 32]), WeakerAlgorithm::Refuse)
                .unwrap_err()
        ),
        "not_found"
    );
    // The operator accepts: removal naming the new key, then stored and verified.
    let p = alice
        .reg
        .accept_peer_key("bob", &bob2.key, WeakerAlgorithm::Refuse)?;
    assert_eq!(
        (p.key_id(), p.verified.ok_or("verified")?.rule),
        (bob2.key, VouchRule::OperatorAccepted)
    );
    assert_eq!(alice.reg.peer_kem_key("bob")?, kem(9));
    let ev = events(&alice.reg);
    let n = ev.len();
    assert!(
        matches!(&ev[n - 3], Event::PeerKeyRemoved { key_id, reason, .. }
        if *key_id == bob.key && reason.contains("accepted by an operator") && reason.contains(&bob2.key.to_hex()))
    );
    assert!(matches!(&ev[n - 2], Event::PeerKeyStored { key_id, .. } if *key_id == bob2.key));
    assert!(matches!(&ev[n - 1], Event::PeerKeyVerified { key_id, .. } if *key_id == bob2.key));
    // The old key is now the stranger.
    let resp = exchange(&alice, &bob, "bob", false);
    assert_eq!(
        code(
            &alice
                .reg
                .receive_key_response(&resp, &cfg, &tofu())
                .unwrap_err()
        ),
        "key_changed"
    );
    alice.reg.audit()?;
    Ok(())
}

#[test]
fn peer_unvouched_key_is_stored_unverified_for_an_operator(
) -> Result<(), Box<dyn std::error::Error>> {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    let resp = exchange(&alice, &bob, "bob", false);
    let got = alice
        .reg
        .receive_key_response(&resp, &cfg, &VouchPolicy::default())?;
    assert!(got.vouch.is_none() && got.peer.verified.is_none());
    assert!(!alice.reg.has_complete_keys("bob")?);
    assert_eq!(
        code(&alice.reg.peer_signing_key("bob").unwrap_err()),
        "invalid_state"
    );
    assert!(alice.reg.list_verified_peers()?.is_empty());
    assert_eq!(alice.reg.list_peers()?.len(), 1);
    // The same peer with another key nothing vouches for either: a key change, kept as
    // proposed (not a refusal for want of a token), the stored key unchanged.
    let bob2 = peer("bob", Algorithm::MlDsa65, 3);
    let resp = exchange(&alice, &bob2, "bob", false);
    let e = alice
        .reg
        .receive_key_response(&resp, &cfg, &VouchPolicy::default())
        .unwrap_err();
    assert_eq!(code(&e), "key_changed");
    assert!(e.to_string().contains(&bob2.key.to_hex()), "{e}");
    let p = alice.reg.peer("bob")?;
    assert_eq!(p.key_id(), bob.key);
    assert_eq!(
        p.proposed.ok_or("a proposed key")?.signing_key.key_id(),
        bob2.key
    );
    // Nor is first use a way to take another key for a peer already stored: it is the
    // first key seen only for a peer seen first.
    let bob3 = peer("bob", Algorithm::MlDsa65, 4);
    let resp = exchange(&alice, &bob3, "bob", false);
    let e = alice
        .reg
        .receive_key_response(&resp, &cfg, &tofu())
        .unwrap_err();
    assert_eq!(code(&e), "key_changed");
    assert_eq!(alice.reg.peer("bob")?.key_id(), bob.key);
    let p = alice
        .reg
        .accept_peer_key("bob", &bob.key, WeakerAlgorithm::Refuse)?;
    assert_eq!(
        p.verified.ok_or("verified")?.rule,
        VouchRule::OperatorAccepted
    );
    assert_eq!(
        code(
            &alice
                .reg
                .accept_peer_key("bob", &bob.key, WeakerAlgorithm::Refuse)
                .unwrap_err()
        ),
        "replayed"
    );
    alice.reg.audit()?;
    Ok(())
}

/// `a` asks `as_id` for its keys, and a response is made by hand: signed by `key`, carrying
/// KEM key `kem_n`, with the response's own `nonce` (what an implementation other than cairn,
/// free to change its KEM key, would send).
fn respond_by_hand(
    a: &Peer,
    as_id: &str,
    key: &cairn_core::crypto::SigningKey,
    kem_n: u8,
    nonce: u64,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let cfg = ExchangeConfig::default();
    let request = a.reg.request_peer_keys_again(as_id, &cfg, None)?;
    let req = cairn_core::peer::verify_key_request(&request, as_id, T0, cfg.max_skew)?.request;
    Ok(cairn_core::peer::KeyResponse {
        version: cairn_core::peer::PEER_MESSAGE_VERSION,
        responder_id: as_id.into(),
        requester_id: req.requester_id,
        signing_key: key.public_key().clone(),
        kem_key: kem(kem_n),
        request_nonce: req.nonce,
        timestamp: T0,
        nonce,
    }
    .sign(key)?
    .to_compact())
}

/// A peer stored unverified that answers again with the same signing key and a new KEM key:
/// the record takes the new KEM key (bound by the same signature), so an operator's acceptance
/// verifies the peer's current keys, not stale ones; no ledger entry is written for it.
#[test]
fn an_unverified_peers_new_kem_key_is_kept() -> Result<(), Box<dyn std::error::Error>> {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let dave = cairn_core::crypto::SigningKey::from_seed(Algorithm::MlDsa65, &[9; 32]);
    let cfg = ExchangeConfig::default();
    let nobody = VouchPolicy::default();
    let first = respond_by_hand(&alice, "dave", &dave, 5, 1)?;
    let got = alice.reg.receive_key_response(&first, &cfg, &nobody)?;
    assert!(got.vouch.is_none());
    assert_eq!(got.peer.kem_key, kem(5));
    let entries = events(&alice.reg).len();
    let second = respond_by_hand(&alice, "dave", &dave, 6, 2)?;
    let got = alice.reg.receive_key_response(&second, &cfg, &nobody)?;
    assert!(got.vouch.is_none());
    assert_eq!(got.peer.kem_key, kem(6));
    assert_eq!(events(&alice.reg).len(), entries);
    alice
        .reg
        .accept_peer_key("dave", &dave.public_key().key_id(), WeakerAlgorithm::Refuse)?;
    assert_eq!(alice.reg.peer_kem_key("dave")?, kem(6));
    alice.reg.audit()?;
    Ok(())
}

#[test]
fn peer_bootstrap_pin_refuses_a_man_in_the_middle() {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let mallory = peer("bob", Algorithm::MlDsa65, 4);
    let cfg = ExchangeConfig::default();
    // Alice's trust root pins Bob's key (role peer, label "bob").
    let bob_pk = bob.reg.key(&bob.key).unwrap().public_key;
    let pinned = alice
        .reg
        .write(|tx| tx.import_public_key(&bob_pk, &KeySpec::new("bob", RoleSet::of(&[Role::Peer]))))
        .unwrap();
    let root_key = alice
        .reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .unwrap();
    let log = alice.reg.log_key_id().unwrap();
    let spec = TrustRootSpec {
        keys: vec![root_key.key_id, log, pinned.key_id],
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1)
            .with(Role::Peer, 1),
        expires_at: T0 + 86_400,
    };
    let root = alice
        .reg
        .create_trust_root(&spec, &[(root_key.key_id, None)])
        .unwrap();
    let root = VerifiedRoot::from_pinned(&root.envelope).unwrap();
    let policy = VouchPolicy {
        bootstrap: Some(&root),
        trust_on_first_use: true,
        ..Default::default()
    };

    let resp = exchange(&alice, &mallory, "bob", false);
    let size = alice.reg.tree_size().unwrap();
    assert_eq!(
        code(
            &alice
                .reg
                .receive_key_response(&resp, &cfg, &policy)
                .unwrap_err()
        ),
        "key_mismatch"
    );
    assert_eq!(alice.reg.tree_size().unwrap(), size);
    assert!(alice.reg.list_peers().unwrap().is_empty());
    let resp = exchange(&alice, &bob, "bob", false);
    let got = alice
        .reg
        .receive_key_response(&resp, &cfg, &policy)
        .unwrap();
    assert_eq!(got.peer.verified.unwrap().rule, VouchRule::Bootstrap);
    alice.reg.audit().unwrap();
}

/// `p`'s registry publishes a trust root (a root key, its log key); the log, trusted for peer
/// `id`, and the root's spec.
fn publish_root(
    p: &Peer,
    id: &str,
) -> Result<([cairn_core::peer::PeerLog; 1], TrustRootSpec), Box<dyn std::error::Error>> {
    let root_key = p.reg.generate_key(
        Algorithm::Ed25519,
        &KeySpec::new("root", RoleSet::of(&[Role::Root])),
        &Protection::Insecure,
    )?;
    let spec = TrustRootSpec {
        keys: vec![root_key.key_id, p.reg.log_key_id()?],
        thresholds: Thresholds::default()
            .with(Role::Root, 1)
            .with(Role::Checkpoint, 1),
        expires_at: T0 + 86_400,
    };
    let root = p.reg.create_trust_root(&spec, &[(root_key.key_id, None)])?;
    let log = cairn_core::peer::PeerLog::new(id, VerifiedRoot::from_pinned(&root.envelope)?);
    Ok(([log], spec))
}

/// A peer's identity key, revoked in its registry, no longer vouches through that registry's
/// (version 2) key-transparency bundles; the registry re-keys its identity (the old key
/// removed, the new one stored, both in its ledger), and the new key vouches for a verifier
/// that had pinned nothing, while one that pinned the old key sees a change for its operator.
#[test]
fn a_revoked_identity_key_stops_vouching_and_the_identity_is_rekeyed(
) -> Result<(), Box<dyn std::error::Error>> {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let carol = peer("carol", Algorithm::MlDsa65, 3);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    let (roots, _) = publish_root(&bob, "bob")?;
    let policy = VouchPolicy {
        transparency: &roots,
        max_age: Some(3_600),
        ..Default::default()
    };
    let got =
        alice
            .reg
            .receive_key_response(&exchange(&alice, &bob, "bob", true), &cfg, &policy)?;
    let v = got.vouch.ok_or("vouched")?;
    assert_eq!(v.rule, VouchRule::Transparency);
    assert!(v.not_revoked_as_of.is_some(), "a version 2 bundle: {v:?}");

    // A response made before the revocation, bundled again after it: `revoked`.
    let made = exchange(&carol, &bob, "bob", true);
    let subject = cairn_core::bundle::Bundle::from_bytes(&made)?.subject;
    bob.reg.revoke_key(&bob.key, "leaked", &bob.key, None)?;
    let after = bob.reg.key_response_bundle(subject)?.to_bytes();
    let e = carol
        .reg
        .receive_key_response(&after, &cfg, &policy)
        .unwrap_err();
    assert_eq!(code(&e), "revoked", "{e}");
    // A revoked key answers nothing.
    let request = carol.reg.request_peer_keys_again("bob", &cfg, None)?;
    assert!(bob
        .reg
        .respond_to_key_request(&request, &cfg, None, true)
        .is_err());

    // The identity re-keyed: its id kept, the same keys again refused.
    let new_key = bob
        .reg
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new("bob-2", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )?
        .key_id;
    assert_eq!(
        code(
            &bob.reg
                .set_peer_identity("robert", &new_key, &kem(2))
                .unwrap_err()
        ),
        "invalid_state"
    );
    let me = bob.reg.set_peer_identity("bob", &new_key, &kem(2))?;
    assert_eq!(me.key_id, new_key);
    assert_eq!(
        code(
            &bob.reg
                .set_peer_identity("bob", &new_key, &kem(2))
                .unwrap_err()
        ),
        "already_exists"
    );
    let tail: Vec<Event> = events(&bob.reg).into_iter().rev().take(2).collect();
    assert!(
        matches!(&tail[1], Event::PeerKeyRemoved { key_id, .. } if *key_id == bob.key),
        "{tail:?}"
    );
    assert!(
        matches!(&tail[0], Event::PeerKeyStored { key_id, .. } if *key_id == new_key),
        "{tail:?}"
    );
    bob.reg.audit()?;
    // Carol, who pinned nothing, takes the new key on the log's word; Alice pinned the old.
    let got =
        carol
            .reg
            .receive_key_response(&exchange(&carol, &bob, "bob", true), &cfg, &policy)?;
    assert_eq!(got.peer.key_id(), new_key);
    assert_eq!(got.vouch.ok_or("vouched")?.rule, VouchRule::Transparency);
    let e = alice
        .reg
        .receive_key_response(&exchange(&alice, &bob, "bob", true), &cfg, &policy)
        .unwrap_err();
    assert_eq!(code(&e), "key_changed");
    // A new KEM key alone is published with no entry.
    let size = bob.reg.tree_size()?;
    assert_eq!(
        bob.reg.set_peer_identity("bob", &new_key, &kem(9))?.kem_key,
        kem(9)
    );
    assert_eq!(bob.reg.tree_size()?, size);
    Ok(())
}

/// A registry that cannot sign a checkpoint of its revocation map as it stands (opened
/// read-only after a revocation) refuses to answer with a proof (`invalid_state`) rather than
/// send a version 1 bundle every peer would refuse.
#[test]
fn a_read_only_registry_gives_no_version_1_proof() -> Result<(), Box<dyn std::error::Error>> {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    publish_root(&bob, "bob")?;
    let made = exchange(&alice, &bob, "bob", true);
    let subject = cairn_core::bundle::Bundle::from_bytes(&made)?.subject;
    // A revocation after the newest checkpoint: the map moves on without a checkpoint of it.
    let spare = bob.reg.generate_key(
        Algorithm::Ed25519,
        &KeySpec::new("spare", RoleSet::of(&[Role::Peer])),
        &Protection::Insecure,
    )?;
    bob.reg
        .revoke_key(&spare.key_id, "spare", &spare.key_id, None)?;
    let path = bob.dir.path().join("r.redb");
    let Peer { reg, dir, .. } = bob;
    drop(reg);
    let ro = Registry::open_read_only(&path)?;
    let e = ro.key_response_bundle(subject).unwrap_err();
    assert_eq!(code(&e), "invalid_state", "{e}");
    drop(dir);
    Ok(())
}

#[test]
fn peer_key_transparency_bundle_from_the_responders_registry() {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let cfg = ExchangeConfig::default();
    // Bob's registry publishes a trust root; Alice trusts its log.
    let Ok((roots, spec)) = publish_root(&bob, "bob") else {
        panic!("bob's trust root")
    };
    let policy = VouchPolicy {
        transparency: &roots,
        ..Default::default()
    };
    let resp = exchange(&alice, &bob, "bob", true);
    assert!(resp.starts_with(b"CBDL"));
    let got = alice
        .reg
        .receive_key_response(&resp, &cfg, &policy)
        .unwrap();
    let v = got.vouch.unwrap();
    assert_eq!(v.rule, VouchRule::Transparency);
    let (origin, _, seq) = v.logged_at.unwrap();
    assert_eq!(
        (origin.as_str(), seq),
        (
            "bob.example.test/log",
            bob.reg.peer_identity().unwrap().unwrap().stored_seq
        )
    );
    // Another registry's proof for the same peer id does not verify under Bob's root.
    let fake = peer("bob", Algorithm::MlDsa65, 5);
    let rk = fake
        .reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .unwrap();
    let spec = TrustRootSpec {
        keys: vec![rk.key_id, fake.reg.log_key_id().unwrap()],
        ..spec
    };
    fake.reg
        .create_trust_root(&spec, &[(rk.key_id, None)])
        .unwrap();
    let carol = peer("carol", Algorithm::MlDsa65, 6);
    let resp = exchange(&carol, &fake, "bob", true);
    let e = carol
        .reg
        .receive_key_response(&resp, &cfg, &policy)
        .unwrap_err();
    assert!(
        [
            "signature_invalid",
            "unknown_key",
            "threshold_not_met",
            "domain_mismatch"
        ]
        .contains(&code(&e)),
        "{e}"
    );
    assert!(carol.reg.list_peers().unwrap().is_empty());
}

#[test]
fn peer_identity_rules() {
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    assert_eq!(
        code(
            &alice
                .reg
                .set_peer_identity("alice2", &alice.key, &kem(1))
                .unwrap_err()
        ),
        "invalid_state"
    );
    assert_eq!(
        code(
            &alice
                .reg
                .set_peer_identity("alice", &alice.key, &kem(1))
                .unwrap_err()
        ),
        "already_exists"
    );
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::create(
        dir.path().join("r.redb"),
        CreateOptions::new("x.example.test/log", Protection::Insecure),
    )
    .unwrap();
    let ed = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("p", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap();
    assert_eq!(
        code(&reg.set_peer_identity("x", &ed.key_id, &kem(1)).unwrap_err()),
        "unsupported_algorithm"
    );
    let no_role = reg
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new("p", RoleSet::of(&[Role::TokenIssuer])),
            &Protection::Insecure,
        )
        .unwrap();
    assert_eq!(
        code(
            &reg.set_peer_identity("x", &no_role.key_id, &kem(1))
                .unwrap_err()
        ),
        "unauthorized"
    );
    let cfg = ExchangeConfig::default();
    assert_eq!(
        code(&reg.request_peer_keys("bob", &cfg, None).unwrap_err()),
        "invalid_state"
    );
}

#[test]
fn peer_records_edited_behind_the_registry_are_found_by_the_audit() {
    const PEERS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("peers");
    const META: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("meta");
    use redb::ReadableTable;
    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let bob = peer("bob", Algorithm::MlDsa65, 2);
    let carol = peer("carol", Algorithm::MlDsa65, 3);
    let cfg = ExchangeConfig::default();
    let got = alice
        .reg
        .receive_key_response(&exchange(&alice, &bob, "bob", false), &cfg, &tofu())
        .unwrap();
    let bob_stored = got.peer.stored_seq;
    let unvouched = alice
        .reg
        .receive_key_response(
            &exchange(&alice, &carol, "carol", false),
            &cfg,
            &VouchPolicy::default(),
        )
        .unwrap();
    assert!(unvouched.vouch.is_none());
    let identity_seq = alice.reg.peer_identity().unwrap().unwrap().stored_seq;
    alice.reg.audit().unwrap();
    let Peer { dir, reg, .. } = alice;
    drop(reg);
    let pristine = dir.path().join("r.redb");
    let edited = |name: &str, f: &dyn Fn(&redb::WriteTransaction)| {
        let p = dir.path().join(name);
        std::fs::copy(&pristine, &p).unwrap();
        let db = redb::Database::open(&p).unwrap();
        let tx = db.begin_write().unwrap();
        f(&tx);
        tx.commit().unwrap();
        drop(db);
        Registry::open(&p, None)
            .and_then(|r| r.audit())
            .expect_err("the audit must fail")
    };
    // A peer record removed: reported against the entry that stored its key.
    let e = edited("removed.redb", &|tx| {
        tx.open_table(PEERS)
            .unwrap()
            .remove(b"bob".as_slice())
            .unwrap();
    });
    assert_eq!(e.seq(), Some(bob_stored), "{e}");
    // Carol's unverified record presented as Bob's: a record whose key no entry stored.
    let e = edited("injected.redb", &|tx| {
        let mut t = tx.open_table(PEERS).unwrap();
        let carol = t
            .get(b"carol".as_slice())
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        t.remove(b"carol".as_slice()).unwrap();
        t.insert(b"bob".as_slice(), carol.as_slice()).unwrap();
    });
    assert_eq!(e.code(), StoreCode::Corrupt, "{e}");
    // This registry's own identity removed.
    let e = edited("identity.redb", &|tx| {
        tx.open_table(META)
            .unwrap()
            .remove(b"peer_identity".as_slice())
            .unwrap();
    });
    assert_eq!(e.seq(), Some(identity_seq), "{e}");
}

/// Seed 004's existing peers sign with round-3 Dilithium3: with the `legacy-dilithium` feature
/// their responses are received like any other, and the key is marked legacy.
#[cfg(feature = "legacy-dilithium")]
#[test]
fn peer_legacy_dilithium3_response_is_stored_and_marked_legacy() {
    use cairn_core::crypto::LegacySigningKey;
    use cairn_core::dsse::{Envelope, EnvelopeSignature};
    use cairn_core::peer::{verify_key_request, KeyResponse, KEY_RESPONSE_TYPE};

    let alice = peer("alice", Algorithm::MlDsa65, 1);
    let cfg = ExchangeConfig::default();
    let request = alice
        .reg
        .request_peer_keys("numi", &cfg, None)
        .unwrap()
        .unwrap();
    let req = verify_key_request(&request, "numi", T0, cfg.max_skew)
        .unwrap()
        .request;
    let old = LegacySigningKey::generate(Algorithm::Dilithium3R3).unwrap();
    let resp = KeyResponse {
        version: 1,
        responder_id: "numi".into(),
        requester_id: "alice".into(),
        signing_key: old.public_key().clone(),
        kem_key: kem(9),
        request_nonce: req.nonce,
        timestamp: T0,
        nonce: 1,
    };
    let mut env = Envelope::new(KEY_RESPONSE_TYPE, resp.to_bytes()).unwrap();
    let sig = old.sign(&env.signed_bytes());
    env.signatures.push(EnvelopeSignature {
        keyid: old.public_key().key_id(),
        sig: sig.into_bytes(),
    });
    // A forged signature is refused before anything is stored.
    let mut forged = env.clone();
    forged.signatures[0].sig[10] ^= 1;
    assert!(alice
        .reg
        .receive_key_response(&forged.to_compact(), &cfg, &tofu())
        .is_err());
    let got = alice
        .reg
        .receive_key_response(&env.to_compact(), &cfg, &tofu())
        .unwrap();
    assert_eq!(got.vouch.unwrap().rule, VouchRule::FirstUse);
    assert!(got.peer.is_legacy());
    let listed = alice.reg.list_verified_peers().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].is_legacy());
    assert_eq!(cairn_store::view::peer(&listed[0])["legacy"], true);
    assert_eq!(alice.reg.peer_kem_key("numi").unwrap(), kem(9));
    alice.reg.audit().unwrap();
}
