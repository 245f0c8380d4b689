//! The red-team catalogue of seed 001 (cases RED-TEAM-001 to 014), each mapped to a concrete
//! cairn test that fails if cairn gives way: the case id is in the test's name, [`CATALOGUE`]
//! lists every case, and docs/SECURITY.md (*Red-team catalogue*) carries the same table, which
//! `catalogue_is_complete_and_documented` keeps in step.
//!
//! Cases run against cairn-core (pure verifiers), cairn-store (the registry) and the `cairn`
//! binary (what an operator runs), whichever the attack goes through.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::bundle::example::{MemoryRegistry, NOW, ORIGIN};
use cairn_core::bundle::{verify_bundle, Bundle, BundlePolicy};
use cairn_core::checkpoint::{
    verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier, LastSeen,
};
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_decode, b64_encode, hex_encode};
use cairn_core::ledger::{sign_entry, ChainVerifier, Event, LedgerEntry, LedgerState, ZERO_HASH};
use cairn_core::manifest::{verify_manifest, ArtifactCheck, ManifestClaims};
use cairn_core::merkle::{leaf_hash, root_of};
use cairn_core::token::{verify_token, TokenBuilder, VerifyOptions};
use cairn_core::trust::{
    sign_root, verify_rotation_chain, Role, RoleSet, Thresholds, TrustRoot, TrustedKey,
    VerifiedRoot,
};
use cairn_core::ErrorCode;
use cairn_store::{CreateOptions, KeySpec, Protection, Registry, TokenRequest, WeakerAlgorithm};

/// Every case of the catalogue: id, category, what is attacked, the test that attacks it.
const CATALOGUE: &[(&str, &str, &str, &str)] = &[
    ("001", "signature forgery", "random signature bytes in place of a real signature (Ed25519, ML-DSA-44/65, hybrid) on tokens, manifests and checkpoints", "red_team_001_random_forgery"),
    ("002", "signature forgery", "a signed object modified after signing (every byte of a token payload, a checkpoint body)", "red_team_002_message_modification"),
    ("003", "signature forgery", "an object signed by a key the verifier does not trust, or claiming a trusted key's id", "red_team_003_wrong_key"),
    ("004", "key compromise", "a leaked issuer key after rotation (tokens it mints elsewhere) and after revocation (what it issued)", "red_team_004_compromised_key"),
    ("005", "key compromise", "trust-root rotation not signed by both the old and the new root keys, or skipping a version", "red_team_005_dual_signed_rotation"),
    ("006", "replay", "stale objects by time: an expired token, a token not yet valid, an expired trust root, an older checkpoint than the last one seen", "red_team_006_replay_by_timestamp"),
    ("007", "replay", "the same token (same nonce) recorded twice, a ledger entry replayed, two issues of one request", "red_team_007_replay_by_nonce"),
    ("008", "checkpoint corruption", "every bit of a signed checkpoint note flipped, and bits of a bundle", "red_team_008_checkpoint_bit_flip"),
    ("009", "checkpoint corruption", "every truncation of a checkpoint note and of a bundle", "red_team_009_checkpoint_truncation"),
    ("010", "checkpoint corruption", "malformed signature lines: bad base64, short, zero, non-canonical Ed25519 S, wrong key hash, wrong type", "red_team_010_malformed_signature"),
    ("011", "exfiltration", "secret key material in any exported, public or printed object of the CLI (a scan for the seeds in raw, hex and base64 form)", "red_team_011_no_secret_in_public_objects"),
    ("012", "exfiltration", "private keys readable from the registry file at rest (sealed keys must not appear; the scan finds insecure ones)", "red_team_012_keys_sealed_at_rest"),
    ("013", "latency SLO", "signing latency against the seed's 50 ms p95 target: measured by the benches (benches/store.rs 'single op p50', figures in docs/PERFORMANCE.md), never asserted by a timed test; the test checks the bench row exists and the slowest suite signs correctly", "red_team_013_sign_latency_slo"),
    ("014", "latency SLO", "verification latency against the seed's 10 ms p95 target: measured by the benches (benches/verify.rs, docs/PERFORMANCE.md), never asserted by a timed test; the test checks the bench rows exist and the slowest suite verifies correctly, and refuses a wrong key", "red_team_014_verify_latency_slo"),
];

const SUITES: [Algorithm; 5] = [
    Algorithm::Ed25519,
    Algorithm::MlDsa44,
    Algorithm::MlDsa65,
    Algorithm::Ed25519MlDsa44,
    Algorithm::Ed25519MlDsa65,
];

fn key(alg: Algorithm, n: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}

/// A small deterministic generator (xorshift64*), so every run attacks the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn manifest(signer: &SigningKey) -> Envelope {
    let claims = ManifestClaims::new("app.tar", "application/x-tar", 3, [9; 32], NOW - 10);
    let mut env = claims.to_envelope().unwrap();
    env.sign_deterministic(signer).unwrap();
    env
}

fn token(issuer: &SigningKey, not_before: u64, expires: u64, nonce: [u8; 16]) -> Envelope {
    TokenBuilder::new(key(Algorithm::Ed25519, 200).public_key().clone())
        .audience("svc.example")
        .capability("read")
        .validity(not_before, expires)
        .nonce(nonce)
        .deterministic()
        .issue(issuer)
        .unwrap()
}

fn checkpoint_note(keys: &[&SigningKey], size: u64) -> String {
    let leaves: Vec<_> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let signers: Vec<(&str, &SigningKey)> = keys.iter().map(|k| (ORIGIN, *k)).collect();
    Checkpoint::new(ORIGIN, size, root_of(&leaves))
        .sign_deterministic(&signers)
        .unwrap()
}

