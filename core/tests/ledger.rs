//! Ledger entries and chains: behaviour tests and the frozen vectors in
//! tests/vectors/ledger.json (regenerate with CAIRN_REGEN_VECTORS=1).

mod support;

use cairn_core::crypto::{Algorithm, KeyId, PublicKey, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_encode, hex_encode, sha256, to_postcard};
use cairn_core::ledger::*;
use cairn_core::trust::{Role, RoleSet, TRUST_ROOT_TYPE};
use cairn_core::{ErrorCode, Result};
use serde_json::{json, Value};
use support::vectors::{self, b64};

const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn key(alg: Algorithm, n: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[n; 32])
}

fn log_ed() -> SigningKey {
    key(Algorithm::Ed25519, 0x11)
}
fn log_pq() -> SigningKey {
    key(Algorithm::MlDsa44, 0x12)
}
fn log_hybrid() -> SigningKey {
    key(Algorithm::Ed25519MlDsa44, 0x13)
}
fn stranger() -> SigningKey {
    key(Algorithm::Ed25519, 0x14)
}

fn d(tag: &str) -> [u8; 32] {
    sha256(&[b"cairn test vector ", tag.as_bytes()])
}

fn kid(tag: &str) -> KeyId {
    KeyId(d(tag))
}

/// One event of every kind, in discriminant order.
fn sample_events() -> Vec<Event> {
    let issuer = key(Algorithm::Ed25519, 0x21);
    vec![
        Event::KeyAdded {
            public_key: issuer.public_key().clone(),
            label: "token issuer".into(),
            roles: RoleSet::of(&[Role::TokenIssuer]),
            expires_at: Some(T0 + 86_400 * 365),
        },
        Event::KeyRotated {
            old: kid("old key"),
            new: issuer.public_key().key_id(),
        },
        Event::KeyRevoked {
            key_id: kid("old key"),
            reason: "superseded".into(),
            revoker: issuer.public_key().key_id(),
        },
        Event::TrustRootUpdated {
            root_version: 2,
            root_id: d("root v2"),
        },
        Event::NodeRegistered {
            node_id: "node-a".into(),
            spec_digest: d("node-a spec"),
        },
        Event::NodeDeregistered {
            node_id: "node-a".into(),
            reason: "".into(),
        },
        Event::TokenIssued {
            token_id: d("token 1"),
            issuer: issuer.public_key().key_id(),
            audience: "example/service".into(),
            expires_at: T0 + 3600,
        },
        Event::TokenRevoked {
            token_id: d("token 1"),
            reason: "leaked".into(),
            revoker: issuer.public_key().key_id(),
        },
        Event::ManifestSigned {
            manifest_digest: d("manifest 1"),
            artifact_name: "app-1.0.tar.gz".into(),
            artifact_sha256: d("artifact"),
            signers: vec![kid("signer a")],
        },
        Event::ManifestCosigned {
            manifest_digest: d("manifest 1"),
            signers: vec![kid("signer b"), kid("signer c")],
        },
        Event::ManifestRevoked {
            manifest_digest: d("manifest 1"),
            reason: "bad build".into(),
            revoker: kid("signer a"),
        },
        Event::PeerKeyStored {
            peer_id: "peer-7".into(),
            key_id: kid("peer key"),
        },
        Event::PeerKeyVerified {
            peer_id: "peer-7".into(),
            key_id: kid("peer key"),
        },
        Event::PeerKeyRemoved {
            peer_id: "peer-7".into(),
            key_id: kid("peer key"),
            reason: "rotated".into(),
        },
        Event::Imported {
            source: "blux-reg:trust/ledger.jsonl".into(),
            digest: d("imported ledger"),
        },
        Event::AuditNote {
            text: "caf\u{e9} \u{2615}".into(),
        },
    ]
}

/// The handle registry's events (16 and 17), kept out of the sample ledger so that the
/// committed ledger vectors stay byte-identical.
fn handle_events() -> Vec<Event> {
    vec![
        Event::HandleRegistered {
            blind_index: d("blind index"),
            identity_digest: d("identity"),
            previous: Some(cairn_core::ledger::PreviousDigest(d("old identity"))),
        },
        Event::HandleRemoved {
            blind_index: d("blind index"),
            identity_digest: d("identity"),
            reason: "owner asked".into(),
        },
    ]
}

