//! Revocation-map proofs at scale, for the JavaScript bench (`benches/js/run.mjs --only
//! revocation`): building a map of 10^6 revoked objects in JavaScript would take minutes, so
//! this builds it here (cairn-core's `MemoryMap`, the same setup as `benches/revocation.rs`)
//! and writes, per size, the root, one revoked token (membership proof and its seq) and one
//! token that is not revoked (non-membership proof), each as `verifyNotRevoked` /
//! `verifyRevoked` take them.
//!
//! Writes one JSON object to standard output: `{"sizes": [{"revoked", "root" (hex), "absent":
//! {"kind", "id" (hex), "proof" (base64), "bytes"}, "present": {"kind", "id", "seq", "proof",
//! "bytes"}}]}`. Sizes are the arguments (default 1000 100000 1000000). Token ids are
//! SHA-256 of the index as 8 bytes big-endian, revoked by entry `seq` = the index.
//!
//! `cargo run --release -p cairn-wasm --example revocation_proofs -- 1000 100000 1000000 > proofs.json`

use cairn_core::encoding::{b64_encode, hex_encode, sha256, Digest};
use cairn_core::revocation::{map_key, MemoryMap, ObjectKind};
use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sizes: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().map_err(|e| format!("size {a:?}: {e}")))
        .collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        sizes = vec![1_000, 100_000, 1_000_000];
    }
    sizes.sort_unstable();
    let id = |i: u64| -> Digest { sha256(&[&i.to_be_bytes()]) };
    let mut map = MemoryMap::new();
    let mut have = 0;
    let mut out: Vec<Value> = Vec::new();
    for n in sizes {
        for i in have..n {
            map.insert(map_key(ObjectKind::Token, &id(i)), i)?;
        }
        have = n;
        let root = map.root();
        let absent = id(u64::MAX - n);
        let present = n / 2;
        let absent_proof = map.prove(&map_key(ObjectKind::Token, &absent)).to_bytes();
        let present_proof = map
            .prove(&map_key(ObjectKind::Token, &id(present)))
            .to_bytes();
        out.push(json!({
            "revoked": n,
            "root": hex_encode(&root),
            "absent": {
                "kind": "token", "id": hex_encode(&absent),
                "proof": b64_encode(&absent_proof), "bytes": absent_proof.len(),
            },
            "present": {
                "kind": "token", "id": hex_encode(&id(present)), "seq": present,
                "proof": b64_encode(&present_proof), "bytes": present_proof.len(),
            },
        }));
        eprintln!("revocation_proofs: {n} revoked objects");
    }
    println!("{}", json!({ "sizes": out }));
    Ok(())
}