fn verifiers(keys: &[&SigningKey]) -> Vec<CheckpointVerifier> {
    keys.iter()
        .map(|k| CheckpointVerifier {
            name: ORIGIN.into(),
            public_key: k.public_key().clone(),
        })
        .collect()
}

fn code<T>(r: Result<T, cairn_core::Error>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code().as_str(),
    }
}

#[test]
fn catalogue_is_complete_and_documented() {
    let ids: Vec<&str> = CATALOGUE.iter().map(|c| c.0).collect();
    let want: Vec<String> = (1..=14).map(|i| format!("{i:03}")).collect();
    assert_eq!(ids, want, "every case of seed 001, in order, once");
    let this = include_str!("redteam.rs");
    let security =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/SECURITY.md"))
            .unwrap();
    for (id, _, _, test) in CATALOGUE {
        assert!(test.contains(id), "{test} names its case {id}");
        assert!(
            this.contains(&format!("fn {test}()")),
            "{test} is a test of this file"
        );
        let row = security
            .lines()
            .find(|l| l.starts_with(&format!("| RED-TEAM-{id} ")))
            .unwrap_or_else(|| panic!("docs/SECURITY.md has no row for RED-TEAM-{id}"));
        assert!(row.contains(test), "the row of {id} names {test}: {row}");
    }
}

#[test]
fn red_team_001_random_forgery() {
    let mut rng = Rng(0x0001);
    for alg in SUITES {
        let k = key(alg, 1);
        let trusted = [k.public_key().clone()];
        // Manifests: the signature replaced by random bytes of the right length, and of other
        // lengths; a random signature under the right key id.
        let genuine = manifest(&k);
        assert_eq!(
            code(verify_manifest(&genuine, &trusted, 1, ArtifactCheck::None)),
            "ok"
        );
        let len = genuine.signatures[0].sig.len();
        for n in [len, len - 1, len + 1, 64, 0] {
            for _ in 0..4 {
                let mut forged = genuine.clone();
                forged.signatures[0].sig = rng.bytes(n);
                let c = code(verify_manifest(&forged, &trusted, 1, ArtifactCheck::None));
                assert!(
                    ["signature_invalid", "malformed"].contains(&c),
                    "{alg:?}, {n} random bytes: {c}"
                );
            }
        }
        // Tokens: the same, through the token verifier.
        let t = token(&k, NOW - 10, NOW + 3600, [1; 16]);
        let mut forged = t.clone();
        forged.signatures[0].sig = rng.bytes(forged.signatures[0].sig.len());
        let r = verify_token(
            &forged,
            &[],
            &trusted,
            NOW,
            &[][..],
            &VerifyOptions::default(),
        );
        assert_eq!(code(r), "signature_invalid", "{alg:?} token");
    }
    // Checkpoints: random signature bytes in each line of a hybrid note.
    let log = key(Algorithm::Ed25519MlDsa44, 2);
    let note = checkpoint_note(&[&log], 5);
    let v = verifiers(&[&log]);
    let policy = CheckpointPolicy::new(ORIGIN);
    assert_eq!(code(verify_checkpoint(note.as_bytes(), &v, &policy)), "ok");
    let (body, sigs) = note.split_once("\n\n").unwrap();
    for (i, _) in sigs.lines().enumerate() {
        let lines: Vec<String> = sigs
            .lines()
            .enumerate()
            .map(|(j, l)| {
                if i != j {
                    return l.to_string();
                }
                let (head, b64) = l.rsplit_once(' ').unwrap();
                let raw = b64_decode(b64).unwrap();
                let mut forged = raw[..4].to_vec(); // keep the key hash: the line is "from" the key
                forged.extend(rng.bytes(raw.len() - 4));
                format!("{head} {}", b64_encode(&forged))
            })
            .collect();
        let forged = format!("{body}\n\n{}\n", lines.join("\n"));
        assert_eq!(
            code(verify_checkpoint(forged.as_bytes(), &v, &policy)),
            "signature_invalid",
            "line {i}"
        );
    }
}

#[test]
fn red_team_002_message_modification() {
    for alg in SUITES {
        let k = key(alg, 3);
        let trusted = [k.public_key().clone()];
        let t = token(&k, NOW - 10, NOW + 3600, [2; 16]);
        // Every byte of the payload, and the payload type.
        for i in 0..t.payload.len() {
            let mut m = t.clone();
            m.payload[i] ^= 0x01;
            let r = verify_token(&m, &[], &trusted, NOW, &[][..], &VerifyOptions::default());
            assert_eq!(code(r), "signature_invalid", "{alg:?} payload byte {i}");
        }
        let mut m = t.clone();
        m.payload.push(0);
        let r = verify_token(&m, &[], &trusted, NOW, &[][..], &VerifyOptions::default());
        assert_eq!(code(r), "signature_invalid", "{alg:?} appended byte");
        // The same signature presented as another kind of object.
        let mut as_manifest = t.clone();
        as_manifest.payload_type = cairn_core::manifest::MANIFEST_PAYLOAD_TYPE.into();
        let c = code(verify_manifest(
            &as_manifest,
            &trusted,
            1,
            ArtifactCheck::None,
        ));
        assert!(["signature_invalid", "domain_mismatch"].contains(&c), "{c}");
    }
    // A checkpoint whose size or root is changed after signing.
    let log = key(Algorithm::Ed25519MlDsa44, 4);
    let note = checkpoint_note(&[&log], 7);
    let v = verifiers(&[&log]);
    let policy = CheckpointPolicy::new(ORIGIN);
    let grown = note.replacen("\n7\n", "\n8\n", 1);
    assert_eq!(
        code(verify_checkpoint(grown.as_bytes(), &v, &policy)),
        "signature_invalid"
    );
    let other_root = checkpoint_note(&[&log], 6);
    let root_line = |n: &str| n.lines().nth(2).unwrap().to_string();
    let swapped = note.replacen(&root_line(&note), &root_line(&other_root), 1);
    assert_eq!(
        code(verify_checkpoint(swapped.as_bytes(), &v, &policy)),
        "signature_invalid"
    );
    // A bundle whose subject was changed: refused before anything in it is believed.
    let mut reg = MemoryRegistry::new(5);
    let (m, seq) = reg.sign_artifact("a.bin", b"artifact").unwrap();
    let b = reg.bundle(seq, m, vec![]).unwrap();
    let mut changed = b.clone();
    let last = changed.subject.payload.len() - 1;
    changed.subject.payload[last] ^= 0x01;
    let c = code(verify_bundle(
        &changed,
        &reg.pinned(),
        NOW,
        &BundlePolicy::default(),
    ));
    assert!(
        ["signature_invalid", "proof_invalid", "malformed"].contains(&c),
        "{c}"
    );
    assert_eq!(
        code(verify_bundle(
            &b,
            &reg.pinned(),
            NOW,
            &BundlePolicy::default()
        )),
        "ok"
    );
}

