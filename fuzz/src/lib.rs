//! Shared pieces of cairn's fuzz targets: the input framing, the fixed keys and roots taken
//! from `tests/vectors/`, and the keys the "re-sign" modes sign with.
//!
//! Every target reads the same framing ([`Input`]): a mode byte, a flags byte, a `now`
//! (u64, little-endian) and length-prefixed records. Seeds written by `gen-corpus` use it, so
//! libFuzzer starts from valid objects and mutates them; a truncated or garbled frame still
//! yields records (the last one takes whatever is left), so no input is wasted on framing.
//!
//! Signatures cannot be forged by mutation, so the targets that verify signed objects have a
//! second mode that signs the mutated payload with a key the verifier trusts before verifying.
//! That takes the fuzzer past the signature checks and into the decoding and policy logic.

use std::sync::OnceLock;

use cairn_core::crypto::{Algorithm, PublicKey, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_decode, Digest};
use cairn_core::merkle::node_hash;
use cairn_core::token::{TokenClaims, TOKEN_PAYLOAD_TYPE};
use cairn_core::trust::{TrustRoot, TRUST_ROOT_TYPE};
use serde_json::Value;

/// Raw test-vector files, compiled in so the targets need no files at run time.
pub mod vectors {
    /// tests/vectors/blux.json
    pub const BLUX: &str = include_str!("../../tests/vectors/blux.json");
    /// tests/vectors/bundle.json
    pub const BUNDLE: &str = include_str!("../../tests/vectors/bundle.json");
    /// tests/vectors/checkpoint.json
    pub const CHECKPOINT: &str = include_str!("../../tests/vectors/checkpoint.json");
    /// tests/vectors/dsse.json
    pub const DSSE: &str = include_str!("../../tests/vectors/dsse.json");
    /// tests/vectors/ledger.json
    pub const LEDGER: &str = include_str!("../../tests/vectors/ledger.json");
    /// tests/vectors/manifest.json
    pub const MANIFEST: &str = include_str!("../../tests/vectors/manifest.json");
    /// tests/vectors/merkle.json
    pub const MERKLE: &str = include_str!("../../tests/vectors/merkle.json");
    /// tests/vectors/store_export.json
    pub const STORE_EXPORT: &str = include_str!("../../tests/vectors/store_export.json");
    /// tests/vectors/token.json
    pub const TOKEN: &str = include_str!("../../tests/vectors/token.json");
    /// tests/vectors/trust.json
    pub const TRUST: &str = include_str!("../../tests/vectors/trust.json");
    /// tests/vectors/revocation_map.json
    pub const REVOCATION_MAP: &str = include_str!("../../tests/vectors/revocation_map.json");
    /// tests/vectors/cosignature.json
    pub const COSIGNATURE: &str = include_str!("../../tests/vectors/cosignature.json");
    /// tests/vectors/handle.json
    pub const HANDLE: &str = include_str!("../../tests/vectors/handle.json");
    /// tests/vectors/bundle_refresh.json
    pub const BUNDLE_REFRESH: &str = include_str!("../../tests/vectors/bundle_refresh.json");
}

/// The `cases` array of a vector file.
pub fn cases(file: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(file).expect("test vectors are JSON");
    v["cases"]
        .as_array()
        .expect("vector file has cases")
        .clone()
}

/// Decodes a base64 string field.
pub fn b64(v: &Value) -> Vec<u8> {
    b64_decode(v.as_str().expect("base64 string")).expect("valid base64 in vectors")
}

/// A public key from a vector's `{algorithm|alg, public_key|key}` object.
pub fn key_from_json(v: &Value) -> PublicKey {
    let alg = v
        .get("algorithm")
        .or_else(|| v.get("alg"))
        .and_then(Value::as_str)
        .expect("key algorithm");
    let bytes = b64(v
        .get("public_key")
        .or_else(|| v.get("key"))
        .expect("key bytes"));
    PublicKey::from_bytes(Algorithm::parse(alg).expect("known algorithm"), &bytes)
        .expect("vector key decodes")
}

/// Every distinct key listed under `field` in the cases of a vector file.
pub fn all_keys(file: &str, field: &str) -> Vec<PublicKey> {
    let mut out: Vec<PublicKey> = Vec::new();
    for c in cases(file) {
        if let Some(list) = c["args"][field].as_array() {
            for k in list {
                let k = key_from_json(k);
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
    }
    out
}

/// Picks element `i % len` of a non-empty slice.
pub fn pick<T>(items: &[T], i: u8) -> &T {
    &items[usize::from(i) % items.len()]
}

/// Fixed signing keys for the re-sign modes: Ed25519 from seeds 0xf0.., deterministic, so
/// ids computed by `gen-corpus` match the ones the targets compute.
pub fn pool() -> &'static [SigningKey] {
    static POOL: OnceLock<Vec<SigningKey>> = OnceLock::new();
    POOL.get_or_init(|| {
        (0..4u8)
            .map(|i| SigningKey::from_seed(Algorithm::Ed25519, &[0xf0 + i; 32]))
            .collect()
    })
}

/// The pool key whose public key is `pk`, if any.
pub fn pool_key_for(pk: &PublicKey) -> Option<&'static SigningKey> {
    pool().iter().find(|k| k.public_key() == pk)
}

