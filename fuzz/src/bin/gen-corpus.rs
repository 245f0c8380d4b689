//! Writes the seed corpora of every fuzz target, from tests/vectors/ and from objects built
//! with the fixed keys the targets' re-sign modes trust.
//!
//! Usage: `gen-corpus [DIR]` (default: `corpus/` beside this crate's Cargo.toml). Seeds go to
//! `DIR/<target>/seed-<hash>`; existing files are left alone, so running it over a corpus
//! grown by earlier fuzzing only adds what is missing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_core::bundle::example::{MemoryRegistry, NOW};
use cairn_core::bundle::{verify_bundle, BundlePolicy};
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{hex_encode, sha256};
use cairn_core::merkle::{ConsistencyProof, InclusionProof, MemoryTree};
use cairn_core::note::Note;
use cairn_core::token::{verify_token, ConstraintValue, TokenBuilder, VerifyOptions};
use cairn_core::trust::{
    sign_root, verify_trust_root_chain, Role, RoleSet, Thresholds, TrustRoot, TrustedKey,
    VerifiedRoot,
};
use cairn_fuzz::{b64, cases, pool, sign_root_chain, sign_token_chain, vectors, Input};
use serde_json::Value;

// The fuzz build instruments every binary of this crate for coverage; libFuzzer's runtime
// supplies the symbols that instrumentation references. This binary keeps its own `main`.
use libfuzzer_sys as _;

