//! Test vectors for the ledger export stream (tests/vectors/store_export.json).
//!
//! Generated from fixed seeds (Ed25519 log keys, fixed times). The normal run checks that the
//! committed file equals the generator's output and that `verify_export` gives every verdict;
//! `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-store --test store export_vectors` rewrites it.
//! Expected verdicts come from how each case was built, not from the verifier.

use std::path::PathBuf;

use crate::support::keys::key_json;
use crate::support::vectors::{self, Case, Doc};

use cairn_core::checkpoint::Checkpoint;
use cairn_core::crypto::{Algorithm, PublicKey, SigningKey};
use cairn_core::encoding::{b64_encode, hex_encode, sha256};
use cairn_core::ledger::{sign_entry, ChainHead, Event};
use cairn_core::merkle::{leaf_hash, root_of};
use cairn_core::trust::{Role, RoleSet};
use cairn_core::{Error, ErrorCode};
use cairn_store::{verify_export, ExportExpectation, ExportWriter};
use serde_json::{json, Value};

const ORIGIN: &str = "export.example.test/log";
const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(Algorithm::Ed25519, &[n; 32])
}

fn events(note: &str) -> Vec<Event> {
    vec![
        Event::KeyAdded {
            public_key: key(0x51).public_key().clone(),
            label: "log".into(),
            roles: RoleSet::of(&[Role::Checkpoint]),
            expires_at: None,
        },
        Event::NodeRegistered {
            node_id: "node-1".into(),
            spec_digest: sha256(&[b"node-1 spec"]),
        },
        Event::AuditNote { text: note.into() },
        Event::KeyAdded {
            public_key: key(0x52).public_key().clone(),
            label: "peer".into(),
            roles: RoleSet::of(&[Role::Peer]),
            expires_at: None,
        },
        Event::NodeDeregistered {
            node_id: "node-1".into(),
            reason: "retired".into(),
        },
    ]
}

/// Compact entries of `events`, each signed by the keys `consents(seq)` gives (the log key
/// signs none: checkpoints sign the tree).
fn entries(events: Vec<Event>, consents: impl Fn(u64) -> Vec<SigningKey>) -> Vec<Vec<u8>> {
    let mut head = ChainHead::GENESIS;
    let mut out = Vec::new();
    for (i, ev) in events.into_iter().enumerate() {
        let e = head.next_entry(T0 + i as u64, ev);
        let keys = consents(e.seq);
        let refs: Vec<&SigningKey> = keys.iter().collect();
        let env = sign_entry(&e, &refs).unwrap();
        head = ChainHead {
            next_seq: e.seq + 1,
            head_hash: e.hash(),
            last_time: e.time,
        };
        out.push(env.to_compact());
    }
    out
}

fn payload(compact: &[u8]) -> Vec<u8> {
    cairn_core::dsse::Envelope::from_compact(compact)
        .unwrap()
        .payload
}

fn root(entries: &[Vec<u8>], size: usize) -> [u8; 32] {
    root_of(
        &entries[..size]
            .iter()
            .map(|e| leaf_hash(&payload(e)))
            .collect::<Vec<_>>(),
    )
}

fn note(size: u64, root: [u8; 32], key: &SigningKey) -> String {
    Checkpoint::new(ORIGIN, size, root)
        .sign_deterministic(&[(ORIGIN, key)])
        .unwrap()
}

/// A stream of `entries` with the header announcing `announced`, checkpoints after the
/// sizes in `cps` (notes from `note_for`).
fn stream(announced: u64, entries: &[Vec<u8>], cps: &[(u64, String)]) -> Vec<u8> {
    let mut w = ExportWriter::new(Vec::new(), ORIGIN, announced).unwrap();
    for (i, e) in entries.iter().enumerate() {
        w.entry(e).unwrap();
        for (_, n) in cps.iter().filter(|(s, _)| *s == i as u64 + 1) {
            w.checkpoint(n).unwrap();
        }
    }
    match w.finish() {
        Ok(v) => v,
        Err(_) => panic!("the generator builds streams whose header matches"),
    }
}

fn case(name: &str, stream: &[u8], expect_args: Value, expect: Value) -> Case {
    let mut args = json!({"stream": b64_encode(stream)});
    if let Value::Object(extra) = expect_args {
        args.as_object_mut().unwrap().extend(extra);
    }
    Case {
        name: name.into(),
        op: "verify_export".into(),
        args,
        expect,
    }
}

fn err(code: &str) -> Value {
    json!({"error": code})
}

