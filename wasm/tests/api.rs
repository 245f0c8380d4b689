//! The Rust side of the bindings: views, input rules, and no panic on any input.

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_wasm::api;
use cairn_wasm::input::{self, KeySpec};
use proptest::prelude::*;

const TYPE: &str = "application/vnd.cairn.test.v1+postcard";

fn signed(alg: Algorithm, seed: u8) -> (SigningKey, Envelope) {
    let key = SigningKey::from_seed(alg, &[seed; 32]);
    let mut env = Envelope::new(TYPE, b"payload".to_vec()).unwrap();
    env.sign_deterministic(&key).unwrap();
    (key, env)
}

#[test]
fn envelope_view_and_verification() {
    let (key, env) = signed(Algorithm::Ed25519MlDsa44, 3);
    let keys = [key.public_key().clone()];
    for bytes in [env.to_compact(), env.to_json().into_bytes()] {
        let v = api::verify_envelope(&bytes, TYPE, &keys, 1).unwrap();
        assert_eq!(v["valid"], true);
        assert_eq!(v["payload_type"], TYPE);
        assert_eq!(v["signers"][0], key.public_key().key_id().to_hex());
        assert_eq!(v["signatures"][0]["algorithms"][0], "ed25519+ml-dsa-44");
        let i = api::inspect(&bytes).unwrap();
        assert_eq!(i["kind"], "envelope");
        assert_eq!(i["id"], v["id"]);
    }
    let e = api::verify_envelope(&env.to_compact(), "other", &keys, 1).unwrap_err();
    assert_eq!(e.code().as_str(), "domain_mismatch");
}

#[test]
fn keys_in_every_shape() {
    let key = SigningKey::from_seed(Algorithm::MlDsa65, &[5; 32]);
    let pk = key.public_key();
    let der = cairn_core::crypto::pem::public_key_to_der(pk).unwrap();
    let pem = cairn_core::crypto::pem::public_key_to_pem(pk).unwrap();
    let json = serde_json::to_string(pk).unwrap();
    for spec in [
        KeySpec::Der(der),
        KeySpec::Text(pem),
        KeySpec::Text(json),
        KeySpec::Raw {
            alg: "ml-dsa-65".into(),
            key: pk.as_bytes().to_vec(),
        },
    ] {
        assert_eq!(&input::parse_key(spec).unwrap(), pk);
    }
    let e = input::parse_key(KeySpec::Raw {
        alg: "rsa".into(),
        key: vec![],
    })
    .unwrap_err();
    assert_eq!(e.code().as_str(), "unsupported_algorithm");
}

#[test]
fn key_cache_finds_every_key_and_parses_each_once() {
    let keys: Vec<_> = (0..300u16)
        .map(|i| {
            let mut seed = [0; 32];
            seed[..2].copy_from_slice(&i.to_le_bytes());
            SigningKey::from_seed(Algorithm::Ed25519, &seed)
                .public_key()
                .clone()
        })
        .collect();
    let mut cache = input::KeyCache::default();
    for round in 0..3 {
        for (i, pk) in keys.iter().enumerate() {
            let spec = match (i + round) % 3 {
                0 => KeySpec::Raw {
                    alg: "ed25519".into(),
                    key: pk.as_bytes().to_vec(),
                },
                1 => KeySpec::Der(cairn_core::crypto::pem::public_key_to_der(pk).unwrap()),
                _ => KeySpec::Text(cairn_core::crypto::pem::public_key_to_pem(pk).unwrap()),
            };
            assert_eq!(&cache.parse(spec).unwrap(), pk);
        }
    }
    // A bad key is refused every time (errors are not remembered).
    for _ in 0..2 {
        let bad = KeySpec::Raw {
            alg: "ed25519".into(),
            key: vec![1; 31],
        };
        assert_eq!(cache.parse(bad).unwrap_err().code().as_str(), "invalid_key");
    }
}

