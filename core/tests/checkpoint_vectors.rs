//! tests/vectors/checkpoint.json: signed checkpoints from fixed seeds (deterministic ML-DSA),
//! checked case by case. `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test
//! checkpoint_vectors` rewrites the file; otherwise the committed file must equal what the
//! generator produces.

mod support;

use cairn_core::checkpoint::*;
use cairn_core::crypto::{Algorithm, KeyId, PublicKey, SigningKey};
use cairn_core::encoding::{b64_decode, b64_encode, Digest};
use cairn_core::merkle::{leaf_hash, root_of, EMPTY_ROOT};
use cairn_core::Result;
use serde_json::{json, Value};
use support::keys::{key_json, parse_key};
use support::vectors::{self, Case, Doc};
const LOG: &str = "example.test/log";
const WITNESS: &str = "example.test/witness";

struct Keys {
    log: SigningKey,      // hybrid Ed25519 + ML-DSA-44
    ed: SigningKey,       // Ed25519 only
    pq65: SigningKey,     // ML-DSA-65 only
    other: SigningKey,    // hybrid, not trusted by anyone
    stranger: SigningKey, // Ed25519, an unknown co-signer
}

fn keys() -> Keys {
    Keys {
        log: SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[0x01; 32]),
        ed: SigningKey::from_seed(Algorithm::Ed25519, &[0x02; 32]),
        pq65: SigningKey::from_seed(Algorithm::MlDsa65, &[0x03; 32]),
        other: SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[0x09; 32]),
        stranger: SigningKey::from_seed(Algorithm::Ed25519, &[0x04; 32]),
    }
}

fn root10() -> Digest {
    let leaves: Vec<Digest> = (0..10)
        .map(|i| leaf_hash(format!("leaf-{i}").as_bytes()))
        .collect();
    root_of(&leaves)
}

fn verifier(name: &str, key: &SigningKey) -> Value {
    let mut v = key_json(key.public_key());
    v["name"] = json!(name);
    v
}

fn id(key: &SigningKey) -> String {
    key.public_key().key_id().to_hex()
}

fn policy(origin: &str, threshold: usize, required: &[&SigningKey]) -> Value {
    json!({
        "origin": origin,
        "threshold": threshold,
        "required": required.iter().map(|k| id(k)).collect::<Vec<_>>(),
    })
}

fn args(note: &str, verifiers: Vec<Value>, policy: Value) -> Value {
    json!({ "note": note, "verifiers": verifiers, "policy": policy })
}

/// Splits a note into its text (with the blank line) and its signature lines.
fn split(note: &str) -> (String, Vec<String>) {
    let i = note.rfind("\n\n").unwrap();
    let lines = note[i + 2..].lines().map(|l| format!("{l}\n")).collect();
    (note[..i + 2].to_string(), lines)
}

fn join(head: &str, lines: &[String]) -> String {
    format!("{head}{}", lines.concat())
}

/// Flips one bit of the signature bytes (after the 4-byte key hash) of a signature line.
fn flip_sig(line: &str, byte: usize) -> String {
    let (prefix, b64) = line.trim_end().rsplit_once(' ').unwrap();
    let mut raw = b64_decode(b64).unwrap();
    raw[4 + byte] ^= 0x01;
    format!("{prefix} {}\n", b64_encode(&raw))
}

struct Gen {
    cases: Vec<Case>,
}

impl Gen {
    fn push(&mut self, name: &str, args: Value, expect: Value) {
        self.cases.push(Case {
            name: name.into(),
            op: "verify_checkpoint".into(),
            args,
            expect,
        });
    }
    fn err(&mut self, name: &str, args: Value, code: &str) {
        self.push(name, args, json!({ "error": code }));
    }
}

fn ok(cp: &Checkpoint, signers: &[&SigningKey]) -> Value {
    json!({
        "ok": true,
        "origin": cp.origin,
        "size": cp.size,
        "root": b64_encode(&cp.root),
        "extensions": cp.extensions,
        "signers": signers.iter().map(|k| id(k)).collect::<Vec<_>>(),
    })
}