#[derive(Default)]
struct Corpus(BTreeMap<&'static str, Vec<Vec<u8>>>);

impl Corpus {
    fn add(&mut self, target: &'static str, mode: u8, flags: u8, now: u64, records: Vec<Vec<u8>>) {
        let input = Input {
            mode,
            flags,
            now,
            records,
        };
        self.0.entry(target).or_default().push(input.to_bytes());
    }
}

/// An envelope argument of the vectors: base64 bytes, or `{compact}` / `{json}`.
fn envelope_bytes(v: &Value) -> Vec<u8> {
    if let Some(c) = v.get("compact") {
        b64(c)
    } else if let Some(j) = v.get("json") {
        j.as_str().unwrap().as_bytes().to_vec()
    } else {
        b64(v)
    }
}

fn now_of(c: &Value) -> u64 {
    c["args"]["now"].as_u64().unwrap_or(0)
}

fn dsse(out: &mut Corpus) {
    for (i, c) in cases(vectors::DSSE).iter().enumerate() {
        let env = envelope_bytes(&c["args"]["envelope"]);
        out.add("dsse", 0, i as u8, 0, vec![env.clone()]);
        out.add("dsse", 1, 0, 0, vec![env]);
    }
}

fn checkpoint(out: &mut Corpus) {
    for (i, c) in cases(vectors::CHECKPOINT).iter().enumerate() {
        let note = c["args"]["note"].as_str().unwrap().as_bytes().to_vec();
        if let Ok(n) = Note::parse(&note) {
            out.add("checkpoint", 1, 0, 0, vec![n.text().as_bytes().to_vec()]);
        }
        out.add("checkpoint", 0, i as u8, 0, vec![note]);
    }
}

fn token(out: &mut Corpus) {
    for c in cases(vectors::TOKEN) {
        let a = &c["args"];
        let mut records: Vec<Vec<u8>> = a["parents"].as_array().unwrap().iter().map(b64).collect();
        records.push(b64(&a["token"]));
        let mut flags = u8::from(a["audience"] == "registry.example");
        flags |= match a["capability"].as_str() {
            Some("read") => 1 << 1,
            Some("publish") => 2 << 1,
            Some("yank") => 3 << 1,
            _ => 0,
        };
        out.add("token", 0, flags, now_of(&c), records);
    }
    // Delegation chains over the fixed pool: pool[0] issues to pool[1], which delegates to
    // pool[2], which delegates to pool[3].
    let t0 = 1_767_225_600;
    let p = pool();
    let root = TokenBuilder::new(p[1].public_key().clone())
        .audience("registry.example")
        .capability("read")
        .capability("publish")
        .capability("yank")
        .constraint("max_size", ConstraintValue::Max(1 << 20))
        .validity(t0, t0 + 30 * 86_400)
        .nonce([1; 16])
        .deterministic()
        .issue(&p[0])
        .unwrap();
    let child = TokenBuilder::new(p[2].public_key().clone())
        .capability("read")
        .capability("publish")
        .constraint("max_size", ConstraintValue::Max(1 << 10))
        .validity(t0 + 10, t0 + 20 * 86_400)
        .nonce([2; 16])
        .deterministic()
        .delegate(&root, &p[1])
        .unwrap();
    let grandchild = TokenBuilder::new(p[3].public_key().clone())
        .capability("read")
        .constraint("max_size", ConstraintValue::Max(1 << 8))
        .validity(t0 + 20, t0 + 10 * 86_400)
        .nonce([3; 16])
        .deterministic()
        .delegate(&child, &p[2])
        .unwrap();
    let chain = [root, child, grandchild];
    for len in 1..=chain.len() {
        let payloads: Vec<Vec<u8>> = chain[..len].iter().map(|e| e.payload.clone()).collect();
        // The target's re-sign mode must turn these seeds into chains that verify.
        let signed = sign_token_chain(&payloads).unwrap();
        let trusted = [p[0].public_key().clone()];
        let (tok, parents) = signed.split_last().unwrap();
        verify_token(
            tok,
            parents,
            &trusted,
            t0 + 86_400,
            &[][..],
            &VerifyOptions::default(),
        )
        .expect("re-signed token chain seed verifies");
        for flags in [0u8, 0b11, 0x10] {
            out.add("token", 1, flags, t0 + 86_400, payloads.clone());
        }
        let envs = chain[..len].iter().map(Envelope::to_compact).collect();
        out.add("token", 0, 0, t0 + 86_400, envs);
    }
}

fn trust(out: &mut Corpus) {
    for c in cases(vectors::TRUST) {
        let a = &c["args"];
        let mut records = vec![b64(&a["pinned"])];
        records.extend(a["chain"].as_array().unwrap().iter().map(b64));
        out.add("trust", 0, 0, now_of(&c), records);
    }
    // A rotation over the fixed pool: v1 {pool0}, v2 {pool0, pool1}, v3 {pool1, pool2}.
    let p = pool();
    let key = |k: &SigningKey, roles: &[Role]| {
        TrustedKey::new(k.public_key().clone(), RoleSet::of(roles), "fuzz")
    };
    let all = [
        Role::Root,
        Role::Checkpoint,
        Role::TokenIssuer,
        Role::ManifestSigner,
    ];
    let t = Thresholds::default()
        .with(Role::Root, 1)
        .with(Role::Checkpoint, 1)
        .with(Role::TokenIssuer, 1)
        .with(Role::ManifestSigner, 1);
    let v1 = sign_root(
        &TrustRoot::initial(
            "fuzz.example/log",
            1_000,
            1_000_000,
            vec![key(&p[0], &all)],
            t,
        ),
        &[&p[0]],
    )
    .unwrap();
    let r1 = VerifiedRoot::from_pinned(&v1).unwrap();
    let t2 = t.with(Role::Root, 2);
    let v2r = r1.successor(
        2_000,
        2_000_000,
        vec![key(&p[0], &all), key(&p[1], &all)],
        t2,
    );
    let v2 = sign_root(&v2r, &[&p[0], &p[1]]).unwrap();
    let r2 = VerifiedRoot::from_pinned(&v2).unwrap();
    let v3r = r2.successor(
        3_000,
        3_000_000,
        vec![key(&p[1], &all), key(&p[2], &[Role::Root])],
        t,
    );
    let v3 = sign_root(&v3r, &[&p[0], &p[1], &p[2]]).unwrap();
    let chain = [v1, v2, v3];
    for len in 1..=chain.len() {
        let payloads: Vec<Vec<u8>> = chain[..len].iter().map(|e| e.payload.clone()).collect();
        let signed = sign_root_chain(&payloads).unwrap();
        verify_trust_root_chain(&signed[0], &signed[1..], 5_000)
            .expect("re-signed trust root chain seed verifies");
        out.add("trust", 1, 0, 5_000, payloads);
        let envs = chain[..len].iter().map(Envelope::to_compact).collect();
        out.add("trust", 0, 0, 5_000, envs);
    }
}

fn merkle(out: &mut Corpus) {
    let mut t = MemoryTree::new();
    for i in 0..64u64 {
        t.append(&i.to_le_bytes()).unwrap();
    }
    for n in [1u64, 2, 3, 5, 8, 13, 31, 64] {
        let flags = (n - 1) as u8;
        for index in [0, n / 2, n - 1] {
            let p = InclusionProof {
                leaf_index: index,
                tree_size: n,
                hashes: t.prove_inclusion(index, n).unwrap(),
            };
            out.add("merkle", 0, flags, 0, vec![p.to_bytes()]);
        }
        for old in [1, n / 2, n - 1] {
            if old == 0 || old > n {
                continue;
            }
            if let Ok(hashes) = t.prove_consistency(old, n) {
                let p = ConsistencyProof {
                    old_size: old,
                    new_size: n,
                    hashes,
                };
                out.add("merkle", 1, flags, 0, vec![p.to_bytes()]);
            }
        }
    }
}

fn ledger(out: &mut Corpus) {
    for c in cases(vectors::LEDGER) {
        let a = &c["args"];
        match c["op"].as_str().unwrap() {
            "verify_chain" => {
                let entries: Vec<Vec<u8>> =
                    a["entries"].as_array().unwrap().iter().map(b64).collect();
                out.add("ledger", 0, 0, 0, entries.clone());
                out.add("ledger", 2, 0, 0, entries);
            }
            _ => {
                let threshold = a["threshold"].as_u64().unwrap_or(1);
                let flags = u8::from(threshold >= 2);
                out.add("ledger", 1, flags, 0, vec![b64(&a["entry"])]);
            }
        }
    }
}

/// Ledger export streams: whole (mode 0) and split into frame bodies (mode 1).
fn export(out: &mut Corpus) {
    for c in cases(vectors::STORE_EXPORT) {
        let stream = b64(&c["args"]["stream"]);
        out.add("export", 0, 0, 0, vec![stream.clone()]);
        let mut frames = Vec::new();
        let mut rest = stream.get(9..).unwrap_or(&[]);
        while rest.len() >= 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let end = (4 + len).min(rest.len());
            frames.push(rest[4..end].to_vec());
            rest = &rest[end..];
        }
        if !frames.is_empty() && frames.len() <= cairn_fuzz::MAX_RECORDS {
            out.add("export", 1, 0, 0, frames);
        }
    }
}