#[test]
fn hasher_matches_one_shot_sha256() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    let mut h = api::StreamHasher::new();
    for c in data.chunks(4093) {
        h.update(c);
    }
    assert_eq!(
        h.finish(),
        (200_000, cairn_core::encoding::sha256(&[&data]))
    );
    assert_eq!(h.view()["size"], 200_000);
    assert_eq!(
        api::StreamHasher::new().view()["digest"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn integers_and_times() {
    assert_eq!(
        input::integer_from_text("18446744073709551615", "n").unwrap(),
        u64::MAX
    );
    assert!(input::integer_from_text("18446744073709551616", "n").is_err());
    assert!(input::integer_from_text("-1", "n").is_err());
    assert!(input::integer_from_f64(9_007_199_254_740_992.0, "n").is_err());
    assert_eq!(
        input::time_from_millis(1_700_000_000_999.0).unwrap(),
        1_700_000_000
    );
    assert!(input::time_from_millis(f64::INFINITY).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = api::inspect(&bytes);
        let _ = api::verify_envelope(&bytes, TYPE, &[], 1);
        let _ = input::parse_key(KeySpec::Der(bytes.clone()));
        let _ = input::parse_key(KeySpec::Text(String::from_utf8_lossy(&bytes).into()));
        for alg in Algorithm::ALL {
            let _ = input::parse_key(KeySpec::Raw { alg: alg.name().into(), key: bytes.clone() });
        }
    }

    #[test]
    fn mutated_envelopes_never_panic(at in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<prop::sample::Index>()) {
        let (key, env) = signed(Algorithm::Ed25519, 9);
        let keys = [key.public_key().clone()];
        for mut bytes in [env.to_compact(), env.to_json().into_bytes()] {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let _ = api::inspect(&bytes);
            let _ = api::verify_envelope(&bytes, TYPE, &keys, 1);
            bytes.truncate(cut.index(bytes.len()));
            let _ = api::inspect(&bytes);
            let _ = api::verify_envelope(&bytes, TYPE, &keys, 1);
        }
    }
}

fn bundle_case(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/bundle.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["args"]
        .clone()
}

fn b64(v: &serde_json::Value) -> Vec<u8> {
    cairn_core::encoding::b64_decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn bundle_verdict_and_inspect_views() {
    let a = bundle_case("manifest bundle with its artifact");
    let (bundle, root, artifact) = (
        b64(&a["bundle"]),
        b64(&a["trusted_root"]),
        b64(&a["artifact"]),
    );
    let now = a["now"].as_u64().unwrap();
    let opts = api::BundleOptions {
        artifact: Some(api::Artifact::Bytes(artifact.clone())),
        ..Default::default()
    };
    let v = api::verify_bundle(&bundle, &root, now, &opts).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["kind"], "manifest");
    assert_eq!(v["artifact_checked"], true);
    let mut bad = artifact.clone();
    bad[0] ^= 1;
    let opts = api::BundleOptions {
        artifact: Some(api::Artifact::Bytes(bad)),
        ..Default::default()
    };
    let e = api::verify_bundle(&bundle, &root, now, &opts).unwrap_err();
    assert_eq!(e.code().as_str(), "digest_mismatch");

    let i = api::inspect(&bundle).unwrap();
    assert_eq!(i["kind"], "bundle");
    assert_eq!(i["subject"]["object"], "manifest");
    assert_eq!(i["checkpoint"]["kind"], "checkpoint");
    let r = api::inspect(&root).unwrap();
    assert_eq!(r["object"], "trust_root");
    assert!(r["decoded"]["keys"][0]["public_key"].is_string());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mutated_bundles_never_panic(at in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<prop::sample::Index>()) {
        let a = bundle_case("manifest bundle with its artifact");
        let (mut bundle, root) = (b64(&a["bundle"]), b64(&a["trusted_root"]));
        let now = a["now"].as_u64().unwrap();
        let i = at.index(bundle.len());
        bundle[i] ^= 1 << bit;
        let opts = api::BundleOptions::default();
        let _ = api::inspect(&bundle);
        let _ = api::verify_bundle(&bundle, &root, now, &opts);
        let _ = api::verify_bundle(&root, &bundle, now, &opts);
        bundle.truncate(cut.index(bundle.len()));
        let _ = api::inspect(&bundle);
        let _ = api::verify_bundle(&bundle, &root, now, &opts);
    }
}

/// A bundle of the vectors with `lines` appended to its checkpoint note (the note is a postcard
/// string: varint length, then the bytes).
fn with_cosignatures(bundle: &[u8], lines: &str) -> Vec<u8> {
    let b = cairn_core::bundle::Bundle::from_bytes(bundle).unwrap();
    let note = b.checkpoint.as_bytes();
    let at = bundle.windows(note.len()).position(|w| w == note).unwrap();
    let varint = |mut n: usize| {
        let mut out = Vec::new();
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out
    };
    let old = varint(note.len());
    assert_eq!(&bundle[at - old.len()..at], &old[..]);
    let mut new_note = note.to_vec();
    new_note.extend_from_slice(lines.as_bytes());
    let mut out = bundle[..at - old.len()].to_vec();
    out.extend(varint(new_note.len()));
    out.extend(new_note);
    out.extend_from_slice(&bundle[at + note.len()..]);
    out
}

#[test]
fn bundle_witnesses_k_of_n() {
    use cairn_core::witness::{cosign, CosignerKey};
    let a = bundle_case("token bundle");
    let (bundle, root) = (b64(&a["bundle"]), b64(&a["trusted_root"]));
    let now = a["now"].as_u64().unwrap();
    let note = cairn_core::bundle::Bundle::from_bytes(&bundle)
        .unwrap()
        .checkpoint;
    let text = &note[..note.find("\n\n").unwrap() + 1];
    let keys: Vec<SigningKey> = (0..3u8)
        .map(|i| SigningKey::from_seed(Algorithm::Ed25519, &[0x40 + i; 32]))
        .collect();
    let names = ["w.test/w1", "w.test/w2", "w.test/w3"];
    let spec = |i: usize| input::WitnessSpec {
        name: None,
        vkey: CosignerKey::new(names[i], keys[i].public_key())
            .unwrap()
            .vkey(),
    };
    let mut lines = String::new();
    for i in 0..2 {
        let sig = cosign(text, names[i], &keys[i], now - 10).unwrap();
        lines.push_str(&format!(
            "\u{2014} {} {}\n",
            sig.name,
            cairn_core::encoding::b64_encode(
                &[&sig.key_hash.to_be_bytes()[..], &sig.signature].concat()
            )
        ));
    }
    let cosigned = with_cosignatures(&bundle, &lines);
    let v = api::verify_bundle(&cosigned, &root, now, &api::BundleOptions::default()).unwrap();
    assert!(v["witnessed"].is_null());
    let all: Vec<_> = (0..3).map(spec).collect();
    let two = input::witness_policy(&all, Some(2), None, None, "witnesses").unwrap();
    let w = api::bundle_witnesses(&cosigned, &two, now).unwrap();
    assert_eq!(
        (w["counted"].as_u64(), w["quorum_met"].as_bool()),
        (Some(2), Some(true))
    );
    // As the CLI: the default quorum is every witness listed.
    let every = input::witness_policy(&all, None, None, None, "witnesses").unwrap();
    let e = api::bundle_witnesses(&cosigned, &every, now).unwrap_err();
    assert_eq!(e.code().as_str(), "threshold_not_met");
    let recent = input::witness_policy(&all, Some(2), Some(5), None, "witnesses").unwrap();
    let e = api::bundle_witnesses(&cosigned, &recent, now).unwrap_err();
    assert_eq!(e.code().as_str(), "stale");
    let e = input::witness_policy(&all, Some(4), None, None, "witnesses").unwrap_err();
    assert_eq!(e.code().as_str(), "malformed");
}

#[test]
fn revocation_proofs_through_the_api() {
    use cairn_core::revocation::{map_key, MemoryMap, ObjectKind};
    let mut map = MemoryMap::new();
    let ids: Vec<[u8; 32]> = (0..50u64)
        .map(|i| cairn_core::encoding::sha256(&[&i.to_be_bytes()]))
        .collect();
    for (i, id) in ids.iter().enumerate().take(40) {
        map.insert(map_key(ObjectKind::Token, id), i as u64)
            .unwrap();
    }
    let root = map.root();
    let listed: Vec<(String, [u8; 32], u64)> = ids
        .iter()
        .take(40)
        .enumerate()
        .map(|(i, id)| ("token".to_string(), *id, i as u64))
        .collect();
    let r = api::revocation_map_root(&listed).unwrap();
    assert_eq!(r["root"], cairn_core::encoding::hex_encode(&root));
    assert_eq!(
        api::parse_revocations_line(r["line"].as_str().unwrap()).unwrap(),
        r
    );
    let absent = map.prove(&map_key(ObjectKind::Token, &ids[45])).to_bytes();
    let present = map.prove(&map_key(ObjectKind::Token, &ids[7])).to_bytes();
    let v = api::verify_not_revoked(&root, "token", &ids[45], &absent).unwrap();
    assert_eq!(v["revoked"], false);
    assert_eq!(
        api::verify_revoked(&root, "token", &ids[7], &present).unwrap()["seq"],
        7
    );
    let e = api::verify_not_revoked(&root, "token", &ids[7], &present).unwrap_err();
    assert_eq!(e.code().as_str(), "revoked");
    let e = api::verify_not_revoked(&root, "key", &ids[45], &absent).unwrap_err();
    assert_eq!(e.code().as_str(), "proof_invalid");
    let e = api::verify_not_revoked(&root, "peer", &ids[45], &absent).unwrap_err();
    assert_eq!(e.code().as_str(), "malformed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn witness_and_revocation_inputs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = input::witness_policy(&[input::WitnessSpec { name: None, vkey: text.clone() }], None, None, None, "w");
        let vkey = "example.test/w1+2a3d9843+BNBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3";
        let policy = input::witness_policy(&[input::WitnessSpec { name: None, vkey: vkey.into() }], None, None, None, "w").unwrap();
        let _ = api::verify_cosignatures(&bytes, &policy, 0);
        let _ = api::bundle_witnesses(&bytes, &policy, 0);
        let _ = api::detect_split_view(&bytes, &bytes, &[], &cairn_core::checkpoint::CheckpointPolicy::new("o"));
        let _ = api::verify_not_revoked(&[0; 32], "token", &[1; 32], &bytes);
        let _ = api::verify_revoked(&[0; 32], "key", &[1; 32], &bytes);
        let _ = api::parse_revocations_line(&text);
    }
}

/// The token view the exports write straight to JSON text (`Valid` of `VerifiedToken::json`)
/// is, byte for byte, the text of `api::verify_token`'s `Value`: for every valid case of the
/// token vectors (roots and delegations, every suite, constraints of every kind).
#[test]
fn token_view_text_is_the_values() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/token.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        if case["expect"]["ok"] != true {
            continue;
        }
        let a = &case["args"];
        let issuers: Vec<_> = a["trusted_issuers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let alg = Algorithm::parse(k["algorithm"].as_str().unwrap()).unwrap();
                cairn_core::crypto::PublicKey::from_bytes(alg, &b64(&k["public_key"])).unwrap()
            })
            .collect();
        let parents: Vec<Vec<u8>> = a["parents"].as_array().unwrap().iter().map(b64).collect();
        let revoked: Vec<[u8; 32]> = a["revoked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| cairn_core::encoding::hex_decode_array(h.as_str().unwrap()).unwrap())
            .collect();
        let token = b64(&a["token"]);
        let check = api::TokenCheck {
            token: &token,
            parents: &parents,
            trusted_issuers: &issuers,
            now: a["now"].as_u64().unwrap(),
            revoked: &revoked,
            audience: a["audience"].as_str(),
            capability: a["capability"].as_str(),
        };
        let value = api::verify_token(&check).unwrap();
        let v = api::check_token(&check).unwrap();
        let direct = serde_json::to_string(&api::Valid {
            view: v.json(),
            valid: true,
        })
        .unwrap();
        assert_eq!(direct, value.to_string(), "{}", case["name"]);
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}

/// A log may delete a partial tile once its full tile exists (tlog-tiles); a caller that gives
/// the full tile, under its own path, in the partial one's place gets the proofs from its
/// first hashes or entries, and nothing is verified from a full tile that is not the log's.
#[test]
fn full_tiles_stand_in_for_partial_tiles_a_log_deleted() {
    use cairn_core::checkpoint::{Checkpoint, CheckpointPolicy, CheckpointVerifier};
    use cairn_core::merkle::MemoryTree;
    use cairn_core::tiles::{encode_entry_bundle, tile_bytes, Tile, TileKind};
    let origin = "tiles.example/log";
    let key = SigningKey::from_seed(Algorithm::Ed25519, &[7; 32]);
    let leaves: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("entry-{i}").into_bytes())
        .collect();
    let mut tree = MemoryTree::new();
    for l in &leaves {
        tree.append(l).unwrap();
    }
    // A checkpoint from when the first tile was partial (40 entries); the log now holds 300.
    let size = 40;
    let note = Checkpoint::new(origin, size, tree.root_at(size).unwrap())
        .sign(&[(origin, &key)])
        .unwrap();
    let full = |kind| Tile {
        kind,
        index: 0,
        width: 256,
    };
    let hashes = tile_bytes(&tree, &full(TileKind::Hashes(0))).unwrap();
    let entries = encode_entry_bundle(leaves[..256].iter().map(|l| l.as_slice())).unwrap();
    let verifiers = [CheckpointVerifier {
        name: origin.into(),
        public_key: key.public_key().clone(),
    }];
    let policy = CheckpointPolicy::new(origin);
    let request = api::TileRequest {
        entry: Some(7),
        old_checkpoint: None,
    };
    let prove = |tiles: &[api::TileInput]| {
        api::verify_from_tiles(note.as_bytes(), &verifiers, &policy, &request, tiles)
    };
    let first = prove(&[]).unwrap();
    assert_eq!(first["complete"], false);
    assert_eq!(
        first["missing"],
        serde_json::json!(["tile/entries/000.p/40"])
    );
    let mut given = vec![
        api::TileInput {
            path: "tile/0/000".into(),
            data: hashes.clone(),
        },
        api::TileInput {
            path: "tile/entries/000".into(),
            data: entries.clone(),
        },
    ];
    let done = prove(&given).unwrap();
    assert_eq!(done["complete"], true, "{done}");
    assert_eq!(done["entry"]["index"], 7, "{done}");
    // One of the partial tiles given, the other through its full tile: the same.
    given[0] = api::TileInput {
        path: "tile/0/000.p/40".into(),
        data: hashes[..40 * 32].to_vec(),
    };
    assert_eq!(prove(&given).unwrap()["complete"], true);
    // A full tile that is not the log's is refused, as a partial one would be.
    let mut forged = hashes.clone();
    forged[5 * 32] ^= 1;
    given[0] = api::TileInput {
        path: "tile/0/000".into(),
        data: forged,
    };
    assert!(prove(&given).is_err());
}
