//! The revocation map's proofs and the witness formats: proof decoding and checking, the
//! `cairn.revocations` checkpoint line, cosigner vkeys, `add-checkpoint` request bodies and
//! cosignature verification.
//!
//! Records: record 0 is decoded as a revocation proof and checked against a fixed map of eight
//! revoked keys for every key of the map, one absent key and the 32 bytes of record 1; record 2
//! is read as a checkpoint extension line, a cosigner vkey and an `add-checkpoint` body;
//! record 3 is parsed as a note and its cosignatures checked under a 1-of-2 policy of fixed
//! witnesses at `now`.
//!
//! Invariants: nothing panics; a decoded proof encodes back to the same bytes; a proof that
//! verifies membership of a key against the map's root names the seq the map holds for it, and
//! one that verifies non-membership is never for a revoked key (a forged proof can only fail);
//! a parsed revocations line prints back to itself; a vkey that parses prints back to itself
//! with its key id in lowercase, and parses again to the same key.
#![no_main]

use std::sync::OnceLock;

use cairn_core::checkpoint::RevocationsRef;
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::encoding::Digest;
use cairn_core::note::Note;
use cairn_core::revocation::{MemoryMap, RevocationProof};
use cairn_core::witness::{
    add::AddCheckpoint, verify_cosignatures, CosignerKey, Witness, WitnessPolicy,
};
use cairn_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fn key(i: u8) -> Digest {
    cairn_core::encoding::sha256(&[b"fuzz map key", &[i]])
}

fn map() -> &'static (MemoryMap, Digest) {
    static MAP: OnceLock<(MemoryMap, Digest)> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut m = MemoryMap::new();
        for i in 0..8u8 {
            m.insert(key(i), 100 + u64::from(i)).expect("distinct keys");
        }
        let root = m.root();
        (m, root)
    })
}

fn policy() -> &'static WitnessPolicy {
    static POLICY: OnceLock<WitnessPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let witnesses = [(Algorithm::Ed25519, 1u8), (Algorithm::MlDsa44, 2u8)]
            .into_iter()
            .map(|(alg, n)| {
                let sk = SigningKey::from_seed(alg, &[n; 32]);
                Witness {
                    name: format!("witness-{n}"),
                    key: CosignerKey::new(&format!("witness{n}.example"), sk.public_key())
                        .expect("witness key"),
                }
            })
            .collect();
        WitnessPolicy::new(witnesses, 1)
    })
}

fn check_proof(bytes: &[u8], extra: Option<Digest>) {
    let Ok(proof) = RevocationProof::from_bytes(bytes) else {
        return;
    };
    assert_eq!(proof.to_bytes(), bytes, "a decoded proof has one encoding");
    let (m, root) = map();
    let keys = (0..9u8).map(key).chain(extra);
    for k in keys {
        if let Ok(seq) = proof.verify_membership(root, &k) {
            assert_eq!(
                m.get(&k),
                Some(seq),
                "membership proven for a key the map lacks"
            );
        }
        if proof.verify_non_membership(root, &k).is_ok() {
            assert_eq!(m.get(&k), None, "non-membership proven for a revoked key");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let rec = |i: usize| input.records.get(i).map(Vec::as_slice);
    if let Some(p) = rec(0) {
        let extra = rec(1).and_then(|b| <[u8; 32]>::try_from(b).ok());
        check_proof(p, extra);
    }
    if let Some(b) = rec(2) {
        let _ = AddCheckpoint::parse(b);
        if let Ok(text) = std::str::from_utf8(b) {
            if let Ok(Some(r)) = RevocationsRef::parse_line(text) {
                assert_eq!(
                    r.to_line(),
                    text,
                    "a revocations line prints back to itself"
                );
            }
            if let Ok(k) = CosignerKey::from_vkey(text) {
                // Key ids parse in either case (as Go's note package reads them) and print in
                // lowercase, so the printed vkey is the text with its key id lowercased.
                let canonical = match text.splitn(3, '+').collect::<Vec<_>>()[..] {
                    [name, id, key] => format!("{name}+{}+{key}", id.to_ascii_lowercase()),
                    _ => unreachable!("a parsed vkey has three parts"),
                };
                assert_eq!(k.vkey(), canonical, "a vkey prints back to itself");
                assert_eq!(CosignerKey::from_vkey(&k.vkey()).ok(), Some(k));
            }
        }
    }
    if let Some(b) = rec(3) {
        if let Ok(note) = Note::parse(b) {
            let _ = verify_cosignatures(&note, policy(), input.now);
        }
    }
});