fn generate() -> String {
    let k = keys();
    let mut g = Gen { cases: vec![] };
    let cp = Checkpoint::new(LOG, 10, root10());
    let hybrid = cp.sign_deterministic(&[(LOG, &k.log)]).unwrap();
    let v_log = || vec![verifier(LOG, &k.log)];
    let p_log = || policy(LOG, 1, &[&k.log]);

    g.push(
        "hybrid Ed25519 + ML-DSA-44 log key",
        args(&hybrid, v_log(), p_log()),
        ok(&cp, &[&k.log]),
    );
    let ed_note = cp.sign_deterministic(&[(LOG, &k.ed)]).unwrap();
    g.push(
        "Ed25519 log key",
        args(&ed_note, vec![verifier(LOG, &k.ed)], policy(LOG, 1, &[])),
        ok(&cp, &[&k.ed]),
    );
    let pq_note = cp.sign_deterministic(&[(LOG, &k.pq65)]).unwrap();
    g.push(
        "ML-DSA-65 log key",
        args(&pq_note, vec![verifier(LOG, &k.pq65)], policy(LOG, 1, &[])),
        ok(&cp, &[&k.pq65]),
    );
    let ed_part = PublicKey::from_bytes(
        Algorithm::Ed25519,
        &k.log.public_key().ed25519_part().unwrap(),
    )
    .unwrap();
    g.push(
        "Ed25519 half of a hybrid key alone verifies its line and skips the ML-DSA line (as Go does)",
        args(
            &hybrid,
            vec![json!({"name": LOG, "algorithm": "ed25519", "public_key": b64_encode(ed_part.as_bytes())})],
            policy(LOG, 1, &[]),
        ),
        json!({
            "ok": true, "origin": LOG, "size": 10, "root": b64_encode(&cp.root),
            "extensions": [], "signers": [ed_part.key_id().to_hex()],
        }),
    );
    let mut ext = cp.clone();
    ext.extensions = vec!["cairn example extension".into(), "second".into()];
    let ext_note = ext.sign_deterministic(&[(LOG, &k.log)]).unwrap();
    g.push(
        "extension lines",
        args(&ext_note, v_log(), p_log()),
        ok(&ext, &[&k.log]),
    );
    let empty = Checkpoint::new(LOG, 0, EMPTY_ROOT);
    let empty_note = empty.sign_deterministic(&[(LOG, &k.log)]).unwrap();
    g.push(
        "size-0 checkpoint with SHA-256(\"\")",
        args(&empty_note, v_log(), p_log()),
        ok(&empty, &[&k.log]),
    );

    // Unknown lines: another signer, the log's name with a foreign key hash, an opaque line
    // shaped like an ML-DSA-44 cosignature (type 0x06: 4 + 8 + 2420 bytes), all ignored.
    let (head, lines) = split(&hybrid);
    let stranger_note = cp
        .sign_deterministic(&[("witness.test/w1", &k.stranger)])
        .unwrap();
    let stranger_line = split(&stranger_note).1.remove(0);
    let mut opaque = vec![0xa5u8; 4 + 8 + 2420];
    opaque[..4].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    let opaque_line = format!("\u{2014} {LOG} {}\n", b64_encode(&opaque));
    let foreign_hash_line = flip_hash(&lines[0]);
    let mut extra = vec![stranger_line.clone(), opaque_line.clone()];
    extra.extend(lines.iter().cloned());
    extra.push(foreign_hash_line.clone());
    g.push(
        "unknown signature lines are ignored (other signer, same name with another key hash, opaque 0x06-sized line)",
        args(&join(&head, &extra), v_log(), p_log()),
        ok(&cp, &[&k.log]),
    );
    g.err(
        "only unknown signature lines",
        args(
            &join(&head, &[stranger_line.clone(), opaque_line]),
            v_log(),
            p_log(),
        ),
        "unknown_key",
    );
    let dup = vec![lines[0].clone(), flip_sig(&lines[0], 3), lines[1].clone()];
    g.push(
        "repeated line of a known key: only the first is checked (as Go does)",
        args(&join(&head, &dup), v_log(), p_log()),
        ok(&cp, &[&k.log]),
    );

    // Two signers and thresholds.
    let both = cp
        .sign_deterministic(&[(LOG, &k.log), (WITNESS, &k.pq65)])
        .unwrap();
    let v_both = || vec![verifier(LOG, &k.log), verifier(WITNESS, &k.pq65)];
    g.push(
        "log and witness, threshold 2",
        args(&both, v_both(), policy(LOG, 2, &[&k.log, &k.pq65])),
        ok(&cp, &[&k.log, &k.pq65]),
    );
    g.err(
        "threshold 2 with only the log's signature",
        args(&hybrid, v_both(), policy(LOG, 2, &[])),
        "threshold_not_met",
    );
    g.err(
        "required witness did not sign",
        args(&hybrid, v_both(), policy(LOG, 1, &[&k.pq65])),
        "threshold_not_met",
    );
    let (bhead, blines) = split(&both);
    let mut bad_w = blines.clone();
    bad_w[2] = flip_sig(&bad_w[2], 100);
    g.err(
        "a known key's bad line rejects the note even when another key verifies",
        args(&join(&bhead, &bad_w), v_both(), policy(LOG, 1, &[])),
        "signature_invalid",
    );
    g.err(
        "policy threshold 0",
        args(&hybrid, v_log(), policy(LOG, 0, &[])),
        "malformed",
    );

    // Tampering.
    let flipped_root = {
        let mut r = cp.root;
        r[31] ^= 0x01;
        hybrid.replace(&b64_encode(&cp.root), &b64_encode(&r))
    };
    g.err(
        "flipped bit in the root",
        args(&flipped_root, v_log(), p_log()),
        "signature_invalid",
    );
    g.err(
        "tree size changed",
        args(&hybrid.replacen("\n10\n", "\n11\n", 1), v_log(), p_log()),
        "signature_invalid",
    );
    g.err(
        "flipped bit in the Ed25519 signature",
        args(
            &join(&head, &[flip_sig(&lines[0], 10), lines[1].clone()]),
            v_log(),
            p_log(),
        ),
        "signature_invalid",
    );
    g.err(
        "flipped bit in the ML-DSA-44 signature",
        args(
            &join(&head, &[lines[0].clone(), flip_sig(&lines[1], 1000)]),
            v_log(),
            p_log(),
        ),
        "signature_invalid",
    );
    g.err(
        "missing ML-DSA line under a hybrid key",
        args(&join(&head, &lines[..1]), v_log(), p_log()),
        "threshold_not_met",
    );
    g.err(
        "missing Ed25519 line under a hybrid key",
        args(&join(&head, &lines[1..]), v_log(), p_log()),
        "threshold_not_met",
    );
    g.err(
        "truncated note",
        args(&hybrid[..hybrid.len() - 20], v_log(), p_log()),
        "malformed",
    );
    g.err(
        "truncated to the text only",
        args(&head, v_log(), p_log()),
        "malformed",
    );
    g.err(
        "hyphen instead of em dash",
        args(&hybrid.replacen('\u{2014}', "-", 1), v_log(), p_log()),
        "malformed",
    );
    g.err(
        "carriage return line ends",
        args(&hybrid.replace('\n', "\r\n"), v_log(), p_log()),
        "malformed",
    );
    g.err(
        "wrong key under the right name",
        args(&hybrid, vec![verifier(LOG, &k.other)], policy(LOG, 1, &[])),
        "unknown_key",
    );
    g.err(
        "right key under another name",
        args(
            &hybrid,
            vec![verifier("example.test/other", &k.log)],
            policy(LOG, 1, &[]),
        ),
        "unknown_key",
    );
    g.err(
        "policy expects another origin",
        args(
            &hybrid,
            v_log(),
            policy("example.test/other-log", 1, &[&k.log]),
        ),
        "domain_mismatch",
    );
    let other_origin = Checkpoint::new("example.test/other-log", 10, root10())
        .sign_deterministic(&[(LOG, &k.log)])
        .unwrap();
    g.err(
        "checkpoint of another origin signed by the trusted key",
        args(&other_origin, v_log(), p_log()),
        "domain_mismatch",
    );

    // Malformed bodies, validly signed (so only the parser can object).
    let signed_text = |text: &str| {
        let mut n = cairn_core::note::Note::new(text).unwrap();
        n.sign_deterministic(LOG, &k.ed).unwrap();
        n.encode().unwrap()
    };
    let r = b64_encode(&cp.root);
    let v_ed = || vec![verifier(LOG, &k.ed)];
    for (name, text) in [
        (
            "size-0 checkpoint with a zero root",
            format!("{LOG}\n0\n{}\n", b64_encode(&[0u8; 32])),
        ),
        ("size with a leading zero", format!("{LOG}\n010\n{r}\n")),
        (
            "size above 2^63-1",
            format!("{LOG}\n9223372036854775808\n{r}\n"),
        ),
        (
            "root in non-canonical base64",
            format!("{LOG}\n10\n{}5=\n", &r[..42]),
        ),
        (
            "root of 31 bytes",
            format!("{LOG}\n10\n{}\n", b64_encode(&cp.root[..31])),
        ),
        ("only two lines", format!("{LOG}\n10\n")),
        (
            "empty extension line",
            format!("{LOG}\n10\n{r}\n\nextension\n"),
        ),
    ] {
        g.err(
            name,
            args(&signed_text(&text), v_ed(), policy(LOG, 1, &[])),
            "malformed",
        );
    }
    let many = format!("{head}{}", stranger_line.repeat(101));
    g.err(
        "101 signature lines",
        args(&many, v_log(), p_log()),
        "too_large",
    );

    let doc = Doc {
        kind: "checkpoint",
        version: 1,
        description: "C2SP tlog-checkpoints in C2SP signed notes, signed by cairn keys: Ed25519 lines of type 0x01 (Go's sumdb/note format), ML-DSA lines of type 0xff with label cairn-ml-dsa-44-v1 / cairn-ml-dsa-65-v1 and FIPS 204 context \"cairn-signed-note-v1\"; a hybrid key signs with both lines and counts only if both verify. Roots are base64 of the RFC 6962 root of the leaves leaf-0..leaf-9.",
        ops: json!({
            "verify_checkpoint": "args {note: the signed note text, verifiers: [{name: key name, algorithm: cairn algorithm name, public_key: base64}], policy: {origin, threshold: distinct keys required, required: [hex key ids that must sign]}}; expect {ok, origin, size, root: base64, extensions: [string], signers: [hex key ids in verifier order]}"
        }),
        cases: g.cases,
    };
    vectors::render(&doc)
}

