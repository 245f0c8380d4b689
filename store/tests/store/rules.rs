//! The ledger rule book, table-driven: every entry the writer refuses is refused, with the
//! same code, when replayed (the audit's and the import's path) and when imported from another
//! registry's export, even when the log key itself signs it.

use cairn_core::crypto::{pem, Algorithm, KeyId, SigningKey};
use cairn_core::ledger::{Event, LedgerEntry, LedgerState};
use cairn_core::manifest::ManifestClaims;
use cairn_core::trust::{Role, RoleSet};
use cairn_store::*;

struct World {
    _dir: tempfile::TempDir,
    reg: Registry,
    log: SigningKey,
    root: (KeyId, SigningKey),
    issuer: (KeyId, SigningKey),
    signer: (KeyId, SigningKey),
    other: (KeyId, SigningKey),
    expired: KeyId,
    revoked: KeyId,
    rotated: KeyId,
    token: [u8; 32],
    revoked_token: [u8; 32],
    manifest: [u8; 32],
    revoked_manifest: [u8; 32],
    /// This registry's peer identity ("me") and a peer ("p") whose key it stored and verified.
    me: KeyId,
    peer: KeyId,
}

fn secret(reg: &Registry, id: &KeyId) -> SigningKey {
    let text = reg.export_private_pem(id, None).unwrap();
    pem::signing_key_from_pem(&text).unwrap()
}

fn key(reg: &Registry, label: &str, roles: &[Role], expires_at: Option<u64>) -> KeyId {
    let spec = KeySpec {
        label: label.into(),
        roles: RoleSet::of(roles),
        expires_at,
    };
    reg.generate_key(Algorithm::Ed25519, &spec, &Protection::Insecure)
        .unwrap()
        .key_id
}