/// The sample ledger: one entry per event kind, a minute apart except entries 5 and 6,
/// which share a second.
fn sample_ledger() -> Vec<LedgerEntry> {
    let mut head = ChainHead::GENESIS;
    let mut out = Vec::new();
    for (i, ev) in sample_events().into_iter().enumerate() {
        let time = T0 + 60 * i.min(5) as u64 + 60 * i.saturating_sub(6) as u64;
        let e = head.next_entry(time, ev);
        head = verify_chain([&e], Some(head)).unwrap();
        out.push(e);
    }
    out
}

fn signed(entry_bytes: &[u8], payload_type: &str, keys: &[&SigningKey]) -> Envelope {
    let mut env = Envelope::new(payload_type, entry_bytes.to_vec()).unwrap();
    for k in keys {
        env.sign_deterministic(k).unwrap();
    }
    env
}

fn key_json(pk: &PublicKey) -> Value {
    serde_json::to_value(pk).unwrap()
}

fn flip(mut b: Vec<u8>, i: usize) -> Vec<u8> {
    b[i] ^= 0x01;
    b
}

fn entry_case(
    name: &str,
    env: &[u8],
    keys: &[&SigningKey],
    threshold: usize,
    expect: Value,
) -> Value {
    json!({"name": name, "op": "verify_entry",
        "args": {"entry": b64_encode(env),
                 "log_keys": keys.iter().map(|k| key_json(k.public_key())).collect::<Vec<_>>(),
                 "threshold": threshold},
        "expect": expect})
}

fn entry_ok(e: &LedgerEntry) -> Value {
    json!({"ok": true, "seq": e.seq, "time": e.time, "kind": e.event.kind(),
           "entry_hash": hex_encode(&e.hash())})
}

fn chain_case(name: &str, entries: &[Vec<u8>], start: Option<ChainHead>, expect: Value) -> Value {
    let mut args = json!({"entries": entries.iter().map(|e| b64_encode(e)).collect::<Vec<_>>()});
    if let Some(s) = start {
        args["start"] = json!({"next_seq": s.next_seq, "head_hash": b64_encode(&s.head_hash),
                               "last_time": s.last_time});
    }
    json!({"name": name, "op": "verify_chain", "args": args, "expect": expect})
}

fn head_ok(h: ChainHead) -> Value {
    json!({"ok": true, "next_seq": h.next_seq, "head_hash": hex_encode(&h.head_hash),
           "last_time": h.last_time})
}

fn err(code: &str) -> Value {
    json!({"error": code})
}

/// Re-chains `entries` from genesis (fixing seq and prev_hash) so that only the deliberate
/// defect remains.
fn rechain(entries: &mut [LedgerEntry]) {
    let mut head = ChainHead::GENESIS;
    for e in entries.iter_mut() {
        e.seq = head.next_seq;
        e.prev_hash = head.head_hash;
        head = ChainHead {
            next_seq: e.seq + 1,
            head_hash: e.hash(),
            last_time: e.time,
        };
    }
}

/// Offset of the payload inside a compact envelope whose payload type is `LEDGER_ENTRY_TYPE`:
/// magic, type length varint, type, payload length varint.
fn payload_offset(payload_len: usize) -> usize {
    4 + 1 + LEDGER_ENTRY_TYPE.len() + if payload_len < 128 { 1 } else { 2 }
}