fn generate() -> String {
    let log = key(0x51);
    let good = entries(events("hello"), |_| vec![]);
    let cps: Vec<(u64, String)> = [1u64, 3, 5]
        .iter()
        .map(|&s| (s, note(s, root(&good, s as usize), &log)))
        .collect();
    let valid = stream(5, &good, &cps);
    let ok = json!({
        "ok": true, "entries": 5, "checkpoints": 3,
        "root": hex_encode(&root(&good, 5)),
        "log_key": log.public_key().key_id().to_hex(),
    });
    let mut cases = vec![
        case("valid", &valid, json!({}), ok.clone()),
        case(
            "valid_with_origin_and_source_checkpoint",
            &valid,
            json!({"origin": ORIGIN, "checkpoint": cps[1].1, "checkpoint_key": key_json(log.public_key())}),
            ok.clone(),
        ),
        case(
            "wrong_origin",
            &valid,
            json!({"origin": "other.example.test/log"}),
            err("domain_mismatch"),
        ),
    ];
    // The source's checkpoint of another history at size 3 (a fork).
    let fork = entries(events("bye"), |_| vec![]);
    cases.push(case(
        "source_checkpoint_of_a_fork",
        &valid,
        json!({"checkpoint": note(3, root(&fork, 3), &log), "checkpoint_key": key_json(log.public_key())}),
        err("proof_invalid"),
    ));
    // The source has moved past the export.
    let mut longer_events = events("hello");
    longer_events.push(Event::AuditNote {
        text: "later".into(),
    });
    let longer = entries(longer_events, |_| vec![]);
    cases.push(case(
        "source_checkpoint_beyond_the_export",
        &valid,
        json!({"checkpoint": note(6, root(&longer, 6), &log), "checkpoint_key": key_json(log.public_key())}),
        err("chain_broken"),
    ));
    let other = key(0x53);
    cases.push(case(
        "source_checkpoint_by_another_key",
        &valid,
        json!({"checkpoint": note(3, root(&good, 3), &other), "checkpoint_key": key_json(other.public_key())}),
        err("key_mismatch"),
    ));
    // Stream damage.
    cases.push(case(
        "truncated_inside_a_frame",
        &valid[..valid.len() - 3],
        json!({}),
        err("malformed"),
    ));
    // The End frame of a five-entry stream has the length of an empty stream's.
    let end_len = {
        let empty = ExportWriter::new(Vec::new(), ORIGIN, 0)
            .unwrap()
            .finish()
            .unwrap();
        empty.len() - (9 + 4 + frame_len(&empty[9..]))
    };
    cases.push(case(
        "missing_final_frame",
        &valid[..valid.len() - end_len],
        json!({}),
        err("malformed"),
    ));
    let mut v = valid.clone();
    v[0] = b'X';
    cases.push(case("bad_magic", &v, json!({}), err("malformed")));
    let mut v = valid.clone();
    v[8] = 1;
    cases.push(case(
        "per_entry_signed_format_version_1",
        &v,
        json!({}),
        err("unsupported_version"),
    ));
    let mut v = valid.clone();
    v[8] = 3;
    cases.push(case(
        "future_format_version",
        &v,
        json!({}),
        err("unsupported_version"),
    ));
    let mut v = valid[..9].to_vec();
    v.extend_from_slice(&(2u32 << 20).to_be_bytes());
    cases.push(case(
        "frame_length_over_limit",
        &v,
        json!({}),
        err("too_large"),
    ));
    let mut v = valid.clone();
    v.extend_from_slice(&valid[9..9 + 4 + frame_len(&valid[9..])]);
    cases.push(case(
        "frame_after_the_final_frame",
        &v,
        json!({}),
        err("malformed"),
    ));
    // Entry damage.
    let mut flipped = good.clone();
    let text = flipped[2].windows(5).position(|w| w == b"hello").unwrap();
    flipped[2][text] ^= 1;
    cases.push(case(
        "entry_payload_flipped",
        &stream(5, &flipped, &cps),
        json!({}),
        err("proof_invalid"),
    ));
    let mut retyped = good.clone();
    let at = retyped[2]
        .windows(12)
        .position(|w| w == b"ledger-entry")
        .unwrap();
    retyped[2][at] = b'L';
    cases.push(case(
        "entry_of_another_payload_type",
        &stream(5, &retyped, &cps),
        json!({}),
        err("domain_mismatch"),
    ));
    cases.push(case(
        "entries_after_the_last_checkpoint",
        &stream(5, &good, &cps[..2]),
        json!({}),
        err("proof_invalid"),
    ));
    // The rule book: a revocation needs its revoker's signature, and the log key cannot be
    // revoked at all.
    let revocation = |key_id, revoker: &SigningKey| {
        let mut evs = events("hello");
        evs.push(Event::KeyRevoked {
            key_id,
            reason: "test".into(),
            revoker: revoker.public_key().key_id(),
        });
        evs
    };
    let peer = key(0x52);
    let peer_id = peer.public_key().key_id();
    let six = |evs, signer: Option<u8>| {
        let es = entries(evs, |seq| match (seq, signer) {
            (5, Some(n)) => vec![key(n)],
            _ => vec![],
        });
        let cps6: Vec<(u64, String)> = [1u64, 6]
            .iter()
            .map(|&s| (s, note(s, root(&es, s as usize), &log)))
            .collect();
        stream(6, &es, &cps6)
    };
    cases.push(case(
        "revocation_signed_by_its_revoker",
        &six(revocation(peer_id, &peer), Some(0x52)),
        json!({}),
        json!({
            "ok": true, "entries": 6, "checkpoints": 2,
            "root": hex_encode(&root(&entries(revocation(peer_id, &peer), |seq| if seq == 5 { vec![key(0x52)] } else { vec![] }), 6)),
            "log_key": log.public_key().key_id().to_hex(),
        }),
    ));
    cases.push(case(
        "revocation_without_its_revokers_signature",
        &six(revocation(peer_id, &peer), None),
        json!({}),
        err("unknown_key"),
    ));
    cases.push(case(
        "revocation_signed_by_another_key",
        &six(revocation(peer_id, &peer), Some(0x53)),
        json!({}),
        err("unknown_key"),
    ));
    cases.push(case(
        "log_key_revoked",
        &six(revocation(log.public_key().key_id(), &peer), Some(0x52)),
        json!({}),
        err("unauthorized"),
    ));
    let missing: Vec<Vec<u8>> = good
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, e)| e.clone())
        .collect();
    cases.push(case(
        "entry_missing",
        &stream(4, &missing, &cps[..1]),
        json!({}),
        err("chain_broken"),
    ));
    let mut swapped = good.clone();
    swapped.swap(2, 3);
    cases.push(case(
        "entries_reordered",
        &stream(5, &swapped, &cps[..1]),
        json!({}),
        err("chain_broken"),
    ));
    // Checkpoint damage.
    let wrong_root = vec![(1, cps[0].1.clone()), (3, note(3, root(&good, 2), &log))];
    cases.push(case(
        "checkpoint_with_another_root",
        &stream(5, &good, &wrong_root),
        json!({}),
        err("proof_invalid"),
    ));
    let forged = vec![(1, cps[0].1.clone()), (3, note(3, root(&good, 3), &other))];
    cases.push(case(
        "checkpoint_by_another_key",
        &stream(5, &good, &forged),
        json!({}),
        err("unknown_key"),
    ));
    cases.push(case(
        "no_checkpoint",
        &stream(5, &good, &[]),
        json!({}),
        err("malformed"),
    ));
    vectors::render(&Doc {
        kind: "store_export",
        version: 1,
        description: "cairn ledger export streams (docs/FORMATS.md, ledger export streams): magic CAIRNLOG, version 0x02, then frames (u32 big-endian length, postcard Frame): Header, Entry (compact DSSE ledger entry, signed only by the keys whose consent its event needs) in order, Checkpoint right after the entry completing its size (the last one covering every entry), End (size, root). Ed25519 log key from seed 0x51 repeated; other keys 0x52, 0x53.",
        ops: json!({"verify_export": "args: stream (base64), optional origin (text: expected origin), optional checkpoint (signed note text from the source) with checkpoint_key ({algorithm, public_key base64}); result: entries, checkpoints, root (hex), log_key (hex key id of the log key at the end)"}),
        cases,
    })
}