#[test]
fn red_team_003_wrong_key() {
    for alg in SUITES {
        let signer = key(alg, 6);
        let trusted = key(alg, 7);
        let m = manifest(&signer);
        let r = verify_manifest(&m, &[trusted.public_key().clone()], 1, ArtifactCheck::None);
        assert_eq!(code(r), "unknown_key", "{alg:?}");
        // The attacker's signature relabelled with the trusted key's id.
        let mut claimed = m.clone();
        claimed.signatures[0].keyid = trusted.public_key().key_id();
        let r = verify_manifest(
            &claimed,
            &[trusted.public_key().clone()],
            1,
            ArtifactCheck::None,
        );
        assert_eq!(code(r), "signature_invalid", "{alg:?} claimed key id");
    }
    // A token issuer that is trusted for nothing; a checkpoint signed by another log key.
    let stranger = key(Algorithm::Ed25519, 8);
    let t = token(&stranger, NOW - 10, NOW + 60, [3; 16]);
    let trusted = [key(Algorithm::Ed25519, 9).public_key().clone()];
    let r = verify_token(&t, &[], &trusted, NOW, &[][..], &VerifyOptions::default());
    assert_eq!(code(r), "unknown_key");
    let note = checkpoint_note(&[&stranger], 3);
    let v = verifiers(&[&key(Algorithm::Ed25519, 9)]);
    assert_eq!(
        code(verify_checkpoint(
            note.as_bytes(),
            &v,
            &CheckpointPolicy::new(ORIGIN)
        )),
        "unknown_key"
    );
    // A bundle checked against another registry's trust root.
    let mut reg = MemoryRegistry::new(10);
    let (m, seq) = reg.sign_artifact("a.bin", b"artifact").unwrap();
    let b = reg.bundle(seq, m, vec![]).unwrap();
    let other = MemoryRegistry::new(20).pinned();
    assert_eq!(
        code(verify_bundle(&b, &other, NOW, &BundlePolicy::default())),
        "unknown_key"
    );
}

/// A registry whose clock the test sets.
fn registry_at(path: PathBuf, clock: &Arc<AtomicU64>) -> Registry {
    let mut reg = Registry::create(
        path,
        CreateOptions::new("redteam.example/log", Protection::Insecure),
    )
    .unwrap();
    let c = clock.clone();
    reg.set_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    reg
}

#[test]
fn red_team_004_compromised_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let clock = Arc::new(AtomicU64::new(base));
    let attacker_clock = Arc::new(AtomicU64::new(base));
    let reg = registry_at(dir.path().join("victim.redb"), &clock);
    let attacker = registry_at(dir.path().join("attacker.redb"), &attacker_clock);
    let spec = || KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer]));
    let holder = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("holder", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap();
    let root = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("root", RoleSet::of(&[Role::Root])),
            &Protection::Insecure,
        )
        .unwrap();
    let request = TokenRequest::new(holder.public_key.clone(), "svc.example", &["read"], 100_000);
    clock.store(base + 100, Ordering::SeqCst);
    let issuer = reg
        .generate_key(Algorithm::Ed25519, &spec(), &Protection::Insecure)
        .unwrap();
    clock.store(base + 150, Ordering::SeqCst);
    let recorded = reg.issue_token(&issuer.key_id, None, &request).unwrap();
    // The key leaks; the operator rotates it.
    let leaked = reg.export_private_pem(&issuer.key_id, None).unwrap();
    clock.store(base + 200, Ordering::SeqCst);
    reg.rotate_key(
        &issuer.key_id,
        None,
        Algorithm::Ed25519,
        WeakerAlgorithm::Refuse,
        &Protection::Insecure,
    )
    .unwrap();
    // The rotated key signs nothing new in its own registry.
    let e = reg.issue_token(&issuer.key_id, None, &request).unwrap_err();
    assert_eq!(e.code().as_str(), "invalid_state", "{e}");
    let copy = attacker
        .write(|tx| tx.import_private_pem(&leaked, &spec(), &Protection::Insecure))
        .unwrap();
    assert_eq!(copy.key_id, issuer.key_id);
    attacker_clock.store(base + 300, Ordering::SeqCst);
    let minted = attacker.issue_token(&copy.key_id, None, &request).unwrap();
    let now = base + 400;
    let opts = VerifyOptions::default();
    // The minted token's signature is genuine; the victim registry refuses it all the same.
    let e = reg.verify_token(&minted.envelope, now, &opts).unwrap_err();
    assert_eq!(e.code().as_str(), "unauthorized", "{e}");
    // What the key issued before the rotation still stands, until the key is revoked.
    reg.verify_token(&recorded.envelope, now, &opts).unwrap();
    clock.store(base + 500, Ordering::SeqCst);
    reg.revoke_key(&issuer.key_id, "leaked", &root.key_id, None)
        .unwrap();
    let e = reg
        .verify_token(&recorded.envelope, base + 600, &opts)
        .unwrap_err();
    assert_eq!(e.code().as_str(), "revoked", "{e}");
}

