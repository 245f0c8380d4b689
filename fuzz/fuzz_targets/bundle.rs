//! Bundles (CBDL): decode, then `verify_bundle` against a pinned trust root.
//!
//! The first record is the bundle; a second record, if present, is the artifact to check a
//! manifest against; a third, if present, is decoded as refresh pieces (`CRFP`) and applied to
//! the bundle with `refresh_bundle`. `flags`: bit 0 requires a hybrid checkpoint, bit 2 revokes the subject
//! token; `now` is the clock.
//!
//! Mode 0 (even): bundles from bundle.json, verified against that file's pinned root.
//!
//! Mode 1 (odd): bundles made by cairn-core's example registry (`bundle::example`, seed 40),
//! verified against its root after the target re-signs what mutation broke: with `flags` bit
//! 4 the subject is re-signed by the registry's signer, with bit 5 the checkpoint is rebuilt
//! over the root the bundle's own inclusion proof leads to and re-signed by the log key. So
//! mutated entries, proofs, checkpoints and subjects reach the checks behind the signatures.
//!
//! Invariants: an accepted encoding is canonical and decodes back equal; accepted refresh
//! pieces re-encode to the same bytes, and a refresh that succeeds keeps the subject, parents
//! and entry, yields a version 2 bundle that encodes canonically, and proves the entry under
//! the pieces' checkpoint; a verdict agrees
//! with the bundle (kind, entry seq = leaf index, checkpoint size = proof size, the entry is
//! included under the verified root, root-id match flag); a bundle that passes with a hybrid
//! checkpoint required also passes without; verification is deterministic.
#![no_main]

use std::sync::OnceLock;

use cairn_core::bundle::example::{MemoryRegistry, ORIGIN};
use cairn_core::bundle::{
    refresh_bundle, verify_bundle, Bundle, BundleKind, BundlePolicy, RefreshPieces,
    BUNDLE_VERSION_2,
};
use cairn_core::checkpoint::Checkpoint;
use cairn_core::dsse::Envelope;
use cairn_core::manifest::ArtifactCheck;
use cairn_core::merkle::leaf_hash;
use cairn_core::note::Note;
use cairn_core::token::TOKEN_PAYLOAD_TYPE;
use cairn_core::trust::VerifiedRoot;
use cairn_fuzz::{b64, cases, root_from_inclusion, vectors, Input};
use libfuzzer_sys::fuzz_target;

fn vector_root() -> &'static VerifiedRoot {
    static F: OnceLock<VerifiedRoot> = OnceLock::new();
    F.get_or_init(|| {
        let c = &cases(vectors::BUNDLE)[0];
        VerifiedRoot::from_pinned(&Envelope::parse(&b64(&c["args"]["trusted_root"])).unwrap())
            .unwrap()
    })
}

/// The example registry the mode-1 seeds come from (see gen-corpus).
pub fn registry() -> &'static (MemoryRegistry, VerifiedRoot) {
    static F: OnceLock<(MemoryRegistry, VerifiedRoot)> = OnceLock::new();
    F.get_or_init(|| {
        let reg = MemoryRegistry::new(40);
        let pinned = reg.pinned();
        (reg, pinned)
    })
}

fn resign(bundle: &mut Bundle, flags: u8) {
    let (reg, _) = registry();
    if flags & 0x10 != 0 {
        bundle.subject.signatures.clear();
        let _ = bundle.subject.sign_deterministic(&reg.signer);
    }
    if flags & 0x20 != 0 {
        let Ok(note) = Note::parse(bundle.checkpoint.as_bytes()) else {
            return;
        };
        let Ok(mut cp) = Checkpoint::parse_text(note.text()) else {
            return;
        };
        let p = &bundle.inclusion;
        if let Some(root) = root_from_inclusion(
            &leaf_hash(&bundle.entry),
            p.leaf_index,
            p.tree_size,
            &p.hashes,
        ) {
            cp.size = p.tree_size;
            cp.root = root;
        }
        if let Ok(text) = cp.sign_deterministic(&[(ORIGIN, &reg.log_key)]) {
            bundle.checkpoint = text;
        }
    }
}

