//! tests/vectors/revocation_map.json: the revocation map (keys, roots, membership and
//! non-membership proofs) and the checkpoint's `cairn.revocations` line, generated from fixed
//! object ids and checked case by case. `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test
//! revocation_vectors` rewrites the file; otherwise the committed file must equal what the
//! generator produces. Also: a property test that random key sets give sound proofs.

mod support;

use cairn_core::checkpoint::RevocationsRef;
use cairn_core::encoding::{b64_decode, b64_encode, hex_decode_array, hex_encode, sha256, Digest};
use cairn_core::revocation::*;
use cairn_core::{Error, ErrorCode, Result};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::vectors::{self, Case, Doc};

/// The object ids of the example registry: SHA-256 of a label.
fn id(label: &str) -> Digest {
    sha256(&[label.as_bytes()])
}

/// The revoked objects of the example map: (kind, id label, seq of the revoking entry).
const REVOKED: [(ObjectKind, &str, u64); 8] = [
    (ObjectKind::Key, "key-1", 4),
    (ObjectKind::Key, "key-2", 9),
    (ObjectKind::Token, "token-1", 12),
    (ObjectKind::Token, "token-2", 13),
    (ObjectKind::Token, "shared-id", 20),
    (ObjectKind::Manifest, "manifest-1", 21),
    (ObjectKind::Manifest, "manifest-2", 30),
    (ObjectKind::Manifest, "manifest-3", 31),
];

fn map_of(items: &[(ObjectKind, &str, u64)]) -> MemoryMap {
    let mut m = MemoryMap::new();
    for (kind, label, seq) in items {
        m.insert(map_key(*kind, &id(label)), *seq).unwrap();
    }
    m
}

fn revoked_json(items: &[(ObjectKind, &str, u64)]) -> Value {
    Value::from(
        items
            .iter()
            .map(|(k, l, s)| json!({"kind": k.name(), "id": hex_encode(&id(l)), "seq": s}))
            .collect::<Vec<_>>(),
    )
}

struct Gen {
    cases: Vec<Case>,
}

impl Gen {
    fn push(&mut self, name: &str, op: &str, args: Value, expect: Value) {
        self.cases.push(Case {
            name: name.into(),
            op: op.into(),
            args,
            expect,
        });
    }
    fn ok(&mut self, name: &str, op: &str, args: Value, fields: Value) {
        let mut expect = json!({"ok": true});
        for (k, v) in fields.as_object().unwrap() {
            expect[k] = v.clone();
        }
        self.push(name, op, args, expect);
    }
    fn err(&mut self, name: &str, op: &str, args: Value, code: &str) {
        self.push(name, op, args, json!({ "error": code }));
    }
}

fn proof_args(root: &Digest, kind: ObjectKind, label: &str, proof: &[u8]) -> Value {
    json!({
        "root": b64_encode(root),
        "kind": kind.name(),
        "id": hex_encode(&id(label)),
        "proof": b64_encode(proof),
    })
}