#[test]
fn red_team_005_dual_signed_rotation() {
    let t = Thresholds::default().with(Role::Root, 1);
    let keys = |k: &SigningKey| {
        vec![TrustedKey::new(
            k.public_key().clone(),
            RoleSet::of(&[Role::Root]),
            "root",
        )]
    };
    let (old, new, third) = (
        key(Algorithm::Ed25519, 30),
        key(Algorithm::Ed25519MlDsa65, 31),
        key(Algorithm::Ed25519, 32),
    );
    let v1 = sign_root(
        &TrustRoot::initial(ORIGIN, 0, 10_000, keys(&old), t),
        &[&old],
    )
    .unwrap();
    let pinned = VerifiedRoot::from_pinned(&v1).unwrap();
    let v2_root = pinned.successor(100, 20_000, keys(&new), t);
    let both = sign_root(&v2_root, &[&old, &new]).unwrap();
    let newest = verify_rotation_chain(&pinned, std::slice::from_ref(&both), 500).unwrap();
    assert_eq!(newest.root_version, 2);
    // The attacker holds only the new key (or only the old one).
    for (who, signers) in [("new key only", vec![&new]), ("old key only", vec![&old])] {
        let env = sign_root(&v2_root, &signers).unwrap();
        let c = code(verify_rotation_chain(&pinned, &[env], 500));
        assert_eq!(c, "threshold_not_met", "{who}");
    }
    // A v3 that skips v2, and a chain replaying v1 after v2.
    let v2 = VerifiedRoot::from_pinned(&both).unwrap();
    let mut v3_root = v2.successor(200, 30_000, keys(&third), t);
    v3_root.root_version = 3;
    v3_root.previous = Some(TrustRoot::from_bytes(&v1.payload).unwrap().id());
    let skipping = sign_root(&v3_root, &[&old, &third]).unwrap();
    assert_eq!(
        code(verify_rotation_chain(&pinned, &[skipping], 500)),
        "chain_broken",
        "v3 after v1"
    );
    let c = code(verify_rotation_chain(
        &pinned,
        &[both.clone(), both.clone()],
        500,
    ));
    assert_eq!(c, "replayed", "v2 presented twice");
    let c = code(verify_rotation_chain(
        &pinned,
        &[both.clone(), v1.clone()],
        500,
    ));
    // v1 in v3's place is not signed by v2's keys.
    assert_eq!(c, "threshold_not_met", "v1 after v2");
}

#[test]
fn red_team_006_replay_by_timestamp() {
    let k = key(Algorithm::Ed25519, 40);
    let trusted = [k.public_key().clone()];
    let opts = VerifyOptions::default();
    let t = token(&k, NOW - 100, NOW + 100, [4; 16]);
    assert_eq!(
        code(verify_token(&t, &[], &trusted, NOW, &[][..], &opts)),
        "ok"
    );
    assert_eq!(
        code(verify_token(&t, &[], &trusted, NOW + 100, &[][..], &opts)),
        "expired"
    );
    assert_eq!(
        code(verify_token(
            &t,
            &[],
            &trusted,
            NOW + 10_000,
            &[][..],
            &opts
        )),
        "expired"
    );
    assert_eq!(
        code(verify_token(&t, &[], &trusted, NOW - 101, &[][..], &opts)),
        "not_yet_valid"
    );
    // An old bundle replayed to a verifier that saw a newer checkpoint of the log.
    let mut reg = MemoryRegistry::new(41);
    let (m, seq) = reg.sign_artifact("a.bin", b"artifact").unwrap();
    let old = reg.bundle(seq, m, vec![]).unwrap();
    reg.append(Event::AuditNote {
        text: "later".into(),
    })
    .unwrap();
    let seen = LastSeen::parse_note(reg.checkpoint().unwrap().as_bytes()).unwrap();
    let policy = BundlePolicy {
        last_seen: Some(&seen),
        ..Default::default()
    };
    assert_eq!(
        code(verify_bundle(&old, &reg.pinned(), NOW, &policy)),
        "replayed"
    );
    // A bundle verified after its trust root expired.
    assert_eq!(
        code(verify_bundle(
            &old,
            &reg.pinned(),
            NOW + 400 * 86_400,
            &BundlePolicy::default()
        )),
        "expired"
    );
}