fn manifest(out: &mut Corpus) {
    for (i, c) in cases(vectors::MANIFEST).iter().enumerate() {
        let a = &c["args"];
        let m = b64(&a["manifest"]);
        if let Ok(env) = Envelope::parse(&m) {
            out.add("manifest", 1, 0, 0, vec![env.payload.clone()]);
        }
        let mut records = vec![m];
        if !a["artifact"].is_null() {
            records.push(b64(&a["artifact"]));
        }
        out.add("manifest", 0, i as u8, 0, records);
    }
}

/// HTTP credentials: valid proofs by the target's holder key, and a token value.
fn http(out: &mut Corpus) {
    use cairn_core::http::{authorization_value, sign_request};
    let holder = SigningKey::from_seed(Algorithm::Ed25519, &[9; 32]);
    let token = Envelope::new("application/x.example", b"token".to_vec()).unwrap();
    for (method, path, body, t) in [
        (
            "POST",
            "/api/v1/registry/register",
            &b"{}"[..],
            1_700_000_000u64,
        ),
        (
            "DELETE",
            "/api/v1/registry/node-1?x=1",
            &b""[..],
            1_800_000_000,
        ),
    ] {
        let proof =
            sign_request(&holder, &[7; 32], method, path, body, t, "0123456789abcdef").unwrap();
        out.add(
            "http",
            0,
            0,
            t + 5,
            vec![
                authorization_value(&token).into_bytes(),
                proof.into_bytes(),
                method.as_bytes().to_vec(),
                path.as_bytes().to_vec(),
                body.to_vec(),
            ],
        );
    }
}

