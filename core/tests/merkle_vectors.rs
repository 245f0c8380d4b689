//! tests/vectors/merkle.json: generated from the leaves "leaf-0", "leaf-1", ... and checked
//! case by case. `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test merkle_vectors`
//! rewrites the file; otherwise the committed file must equal what the generator produces.

mod support;

use cairn_core::encoding::{b64_encode, Digest};
use cairn_core::merkle::*;
use cairn_core::Result;
use serde_json::{json, Value};
use support::vectors::{self, Case, Doc};

fn leaf_bytes(i: u64) -> Vec<u8> {
    format!("leaf-{i}").into_bytes()
}

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(&leaf_bytes(i)).unwrap();
    }
    t
}

fn b64s(ds: &[Digest]) -> Value {
    Value::from(ds.iter().map(|d| b64_encode(d)).collect::<Vec<_>>())
}

fn flip(d: &Digest, byte: usize) -> Digest {
    let mut d = *d;
    d[byte] ^= 0x01;
    d
}

struct Gen {
    cases: Vec<Case>,
}

impl Gen {
    fn ok(&mut self, name: &str, op: &str, args: Value, extra: Value) {
        let mut expect = json!({"ok": true});
        if let (Some(e), Some(x)) = (expect.as_object_mut(), extra.as_object()) {
            for (k, v) in x {
                e.insert(k.clone(), v.clone());
            }
        }
        self.push(name, op, args, expect);
    }
    fn err(&mut self, name: &str, op: &str, args: Value, code: &str) {
        self.push(name, op, args, json!({ "error": code }));
    }
    fn push(&mut self, name: &str, op: &str, args: Value, expect: Value) {
        self.cases.push(Case {
            name: name.into(),
            op: op.into(),
            args,
            expect,
        });
    }
}

fn inclusion_args(leaf: &Digest, index: u64, size: u64, proof: &[Digest], root: &Digest) -> Value {
    json!({
        "leaf_hash": b64_encode(leaf),
        "index": index,
        "tree_size": size,
        "proof": b64s(proof),
        "root": b64_encode(root),
    })
}

fn consistency_args(old: u64, new: u64, r1: &Digest, r2: &Digest, proof: &[Digest]) -> Value {
    json!({
        "old_size": old,
        "new_size": new,
        "old_root": b64_encode(r1),
        "new_root": b64_encode(r2),
        "proof": b64s(proof),
    })
}