/// A registry holding one of everything a rule can refer to.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = CreateOptions::new("rules.example.test/log", Protection::Insecure);
    opts.log_algorithm = Algorithm::Ed25519;
    let mut reg = Registry::create(dir.path().join("r.redb"), opts).unwrap();
    let t0 = 1_800_000_000u64;
    let now = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(t0));
    let clock = now.clone();
    reg.set_clock(std::sync::Arc::new(move || {
        clock.load(std::sync::atomic::Ordering::SeqCst)
    }));
    let root = key(&reg, "root", &[Role::Root], None);
    let issuer = key(&reg, "issuer", &[Role::TokenIssuer], None);
    let signer = key(&reg, "signer", &[Role::ManifestSigner], None);
    let other = key(&reg, "other", &[Role::Peer], None);
    let expired = key(
        &reg,
        "expired",
        &[Role::TokenIssuer, Role::ManifestSigner],
        Some(t0 + 10),
    );
    let revoked = key(
        &reg,
        "revoked",
        &[Role::TokenIssuer, Role::ManifestSigner],
        None,
    );
    let rotated = key(&reg, "rotated", &[Role::ManifestSigner], None);
    reg.revoke_key(&revoked, "lost", &root, None).unwrap();
    reg.rotate_key(
        &rotated,
        None,
        Algorithm::Ed25519,
        WeakerAlgorithm::Refuse,
        &Protection::Insecure,
    )
    .unwrap();
    let holder = reg.key(&other).unwrap().public_key;
    let req = TokenRequest::new(holder, "svc", &["read"], 3600);
    let token = reg.issue_token(&issuer, None, &req).unwrap().id;
    let revoked_token = reg.issue_token(&issuer, None, &req).unwrap().id;
    reg.revoke_token(&revoked_token, "done", &issuer, None)
        .unwrap();
    let claims = |name: &str| ManifestClaims::new(name, "text/plain", 1, [7; 32], t0);
    let manifest = reg
        .write(|tx| tx.sign_manifest(&signer, None, &claims("a")))
        .unwrap()
        .digest;
    let revoked_manifest = reg
        .write(|tx| tx.sign_manifest(&signer, None, &claims("b")))
        .unwrap()
        .digest;
    reg.revoke_manifest(&revoked_manifest, "bad", &signer, None)
        .unwrap();
    // Peers: this registry is "me"; it exchanged keys with "p" and verified them.
    let me = reg
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new("me", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id;
    reg.set_peer_identity("me", &me, &crate::peer::kem(1))
        .unwrap();
    let p_dir = tempfile::tempdir().unwrap();
    let mut p = Registry::create(
        p_dir.path().join("p.redb"),
        CreateOptions::new("p.example.test/log", Protection::Insecure),
    )
    .unwrap();
    let p_clock = now.clone();
    p.set_clock(std::sync::Arc::new(move || {
        p_clock.load(std::sync::atomic::Ordering::SeqCst)
    }));
    let peer = p
        .generate_key(
            Algorithm::MlDsa65,
            &KeySpec::new("p", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap()
        .key_id;
    p.set_peer_identity("p", &peer, &crate::peer::kem(2))
        .unwrap();
    let cfg = cairn_core::peer::ExchangeConfig::default();
    let request = reg.request_peer_keys("p", &cfg, None).unwrap().unwrap();
    let response = p
        .respond_to_key_request(&request, &cfg, None, false)
        .unwrap();
    let tofu = cairn_core::peer::VouchPolicy {
        trust_on_first_use: true,
        ..Default::default()
    };
    reg.receive_key_response(&response, &cfg, &tofu).unwrap();
    // A handle registered under blind index HANDLE.
    reg.register_handle(&HANDLE, b"sealed identity").unwrap();
    // Time passes: `expired` is now past its expiry.
    now.store(t0 + 100, std::sync::atomic::Ordering::SeqCst);
    let log = secret(&reg, &reg.log_key_id().unwrap());
    World {
        log,
        root: (root, secret(&reg, &root)),
        issuer: (issuer, secret(&reg, &issuer)),
        signer: (signer, secret(&reg, &signer)),
        other: (other, secret(&reg, &other)),
        expired,
        revoked,
        rotated,
        token,
        revoked_token,
        manifest,
        revoked_manifest,
        me,
        peer,
        reg,
        _dir: dir,
    }
}

/// The blind index of the registered handle (its identity record is "sealed identity").
const HANDLE: [u8; 32] = [0x4b; 32];

/// One forbidden entry: the event, the keys that sign it besides the log key, and the code
/// every path must refuse it with.
struct Case<'a> {
    name: &'static str,
    event: Event,
    consents: Vec<&'a SigningKey>,
    code: &'static str,
}

fn cases(w: &World) -> Vec<Case<'_>> {
    let unknown = KeyId([0xAB; 32]);
    let log_id = w.log.public_key().key_id();
    fn c<'a>(
        name: &'static str,
        event: Event,
        consents: &[&'a SigningKey],
        code: &'static str,
    ) -> Case<'a> {
        Case {
            name,
            event,
            consents: consents.to_vec(),
            code,
        }
    }
    let revoke_key = |key_id, revoker| Event::KeyRevoked {
        key_id,
        reason: "r".into(),
        revoker,
    };
    let revoke_token = |token_id, revoker| Event::TokenRevoked {
        token_id,
        reason: "r".into(),
        revoker,
    };
    let revoke_manifest = |manifest_digest, revoker| Event::ManifestRevoked {
        manifest_digest,
        reason: "r".into(),
        revoker,
    };
    let issue = |token_id, issuer| Event::TokenIssued {
        token_id,
        issuer,
        audience: "svc".into(),
        expires_at: 1_900_000_000,
    };
    let sign = |manifest_digest, signer| Event::ManifestSigned {
        manifest_digest,
        artifact_name: "x".into(),
        artifact_sha256: [1; 32],
        signers: vec![signer],
    };
    let issuer_pk = w.issuer.1.public_key().clone();
    vec![
        c(
            "key added twice",
            Event::KeyAdded {
                public_key: issuer_pk,
                label: "again".into(),
                roles: RoleSet::of(&[Role::Peer]),
                expires_at: None,
            },
            &[],
            "replayed",
        ),
        c(
            "key added without roles",
            Event::KeyAdded {
                public_key: SigningKey::from_seed(Algorithm::Ed25519, &[9; 32])
                    .public_key()
                    .clone(),
                label: "none".into(),
                roles: RoleSet::default(),
                expires_at: None,
            },
            &[],
            "malformed",
        ),
        c(
            "rotation of a rotated key",
            Event::KeyRotated {
                old: w.rotated,
                new: w.signer.0,
            },
            &[&w.signer.1],
            "chain_broken",
        ),
        c(
            "rotation to an unknown key",
            Event::KeyRotated {
                old: w.issuer.0,
                new: unknown,
            },
            &[&w.issuer.1],
            "unknown_key",
        ),
        c(
            "rotation to a key with other roles",
            Event::KeyRotated {
                old: w.issuer.0,
                new: w.other.0,
            },
            &[&w.issuer.1, &w.other.1],
            "unauthorized",
        ),
        c(
            "rotation without the old key's consent",
            Event::KeyRotated {
                old: w.signer.0,
                new: w.rotated_successor(),
            },
            &[],
            "unknown_key",
        ),
        c(
            "key revoked by a key without the root role",
            revoke_key(w.issuer.0, w.other.0),
            &[&w.other.1],
            "unauthorized",
        ),
        c(
            "key revoked without the revoker's consent",
            revoke_key(w.issuer.0, w.root.0),
            &[],
            "unknown_key",
        ),
        c(
            "key revoked with another key's signature",
            revoke_key(w.issuer.0, w.root.0),
            &[&w.other.1],
            "unknown_key",
        ),
        c(
            "the log key revoked",
            revoke_key(log_id, w.root.0),
            &[&w.root.1],
            "unauthorized",
        ),
        c(
            "a key revoked twice",
            revoke_key(w.revoked, w.root.0),
            &[&w.root.1],
            "replayed",
        ),
        c(
            "a key revoked by an unknown key",
            revoke_key(w.issuer.0, unknown),
            &[],
            "unknown_key",
        ),
        c(
            "trust root version skipped",
            Event::TrustRootUpdated {
                root_version: 5,
                root_id: [3; 32],
            },
            &[],
            "chain_broken",
        ),
        c(
            "unknown node deregistered",
            Event::NodeDeregistered {
                node_id: "ghost".into(),
                reason: String::new(),
            },
            &[],
            "chain_broken",
        ),
        c(
            "token issued twice",
            issue(w.token, w.issuer.0),
            &[],
            "replayed",
        ),
        c(
            "token issued by a revoked key",
            issue([4; 32], w.revoked),
            &[],
            "revoked",
        ),
        c(
            "token issued by an expired key",
            issue([5; 32], w.expired),
            &[],
            "expired",
        ),
        c(
            "token issued by an unknown key",
            issue([6; 32], unknown),
            &[],
            "unknown_key",
        ),
        c(
            "token issued by a rotated key",
            issue([7; 32], w.rotated),
            &[],
            "unauthorized",
        ),
        c(
            "token revoked by a stranger",
            revoke_token(w.token, w.other.0),
            &[&w.other.1],
            "unauthorized",
        ),
        c(
            "token revoked without consent",
            revoke_token(w.token, w.issuer.0),
            &[],
            "unknown_key",
        ),
        c(
            "unknown token revoked",
            revoke_token([8; 32], w.root.0),
            &[&w.root.1],
            "chain_broken",
        ),
        c(
            "token revoked twice",
            revoke_token(w.revoked_token, w.root.0),
            &[&w.root.1],
            "replayed",
        ),
        c(
            "manifest signed by a key without the role",
            sign([10; 32], w.other.0),
            &[],
            "unauthorized",
        ),
        c(
            "manifest signed by a revoked key",
            sign([11; 32], w.revoked),
            &[],
            "revoked",
        ),
        c(
            "manifest signed by an expired key",
            sign([12; 32], w.expired),
            &[],
            "expired",
        ),
        c(
            "manifest signed twice",
            sign(w.manifest, w.signer.0),
            &[],
            "replayed",
        ),
        c(
            "unknown manifest co-signed",
            Event::ManifestCosigned {
                manifest_digest: [13; 32],
                signers: vec![w.signer.0],
            },
            &[],
            "chain_broken",
        ),
        c(
            "manifest co-signed by a signer again",
            Event::ManifestCosigned {
                manifest_digest: w.manifest,
                signers: vec![w.signer.0],
            },
            &[],
            "replayed",
        ),
        c(
            "manifest co-signed past the signatures an envelope holds",
            Event::ManifestCosigned {
                manifest_digest: w.manifest,
                signers: (1..=cairn_core::dsse::MAX_SIGNATURES as u8)
                    .map(|i| KeyId([i; 32]))
                    .collect(),
            },
            &[],
            "too_large",
        ),
        c(
            "revoked manifest co-signed",
            Event::ManifestCosigned {
                manifest_digest: w.revoked_manifest,
                signers: vec![w.issuer.0],
            },
            &[],
            "revoked",
        ),
        c(
            "manifest co-signed by a key without the role",
            Event::ManifestCosigned {
                manifest_digest: w.manifest,
                signers: vec![w.other.0],
            },
            &[],
            "unauthorized",
        ),
        c(
            "manifest revoked by a stranger",
            revoke_manifest(w.manifest, w.other.0),
            &[&w.other.1],
            "unauthorized",
        ),
        c(
            "manifest revoked without consent",
            revoke_manifest(w.manifest, w.signer.0),
            &[],
            "unknown_key",
        ),
        c(
            "unknown manifest revoked",
            revoke_manifest([14; 32], w.root.0),
            &[&w.root.1],
            "chain_broken",
        ),
        c(
            "manifest revoked twice",
            revoke_manifest(w.revoked_manifest, w.root.0),
            &[&w.root.1],
            "replayed",
        ),
        c(
            "peer key stored twice",
            Event::PeerKeyStored {
                peer_id: "p".into(),
                key_id: w.peer,
            },
            &[],
            "replayed",
        ),
        c(
            "own peer key stored twice",
            Event::PeerKeyStored {
                peer_id: "me".into(),
                key_id: w.me,
            },
            &[],
            "replayed",
        ),
        c(
            "peer key verified twice",
            Event::PeerKeyVerified {
                peer_id: "p".into(),
                key_id: w.peer,
            },
            &[],
            "replayed",
        ),
        c(
            "peer key of another peer verified",
            Event::PeerKeyVerified {
                peer_id: "q".into(),
                key_id: w.peer,
            },
            &[],
            "chain_broken",
        ),
        c(
            "unstored peer key verified",
            Event::PeerKeyVerified {
                peer_id: "p".into(),
                key_id: w.other.0,
            },
            &[],
            "chain_broken",
        ),
        c(
            "unstored peer key removed",
            Event::PeerKeyRemoved {
                peer_id: "p".into(),
                key_id: w.other.0,
                reason: String::new(),
            },
            &[],
            "chain_broken",
        ),
        c(
            "held handle registered again",
            Event::HandleRegistered {
                blind_index: HANDLE,
                identity_digest: [1; 32],
                previous: None,
            },
            &[],
            "replayed",
        ),
        c(
            "free handle re-registered",
            Event::HandleRegistered {
                blind_index: [0x4c; 32],
                identity_digest: [1; 32],
                previous: Some(cairn_core::ledger::PreviousDigest([2; 32])),
            },
            &[],
            "chain_broken",
        ),
        c(
            "handle re-registered over an identity it does not hold",
            Event::HandleRegistered {
                blind_index: HANDLE,
                identity_digest: [1; 32],
                previous: Some(cairn_core::ledger::PreviousDigest([2; 32])),
            },
            &[],
            "digest_mismatch",
        ),
        c(
            "free handle removed",
            Event::HandleRemoved {
                blind_index: [0x4c; 32],
                identity_digest: [1; 32],
                reason: String::new(),
            },
            &[],
            "chain_broken",
        ),
        c(
            "handle removed naming another identity",
            Event::HandleRemoved {
                blind_index: HANDLE,
                identity_digest: [1; 32],
                reason: String::new(),
            },
            &[],
            "digest_mismatch",
        ),
    ]
}