/// The same line with the key hash changed: a key unknown to every verifier.
fn flip_hash(line: &str) -> String {
    let (prefix, b64) = line.trim_end().rsplit_once(' ').unwrap();
    let mut raw = b64_decode(b64).unwrap();
    raw[0] ^= 0x80;
    format!("{prefix} {}\n", b64_encode(&raw))
}

fn run(case: &Value) -> Result<Value> {
    let a = &case["args"];
    assert_eq!(case["op"], "verify_checkpoint");
    let verifiers: Vec<CheckpointVerifier> = a["verifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| CheckpointVerifier {
            name: v["name"].as_str().unwrap().into(),
            public_key: parse_key(v).unwrap(),
        })
        .collect();
    let p = &a["policy"];
    let policy = CheckpointPolicy {
        origin: p["origin"].as_str().unwrap().into(),
        threshold: p["threshold"].as_u64().unwrap() as usize,
        required: p["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| KeyId::from_hex(r.as_str().unwrap()).unwrap())
            .collect(),
    };
    let v = verify_checkpoint(a["note"].as_str().unwrap().as_bytes(), &verifiers, &policy)?;
    Ok(json!({
        "origin": v.origin,
        "size": v.size,
        "root": b64_encode(&v.root),
        "extensions": v.extensions,
        "signers": v.signers.iter().map(|s| s.to_hex()).collect::<Vec<_>>(),
    }))
}

#[test]
fn checkpoint_vectors() {
    let cases = vectors::committed("checkpoint", &generate());
    assert!(cases.len() > 30);
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_checkpoint"]);
    vectors::check(&cases, run);
}