fn generate() -> Value {
    let ledger = sample_ledger();
    let bytes: Vec<Vec<u8>> = ledger.iter().map(LedgerEntry::to_bytes).collect();
    let (ed, pq, hy, other) = (log_ed(), log_pq(), log_hybrid(), stranger());
    let mut cases = Vec::new();

    // verify_entry: valid
    let e0 = signed(&bytes[0], LEDGER_ENTRY_TYPE, &[&ed]).to_compact();
    cases.push(entry_case(
        "ed25519 log key, key_added entry",
        &e0,
        &[&ed],
        1,
        entry_ok(&ledger[0]),
    ));
    let e8 = signed(&bytes[8], LEDGER_ENTRY_TYPE, &[&pq]).to_compact();
    cases.push(entry_case(
        "ml-dsa-44 log key, manifest_signed entry",
        &e8,
        &[&pq],
        1,
        entry_ok(&ledger[8]),
    ));
    let e15 = signed(&bytes[15], LEDGER_ENTRY_TYPE, &[&ed, &hy]);
    cases.push(entry_case(
        "2-of-2: ed25519 and hybrid ed25519+ml-dsa-44, audit_note entry",
        &e15.to_compact(),
        &[&ed, &hy],
        2,
        entry_ok(&ledger[15]),
    ));
    cases.push(entry_case(
        "DSSE JSON form of the 2-of-2 envelope",
        e15.to_json().as_bytes(),
        &[&ed, &hy],
        2,
        entry_ok(&ledger[15]),
    ));
    cases.push(entry_case(
        "threshold 1 met by one of two log keys",
        &e0,
        &[&pq, &ed],
        1,
        entry_ok(&ledger[0]),
    ));

    // verify_entry: invalid
    let wrong = signed(&bytes[0], LEDGER_ENTRY_TYPE, &[&other]).to_compact();
    cases.push(entry_case(
        "signed by a key that is not a log key",
        &wrong,
        &[&ed],
        1,
        err("unknown_key"),
    ));
    cases.push(entry_case(
        "threshold 2 with one log signature",
        &e0,
        &[&ed, &hy],
        2,
        err("threshold_not_met"),
    ));
    cases.push(entry_case(
        "threshold 0 accepts nothing",
        &e0,
        &[&ed],
        0,
        err("malformed"),
    ));
    let at = payload_offset(bytes[0].len());
    assert_eq!(&e0[at..at + bytes[0].len()], &bytes[0][..]);
    cases.push(entry_case(
        "payload bit flipped (in the time field)",
        &flip(e0.clone(), at + 3),
        &[&ed],
        1,
        err("signature_invalid"),
    ));
    cases.push(entry_case(
        "signature bit flipped",
        &flip(e0.clone(), e0.len() - 5),
        &[&ed],
        1,
        err("signature_invalid"),
    ));
    cases.push(entry_case(
        "ml-dsa signature bit flipped",
        &flip(e8.clone(), e8.len() - 100),
        &[&pq],
        1,
        err("signature_invalid"),
    ));
    cases.push(entry_case(
        "envelope truncated",
        &e0[..e0.len() - 1],
        &[&ed],
        1,
        err("malformed"),
    ));
    cases.push(entry_case(
        "envelope empty",
        b"",
        &[&ed],
        1,
        err("malformed"),
    ));
    let mut tampered = signed(&bytes[0], LEDGER_ENTRY_TYPE, &[&ed]);
    let mut t_entry = ledger[0].clone();
    if let Event::KeyAdded { roles, .. } = &mut t_entry.event {
        *roles = RoleSet::of(&[Role::Root]);
    }
    tampered.payload = t_entry.to_bytes();
    cases.push(entry_case(
        "event altered under the original signature",
        &tampered.to_compact(),
        &[&ed],
        1,
        err("signature_invalid"),
    ));
    let other_domain = signed(&bytes[0], TRUST_ROOT_TYPE, &[&ed]).to_compact();
    cases.push(entry_case(
        "signed as a trust root, not a ledger entry",
        &other_domain,
        &[&ed],
        1,
        err("domain_mismatch"),
    ));

    // Signed but undecodable payloads: the signature is fine, the entry is not.
    let kind_at = 1 + 1 + 5 + 32; // version, seq 15 (1-byte varint), time (5-byte varint), prev_hash
    let mut unknown_kind = bytes[15].clone();
    assert_eq!(unknown_kind[kind_at], 15);
    // The first discriminant no kind uses (a one-byte varint while there are fewer than 128).
    let first_unknown = Event::KINDS.len() as u8;
    unknown_kind[kind_at] = first_unknown;
    let s = signed(&unknown_kind, LEDGER_ENTRY_TYPE, &[&ed]).to_compact();
    cases.push(entry_case(
        &format!("unknown event discriminant {first_unknown}"),
        &s,
        &[&ed],
        1,
        err("unsupported_version"),
    ));
    let mut v2 = bytes[0].clone();
    v2[0] = 2;
    let s = signed(&v2, LEDGER_ENTRY_TYPE, &[&ed]).to_compact();
    cases.push(entry_case(
        "entry format version 2",
        &s,
        &[&ed],
        1,
        err("unsupported_version"),
    ));
    let long = LedgerEntry::new(
        0,
        T0,
        ZERO_HASH,
        Event::AuditNote {
            text: "x".repeat(MAX_TEXT_LEN + 1),
        },
    );
    let s = signed(&long.to_bytes(), LEDGER_ENTRY_TYPE, &[&ed]).to_compact();
    cases.push(entry_case(
        "audit note one byte over the limit",
        &s,
        &[&ed],
        1,
        err("too_large"),
    ));
    let mut trailing = bytes[0].clone();
    trailing.push(0);
    let s = signed(&trailing, LEDGER_ENTRY_TYPE, &[&ed]).to_compact();
    cases.push(entry_case(
        "trailing byte after the entry",
        &s,
        &[&ed],
        1,
        err("malformed"),
    ));
    let mut noncanon = vec![1u8, 0x80, 0x00]; // seq 0 as a two-byte varint
    noncanon.extend_from_slice(&bytes[0][2..]);
    let s = signed(&noncanon, LEDGER_ENTRY_TYPE, &[&ed]).to_compact();
    cases.push(entry_case(
        "non-minimal varint for seq",
        &s,
        &[&ed],
        1,
        err("malformed"),
    ));

    // verify_chain
    let all = bytes.clone();
    cases.push(chain_case(
        "empty ledger",
        &[],
        None,
        head_ok(ChainHead::GENESIS),
    ));
    let h1 = verify_chain(&ledger[..1], None).unwrap();
    cases.push(chain_case("one entry", &all[..1], None, head_ok(h1)));
    let h16 = verify_chain(&ledger, None).unwrap();
    cases.push(chain_case(
        "sixteen entries, one of every event kind",
        &all,
        None,
        head_ok(h16),
    ));
    let h10 = verify_chain(&ledger[..10], None).unwrap();
    cases.push(chain_case(
        "resumed from the head after entry 9",
        &all[10..],
        Some(h10),
        head_ok(h16),
    ));
    cases.push(chain_case(
        "resumed without the time bound",
        &all[10..],
        Some(ChainHead {
            last_time: 0,
            ..h10
        }),
        head_ok(h16),
    ));

    let mut bad = ledger.clone();
    bad[3].prev_hash[0] ^= 1;
    cases.push(chain_case(
        "entry 3 prev_hash altered",
        &enc(&bad),
        None,
        err("chain_broken"),
    ));
    let skipped: Vec<_> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, b)| b.clone())
        .collect();
    cases.push(chain_case(
        "entry 2 missing (seq skips)",
        &skipped,
        None,
        err("chain_broken"),
    ));
    let mut reordered = all.clone();
    reordered.swap(1, 2);
    cases.push(chain_case(
        "entries 1 and 2 swapped",
        &reordered,
        None,
        err("chain_broken"),
    ));
    let mut replayed = all[..3].to_vec();
    replayed.push(all[2].clone());
    cases.push(chain_case(
        "entry 2 repeated",
        &replayed,
        None,
        err("chain_broken"),
    ));
    let mut tampered = ledger.clone();
    tampered[4].event = Event::NodeRegistered {
        node_id: "node-b".into(),
        spec_digest: d("node-a spec"),
    };
    cases.push(chain_case(
        "event of entry 4 altered",
        &enc(&tampered),
        None,
        err("chain_broken"),
    ));
    let mut back = ledger.clone();
    back[7].time = back[6].time - 1;
    rechain(&mut back);
    cases.push(chain_case(
        "entry 7 earlier than entry 6",
        &enc(&back),
        None,
        err("chain_broken"),
    ));
    cases.push(chain_case(
        "starts at seq 1 without a start head",
        &all[1..],
        None,
        err("chain_broken"),
    ));
    cases.push(chain_case(
        "start head hash does not match",
        &all[10..],
        Some(ChainHead {
            head_hash: h1.head_hash,
            ..h10
        }),
        err("chain_broken"),
    ));
    cases.push(chain_case(
        "start head time is after entry 10",
        &all[10..],
        Some(ChainHead {
            last_time: ledger[10].time + 1,
            ..h10
        }),
        err("chain_broken"),
    ));
    let mut nz = ledger[..2].to_vec();
    nz[0].prev_hash = d("not zero");
    nz[1].prev_hash = nz[0].hash();
    cases.push(chain_case(
        "entry 0 with a non-zero prev_hash",
        &enc(&nz),
        None,
        err("chain_broken"),
    ));
    let mut trunc = all[..3].to_vec();
    trunc[2].pop();
    cases.push(chain_case(
        "entry 2 truncated",
        &trunc,
        None,
        err("malformed"),
    ));
    let mut unk = all[..2].to_vec();
    assert_eq!(unk[1][1 + 1 + 5 + 32], 1);
    unk[1][1 + 1 + 5 + 32] = 0x7f;
    cases.push(chain_case(
        "entry 1 with unknown event discriminant 127",
        &unk,
        None,
        err("unsupported_version"),
    ));

    json!({
        "kind": "ledger",
        "version": 1,
        "description": "cairn ledger entries (postcard LedgerEntry in a DSSE envelope of type application/vnd.cairn.ledger-entry.v1+postcard) and their hash chain. Keys are {alg, key}: algorithm name and base64 public key. Binary arguments are standard base64; result digests are lowercase hex.",
        "ops": {
            "verify_entry": "args {entry: base64 envelope (compact CDSE form, or the bytes of the DSSE JSON form), log_keys: [{alg, key}], threshold: number}; result {seq, time, kind (event kind name), entry_hash (hex SHA-256 of the entry bytes)}",
            "verify_chain": "args {entries: [base64 entry bytes], start?: {next_seq, head_hash (base64), last_time}} (genesis when start is absent); result {next_seq, head_hash (hex), last_time}"
        },
        "cases": cases
    })
}