fn generate() -> String {
    let t = tree(16);
    let mut g = Gen { cases: vec![] };

    for size in [0u64, 1, 2, 3, 4, 6, 9, 10] {
        let leaves: Vec<String> = (0..size).map(|i| b64_encode(&leaf_bytes(i))).collect();
        g.ok(
            &format!("root of {size} leaves"),
            "merkle_root",
            json!({ "leaves": leaves }),
            json!({ "root": b64_encode(&t.root_at(size).unwrap()) }),
        );
    }

    let op = "verify_inclusion";
    for (index, size) in [
        (0u64, 1u64),
        (0, 10),
        (5, 10),
        (9, 10),
        (5, 6),
        (2, 3),
        (7, 16),
    ] {
        let proof = t.prove_inclusion(index, size).unwrap();
        let args = inclusion_args(
            &t.leaf_hash(index).unwrap(),
            index,
            size,
            &proof,
            &t.root_at(size).unwrap(),
        );
        g.ok(&format!("leaf {index} of {size}"), op, args, json!({}));
    }
    let (leaf5, root10) = (t.leaf_hash(5).unwrap(), t.root_at(10).unwrap());
    let p5 = t.prove_inclusion(5, 10).unwrap();
    let mut p = p5.clone();
    p[1] = flip(&p[1], 31);
    g.err(
        "flipped bit in a proof hash",
        op,
        inclusion_args(&leaf5, 5, 10, &p, &root10),
        "proof_invalid",
    );
    g.err(
        "flipped bit in the root",
        op,
        inclusion_args(&leaf5, 5, 10, &p5, &flip(&root10, 0)),
        "proof_invalid",
    );
    g.err(
        "wrong leaf hash",
        op,
        inclusion_args(&t.leaf_hash(4).unwrap(), 5, 10, &p5, &root10),
        "proof_invalid",
    );
    g.err(
        "proof truncated by its last hash",
        op,
        inclusion_args(&leaf5, 5, 10, &p5[..3], &root10),
        "proof_invalid",
    );
    let mut p = p5.clone();
    p.push(root10);
    g.err(
        "proof with an extra hash",
        op,
        inclusion_args(&leaf5, 5, 10, &p, &root10),
        "proof_invalid",
    );
    g.err(
        "index off by one",
        op,
        inclusion_args(&leaf5, 4, 10, &p5, &root10),
        "proof_invalid",
    );
    let p9 = t.prove_inclusion(9, 10).unwrap();
    g.err(
        "last leaf claimed in a larger tree (shape changes)",
        op,
        inclusion_args(&t.leaf_hash(9).unwrap(), 9, 11, &p9, &root10),
        "proof_invalid",
    );
    g.ok(
        "leaf 0 of 10 also verifies as of size 16 (same shape: the checkpoint binds the size)",
        op,
        inclusion_args(
            &t.leaf_hash(0).unwrap(),
            0,
            16,
            &t.prove_inclusion(0, 10).unwrap(),
            &root10,
        ),
        json!({}),
    );
    g.err(
        "index equal to tree size",
        op,
        inclusion_args(&leaf5, 10, 10, &p5, &root10),
        "malformed",
    );
    g.err(
        "empty tree",
        op,
        inclusion_args(&EMPTY_ROOT, 0, 0, &[], &EMPTY_ROOT),
        "malformed",
    );
    g.err(
        "proof of 65 hashes",
        op,
        inclusion_args(&leaf5, 5, 10, &vec![root10; 65], &root10),
        "malformed",
    );

    let op = "verify_consistency";
    for (old, new) in [
        (1u64, 10u64),
        (2, 10),
        (3, 10),
        (4, 10),
        (5, 10),
        (9, 10),
        (10, 10),
        (3, 4),
        (7, 16),
    ] {
        let proof = t.prove_consistency(old, new).unwrap();
        let args = consistency_args(
            old,
            new,
            &t.root_at(old).unwrap(),
            &t.root_at(new).unwrap(),
            &proof,
        );
        g.ok(&format!("{old} to {new}"), op, args, json!({}));
    }
    let (r3, r4) = (t.root_at(3).unwrap(), t.root_at(4).unwrap());
    let p3 = t.prove_consistency(3, 10).unwrap();
    let mut p = p3.clone();
    p[2] = flip(&p[2], 7);
    g.err(
        "flipped bit in a proof hash",
        op,
        consistency_args(3, 10, &r3, &root10, &p),
        "proof_invalid",
    );
    g.err(
        "flipped bit in the old root",
        op,
        consistency_args(3, 10, &flip(&r3, 1), &root10, &p3),
        "proof_invalid",
    );
    g.err(
        "flipped bit in the new root",
        op,
        consistency_args(3, 10, &r3, &flip(&root10, 1), &p3),
        "proof_invalid",
    );
    g.err(
        "proof missing its last hash",
        op,
        consistency_args(3, 10, &r3, &root10, &p3[..4]),
        "proof_invalid",
    );
    let mut p = p3.clone();
    p.insert(0, r3);
    g.err(
        "proof with an extra hash",
        op,
        consistency_args(3, 10, &r3, &root10, &p),
        "proof_invalid",
    );
    g.err(
        "empty proof between different sizes",
        op,
        consistency_args(3, 10, &r3, &root10, &[]),
        "proof_invalid",
    );
    let p4 = t.prove_consistency(4, 10).unwrap();
    let mut p = p4.clone();
    p.insert(0, r4);
    g.err(
        "old root wrongly included for a power-of-two old size",
        op,
        consistency_args(4, 10, &r4, &root10, &p),
        "proof_invalid",
    );
    g.err(
        "old size off by one (shape changes)",
        op,
        consistency_args(4, 10, &r3, &root10, &p3),
        "proof_invalid",
    );
    g.err(
        "equal sizes with a non-empty proof",
        op,
        consistency_args(10, 10, &root10, &root10, &[r3]),
        "proof_invalid",
    );
    g.err(
        "equal sizes with different roots",
        op,
        consistency_args(10, 10, &root10, &t.root_at(9).unwrap(), &[]),
        "proof_invalid",
    );
    g.err(
        "from the empty tree",
        op,
        consistency_args(0, 10, &EMPTY_ROOT, &root10, &[]),
        "malformed",
    );
    g.err(
        "old size above new size",
        op,
        consistency_args(10, 3, &root10, &r3, &p3),
        "malformed",
    );
    g.err(
        "proof of 65 hashes",
        op,
        consistency_args(3, 10, &r3, &root10, &vec![r3; 65]),
        "malformed",
    );

    let doc = Doc {
        kind: "merkle",
        version: 1,
        description: "RFC 6962 / RFC 9162 Merkle tree hashing and proof verification (RFC 9162 §2.1.3.2, §2.1.4.2). Leaves are the ASCII strings leaf-0, leaf-1, ...; every hash is standard base64 of 32 bytes; proofs are ordered bottom-up.",
        ops: json!({
            "merkle_root": "args {leaves: [base64 leaf bytes]}; expect {ok, root: base64 32-byte root} (leaf hash SHA-256(0x00||leaf), node hash SHA-256(0x01||l||r), empty tree SHA-256(\"\"))",
            "verify_inclusion": "args {leaf_hash, index, tree_size, proof: [base64 hash], root}: verify_inclusion(leaf_hash, index, tree_size, proof, root)",
            "verify_consistency": "args {old_size, new_size, old_root, new_root, proof: [base64 hash]}: verify_consistency(old_size, new_size, old_root, new_root, proof)"
        }),
        cases: g.cases,
    };
    vectors::render(&doc)
}