impl World {
    fn rotated_successor(&self) -> KeyId {
        match self.reg.key(&self.rotated).unwrap().status {
            KeyStatus::Rotated { successor, .. } => successor,
            s => panic!("not rotated: {s:?}"),
        }
    }

    /// The case's entry as the next entry of this ledger, signed by the log key and the
    /// consenting keys: what an attacker holding the log key could produce.
    fn forge(&self, case: &Case) -> (LedgerEntry, cairn_core::dsse::Envelope) {
        let head = self.reg.head().unwrap();
        let entry = LedgerEntry::new(
            head.next_seq,
            self.reg.now().max(head.last_time),
            head.head_hash,
            case.event.clone(),
        );
        let mut signers: Vec<&SigningKey> = vec![&self.log];
        signers.extend(case.consents.iter().copied());
        let env = cairn_core::ledger::sign_entry(&entry, &signers).unwrap();
        (entry, env)
    }

    /// This registry's export with `forged` appended as its next entry.
    fn export_with(&self, forged: &cairn_core::dsse::Envelope) -> Vec<u8> {
        let entries = self.reg.entries(0, u64::MAX).unwrap();
        let mut out = Vec::new();
        let mut w =
            ExportWriter::new(&mut out, self.reg.origin(), entries.len() as u64 + 1).unwrap();
        let first = self
            .reg
            .checkpoints()
            .unwrap()
            .into_iter()
            .find(|c| c.size == 1)
            .unwrap();
        for (i, e) in entries.iter().enumerate() {
            w.entry(&e.envelope.to_compact()).unwrap();
            if i == 0 {
                w.checkpoint(&first.note).unwrap();
            }
        }
        w.entry(&forged.to_compact()).unwrap();
        drop(w);
        out
    }
}