fn enc(entries: &[LedgerEntry]) -> Vec<Vec<u8>> {
    entries.iter().map(LedgerEntry::to_bytes).collect()
}

fn parse_key(v: &Value) -> Result<PublicKey> {
    serde_json::from_value(v.clone())
        .map_err(|e| cairn_core::Error::malformed(format!("test key: {e}")))
}

fn run(case: &Value) -> Result<Value> {
    let args = &case["args"];
    match case["op"].as_str().unwrap() {
        "verify_entry" => {
            let env = Envelope::parse(&b64(&args["entry"]))?;
            let keys = args["log_keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(parse_key)
                .collect::<Result<Vec<_>>>()?;
            let e = verify_entry(&env, &keys, args["threshold"].as_u64().unwrap() as usize)?;
            Ok(entry_ok(&e))
        }
        "verify_chain" => {
            let entries: Vec<Vec<u8>> = args["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(b64)
                .collect();
            let start = args.get("start").map(|s| ChainHead {
                next_seq: s["next_seq"].as_u64().unwrap(),
                head_hash: b64(&s["head_hash"]).try_into().unwrap(),
                last_time: s["last_time"].as_u64().unwrap(),
            });
            let head = verify_chain_bytes(entries.iter().map(Vec::as_slice), start)?;
            Ok(head_ok(head))
        }
        op => panic!("unknown op {op}"),
    }
}

#[test]
fn vectors() {
    let cases = vectors::committed("ledger", &vectors::render(&generate()));
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_entry", "verify_chain"]);
    vectors::check(&cases, run);
    let ops: std::collections::BTreeSet<_> =
        cases.iter().map(|c| c["op"].as_str().unwrap()).collect();
    assert_eq!(ops.len(), 2);
}

#[test]
fn every_event_kind_round_trips_with_its_discriminant() {
    let events: Vec<Event> = sample_events().into_iter().chain(handle_events()).collect();
    assert_eq!(events.len(), Event::KINDS.len());
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.discriminant() as usize, i);
        assert_eq!(ev.kind(), Event::KINDS[i]);
        let bytes = to_postcard(ev);
        assert_eq!(bytes[0] as usize, i, "{}", ev.kind());
        let e = LedgerEntry::new(0, T0, ZERO_HASH, ev.clone());
        assert_eq!(LedgerEntry::from_bytes(&e.to_bytes()).unwrap(), e);
        // JSON view: snake_case kind names.
        let j = serde_json::to_value(ev).unwrap();
        assert!(j.get(ev.kind()).is_some(), "{j}");
    }
}