#[test]
fn red_team_007_replay_by_nonce() {
    // The rule book refuses a token recorded twice (same nonce, same id): `replayed`.
    let log = key(Algorithm::Ed25519, 50);
    let issuer = key(Algorithm::Ed25519, 51);
    let mut state = LedgerState::new();
    let mut chain = ChainVerifier::new();
    let mut prev = ZERO_HASH;
    let mut seq = 0;
    let mut append = |state: &mut LedgerState, event: Event, consents: &[&SigningKey]| {
        let entry = LedgerEntry::new(seq, NOW - 1000 + seq, prev, event);
        let env = sign_entry(&entry, consents).unwrap();
        let r = state.apply(&entry, &env);
        if r.is_ok() {
            chain.push(&entry).unwrap();
            prev = entry.hash();
            seq += 1;
        }
        r.map(|()| entry)
    };
    let add = |k: &SigningKey, label: &str, role: Role| Event::KeyAdded {
        public_key: k.public_key().clone(),
        label: label.into(),
        roles: RoleSet::of(&[role]),
        expires_at: None,
    };
    append(&mut state, add(&log, "log", Role::Checkpoint), &[]).unwrap();
    append(
        &mut state,
        add(&issuer, "issuer", Role::TokenIssuer),
        &[&issuer],
    )
    .unwrap();
    let t = token(&issuer, NOW - 10, NOW + 60, [7; 16]);
    let issued = || Event::TokenIssued {
        token_id: t.id(),
        issuer: issuer.public_key().key_id(),
        audience: "svc.example".into(),
        expires_at: NOW + 60,
    };
    let first = append(&mut state, issued(), &[&issuer]).unwrap();
    let e = append(&mut state, issued(), &[&issuer]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Replayed, "{e}");
    // Another nonce is another token, recorded on its own.
    let t2 = token(&issuer, NOW - 10, NOW + 60, [8; 16]);
    assert_ne!(t.id(), t2.id());
    // A ledger entry replayed into the chain: refused by sequence and hash link.
    let mut verifier = ChainVerifier::new();
    let entries: Vec<LedgerEntry> = (0..3)
        .map(|i| LedgerEntry::new(i, NOW + i, ZERO_HASH, Event::AuditNote { text: "x".into() }))
        .collect();
    let mut linked = Vec::new();
    let mut prev = ZERO_HASH;
    for e in entries {
        let e = LedgerEntry::new(e.seq, e.time, prev, e.event);
        prev = e.hash();
        linked.push(e);
    }
    verifier.push(&linked[0]).unwrap();
    verifier.push(&linked[1]).unwrap();
    assert_eq!(
        verifier.push(&linked[1]).unwrap_err().code(),
        ErrorCode::ChainBroken
    );
    assert_eq!(
        state
            .apply(&first, &sign_entry(&first, &[&issuer]).unwrap())
            .unwrap_err()
            .code(),
        ErrorCode::ChainBroken
    );
    // The registry gives two issues of the same request distinct nonces and ids.
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::create(
        dir.path().join("r.redb"),
        CreateOptions::new("redteam.example/log", Protection::Insecure),
    )
    .unwrap();
    let issuer = reg
        .generate_key(
            Algorithm::Ed25519,
            &KeySpec::new("issuer", RoleSet::of(&[Role::TokenIssuer])),
            &Protection::Insecure,
        )
        .unwrap();
    let request = TokenRequest::new(issuer.public_key.clone(), "svc.example", &["read"], 600);
    let a = reg.issue_token(&issuer.key_id, None, &request).unwrap();
    let b = reg.issue_token(&issuer.key_id, None, &request).unwrap();
    assert_ne!(a.claims.nonce, b.claims.nonce);
    assert_ne!(a.id, b.id);
}

/// Every bit flip of `bytes` at the given positions is refused by `check` (never accepted,
/// never a panic).
fn sweep_flips(bytes: &[u8], step: usize, check: impl Fn(&[u8]) -> &'static str) -> usize {
    let mut tried = 0;
    for bit in (0..bytes.len() * 8).step_by(step) {
        let mut b = bytes.to_vec();
        b[bit / 8] ^= 1 << (bit % 8);
        let c = check(&b);
        assert_ne!(c, "ok", "bit {bit} flipped was accepted");
        tried += 1;
    }
    tried
}

#[test]
fn red_team_008_checkpoint_bit_flip() {
    let log = key(Algorithm::Ed25519MlDsa44, 60);
    let note = checkpoint_note(&[&log], 9);
    let v = verifiers(&[&log]);
    let policy = CheckpointPolicy::new(ORIGIN);
    let check = |b: &[u8]| code(verify_checkpoint(b, &v, &policy));
    assert_eq!(check(note.as_bytes()), "ok");
    // Every bit of the body and of the Ed25519 line; every 13th bit of the ML-DSA line.
    let body_and_ed = note.find("\n\u{2014} ").unwrap() + 100;
    let tried = sweep_flips(&note.as_bytes()[..body_and_ed], 1, |b| {
        let mut full = b.to_vec();
        full.extend_from_slice(&note.as_bytes()[body_and_ed..]);
        check(&full)
    });
    assert_eq!(tried, body_and_ed * 8);
    sweep_flips(note.as_bytes(), 13, check);
    // Bundles: every 7th bit.
    let mut reg = MemoryRegistry::new(61);
    let (m, seq) = reg.sign_artifact("a.bin", b"artifact").unwrap();
    let bytes = reg.bundle(seq, m, vec![]).unwrap().to_bytes();
    let pinned = reg.pinned();
    let policy = BundlePolicy {
        artifact: ArtifactCheck::Bytes(b"artifact"),
        ..Default::default()
    };
    // The bundle's `root_id` (its last 32 bytes) is the registry's word on which root it
    // used: a change there verifies, and the verdict says the roots differ.
    let check_bundle = |b: &[u8]| match Bundle::from_bytes(b) {
        Ok(bundle) => match verify_bundle(&bundle, &pinned, NOW, &policy) {
            Ok(v) if !v.trust_root_matches_bundle => "reported: root id differs",
            r => code(r),
        },
        Err(e) => e.code().as_str(),
    };
    assert_eq!(check_bundle(&bytes), "ok");
    sweep_flips(&bytes, 7, check_bundle);
}