/// Signs token claim payloads as a delegation chain: the root by `pool()[0]` (the trusted
/// issuer), each child by the pool key its parent names as holder (`pool()[0]` if none).
/// `None` if a payload breaks the envelope limits.
pub fn sign_token_chain(payloads: &[Vec<u8>]) -> Option<Vec<Envelope>> {
    let mut out: Vec<Envelope> = Vec::new();
    let mut signer = &pool()[0];
    for payload in payloads {
        let mut env = Envelope::new(TOKEN_PAYLOAD_TYPE, payload.clone()).ok()?;
        env.sign_deterministic(signer).ok()?;
        out.push(env);
        signer = TokenClaims::from_payload(payload)
            .ok()
            .and_then(|c| pool_key_for(&c.holder))
            .unwrap_or(&pool()[0]);
    }
    Some(out)
}

fn listed_pool_keys(root: Option<&TrustRoot>) -> Vec<&'static SigningKey> {
    pool()
        .iter()
        .filter(|k| root.is_some_and(|r| r.keys.iter().any(|t| t.public_key == *k.public_key())))
        .collect()
}

/// Signs trust-root payloads as a rotation chain: each version by every pool key that it or
/// the version before it lists (`pool()[0]` if none). `None` if a payload breaks the
/// envelope limits.
pub fn sign_root_chain(payloads: &[Vec<u8>]) -> Option<Vec<Envelope>> {
    let mut out = Vec::new();
    let mut prev: Option<TrustRoot> = None;
    for payload in payloads {
        let this = TrustRoot::from_bytes(payload).ok();
        let mut signers = listed_pool_keys(prev.as_ref());
        for k in listed_pool_keys(this.as_ref()) {
            if !signers.iter().any(|s| s.public_key() == k.public_key()) {
                signers.push(k);
            }
        }
        if signers.is_empty() {
            signers.push(&pool()[0]);
        }
        let mut env = Envelope::new(TRUST_ROOT_TYPE, payload.clone()).ok()?;
        for k in signers {
            env.sign_deterministic(k).ok()?;
        }
        out.push(env);
        prev = this;
    }
    Some(out)
}

/// A fuzz input: mode, flags, `now` and records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// Selects what the target does with the records.
    pub mode: u8,
    /// Target-specific switches (which vector case, which policy options).
    pub flags: u8,
    /// The verifier's clock.
    pub now: u64,
    /// The objects, in target-specific order.
    pub records: Vec<Vec<u8>>,
}

/// Most records one input is split into.
pub const MAX_RECORDS: usize = 16;

impl Input {
    /// Splits `data`: `mode`, `flags`, `now` (8 bytes LE), then records of `u32 LE length ‖
    /// bytes`. A length running past the end takes the rest.
    pub fn parse(data: &[u8]) -> Input {
        let mut input = Input::default();
        let mut rest = data;
        let take = |n: usize, rest: &mut &[u8]| -> Vec<u8> {
            let n = n.min(rest.len());
            let (a, b) = rest.split_at(n);
            *rest = b;
            a.to_vec()
        };
        input.mode = take(1, &mut rest).first().copied().unwrap_or(0);
        input.flags = take(1, &mut rest).first().copied().unwrap_or(0);
        let mut now = [0u8; 8];
        let t = take(8, &mut rest);
        now[..t.len()].copy_from_slice(&t);
        input.now = u64::from_le_bytes(now);
        while !rest.is_empty() && input.records.len() < MAX_RECORDS {
            let mut len = [0u8; 4];
            let l = take(4, &mut rest);
            len[..l.len()].copy_from_slice(&l);
            let n = u32::from_le_bytes(len) as usize;
            input.records.push(take(n, &mut rest));
        }
        input
    }

    /// The inverse of [`Input::parse`] (for up to [`MAX_RECORDS`] records).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.mode, self.flags];
        out.extend_from_slice(&self.now.to_le_bytes());
        for r in &self.records {
            out.extend_from_slice(&(r.len() as u32).to_le_bytes());
            out.extend_from_slice(r);
        }
        out
    }
}

/// The root an RFC 9162 inclusion proof leads to (`None` where `verify_inclusion` would
/// refuse the shape of the proof). Used to re-sign checkpoints over mutated entries.
pub fn root_from_inclusion(
    leaf: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
) -> Option<Digest> {
    if index >= size {
        return None;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips() {
        let i = Input {
            mode: 1,
            flags: 7,
            now: 1_800_000_000,
            records: vec![b"abc".to_vec(), Vec::new(), vec![0; 300]],
        };
        assert_eq!(Input::parse(&i.to_bytes()), i);
        assert_eq!(Input::parse(&[]), Input::default());
    }
}
