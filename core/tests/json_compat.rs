//! The DSSE JSON envelope and the `{alg, key}` key are read by cairn-core's own JSON reader
//! (json_read.rs), not serde_json's deserializer. It must accept exactly what
//! `serde_json::from_str` accepted for the `#[derive(Deserialize)]` structs it replaced, and
//! read the same values: this file keeps those structs as the reference and compares the two
//! over tables of edge cases and random mutations.

mod support;

use cairn_core::crypto::{Algorithm, KeyId, PublicKey, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::b64_decode;
use cairn_core::ErrorCode;
use proptest::prelude::*;
use serde::Deserialize;

// ---- The reference: the structs and code as they were. ----

#[derive(Deserialize)]
struct JsonSig {
    keyid: String,
    sig: String,
}

#[derive(Deserialize)]
struct JsonEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<JsonSig>,
}

/// What the old `Envelope::from_json` gave: the envelope's compact bytes, or the error code.
fn ref_envelope(text: &str) -> Result<Vec<u8>, ErrorCode> {
    if text.len() > cairn_core::dsse::MAX_JSON_LEN {
        return Err(ErrorCode::TooLarge);
    }
    let raw: JsonEnvelope = serde_json::from_str(text).map_err(|_| ErrorCode::Malformed)?;
    if raw.signatures.len() > cairn_core::dsse::MAX_SIGNATURES {
        return Err(ErrorCode::TooLarge);
    }
    let mut sigs = vec![];
    for s in raw.signatures {
        let keyid = KeyId::from_hex(&s.keyid).map_err(|e| e.code())?;
        let sig = b64_decode(&s.sig).map_err(|e| e.code())?;
        sigs.push((keyid, sig));
    }
    let payload = b64_decode(&raw.payload).map_err(|e| e.code())?;
    // Envelope::check_limits, as from_json ran it.
    use cairn_core::dsse::{MAX_PAYLOAD_LEN, MAX_PAYLOAD_TYPE_LEN, MAX_SIGNATURES};
    if raw.payload_type.is_empty() || raw.payload_type.len() > MAX_PAYLOAD_TYPE_LEN {
        return Err(ErrorCode::Malformed);
    }
    if payload.len() > MAX_PAYLOAD_LEN || sigs.len() > MAX_SIGNATURES {
        return Err(ErrorCode::TooLarge);
    }
    Ok(compact(&raw.payload_type, &payload, &sigs))
}

fn compact(payload_type: &str, payload: &[u8], sigs: &[(KeyId, Vec<u8>)]) -> Vec<u8> {
    // A stable rendering of the fields (not a cairn format): enough to compare two reads.
    let mut out = format!("{payload_type:?}|{payload:?}|").into_bytes();
    for (k, s) in sigs {
        out.extend(format!("{}:{s:?};", k.to_hex()).bytes());
    }
    out
}

fn new_envelope(text: &str) -> Result<Vec<u8>, ErrorCode> {
    let env = Envelope::from_json(text).map_err(|e| e.code())?;
    let sigs: Vec<_> = env
        .signatures
        .iter()
        .map(|s| (s.keyid, s.sig.clone()))
        .collect();
    Ok(compact(&env.payload_type, &env.payload, &sigs))
}

#[track_caller]
fn same_envelope(text: &str) {
    assert_eq!(new_envelope(text), ref_envelope(text), "{text:?}");
}

#[track_caller]
fn same_key(text: &str) {
    let new = PublicKey::from_json(text).map_err(|e| e.code());
    let old = serde_json::from_str::<PublicKey>(text).map_err(|_| ErrorCode::Malformed);
    assert_eq!(new, old, "{text:?}");
}

// ---- Inputs. ----

fn envelopes() -> Vec<String> {
    let mut out = vec![];
    for (alg, n) in [
        (Algorithm::Ed25519, 1),
        (Algorithm::Ed25519, 2),
        (Algorithm::MlDsa44, 1),
    ] {
        let mut env =
            Envelope::new("application/vnd.cairn.test.v1+postcard", b"hi\"\\".to_vec()).unwrap();
        for seed in 0..n {
            env.sign_deterministic(&SigningKey::from_seed(alg, &[seed + 1; 32]))
                .unwrap();
        }
        out.push(env.to_json());
    }
    let unsigned = Envelope::new("t", vec![]).unwrap();
    out.push(unsigned.to_json());
    out
}