#[test]
fn red_team_009_checkpoint_truncation() {
    let log = key(Algorithm::Ed25519MlDsa44, 70);
    let note = checkpoint_note(&[&log], 11);
    let v = verifiers(&[&log]);
    let policy = CheckpointPolicy::new(ORIGIN);
    for n in 0..note.len() {
        let c = code(verify_checkpoint(&note.as_bytes()[..n], &v, &policy));
        assert_ne!(c, "ok", "truncated to {n} bytes");
    }
    // A note cut after a complete signature line (the ML-DSA line of a hybrid key dropped)
    // is a well-formed note, and is still refused: a hybrid key counts only with both lines.
    let first_line_end = note.find("\n\u{2014} ").unwrap() + 1;
    let ed_line_end = first_line_end + note[first_line_end..].find('\n').unwrap() + 1;
    let c = code(verify_checkpoint(
        &note.as_bytes()[..ed_line_end],
        &v,
        &policy,
    ));
    assert_eq!(c, "threshold_not_met");
    let mut reg = MemoryRegistry::new(71);
    let (m, seq) = reg.sign_artifact("a.bin", b"artifact").unwrap();
    let bytes = reg.bundle(seq, m, vec![]).unwrap().to_bytes();
    for n in 0..bytes.len() {
        let c = code(Bundle::from_bytes(&bytes[..n]));
        assert_eq!(c, "malformed", "bundle truncated to {n} bytes");
    }
}

#[test]
fn red_team_010_malformed_signature() {
    let ed = key(Algorithm::Ed25519, 80);
    let note = checkpoint_note(&[&ed], 4);
    let v = verifiers(&[&ed]);
    let policy = CheckpointPolicy::new(ORIGIN);
    assert_eq!(code(verify_checkpoint(note.as_bytes(), &v, &policy)), "ok");
    let (body, sig_line) = note.split_once("\n\n").unwrap();
    let (head, b64) = sig_line.trim_end().rsplit_once(' ').unwrap();
    let raw = b64_decode(b64).unwrap();
    assert_eq!(raw.len(), 4 + 64);
    let with_sig = |sig: &[u8]| format!("{body}\n\n{head} {}\n", b64_encode(sig));
    let mut high_s = raw.clone();
    high_s[4 + 63] |= 0xf0; // S ≥ L: a non-canonical scalar
    let mut zeros = raw[..4].to_vec();
    zeros.extend([0u8; 64]);
    let mut wrong_hash = raw.clone();
    wrong_hash[0] ^= 0xff;
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "not base64",
            format!("{body}\n\n{head} !!!!\n"),
            &["malformed"],
        ),
        (
            "padding missing",
            format!("{body}\n\n{head} {}\n", b64.trim_end_matches('=')),
            &["malformed"],
        ),
        (
            "shorter than a key hash",
            with_sig(&raw[..3]),
            &["malformed"],
        ),
        (
            "signature cut short",
            with_sig(&raw[..40]),
            &["signature_invalid"],
        ),
        (
            "signature one byte long",
            with_sig(&raw[..67]),
            &["signature_invalid"],
        ),
        (
            "signature one byte longer",
            with_sig(&[raw.as_slice(), &[0]].concat()),
            &["signature_invalid"],
        ),
        (
            "all-zero signature",
            with_sig(&zeros),
            &["signature_invalid"],
        ),
        ("non-canonical S", with_sig(&high_s), &["signature_invalid"]),
        (
            "key hash of no known key",
            with_sig(&wrong_hash),
            &["unknown_key"],
        ),
        (
            "hyphen for the em dash",
            format!(
                "{body}\n\n- {}\n",
                &sig_line["\u{2014} ".len()..].trim_end()
            ),
            &["malformed"],
        ),
        ("no signature line", format!("{body}\n\n"), &["malformed"]),
        (
            "no blank line",
            format!("{body}\n{sig_line}"),
            &["malformed"],
        ),
        (
            "another key name",
            format!("{body}\n\n\u{2014} other.example/log {b64}\n"),
            &["unknown_key"],
        ),
    ];
    for (name, text, want) in cases {
        let c = code(verify_checkpoint(text.as_bytes(), &v, &policy));
        assert!(want.contains(&c), "{name}: got {c}, want one of {want:?}");
        assert_ne!(
            c, "ok",
            "{name}: a malformed signature line must not be the one that verifies"
        );
    }
    // One key's line twice does not make two signers.
    let twice = format!("{body}\n\n{sig_line}{sig_line}");
    let two = CheckpointPolicy {
        threshold: 2,
        ..CheckpointPolicy::new(ORIGIN)
    };
    let other = key(Algorithm::Ed25519, 81);
    let both = verifiers(&[&ed, &other]);
    assert_eq!(
        code(verify_checkpoint(twice.as_bytes(), &both, &two)),
        "threshold_not_met"
    );
    // DSSE: a malformed signature in a token envelope.
    let t = token(&ed, NOW - 10, NOW + 60, [9; 16]);
    let trusted = [ed.public_key().clone()];
    let mut high = t.clone();
    high.signatures[0].sig[63] |= 0xf0;
    let r = verify_token(
        &high,
        &[],
        &trusted,
        NOW,
        &[][..],
        &VerifyOptions::default(),
    );
    assert_eq!(code(r), "signature_invalid");
    let mut none = t.clone();
    none.signatures.clear();
    let r = verify_token(
        &none,
        &[],
        &trusted,
        NOW,
        &[][..],
        &VerifyOptions::default(),
    );
    assert_eq!(code(r), "malformed");
}