fn store_code(e: &StoreError) -> &'static str {
    e.code().as_str()
}

#[test]
fn every_entry_the_writer_refuses_is_refused_on_replay_and_import() {
    let w = world();
    let size = w.reg.tree_size().unwrap();
    let table = cases(&w);
    for case in &table {
        // The writer.
        let err = w
            .reg
            .write(|tx| tx.append_event(case.event.clone(), &case.consents))
            .expect_err(case.name);
        assert_eq!(store_code(&err), case.code, "writer, {}: {err}", case.name);
        assert_eq!(err.seq(), Some(size), "writer, {}", case.name);
        assert_eq!(
            w.reg.tree_size().unwrap(),
            size,
            "{}: nothing was written",
            case.name
        );

        // The replay of this ledger, then the forged entry signed by the log key.
        let (entry, env) = w.forge(case);
        let mut state = LedgerState::new();
        for e in w.reg.entries(0, u64::MAX).unwrap() {
            state.apply(&e.entry, &e.envelope).unwrap();
        }
        let err = state.apply(&entry, &env).expect_err(case.name);
        assert_eq!(
            err.code().as_str(),
            case.code,
            "replay, {}: {err}",
            case.name
        );

        // The import of an export carrying it.
        let stream = w.export_with(&env);
        let err = verify_export(&stream[..], &ExportExpectation::default()).expect_err(case.name);
        assert_eq!(store_code(&err), case.code, "import, {}: {err}", case.name);
        assert_eq!(err.seq(), Some(size), "import, {}", case.name);
    }
    // The writer's own operations passed the same rules: the registry audits clean.
    w.reg.audit().unwrap();
}