fn frame_len(at: &[u8]) -> usize {
    u32::from_be_bytes(at[..4].try_into().unwrap()) as usize
}

fn run(args: &Value) -> Result<Value, Error> {
    let stream = vectors::b64(&args["stream"]);
    let checkpoint = args.get("checkpoint").map(|n| {
        let k = &args["checkpoint_key"];
        let alg = Algorithm::parse(k["algorithm"].as_str().unwrap()).unwrap();
        let pk = PublicKey::from_bytes(alg, &vectors::b64(&k["public_key"])).unwrap();
        (n.as_str().unwrap().to_owned(), pk)
    });
    let expect = ExportExpectation {
        origin: args.get("origin").map(|o| o.as_str().unwrap().to_owned()),
        checkpoint,
    };
    let r = verify_export(&stream[..], &expect).map_err(|e| {
        Error::new(
            e.code().core().unwrap_or(ErrorCode::Malformed),
            e.to_string(),
        )
    })?;
    Ok(json!({
        "entries": r.entries, "checkpoints": r.checkpoints,
        "root": hex_encode(&r.root), "log_key": r.log_key.to_hex(),
    }))
}

#[test]
fn store_export_vectors_match_generator_and_verifier() {
    let cases = vectors::committed("store_export", &generate());
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_export"]);
    vectors::check(&cases, |case| run(&case["args"]));
}

/// The worked example of docs/FORMATS.md (ledger export section) is the generator's bytes.
#[test]
fn worked_example_matches_the_vectors() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/FORMATS.md"),
    )
    .unwrap();
    let doc_vectors: Value = serde_json::from_str(&generate()).unwrap();
    let valid = vectors::b64(&doc_vectors["cases"][0]["args"]["stream"]);
    let header = hex_encode(&valid[9..9 + 4 + frame_len(&valid[9..])]);
    let end = &valid[valid.len() - 38..];
    assert!(doc.contains(&hex_encode(&valid[..9])));
    let compact = doc.replace(' ', "");
    assert!(
        compact.contains(&header[..8]) && compact.contains(&header[8..]),
        "header frame {header}"
    );
    assert!(doc.replace(' ', "").contains(&hex_encode(end)), "end frame");
    assert!(doc.contains(&format!("{} bytes", valid.len())));
    assert!(doc.contains(
        doc_vectors["cases"][0]["expect"]["log_key"]
            .as_str()
            .unwrap()
    ));
}