/// Tiles: the real tiles of a 300-leaf tree in the order the client asks for them (so the
/// fuzzer starts from inputs that verify), behind a few tile paths.
fn tiles(out: &mut Corpus) {
    use cairn_core::checkpoint::VerifiedCheckpoint;
    use cairn_core::merkle::MemoryTree;
    use cairn_core::tiles::{encode_entry_bundle, tile_bytes, Tile, TileClient, TileKind};
    let mut tree = MemoryTree::new();
    let leaves: Vec<Vec<u8>> = (0..300u64)
        .map(|i| format!("leaf {i}").into_bytes())
        .collect();
    for l in &leaves {
        tree.append(l).unwrap();
    }
    let cp = VerifiedCheckpoint {
        origin: "fuzz.example/log".into(),
        size: 300,
        root: tree.root(),
        extensions: Vec::new(),
        signers: Vec::new(),
    };
    for (path, index, old) in [
        ("tile/0/000", 5u64, 3u64),
        ("tile/entries/001.p/44", 299, 256),
        ("tile/1/000.p/1", 100, 1),
    ] {
        let served = std::cell::RefCell::new(Vec::new());
        let client = TileClient::new(&cp, |t: &Tile| {
            let bytes = match t.kind {
                TileKind::Entries => {
                    let start = (t.index * 256) as usize;
                    encode_entry_bundle(
                        leaves[start..start + t.width as usize]
                            .iter()
                            .map(Vec::as_slice),
                    )?
                }
                TileKind::Hashes(_) => tile_bytes(&tree, t)?,
            };
            served.borrow_mut().push(bytes.clone());
            Ok(bytes)
        });
        client.entry(index).unwrap();
        let old_cp = VerifiedCheckpoint {
            size: old,
            root: tree.root_at(old).unwrap(),
            ..cp.clone()
        };
        client.consistency_proof(&old_cp).unwrap();
        let mut records = vec![path.as_bytes().to_vec()];
        records.extend(served.into_inner());
        out.add("tiles", 0, 0, index | (old << 16), records);
    }
}

/// Node specs: a full one, a minimal one, and near misses (an unknown field, a bad URL).
fn nodespec(out: &mut Corpus) {
    for spec in [
        r#"{"id":"memory-adapter-01","name":"Memory adapter","version":"1.2.0","capabilities":["memory.store","x:y/z"],"signals":["memory_stored"],"endpoints":[{"name":"api","url":"https://memory.example.test/v1"}],"provenance":{"source":"https://git.example.test/m","sha256":"abababababababababababababababababababababababababababababababab"}}"#,
        r#"{"id":"n","name":"N","version":"1","provenance":{"source":"s"}}"#,
        r#"{"id":"n","name":"N","version":"1","provenance":{"source":"s"},"extra":1}"#,
        r#"{"id":"n","name":"N","version":"1","endpoints":[{"name":"a","url":"javascript:x"}],"provenance":{"source":"s"}}"#,
    ] {
        out.add("nodespec", 0, 0, 0, vec![spec.as_bytes().to_vec()]);
    }
}

fn blux(out: &mut Corpus) {
    let (mut tokens, mut manifests) = (0u8, 0u8);
    for c in cases(vectors::BLUX) {
        let a = &c["args"];
        let text = |k: &str| a[k].as_str().unwrap().as_bytes().to_vec();
        match c["op"].as_str().unwrap() {
            "canonical_json" => out.add("blux", 0, 0, 0, vec![text("json")]),
            "blux_verify_token" => {
                out.add("blux", 1, tokens, now_of(&c), vec![text("token")]);
                out.add("blux", 0, 0, 0, vec![text("token")]);
                out.add("blux", 5, 0, now_of(&c), vec![text("token")]);
                tokens += 1;
            }
            "blux_verify_manifest" => {
                out.add("blux", 2, manifests, 0, vec![text("manifest")]);
                out.add("blux", 6, 0, 0, vec![text("manifest")]);
                manifests += 1;
            }
            _ => {
                out.add("blux", 3, 0, 0, vec![text("ledger")]);
                out.add("blux", 4, 0, 0, vec![text("ledger")]);
            }
        }
    }
}

fn bundle(out: &mut Corpus) {
    for c in cases(vectors::BUNDLE) {
        let a = &c["args"];
        let mut records = vec![b64(&a["bundle"])];
        if !a["artifact"].is_null() {
            records.push(b64(&a["artifact"]));
        }
        out.add("bundle", 0, 1, now_of(&c), records);
    }
    // The example registry the target's mode 1 verifies against (seed 40).
    let mut reg = MemoryRegistry::new(40);
    let artifact = b"fuzz artifact".to_vec();
    let (manifest, mseq) = reg.sign_artifact("artifact.bin", &artifact).unwrap();
    let holder = SigningKey::from_seed(Algorithm::Ed25519, &[41; 32]);
    let (tok, tseq) = reg.issue_token(&holder, "read", 3_600).unwrap();
    let m = reg.bundle(mseq, manifest, Vec::new()).unwrap();
    let t = reg.bundle(tseq, tok, Vec::new()).unwrap();
    for b in [&m, &t] {
        verify_bundle(b, &reg.pinned(), NOW, &BundlePolicy::default())
            .expect("example registry bundle seed verifies");
    }
    let (m, t) = (m.to_bytes(), t.to_bytes());
    for flags in [0x01u8, 0x30, 0x31] {
        out.add("bundle", 1, flags, NOW, vec![m.clone(), artifact.clone()]);
        out.add("bundle", 1, flags, NOW, vec![m.clone()]);
        out.add("bundle", 1, flags, NOW, vec![t.clone()]);
    }
    out.add("bundle", 1, 0x05, NOW, vec![t]);
}

