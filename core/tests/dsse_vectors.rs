//! DSSE envelope vectors: tests/vectors/dsse.json is generated from fixed seeds when
//! CAIRN_REGEN_VECTORS=1 and otherwise checked case by case (and byte for byte against a
//! fresh generation, so a format change cannot slip through).

mod support;

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{b64_decode, b64_encode};
use serde_json::{json, Value};
use support::keys::{key_json, parse_keys};
use support::vectors;

const TYPE: &str = "application/vnd.cairn.example.v1+postcard";

fn key(seed: u8, alg: Algorithm) -> SigningKey {
    SigningKey::from_seed(alg, &[seed; 32])
}

fn case(
    name: &str,
    env: Value,
    keys: &[&SigningKey],
    threshold: usize,
    ptype: &str,
    expect: Value,
) -> Value {
    json!({
        "name": name,
        "op": "verify_envelope",
        "args": {
            "envelope": env,
            "payload_type": ptype,
            "keys": keys.iter().map(|k| key_json(k.public_key())).collect::<Vec<_>>(),
            "threshold": threshold,
        },
        "expect": expect,
    })
}

fn compact(env: &Envelope) -> Value {
    json!({"compact": b64_encode(&env.to_compact())})
}

fn ok(signers: &[&SigningKey]) -> Value {
    let ids: Vec<String> = signers
        .iter()
        .map(|k| k.public_key().key_id().to_hex())
        .collect();
    json!({"ok": true, "signers": ids})
}

fn err(code: &str) -> Value {
    json!({"error": code})
}

fn generate() -> Value {
    let ed = key(1, Algorithm::Ed25519);
    let ml = key(2, Algorithm::MlDsa44);
    let hy = key(3, Algorithm::Ed25519MlDsa65);
    let other = key(4, Algorithm::Ed25519);
    let mut one = Envelope::new(TYPE, b"hello, cairn".to_vec()).unwrap();
    one.sign_deterministic(&ed).unwrap();
    let mut three = Envelope::new(TYPE, b"co-signed".to_vec()).unwrap();
    for k in [&ed, &ml, &hy] {
        three.sign_deterministic(k).unwrap();
    }
    let token_type = "application/vnd.cairn.token.v1+postcard";
    let mut cases = vec![
        case(
            "ed25519 1-of-1, compact",
            compact(&one),
            &[&ed],
            1,
            TYPE,
            ok(&[&ed]),
        ),
        case(
            "ed25519 1-of-1, DSSE JSON",
            json!({"json": one.to_json()}),
            &[&ed],
            1,
            TYPE,
            ok(&[&ed]),
        ),
        case(
            "3 algorithms, 3-of-3",
            compact(&three),
            &[&ed, &ml, &hy],
            3,
            TYPE,
            ok(&[&ed, &ml, &hy]),
        ),
        case(
            "3 signatures, 2 trusted keys, 2-of-2",
            compact(&three),
            &[&ml, &hy],
            2,
            TYPE,
            ok(&[&ml, &hy]),
        ),
        case(
            "threshold above valid signers",
            compact(&three),
            &[&ed, &ml],
            3,
            TYPE,
            err("threshold_not_met"),
        ),
        case(
            "no trusted signer",
            compact(&one),
            &[&other],
            1,
            TYPE,
            err("unknown_key"),
        ),
        case(
            "wrong payload type",
            compact(&one),
            &[&ed],
            1,
            token_type,
            err("domain_mismatch"),
        ),
        case(
            "threshold zero refused",
            compact(&one),
            &[&ed],
            0,
            TYPE,
            err("malformed"),
        ),
    ];
    let mut flipped = one.clone();
    flipped.payload[0] ^= 0x01;
    cases.push(case(
        "payload bit flipped",
        compact(&flipped),
        &[&ed],
        1,
        TYPE,
        err("signature_invalid"),
    ));
    let keys = [&ed, &ml, &hy];
    for (i, at) in [(0usize, 0usize), (1, 2000), (2, 3000)] {
        let mut bad = three.clone();
        bad.signatures[i].sig[at] ^= 0x40;
        let name = format!("signature {i} ({}) bit flipped", keys[i].algorithm());
        cases.push(case(
            &name,
            compact(&bad),
            &[keys[i]],
            1,
            TYPE,
            err("signature_invalid"),
        ));
    }
    let mut short = one.clone();
    short.signatures[0].sig.pop();
    cases.push(case(
        "signature truncated",
        compact(&short),
        &[&ed],
        1,
        TYPE,
        err("signature_invalid"),
    ));
    let bytes = one.to_compact();
    let raw = |b: &[u8]| json!({"compact": b64_encode(b)});
    cases.push(case(
        "compact truncated",
        raw(&bytes[..bytes.len() - 3]),
        &[&ed],
        1,
        TYPE,
        err("malformed"),
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    cases.push(case(
        "compact trailing byte",
        raw(&trailing),
        &[&ed],
        1,
        TYPE,
        err("malformed"),
    ));
    let mut magic = bytes.clone();
    magic[0] = b'X';
    cases.push(case(
        "compact bad magic",
        raw(&magic),
        &[&ed],
        1,
        TYPE,
        err("malformed"),
    ));
    let not_env = json!({"json": "{\"payload\": 1}"});
    cases.push(case(
        "JSON not an envelope",
        not_env,
        &[&ed],
        1,
        TYPE,
        err("malformed"),
    ));
    let loose = json!({"json": one.to_json().replace('=', "")});
    cases.push(case(
        "JSON base64 without padding",
        loose,
        &[&ed],
        1,
        TYPE,
        err("malformed"),
    ));
    json!({
        "kind": "dsse",
        "version": 1,
        "description": "DSSE envelopes (PAE v1) in cairn's compact form and DSSE's JSON form; threshold verification against a key set. Keys derive from seeds [n; 32] with SigningKey::from_seed; ML-DSA signatures use FIPS 204's deterministic variant.",
        "ops": {
            "verify_envelope": "envelope: {compact: base64 of the CDSE bytes} or {json: DSSE JSON text}; payload_type: the expected type; keys: [{algorithm, public_key (base64)}]; threshold: distinct valid signers required. Result: signers (hex key ids, envelope order)."
        },
        "cases": cases,
    })
}

fn run(args: &Value) -> Result<Value, cairn_core::Error> {
    let env = match args["envelope"]["compact"].as_str() {
        Some(c) => Envelope::from_compact(&b64_decode(c)?)?,
        None => Envelope::from_json(args["envelope"]["json"].as_str().unwrap())?,
    };
    let keys = parse_keys(&args["keys"])?;
    let threshold = args["threshold"].as_u64().unwrap() as usize;
    let v = env.verify(args["payload_type"].as_str().unwrap(), &keys, threshold)?;
    let ids: Vec<String> = v.signers.iter().map(|k| k.to_hex()).collect();
    Ok(json!({"signers": ids}))
}

#[test]
fn dsse_vectors() {
    let cases = vectors::committed("dsse", &vectors::render(&generate()));
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(&cases, &["verify_envelope"]);
    vectors::check(&cases, |case| run(&case["args"]));
}