#[test]
fn incremental_verifier_matches_batch_and_keeps_head_on_error() {
    let ledger = sample_ledger();
    let mut v = ChainVerifier::new();
    for (i, e) in ledger.iter().enumerate() {
        assert_eq!(v.push(e).unwrap(), e.hash());
        assert_eq!(v.head().next_seq, i as u64 + 1);
    }
    let head = v.head();
    assert_eq!(head, verify_chain(&ledger, None).unwrap());
    assert_eq!(
        v.push(&ledger[3]).unwrap_err().code(),
        ErrorCode::ChainBroken
    );
    assert_eq!(
        v.push_bytes(b"\x01").unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(v.head(), head);
    let next = head.next_entry(
        head.last_time,
        Event::AuditNote {
            text: "same second".into(),
        },
    );
    v.push_bytes(&next.to_bytes()).unwrap();
}

#[test]
fn chain_errors_name_the_sequence_number() {
    let mut ledger = sample_ledger();
    ledger[5].prev_hash = [7; 32];
    let e = verify_chain(&ledger, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ChainBroken);
    assert!(e.detail().contains("ledger entry 5"), "{e}");
}

#[test]
fn validation_bounds() {
    let ok = |ev: Event| {
        LedgerEntry::new(0, 0, ZERO_HASH, ev)
            .to_envelope()
            .map(|_| ())
    };
    let code = |ev: Event| ok(ev).unwrap_err().code();
    assert_eq!(
        code(Event::AuditNote { text: "".into() }),
        ErrorCode::Malformed
    );
    assert_eq!(
        code(Event::NodeRegistered {
            node_id: "n".repeat(MAX_ID_LEN + 1),
            spec_digest: [0; 32]
        }),
        ErrorCode::TooLarge
    );
    assert!(ok(Event::NodeRegistered {
        node_id: "n".repeat(MAX_ID_LEN),
        spec_digest: [0; 32]
    })
    .is_ok());
    assert_eq!(
        code(Event::ManifestCosigned {
            manifest_digest: [0; 32],
            signers: vec![]
        }),
        ErrorCode::Malformed
    );
    assert_eq!(
        code(Event::ManifestCosigned {
            manifest_digest: [0; 32],
            signers: vec![kid("a"); 2]
        }),
        ErrorCode::Malformed
    );
    let many: Vec<KeyId> = (0..=MAX_SIGNERS).map(|i| kid(&i.to_string())).collect();
    assert_eq!(
        code(Event::ManifestCosigned {
            manifest_digest: [0; 32],
            signers: many
        }),
        ErrorCode::TooLarge
    );
    assert_eq!(
        code(Event::KeyRotated {
            old: kid("a"),
            new: kid("a")
        }),
        ErrorCode::Malformed
    );
    assert_eq!(
        code(Event::TrustRootUpdated {
            root_version: 0,
            root_id: [0; 32]
        }),
        ErrorCode::Malformed
    );
    let e = LedgerEntry::new(u64::MAX, 0, [1; 32], Event::AuditNote { text: "x".into() });
    assert_eq!(e.validate().unwrap_err().code(), ErrorCode::Malformed);
    let e = LedgerEntry::new(0, 0, [1; 32], Event::AuditNote { text: "x".into() });
    assert_eq!(e.validate().unwrap_err().code(), ErrorCode::ChainBroken);
    let big = vec![1u8; MAX_ENTRY_LEN + 1];
    assert_eq!(
        LedgerEntry::from_bytes(&big).unwrap_err().code(),
        ErrorCode::TooLarge
    );
}

#[test]
fn sign_entry_round_trips_with_hedged_signatures() {
    let (ed, hy) = (log_ed(), log_hybrid());
    let e = sample_ledger()[3].clone();
    let env = sign_entry(&e, &[&ed, &hy]).unwrap();
    let keys = [ed.public_key().clone(), hy.public_key().clone()];
    assert_eq!(verify_entry(&env, &keys, 2).unwrap(), e);
    assert_eq!(env.payload, e.to_bytes());
}

/// The worked examples in docs/FORMATS.md (ledger section) are the bytes the code produces.
#[test]
fn worked_examples_in_the_format_doc_are_current() {
    let doc = support::format_doc_without_whitespace();
    let ledger = sample_ledger();
    let env0 = signed(&ledger[0].to_bytes(), LEDGER_ENTRY_TYPE, &[&log_ed()]);
    for hex in [
        hex_encode(&ledger[0].to_bytes()),
        hex_encode(&ledger[0].hash()),
        hex_encode(&ledger[15].to_bytes()),
        hex_encode(&ledger[15].hash()),
        hex_encode(&env0.to_compact()),
        log_ed().public_key().key_id().to_hex(),
        b64_encode(log_ed().public_key().as_bytes()),
    ] {
        assert!(
            doc.contains(&hex),
            "docs/FORMATS.md (ledger section) lacks {hex}"
        );
    }
}

#[test]
fn handle_rules_take_a_free_handle_and_never_overwrite_silently() {
    let log = log_ed();
    let mut state = LedgerState::new();
    let mut head = ChainHead::GENESIS;
    let mut push = |state: &mut LedgerState, ev: Event| -> Result<()> {
        let e = head.next_entry(T0 + state.size, ev);
        let env = sign_entry(&e, &[])?;
        state.apply(&e, &env)?;
        head = verify_chain([&e], Some(head))?;
        Ok(())
    };
    push(
        &mut state,
        Event::KeyAdded {
            public_key: log.public_key().clone(),
            label: "log".into(),
            roles: RoleSet::of(&[Role::Checkpoint]),
            expires_at: None,
        },
    )
    .unwrap();
    let (bi, id1, id2) = (d("bi"), d("id1"), d("id2"));
    let reg = |previous: Option<[u8; 32]>, identity| Event::HandleRegistered {
        blind_index: bi,
        identity_digest: identity,
        previous: previous.map(PreviousDigest),
    };
    let code = |r: Result<()>| r.unwrap_err().code();
    // Re-registering or removing a handle nobody holds breaks the chain.
    assert_eq!(
        code(push(&mut state, reg(Some(id1), id2))),
        ErrorCode::ChainBroken
    );
    let remove = |identity| Event::HandleRemoved {
        blind_index: bi,
        identity_digest: identity,
        reason: String::new(),
    };
    assert_eq!(code(push(&mut state, remove(id1))), ErrorCode::ChainBroken);
    push(&mut state, reg(None, id1)).unwrap();
    assert_eq!(state.handles[&bi].identity_digest, id1);
    // Taken: a second first registration is a replay; a re-registration must name the
    // identity it replaces.
    assert_eq!(code(push(&mut state, reg(None, id2))), ErrorCode::Replayed);
    assert_eq!(
        code(push(&mut state, reg(Some(id2), d("id3")))),
        ErrorCode::DigestMismatch
    );
    assert_eq!(
        reg(Some(id1), id1).validate().unwrap_err().code(),
        ErrorCode::Malformed
    );
    push(&mut state, reg(Some(id1), id2)).unwrap();
    assert_eq!(state.handles[&bi].identity_digest, id2);
    assert_eq!(state.handles[&bi].seq, 2);
    assert_eq!(
        code(push(&mut state, remove(id1))),
        ErrorCode::DigestMismatch
    );
    push(&mut state, remove(id2)).unwrap();
    assert!(state.handles.is_empty());
    assert!(required_consents(&reg(None, id1)).is_empty());
}

/// The authority a recorded token's claims need (the writer's rule, which the audit applies to
/// stored tokens), case by case.
#[test]
fn token_authority_cases() {
    use cairn_core::token::{TokenBuilder, TokenClaims};
    let issuer = key(Algorithm::Ed25519, 41);
    let holder = key(Algorithm::Ed25519, 42);
    let other = key(Algorithm::Ed25519, 43);
    let root = TokenBuilder::new(holder.public_key().clone())
        .audience("a.example")
        .capability("read")
        .validity(1, 100)
        .issue(&issuer)
        .unwrap();
    let child = TokenBuilder::new(other.public_key().clone())
        .capability("read")
        .delegate(&root, &holder)
        .unwrap();
    let claims = |e: &Envelope| TokenClaims::from_payload(&e.payload).unwrap();
    let (root_c, child_c) = (claims(&root), claims(&child));
    let issuer_roles = RoleSet::of(&[Role::TokenIssuer]);
    let peer = RoleSet::of(&[Role::Peer]);
    let holder_id = holder.public_key().key_id();
    type Case<'a> = (
        &'a TokenClaims,
        RoleSet,
        Option<(u64, KeyId)>,
        Option<ErrorCode>,
    );
    let cases: [Case; 6] = [
        (&root_c, issuer_roles, None, None),
        (&root_c, peer, None, Some(ErrorCode::Unauthorized)),
        (&child_c, peer, Some((3, holder_id)), None),
        (&child_c, peer, None, Some(ErrorCode::ChainBroken)),
        (
            &child_c,
            peer,
            Some((5, holder_id)),
            Some(ErrorCode::ChainBroken),
        ),
        (
            &child_c,
            peer,
            Some((3, other.public_key().key_id())),
            Some(ErrorCode::KeyMismatch),
        ),
    ];
    for (i, (c, roles, parent, want)) in cases.into_iter().enumerate() {
        let got = check_token_authority(c, roles, parent, 5)
            .err()
            .map(|e| e.code());
        assert_eq!(got, want, "case {i}");
    }
}