/// Witness formats: the revocation proofs, lines and cosigned notes of the vectors, with the
/// vkeys of their witnesses and an `add-checkpoint` body around each note.
fn witness(out: &mut Corpus) {
    use cairn_fuzz::{b64, cases, vectors};
    for c in cases(vectors::REVOCATION_MAP) {
        let a = &c["args"];
        if let Some(line) = a["line"].as_str() {
            out.add(
                "witness",
                0,
                0,
                0,
                vec![Vec::new(), Vec::new(), line.as_bytes().to_vec()],
            );
        }
        if a["proof"].is_string() {
            out.add("witness", 0, 0, 0, vec![b64(&a["proof"])]);
        }
    }
    for c in cases(vectors::COSIGNATURE) {
        let a = &c["args"];
        for note in ["note", "first", "second"] {
            if let Some(n) = a[note].as_str() {
                let body = format!("old 0\n\n{n}");
                out.add(
                    "witness",
                    0,
                    0,
                    a["now"].as_u64().unwrap_or(0),
                    vec![
                        Vec::new(),
                        Vec::new(),
                        body.into_bytes(),
                        n.as_bytes().to_vec(),
                    ],
                );
            }
        }
        if let Some(ws) = a["witnesses"].as_array() {
            for w in ws {
                if let Some(v) = w["vkey"].as_str() {
                    out.add(
                        "witness",
                        0,
                        0,
                        0,
                        vec![Vec::new(), Vec::new(), v.as_bytes().to_vec()],
                    );
                }
            }
        }
    }
}

/// Bundle refresh: each vector's bundle with its refresh pieces as the third record.
fn bundle_refresh(out: &mut Corpus) {
    use cairn_fuzz::{b64, cases, vectors};
    for c in cases(vectors::BUNDLE_REFRESH) {
        let a = &c["args"];
        let now = a["now"].as_u64().unwrap_or(0);
        out.add(
            "bundle",
            0,
            0,
            now,
            vec![b64(&a["bundle"]), Vec::new(), b64(&a["pieces"])],
        );
    }
}

/// Handle formats: the vectors' handles, envelopes, challenges and solutions.
fn handle(out: &mut Corpus) {
    use cairn_fuzz::{cases, vectors};
    for c in cases(vectors::HANDLE) {
        let a = &c["args"];
        let text = |k: &str| a[k].as_str().map(|s| s.as_bytes().to_vec());
        if let Some(h) = text("input").or_else(|| text("handle")) {
            out.add("handle", 0, 0, 0, vec![h]);
        }
        if let Some(e) = a["envelope"].as_str() {
            if let Ok(bytes) = cairn_core::encoding::b64_decode(e) {
                out.add("handle", 0, 0, 0, vec![Vec::new(), bytes]);
            }
        }
        for k in ["challenge", "solution"] {
            if let Some(t) = text(k) {
                let now = a["now"].as_u64().unwrap_or(0);
                out.add("handle", 0, 0, now, vec![Vec::new(), Vec::new(), t]);
            }
        }
    }
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut corpus = Corpus::default();
    dsse(&mut corpus);
    checkpoint(&mut corpus);
    token(&mut corpus);
    trust(&mut corpus);
    merkle(&mut corpus);
    ledger(&mut corpus);
    export(&mut corpus);
    manifest(&mut corpus);
    blux(&mut corpus);
    bundle(&mut corpus);
    nodespec(&mut corpus);
    tiles(&mut corpus);
    http(&mut corpus);
    witness(&mut corpus);
    handle(&mut corpus);
    bundle_refresh(&mut corpus);
    for (target, seeds) in &corpus.0 {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).expect("create corpus directory");
        let mut added = 0;
        for s in seeds {
            let path = d.join(format!("seed-{}", &hex_encode(&sha256(&[s]))[..16]));
            if !path.exists() {
                std::fs::write(&path, s).expect("write seed");
                added += 1;
            }
        }
        println!(
            "{target}: {} seeds ({added} new) in {}",
            seeds.len(),
            d.display()
        );
    }
}