fn digest(v: &Value) -> Digest {
    vectors::b64(v).try_into().unwrap()
}

fn digests(v: &Value) -> Vec<Digest> {
    v.as_array().unwrap().iter().map(digest).collect()
}

fn run(case: &Value) -> Result<Value> {
    let a = &case["args"];
    let n = |k: &str| a[k].as_u64().unwrap();
    match case["op"].as_str().unwrap() {
        "merkle_root" => {
            let leaves: Vec<Digest> = a["leaves"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| leaf_hash(&vectors::b64(l)))
                .collect();
            Ok(json!({ "root": b64_encode(&root_of(&leaves)) }))
        }
        "verify_inclusion" => verify_inclusion(
            &digest(&a["leaf_hash"]),
            n("index"),
            n("tree_size"),
            &digests(&a["proof"]),
            &digest(&a["root"]),
        )
        .map(|()| json!({})),
        "verify_consistency" => verify_consistency(
            n("old_size"),
            n("new_size"),
            &digest(&a["old_root"]),
            &digest(&a["new_root"]),
            &digests(&a["proof"]),
        )
        .map(|()| json!({})),
        op => panic!("unknown op {op}"),
    }
}

#[test]
fn merkle_vectors() {
    let cases = vectors::committed("merkle", &generate());
    assert!(cases.len() > 40);
    // merkle_root takes any leaves, so it has no invalid case; case names repeat across the
    // two proof ops ("proof with an extra hash" for both), so only (op, name) is unique.
    vectors::assert_both_verdicts(&cases, &["verify_inclusion", "verify_consistency"]);
    vectors::check(&cases, run);
}