fn generate() -> String {
    let mut g = Gen { cases: vec![] };
    let map = map_of(&REVOKED);
    let root = map.root();
    let older = map_of(&REVOKED[..7]);
    let key_of = |kind: ObjectKind, label: &str| map_key(kind, &id(label));

    // Keys.
    for kind in ObjectKind::ALL {
        g.ok(
            &format!("map key of a {} id", kind.name()),
            "map_key",
            json!({"kind": kind.name(), "id": hex_encode(&id("shared-id"))}),
            json!({"key": hex_encode(&key_of(kind, "shared-id"))}),
        );
    }
    g.err(
        "map key of an unknown kind",
        "map_key",
        json!({"kind": "peer", "id": hex_encode(&id("shared-id"))}),
        "malformed",
    );
    g.err(
        "map key of a 31-byte id",
        "map_key",
        json!({"kind": "token", "id": hex_encode(&id("x")[..31])}),
        "malformed",
    );

    // Roots.
    g.ok(
        "root of the empty map",
        "map_root",
        json!({"revoked": []}),
        json!({"count": 0, "root": b64_encode(&empty_root())}),
    );
    g.ok(
        "root of a one-key map",
        "map_root",
        json!({"revoked": revoked_json(&REVOKED[..1])}),
        json!({"count": 1, "root": b64_encode(&map_of(&REVOKED[..1]).root())}),
    );
    g.ok(
        "root of the example map (8 revocations of keys, tokens and manifests)",
        "map_root",
        json!({"revoked": revoked_json(&REVOKED)}),
        json!({"count": 8, "root": b64_encode(&root)}),
    );
    let mut reversed = REVOKED;
    reversed.reverse();
    g.ok(
        "root does not depend on the order of revocations",
        "map_root",
        json!({"revoked": revoked_json(&reversed)}),
        json!({"count": 8, "root": b64_encode(&root)}),
    );
    g.err(
        "one object revoked twice",
        "map_root",
        json!({"revoked": revoked_json(&[REVOKED[0], (ObjectKind::Key, "key-1", 40)])}),
        "replayed",
    );

    // Non-membership.
    let absent = |kind, label: &str| map.prove(&key_of(kind, label)).to_bytes();
    let p_tok3 = absent(ObjectKind::Token, "token-3");
    g.ok(
        "token not revoked",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &p_tok3),
        json!({}),
    );
    g.ok(
        "key not revoked whose id equals a revoked token's",
        "verify_non_membership",
        proof_args(
            &root,
            ObjectKind::Key,
            "shared-id",
            &absent(ObjectKind::Key, "shared-id"),
        ),
        json!({}),
    );
    g.ok(
        "manifest not revoked",
        "verify_non_membership",
        proof_args(
            &root,
            ObjectKind::Manifest,
            "manifest-9",
            &absent(ObjectKind::Manifest, "manifest-9"),
        ),
        json!({}),
    );
    let empty_proof = MemoryMap::new()
        .prove(&key_of(ObjectKind::Key, "key-1"))
        .to_bytes();
    g.ok(
        "nothing is revoked in the empty map (34-byte proof)",
        "verify_non_membership",
        proof_args(&empty_root(), ObjectKind::Key, "key-1", &empty_proof),
        json!({}),
    );

    // Membership.
    for (kind, label, seq) in [REVOKED[0], REVOKED[4], REVOKED[7]] {
        let p = map.prove(&key_of(kind, label)).to_bytes();
        g.ok(
            &format!("{} {label} revoked by entry {seq}", kind.name()),
            "verify_membership",
            proof_args(&root, kind, label, &p),
            json!({"seq": seq}),
        );
    }

    // Refusals.
    let p_key1 = map.prove(&key_of(ObjectKind::Key, "key-1")).to_bytes();
    g.err(
        "membership proof of a revoked key offered as non-membership",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Key, "key-1", &p_key1),
        "revoked",
    );
    g.err(
        "non-membership proof offered as membership",
        "verify_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &p_tok3),
        "proof_invalid",
    );
    g.err(
        "non-membership proof of another key",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-4", &p_tok3),
        "proof_invalid",
    );
    g.err(
        "proof of a revoked token checked under kind key (same id bytes)",
        "verify_membership",
        proof_args(
            &root,
            ObjectKind::Key,
            "shared-id",
            &map.prove(&key_of(ObjectKind::Token, "shared-id"))
                .to_bytes(),
        ),
        "proof_invalid",
    );
    g.err(
        "non-membership proof from an older map, against the current root",
        "verify_non_membership",
        proof_args(
            &root,
            ObjectKind::Manifest,
            "manifest-3",
            &older
                .prove(&key_of(ObjectKind::Manifest, "manifest-3"))
                .to_bytes(),
        ),
        "proof_invalid",
    );
    g.err(
        "proof against another root",
        "verify_non_membership",
        proof_args(&older.root(), ObjectKind::Token, "token-3", &p_tok3),
        "proof_invalid",
    );
    let mut flipped = p_tok3.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    g.err(
        "flipped bit in a sibling",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &flipped),
        "proof_invalid",
    );
    let mut seq_changed = p_key1.clone();
    seq_changed[9] ^= 0x01;
    g.err(
        "membership proof with another seq",
        "verify_membership",
        proof_args(&root, ObjectKind::Key, "key-1", &seq_changed),
        "proof_invalid",
    );
    let mut forged_absent = vec![1u8, 0];
    forged_absent.extend_from_slice(&p_key1[10..]);
    g.err(
        "membership proof rewritten to claim absence",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Key, "key-1", &forged_absent),
        "proof_invalid",
    );
    g.err(
        "truncated proof",
        "verify_non_membership",
        proof_args(
            &root,
            ObjectKind::Token,
            "token-3",
            &p_tok3[..p_tok3.len() - 1],
        ),
        "malformed",
    );
    g.err(
        "proof cut inside the bitmap",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &p_tok3[..20]),
        "malformed",
    );
    g.err(
        "empty proof",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &[]),
        "malformed",
    );
    g.err(
        "trailing byte",
        "verify_non_membership",
        proof_args(
            &root,
            ObjectKind::Token,
            "token-3",
            &[&p_tok3[..], &[0]].concat(),
        ),
        "malformed",
    );
    let mut bitmap_flipped = p_tok3.clone();
    bitmap_flipped[2] ^= 0x80; // bit 0: one sibling more or less than carried
    g.err(
        "bitmap bit flipped (sibling count differs)",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &bitmap_flipped),
        "malformed",
    );
    let mut v2 = p_tok3.clone();
    v2[0] = 2;
    g.err(
        "unknown version",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &v2),
        "unsupported_version",
    );
    let mut status2 = p_tok3.clone();
    status2[1] = 2;
    g.err(
        "unknown status byte",
        "verify_non_membership",
        proof_args(&root, ObjectKind::Token, "token-3", &status2),
        "malformed",
    );
    let mut carried_empty = empty_proof.clone();
    carried_empty[2 + 31] |= 0x01; // bit 255: the leaf's sibling
    carried_empty.extend_from_slice(&empty_hash(0));
    g.err(
        "an empty sibling carried instead of left out (non-canonical)",
        "verify_non_membership",
        proof_args(&empty_root(), ObjectKind::Key, "key-1", &carried_empty),
        "malformed",
    );
    g.err(
        "proof over the size limit",
        "verify_non_membership",
        proof_args(
            &root,
            ObjectKind::Token,
            "token-3",
            &vec![1u8; MAX_PROOF_BYTES + 1],
        ),
        "too_large",
    );
    let mut bad_root = proof_args(&root, ObjectKind::Token, "token-3", &p_tok3);
    bad_root["root"] = json!(b64_encode(&root[..31]));
    g.err(
        "root of 31 bytes",
        "verify_non_membership",
        bad_root,
        "malformed",
    );

    // The checkpoint extension line.
    let line = RevocationsRef {
        count: map.len(),
        root,
    }
    .to_line();
    let rb = b64_encode(&root);
    g.ok(
        "revocations line of the example map",
        "parse_revocations_line",
        json!({"line": line}),
        json!({"revocations": {"count": 8, "root": rb}}),
    );
    g.ok(
        "revocations line of the empty map",
        "parse_revocations_line",
        json!({"line": format!("cairn.revocations 0 {}", b64_encode(&empty_root()))}),
        json!({"revocations": {"count": 0, "root": b64_encode(&empty_root())}}),
    );
    g.ok(
        "a line of another kind is not a revocations line",
        "parse_revocations_line",
        json!({"line": format!("cairn.trust-root 1 {}", "ab".repeat(32))}),
        json!({"revocations": null}),
    );
    for (name, bad) in [
        (
            "count with a leading zero",
            format!("cairn.revocations 08 {rb}"),
        ),
        (
            "root in hex",
            format!("cairn.revocations 8 {}", hex_encode(&root)),
        ),
        (
            "root of 31 bytes",
            format!("cairn.revocations 8 {}", b64_encode(&root[..31])),
        ),
        ("two spaces", format!("cairn.revocations 8  {rb}")),
        ("no root", "cairn.revocations 8".to_string()),
        (
            "count 0 with a non-empty root",
            format!("cairn.revocations 0 {rb}"),
        ),
    ] {
        g.err(
            &format!("revocations line: {name}"),
            "parse_revocations_line",
            json!({"line": bad}),
            "malformed",
        );
    }

    let doc = Doc {
        kind: "revocation_map",
        version: 1,
        description: "The revocation map (docs/FORMATS.md section 17): a depth-256 sparse Merkle tree; map key = SHA-256(0x10 || kind byte (key 1, token 2, manifest 3) || 32-byte id), leaf = SHA-256(0x11 || map key || seq as 8 bytes big-endian), node = SHA-256(0x12 || left || right), empty leaf = 32 zero bytes; proofs = version 1 || status (0 absent, 1 present || 8-byte seq) || 32-byte bitmap of non-empty siblings (bit i MSB-first = the sibling at depth i+1) || those siblings, deepest first. Ids are SHA-256 of labels (\"key-1\", \"token-1\", ...); the example map revokes 8 objects.",
        ops: json!({
            "map_key": "args {kind: key|token|manifest, id: 64 hex}; expect {ok, key: 64 hex}",
            "map_root": "args {revoked: [{kind, id: 64 hex, seq}]}; expect {ok, count, root: base64}",
            "verify_membership": "args {root: base64, kind, id: 64 hex, proof: base64}; expect {ok, seq}",
            "verify_non_membership": "args {root: base64, kind, id: 64 hex, proof: base64}; expect {ok}",
            "parse_revocations_line": "args {line: a checkpoint extension line}; expect {ok, revocations: {count, root: base64} or null for a line of another kind}"
        }),
        cases: g.cases,
    };
    vectors::render(&doc)
}