#[test]
fn the_table_covers_every_event_kind_with_a_precondition() {
    let w = world();
    let covered: std::collections::BTreeSet<&str> =
        cases(&w).iter().map(|c| c.event.kind()).collect();
    for kind in Event::KINDS {
        // Kinds with no precondition: provenance and notes are always allowed.
        let unconditional = matches!(kind, "imported" | "audit_note" | "node_registered");
        assert_eq!(covered.contains(kind), !unconditional, "{kind}");
    }
}

#[test]
fn allowed_entries_pass_every_path() {
    let w = world();
    let note = Event::AuditNote {
        text: "checked".into(),
    };
    let seq = w
        .reg
        .write(|tx| tx.append_event(note.clone(), &[]))
        .unwrap();
    assert_eq!(seq + 1, w.reg.tree_size().unwrap());
    // A root-role key may revoke another's token: allowed on every path.
    let case = Case {
        name: "root revokes a token",
        event: Event::TokenRevoked {
            token_id: w.token,
            reason: "r".into(),
            revoker: w.root.0,
        },
        consents: vec![&w.root.1],
        code: "",
    };
    let (entry, env) = w.forge(&case);
    let mut state = LedgerState::new();
    for e in w.reg.entries(0, u64::MAX).unwrap() {
        state.apply(&e.entry, &e.envelope).unwrap();
    }
    state.apply(&entry, &env).unwrap();
    let consents = [&w.root.1];
    w.reg
        .write(|tx| tx.append_event(case.event.clone(), &consents))
        .unwrap();
}