// ---- 011 and 012: the `cairn` binary, as an operator runs it ----

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Runs cairn with the registry passphrase in the environment; returns (exit, stdout,
    /// stderr).
    fn run(&self, args: &[&str]) -> (i32, Vec<u8>, Vec<u8>) {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(args)
            .current_dir(self.dir.path())
            .env("CAIRN_HOME", self.dir.path().join("home"))
            .env("CAIRN_PASSPHRASE", "correct horse battery staple")
            .env_remove("CAIRN_KEY_PASSPHRASE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), out.stdout, out.stderr)
    }

    fn ok(&self, args: &[&str]) -> Vec<u8> {
        let (code, out, err) = self.run(args);
        assert_eq!(
            code,
            0,
            "cairn {args:?}: {}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        );
        [out, err].concat()
    }
}

/// Where one of `secrets` occurs in `bytes`: raw, or inside a hex or base64 run (decoded from
/// each of its four alignments), whatever the case of the hex.
fn find_secret(bytes: &[u8], secrets: &[[u8; 32]]) -> Option<String> {
    let raw_hit = |hay: &[u8]| secrets.iter().any(|s| hay.windows(32).any(|w| w == s));
    if raw_hit(bytes) {
        return Some("raw bytes".into());
    }
    let is_hex = |c: u8| c.is_ascii_hexdigit();
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || b"+/-_".contains(&c);
    for run in bytes.split(|c| !is_hex(*c)).filter(|r| r.len() >= 64) {
        for off in 0..2 {
            let pairs = &run[off..];
            let decoded: Vec<u8> = pairs
                .chunks_exact(2)
                .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
                .collect();
            if raw_hit(&decoded) {
                return Some("hex".into());
            }
        }
    }
    // PEM and JSON break base64 over lines and quotes: join the runs of a text first.
    let joined: Vec<u8> = bytes
        .split(|c| *c == b'\n' || *c == b'\r')
        .flat_map(|l| l.iter().copied())
        .collect();
    for run in joined.split(|c| !is_b64(*c)).filter(|r| r.len() >= 43) {
        let std_alpha: Vec<u8> = run
            .iter()
            .map(|c| match c {
                b'-' => b'+',
                b'_' => b'/',
                c => *c,
            })
            .collect();
        for off in 0..4 {
            if raw_hit(&b64_lenient(&std_alpha[off.min(std_alpha.len())..])) {
                return Some("base64".into());
            }
        }
    }
    None
}

/// Base64 decoded from the first character on, whatever its length and padding bits.
fn b64_lenient(text: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in text {
        let Some(v) = ALPHABET.iter().position(|a| a == c) else {
            break;
        };
        acc = ((acc << 6) | v as u32) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The 32-byte seed in a PKCS#8 private key PEM (RFC 8410 / RFC 9881 seed form: its last 32
/// bytes).
fn seed_of(pem: &[u8]) -> [u8; 32] {
    let text = String::from_utf8_lossy(pem);
    let b64: String = text
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    let der = b64_decode(&b64).unwrap();
    der[der.len() - 32..].try_into().unwrap()
}

/// A sealed registry with a root key, an Ed25519 issuer and an ML-DSA-44 release signer, used
/// by every public command; returns the seeds of the three keys.
fn busy_registry(cli: &Cli) -> Vec<[u8; 32]> {
    cli.ok(&[
        "init",
        "--origin",
        "redteam.example/log",
        "--insecure-fast-kdf",
    ]);
    let mut seeds = Vec::new();
    for (label, role, alg) in [
        ("root", "root", "ed25519"),
        ("issuer", "token-issuer", "ed25519"),
        ("release", "manifest-signer", "ml-dsa-44"),
        ("agent", "peer", "ed25519"),
    ] {
        cli.ok(&[
            "key",
            "generate",
            "--label",
            label,
            "--role",
            role,
            "--algorithm",
            alg,
            "--insecure-fast-kdf",
        ]);
        let pem_file = cli.p(&format!("{label}.key.pem"));
        cli.ok(&["key", "export", label, "--private", "--out", &pem_file]);
        let pem = std::fs::read(&pem_file).unwrap();
        assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
        let seed = seed_of(&pem);
        // The scan finds a secret where one is: the private export itself.
        assert!(
            find_secret(&pem, &[seed]).is_some(),
            "{label}: the scan sees the PEM"
        );
        std::fs::remove_file(&pem_file).unwrap();
        seeds.push(seed);
    }
    seeds
}

#[test]
fn red_team_011_no_secret_in_public_objects() {
    let cli = Cli::new();
    let seeds = busy_registry(&cli);
    // Sanity of the scan: each seed is found raw, in hex (either case) and in base64 at every
    // alignment inside other text.
    for s in &seeds {
        for wrapped in [
            [b"x".as_slice(), s, b"y"].concat(),
            format!("key: {}", hex_encode(s)).into_bytes(),
            format!("{{\"k\":\"{}\"}}", hex_encode(s).to_uppercase()).into_bytes(),
            format!("a{}", b64_encode(&[b"12".as_slice(), s].concat())).into_bytes(),
            format!("{}\n", b64_encode(&[b"1".as_slice(), s, b"9"].concat())).into_bytes(),
        ] {
            assert!(
                find_secret(&wrapped, &seeds).is_some(),
                "{}",
                String::from_utf8_lossy(&wrapped)
            );
        }
    }
    let artifact = cli.p("app.bin");
    std::fs::write(&artifact, b"release 1").unwrap();
    let tiles = cli.p("tiles");
    let mut printed = Vec::new();
    let commands: Vec<Vec<String>> = [
        vec!["root", "create", "--out", "root.json"],
        vec![
            "token",
            "issue",
            "--issuer",
            "issuer",
            "--holder",
            "agent",
            "--audience",
            "svc.example",
            "--capability",
            "read",
            "--out",
            "token.json",
        ],
        vec![
            "sign",
            "app.bin",
            "--key",
            "release",
            "--out",
            "app.manifest",
        ],
        vec!["checkpoint", "create", "--out", "checkpoint.note"],
        vec!["ledger", "export", "--out", "ledger.cairnlog"],
        vec!["tiles", "export", &tiles],
        vec!["key", "list"],
        vec!["key", "list", "--json"],
        vec!["key", "show", "issuer", "--json"],
        vec!["key", "show", "log"],
        vec!["key", "export", "issuer"],
        vec!["key", "export", "release", "--format", "json"],
        vec!["key", "export", "log", "--format", "json"],
        vec!["status", "--json"],
        vec!["ledger", "audit", "--json"],
        vec!["checkpoint", "latest"],
        vec!["checkpoint", "history", "--json"],
        vec!["root", "show", "--json"],
        vec!["token", "list", "--json"],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();
    for c in &commands {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        printed.push((args.join(" "), cli.ok(&args)));
    }
    // Bundles of what was issued, and the verbose output of a failing command.
    let (_, listed, _) = cli.run(&["token", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    let token_id = listed["tokens"][0]["id"].as_str().unwrap().to_owned();
    printed.push((
        "bundle export".into(),
        cli.ok(&[
            "bundle",
            "export",
            "--token",
            &token_id,
            "--out",
            "token.bundle",
        ]),
    ));
    let (_, out, err) = cli.run(&[
        "key",
        "export",
        "issuer",
        "--private",
        "--passphrase-file",
        "/nonexistent",
    ]);
    printed.push(("failed private export".into(), [out, err].concat()));
    for (what, bytes) in &printed {
        assert_eq!(
            find_secret(bytes, &seeds),
            None,
            "`cairn {what}` printed a secret"
        );
    }
    // Every file written (besides the registry and its anchor: 012) is public.
    let mut files = Vec::new();
    let mut stack = vec![cli.dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().contains("registry.redb") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert_eq!(
            find_secret(&bytes, &seeds),
            None,
            "{} holds a secret",
            f.display()
        );
    }
}

#[test]
fn red_team_012_keys_sealed_at_rest() {
    let cli = Cli::new();
    let seeds = busy_registry(&cli);
    let home = cli.dir.path().join("home");
    let db = home.join("registry.redb");
    let at_rest = [
        std::fs::read(&db).unwrap(),
        std::fs::read(home.join("registry.redb.anchor")).unwrap_or_default(),
    ];
    for bytes in &at_rest {
        assert_eq!(
            find_secret(bytes, &seeds),
            None,
            "a sealed key is readable at rest"
        );
    }
    // The same scan on an insecure registry finds its keys: the check can fail.
    let insecure = Cli::new();
    insecure.ok(&[
        "init",
        "--origin",
        "redteam.example/log",
        "--insecure-no-passphrase",
    ]);
    insecure.ok(&[
        "key",
        "generate",
        "--label",
        "issuer",
        "--role",
        "token-issuer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    let pem_file = insecure.p("issuer.key.pem");
    insecure.ok(&[
        "key",
        "export",
        "issuer",
        "--private",
        "--out",
        &pem_file,
        "--insecure-no-passphrase",
    ]);
    let seed = seed_of(&std::fs::read(&pem_file).unwrap());
    let file = std::fs::read(insecure.dir.path().join("home/registry.redb")).unwrap();
    assert!(
        find_secret(&file, &[seed]).is_some(),
        "an insecure key is stored in the clear"
    );
    // A sealed key does not open with a wrong passphrase.
    let wrong = cli.p("wrong.txt");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let (code, out, _) = cli.run(&[
        "key",
        "export",
        "issuer",
        "--private",
        "--passphrase-file",
        &wrong,
        "--json",
    ]);
    assert_eq!(code, 2);
    assert!(String::from_utf8_lossy(&out).contains("bad_passphrase"));
}

/// Seed 001's latency targets (signing p95 < 50 ms, verification p95 < 10 ms) are performance
/// figures: cairn measures them in its benches (release builds, printed, never asserted) and
/// docs/PERFORMANCE.md records them (about 0.03 ms to sign with Ed25519, 0.23-0.4 ms with
/// ML-DSA-44; 0.04-0.12 ms to verify). These two cases hold what a test can without a clock:
/// that the benches measure exactly these operations and the figures are published, and that
/// the slowest suite (hybrid Ed25519 + ML-DSA-65) signs and verifies them correctly.
fn bench_measures(file: &str, rows: &[&str]) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    for row in rows {
        assert!(text.contains(row), "{file} measures {row:?}");
    }
}

#[test]
fn red_team_013_sign_latency_slo() {
    bench_measures(
        "docs/PERFORMANCE.md",
        &["ML-DSA-44 signing", "single op p50"],
    );
    bench_measures("benches/store.rs", &["\"single op p50\""]);
    let k = key(Algorithm::Ed25519MlDsa65, 90);
    let msg = [7u8; 256];
    let sig = k.sign(&msg, b"context").unwrap();
    k.public_key().verify(&msg, b"context", &sig).unwrap();
    let note = checkpoint_note(&[&k], 1);
    verify_checkpoint(
        note.as_bytes(),
        &verifiers(&[&k]),
        &CheckpointPolicy::new(ORIGIN),
    )
    .unwrap();
}

#[test]
fn red_team_014_verify_latency_slo() {
    bench_measures(
        "benches/verify.rs",
        &[
            "bench_function(\"cairn decode + verify_bundle\"",
            "bench_function(\"cairn verify_checkpoint\"",
        ],
    );
    let k = key(Algorithm::Ed25519MlDsa65, 91);
    let note = checkpoint_note(&[&k], 3);
    let v = verifiers(&[&k]);
    let policy = CheckpointPolicy::new(ORIGIN);
    verify_checkpoint(note.as_bytes(), &v, &policy).unwrap();
    let other = key(Algorithm::Ed25519MlDsa65, 93);
    assert!(verify_checkpoint(note.as_bytes(), &verifiers(&[&other]), &policy).is_err());
    let mut reg = MemoryRegistry::new(92);
    let (m, seq) = reg.sign_artifact("a.bin", b"artifact").unwrap();
    let bytes = reg.bundle(seq, m, vec![]).unwrap().to_bytes();
    let b = Bundle::from_bytes(&bytes).unwrap();
    verify_bundle(&b, &reg.pinned(), NOW, &BundlePolicy::default()).unwrap();
}