fn key_text() -> String {
    serde_json::to_string(SigningKey::from_seed(Algorithm::Ed25519, &[9; 32]).public_key()).unwrap()
}

#[test]
fn envelope_table() {
    let kid = "ab".repeat(32);
    let table: Vec<(&str, String, bool)> = vec![
        ("minimal", r#"{"payload":"","payloadType":"t","signatures":[]}"#.into(), true),
        ("array form", r#"["", "t", []]"#.into(), true),
        ("array form of a signature", format!(r#"{{"payload":"","payloadType":"t","signatures":[["{kid}","AA=="]]}}"#), true),
        ("keys in any order", r#"{"signatures":[],"payloadType":"t","payload":""}"#.into(), true),
        ("unknown members of every kind", r#"{"x":[1,-2.5e+3,{"a":[true,false,null,"\ud800"]},[]],"payload":"","y":{},"payloadType":"t","signatures":[],"z":0}"#.into(), true),
        ("escaped member name", r#"{"pay\u006coad":"","payloadType":"t","signatures":[]}"#.into(), true),
        ("escapes in values", r#"{"payload":"","payloadType":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00","signatures":[]}"#.into(), true),
        ("whitespace", " \t\n\r{ \"payload\" : \"\" , \"payloadType\":\"t\",\"signatures\":[ ] } \n".into(), true),
        ("form feed is not whitespace", "{\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[]}\u{c}".into(), false),
        ("missing field", r#"{"payload":"","payloadType":"t"}"#.into(), false),
        ("duplicate field", r#"{"payload":"","payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("trailing comma", r#"{"payload":"","payloadType":"t","signatures":[],}"#.into(), false),
        ("trailing comma in the list", format!(r#"{{"payload":"","payloadType":"t","signatures":[{{"keyid":"{kid}","sig":""}},]}}"#), false),
        ("trailing characters", r#"{"payload":"","payloadType":"t","signatures":[]}x"#.into(), false),
        ("two values", r#"{"payload":"","payloadType":"t","signatures":[]} {}"#.into(), false),
        ("array form too short", r#"["", "t"]"#.into(), false),
        ("array form too long", r#"["", "t", [], 1]"#.into(), false),
        ("number for a string", r#"{"payload":1,"payloadType":"t","signatures":[]}"#.into(), false),
        ("null for a string", r#"{"payload":null,"payloadType":"t","signatures":[]}"#.into(), false),
        ("lone surrogate in a field", r#"{"payload":"","payloadType":"\ud800","signatures":[]}"#.into(), false),
        ("lone trailing surrogate", r#"{"payload":"","payloadType":"\udc00","signatures":[]}"#.into(), false),
        ("lone surrogate in a member name", r#"{"\ud800":1,"payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("control character", "{\"payload\":\"\",\"payloadType\":\"\u{1}\",\"signatures\":[]}".into(), false),
        ("control character in an unknown member", "{\"x\":\"\t\",\"payload\":\"\",\"payloadType\":\"t\",\"signatures\":[]}".into(), false),
        ("bad escape", r#"{"payload":"","payloadType":"\x","signatures":[]}"#.into(), false),
        ("short \\u escape", r#"{"payload":"","payloadType":"\u12","signatures":[]}"#.into(), false),
        ("leading zero in an unknown number", r#"{"x":01,"payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("bare minus", r#"{"x":-,"payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("decimal point without digits", r#"{"x":1.,"payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("exponent without digits", r#"{"x":1e+,"payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("NaN", r#"{"x":NaN,"payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("truncated literal", r#"{"x":tru,"payload":"","payloadType":"t","signatures":[]}"#.into(), false),
        ("single quotes", r#"{'payload':"","payloadType":"t","signatures":[]}"#.into(), false),
        ("unclosed", r#"{"payload":"","payloadType":"t","signatures":[]"#.into(), false),
        ("deep unknown member", format!(r#"{{"x":{}{},"payload":"","payloadType":"t","signatures":[]}}"#, "[".repeat(1000), "]".repeat(1000)), true),
        ("a string", r#""payload""#.into(), false),
        ("empty", String::new(), false),
    ];
    for (name, text, ok) in table {
        assert_eq!(
            new_envelope(&text).is_ok(),
            ok,
            "{name}: {:?}",
            new_envelope(&text)
        );
        same_envelope(&text);
    }
}

#[test]
fn key_table() {
    let good = key_text();
    let table: Vec<(&str, String, bool)> = vec![
        ("as written", good.clone(), true),
        (
            "array form",
            good.replace("{\"alg\":", "[")
                .replace(",\"key\":", ",")
                .replace('}', "]"),
            true,
        ),
        ("unknown member", good.replace('{', "{\"x\":[{}],"), true),
        ("unknown algorithm", good.replace("ed25519", "rsa"), false),
        (
            "hybrid name, wrong length",
            good.replace("ed25519", "ed25519+ml-dsa-44"),
            false,
        ),
        ("bad base64", good.replace('=', ""), false),
        ("missing key", r#"{"alg":"ed25519"}"#.into(), false),
        (
            "small-order point",
            r#"{"alg":"ed25519","key":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#.into(),
            false,
        ),
        (
            "wrong length",
            r#"{"alg":"ed25519","key":"AAAA"}"#.into(),
            false,
        ),
    ];
    for (name, text, ok) in table {
        assert_eq!(PublicKey::from_json(&text).is_ok(), ok, "{name}");
        if !ok {
            assert_eq!(
                PublicKey::from_json(&text).unwrap_err().code(),
                ErrorCode::Malformed,
                "{name}"
            );
        }
        same_key(&text);
    }
}

#[test]
fn every_single_character_change() {
    let chars = [
        '"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', '\u{c}', 'u', '0', '-', '.', 'e', 'n',
        'A', '=', '\u{1}', '\u{e9}',
    ];
    let mut texts = envelopes();
    texts.truncate(2);
    texts.push(
        r#"{"x":[1,-2.5e+3,{"a":"\ud800\n"}],"payload":"","payloadType":"t","signatures":[]}"#
            .into(),
    );
    texts.push(r#"["aGk=","t",[["abababababababababababababababababababababababababababababababab","AA=="]]]"#.into());
    for text in &texts {
        same_envelope(text);
        let cs: Vec<char> = text.chars().collect();
        let every: Vec<usize> = (0..=cs.len()).collect();
        support::mutate::char_edits(&cs, &every, &chars, same_envelope);
    }
    let key = key_text();
    let cs: Vec<char> = key.chars().collect();
    for i in 0..=cs.len() {
        for &c in &chars {
            let mut t = cs.clone();
            t.insert(i, c);
            same_key(&t.iter().collect::<String>());
            if i < cs.len() {
                let mut t = cs.clone();
                t[i] = c;
                same_key(&t.iter().collect::<String>());
            }
        }
    }
}

fn json_pieces() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"payload\"".to_string()),
        Just("\"payloadType\"".to_string()),
        Just("\"signatures\"".to_string()),
        Just("\"keyid\"".to_string()),
        Just("\"sig\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"AA==\"".to_string()),
        Just(format!("\"{}\"", "ab".repeat(32))),
        Just("\"\\ud83d\\ude00\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        prop_oneof![
            Just("null"),
            Just("true"),
            Just("-0"),
            Just("1.5e3"),
            Just("01"),
            Just(" "),
            Just("\n")
        ]
        .prop_map(String::from),
        "\"[a-z\\\\]{0,3}\"",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn assembled_envelopes(text in json_pieces()) {
        same_envelope(&text);
    }

    #[test]
    fn mutated_envelopes(
        base in proptest::sample::select(envelopes()),
        edits in proptest::collection::vec((any::<prop::sample::Index>(),
            prop::sample::select(vec!["\"", "\\", "{", "}", "[", "]", ",", ":", " ", "", "\\u", "1", "\"x\":0,"]), any::<bool>()), 1..5),
    ) {
        same_envelope(&support::mutate::str_edits(base, edits));
    }

    #[test]
    fn assembled_keys(text in json_pieces().prop_map(|t| t
        .replace("payloadType", "alg").replace("payload", "key").replace("keyid", "alg"))) {
        same_key(&text);
    }

    #[test]
    fn random_text(text in ".{0,64}") {
        same_envelope(&text);
        same_key(&text);
    }
}