fn digest_arg(v: &Value, what: &str) -> Result<Digest> {
    b64_decode(v.as_str().unwrap())?
        .as_slice()
        .try_into()
        .map_err(|_| Error::malformed(format!("{what} must be 32 bytes")))
}

fn key_arg(a: &Value) -> Result<Digest> {
    let kind = ObjectKind::parse(a["kind"].as_str().unwrap())?;
    let id = hex_decode_array::<32>(a["id"].as_str().unwrap())?;
    Ok(map_key(kind, &id))
}

fn run(case: &Value) -> Result<Value> {
    let a = &case["args"];
    match case["op"].as_str().unwrap() {
        "map_key" => Ok(json!({"key": hex_encode(&key_arg(a)?)})),
        "map_root" => {
            let mut m = MemoryMap::new();
            let mut stored = NodeMap::new();
            for r in a["revoked"].as_array().unwrap() {
                m.insert(key_arg(r)?, r["seq"].as_u64().unwrap())?;
                stored.insert(key_arg(r)?, r["seq"].as_u64().unwrap())?;
            }
            assert_eq!(stored.root()?, m.root(), "the two builders agree");
            Ok(json!({"count": m.len(), "root": b64_encode(&m.root())}))
        }
        "verify_membership" => {
            let root = digest_arg(&a["root"], "root")?;
            let proof = RevocationProof::from_bytes(&vectors::b64(&a["proof"]))?;
            let seq = verify_membership(&root, &key_arg(a)?, &proof)?;
            Ok(json!({"seq": seq}))
        }
        "verify_non_membership" => {
            let root = digest_arg(&a["root"], "root")?;
            let proof = RevocationProof::from_bytes(&vectors::b64(&a["proof"]))?;
            verify_non_membership(&root, &key_arg(a)?, &proof)?;
            Ok(json!({}))
        }
        "parse_revocations_line" => {
            let r = RevocationsRef::parse_line(a["line"].as_str().unwrap())?;
            Ok(
                json!({"revocations": r.map(|r| json!({"count": r.count, "root": b64_encode(&r.root)}))}),
            )
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn revocation_map_vectors() {
    let cases = vectors::committed("revocation_map", &generate());
    assert!(cases.len() > 40);
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(
        &cases,
        &[
            "map_key",
            "map_root",
            "verify_membership",
            "verify_non_membership",
            "parse_revocations_line",
        ],
    );
    vectors::check(&cases, run);
}

/// A proof decoded from arbitrary bytes never panics, and re-encodes to the same bytes when it
/// decodes at all (one encoding per proof).
#[test]
fn decoding_is_total_and_canonical() {
    let map = map_of(&REVOKED);
    let good = map
        .prove(&map_key(ObjectKind::Token, &id("token-3")))
        .to_bytes();
    for len in 0..good.len() + 2 {
        let mut b = good.clone();
        b.resize(len, 0xff);
        if let Ok(p) = RevocationProof::from_bytes(&b) {
            assert_eq!(p.to_bytes(), b);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random key sets: every present key has a membership proof and no non-membership proof;
    /// every absent key the reverse; each proof proves only its own key.
    #[test]
    fn random_key_sets_give_sound_proofs(
        present in proptest::collection::btree_set(any::<[u8; 32]>(), 0..12),
        absent in proptest::collection::vec(any::<[u8; 32]>(), 1..6),
        shared_prefix in any::<bool>(),
    ) {
        // Half the runs force long common prefixes (keys differing only in their last bytes).
        let fix = |mut k: [u8; 32]| { if shared_prefix { k[..30].fill(0x5a); } k };
        let present: Vec<Digest> = present.into_iter().map(fix).collect();
        let mut m = MemoryMap::new();
        let mut stored = NodeMap::new();
        for (i, k) in present.iter().enumerate() {
            if m.get(k).is_none() {
                m.insert(*k, i as u64).unwrap();
                stored.insert(*k, i as u64).unwrap();
            }
        }
        let root = m.root();
        // The stored-node builder agrees with the reference builder, root and proofs.
        prop_assert_eq!(stored.root().unwrap(), root);
        for k in &present {
            prop_assert_eq!(nodes::prove(&stored, k).unwrap(), m.prove(k));
            let p = RevocationProof::from_bytes(&m.prove(k).to_bytes()).unwrap();
            prop_assert_eq!(p.verify_membership(&root, k).unwrap(), m.get(k).unwrap());
            prop_assert_eq!(p.verify_non_membership(&root, k).unwrap_err().code(), ErrorCode::Revoked);
        }
        for k in absent.into_iter().map(fix) {
            if m.get(&k).is_some() { continue; }
            prop_assert_eq!(nodes::prove(&stored, &k).unwrap(), m.prove(&k));
            let p = RevocationProof::from_bytes(&m.prove(&k).to_bytes()).unwrap();
            prop_assert!(p.verify_non_membership(&root, &k).is_ok());
            prop_assert_eq!(p.verify_membership(&root, &k).unwrap_err().code(), ErrorCode::ProofInvalid);
            for other in &present {
                prop_assert!(p.verify_non_membership(&root, other).is_err());
                prop_assert!(p.verify_membership(&root, other).is_err());
            }
        }
    }
}

/// The worked example in docs/FORMATS.md (revocation map section) is what the code produces.
#[test]
fn worked_example_in_the_format_doc_is_current() {
    let doc = support::format_doc_without_whitespace();
    let map = map_of(&REVOKED);
    let key1 = map_key(ObjectKind::Key, &id("key-1"));
    let proof = map.prove(&key1).to_bytes();
    for s in [
        b64_encode(&empty_root()),
        hex_encode(&empty_root()),
        hex_encode(&map_key(ObjectKind::Key, &id("shared-id"))),
        hex_encode(&map_key(ObjectKind::Token, &id("shared-id"))),
        RevocationsRef {
            count: 8,
            root: map.root(),
        }
        .to_line()
        .replace(' ', ""),
    ] {
        assert!(doc.contains(&s), "docs/FORMATS.md lacks {s}");
    }
    assert_eq!(proof.len(), 106);
    assert_eq!(&proof[..10], &[1, 1, 0, 0, 0, 0, 0, 0, 0, 4]);
    assert_eq!(proof[10], 0xc0);
    let tok3 = map.prove(&map_key(ObjectKind::Token, &id("token-3")));
    assert_eq!((tok3.to_bytes().len(), tok3.bitmap()[0]), (194, 0xf8));
}