fn check_refresh(bundle: &Bundle, bytes: &[u8]) {
    let Ok(pieces) = RefreshPieces::from_bytes(bytes) else {
        return;
    };
    assert_eq!(pieces.to_bytes(), bytes, "accepted refresh pieces are canonical");
    let Ok(fresh) = refresh_bundle(bundle, &pieces) else {
        return;
    };
    assert_eq!(fresh.version, BUNDLE_VERSION_2);
    assert_eq!(
        (&fresh.subject, &fresh.parents, &fresh.entry),
        (&bundle.subject, &bundle.parents, &bundle.entry),
        "a refresh keeps what the bundle proves"
    );
    assert_eq!(fresh.inclusion.leaf_index, bundle.inclusion.leaf_index);
    assert_eq!(
        Bundle::from_bytes(&fresh.to_bytes()).as_ref().ok(),
        Some(&fresh),
        "a refreshed bundle encodes canonically"
    );
    let root = Note::parse(fresh.checkpoint.as_bytes())
        .and_then(|n| Checkpoint::parse_text(n.text()))
        .map(|c| c.root)
        .expect("refresh_bundle parsed this checkpoint");
    assert!(fresh.inclusion.verify(&leaf_hash(&fresh.entry), &root).is_ok());
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let Some(bytes) = input.records.first() else {
        return;
    };
    let Ok(mut bundle) = Bundle::from_bytes(bytes) else {
        return;
    };
    assert_eq!(
        &bundle.to_bytes(),
        bytes,
        "accepted bundle encoding is canonical"
    );
    assert_eq!(
        Bundle::from_bytes(&bundle.to_bytes()).as_ref().ok(),
        Some(&bundle)
    );

    if let Some(p) = input.records.get(2) {
        check_refresh(&bundle, p);
    }

    let pinned = if input.mode % 2 == 0 {
        vector_root()
    } else {
        resign(&mut bundle, input.flags);
        &registry().1
    };
    let revoked = if input.flags & 4 != 0 && bundle.subject.payload_type == TOKEN_PAYLOAD_TYPE {
        vec![bundle.subject.id()]
    } else {
        Vec::new()
    };
    let artifact = match input.records.get(1) {
        Some(a) => ArtifactCheck::Bytes(a),
        None => ArtifactCheck::None,
    };
    let policy = BundlePolicy {
        require_hybrid_checkpoint: input.flags & 1 != 0,
        artifact,
        revoked_tokens: &revoked,
        ..Default::default()
    };
    let now = input.now;
    let first = verify_bundle(&bundle, pinned, now, &policy);
    let second = verify_bundle(&bundle, pinned, now, &policy);
    assert_eq!(
        first
            .as_ref()
            .map(|v| (v.subject_id, &v.checks))
            .map_err(|e| e.code()),
        second
            .as_ref()
            .map(|v| (v.subject_id, &v.checks))
            .map_err(|e| e.code()),
        "verification is deterministic"
    );
    let Ok(v) = first else {
        return;
    };
    assert_eq!(Some(v.kind), bundle.kind().ok());
    assert_eq!(v.entry_seq, bundle.inclusion.leaf_index);
    assert_eq!(v.checkpoint.size, bundle.inclusion.tree_size);
    assert!(bundle
        .inclusion
        .verify(&leaf_hash(&bundle.entry), &v.checkpoint.root)
        .is_ok());
    assert_eq!(
        v.trust_root_matches_bundle,
        v.trust_root_id == bundle.root_id
    );
    match v.kind {
        BundleKind::Token => {
            assert!(v.token.is_some() && v.manifest.is_none());
            assert_eq!(v.subject_id, bundle.subject.id());
            assert!(!revoked.contains(&v.subject_id));
        }
        BundleKind::Manifest => assert!(v.manifest.is_some() && v.token.is_none()),
    }
    if policy.require_hybrid_checkpoint {
        let relaxed = BundlePolicy {
            require_hybrid_checkpoint: false,
            ..policy.clone()
        };
        assert!(verify_bundle(&bundle, pinned, now, &relaxed).is_ok());
    }
});
