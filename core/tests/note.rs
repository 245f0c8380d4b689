//! Signed notes: signing and verification for every suite, the 0xff key-hash construction,
//! Go's line-matching rules, and parsers that never panic on hostile input.

use cairn_core::crypto::{Algorithm, PublicKey, SigningKey};
use cairn_core::encoding::{b64_decode, sha256};
use cairn_core::note::*;
use cairn_core::ErrorCode;
use proptest::prelude::*;

const NAME: &str = "example.test/k";

fn signed(text: &str, signers: &[(&str, &SigningKey)]) -> String {
    let mut n = Note::new(text).unwrap();
    for (name, key) in signers {
        n.sign_deterministic(name, key).unwrap();
    }
    n.encode().unwrap()
}

#[test]
fn every_suite_signs_and_verifies() {
    for (alg, lines) in [
        (Algorithm::Ed25519, 1),
        (Algorithm::MlDsa44, 1),
        (Algorithm::MlDsa65, 1),
        (Algorithm::Ed25519MlDsa44, 2),
        (Algorithm::Ed25519MlDsa65, 2),
    ] {
        let key = SigningKey::from_seed(alg, &[7; 32]);
        let mut note = Note::new("some text\n\nwith a blank line\n").unwrap();
        note.sign(NAME, &key).unwrap();
        let text = note.encode().unwrap();
        let parsed = Note::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.signatures().len(), lines, "{alg}");
        assert_eq!(parsed.text(), "some text\n\nwith a blank line\n");
        let v = NoteVerifier::for_key(NAME, key.public_key()).unwrap();
        assert_eq!(
            parsed.verify(&v).unwrap(),
            (0..lines).collect::<Vec<_>>(),
            "{alg}"
        );
        for (line, v) in parsed.signatures().iter().zip(&v) {
            assert_eq!(line.key_hash, v.key_hash());
            assert_eq!(
                line.signature.len(),
                v.signature_type().algorithm().signature_len()
            );
        }
        // Hedged and deterministic signatures both verify; Ed25519 lines are identical.
        let det = signed("some text\n\nwith a blank line\n", &[(NAME, &key)]);
        assert!(verify_note(det.as_bytes(), &v).is_ok());
        if alg == Algorithm::Ed25519 {
            assert_eq!(det, text);
        }
    }
}

#[test]
fn mldsa_key_hash_and_verifier_key_construction() {
    let key = SigningKey::from_seed(Algorithm::MlDsa44, &[5; 32]);
    let pk = key.public_key().as_bytes();
    let mut enc = vec![0xff];
    enc.extend_from_slice(b"cairn-ml-dsa-44-v1\n");
    let d = sha256(&[NAME.as_bytes(), b"\n", &enc, pk]);
    let want = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    let v = NoteVerifier::new(NAME, key.public_key()).unwrap();
    assert_eq!(v.key_hash(), want);
    assert_eq!(key_hash(NAME, SignatureType::MlDsa44, pk), want);
    let vkey = v.verifier_key();
    let (n, rest) = vkey.split_once('+').unwrap();
    let (h, k) = rest.split_once('+').unwrap();
    assert_eq!((n, h), (NAME, format!("{want:08x}").as_str()));
    let raw = b64_decode(k).unwrap();
    assert_eq!(&raw[..20], enc.as_slice());
    assert_eq!(&raw[20..], pk);
    assert_eq!(NoteVerifier::from_verifier_key(&vkey).unwrap(), v);

    let k65 = SigningKey::from_seed(Algorithm::MlDsa65, &[5; 32]);
    let v65 = NoteVerifier::new(NAME, k65.public_key()).unwrap();
    assert_eq!(v65.signature_type().label(), Some("cairn-ml-dsa-65-v1"));
    assert_eq!(
        NoteVerifier::from_verifier_key(&v65.verifier_key()).unwrap(),
        v65
    );
}

#[test]
fn verifier_key_rejections() {
    let key = SigningKey::from_seed(Algorithm::Ed25519, &[5; 32]);
    let good = NoteVerifier::new(NAME, key.public_key())
        .unwrap()
        .verifier_key();
    let (n, rest) = good.split_once('+').unwrap();
    let (h, k) = rest.split_once('+').unwrap();
    let code = |s: &str| NoteVerifier::from_verifier_key(s).unwrap_err().code();
    assert_eq!(code(&format!("{n}+00000000+{k}")), ErrorCode::KeyMismatch);
    assert_eq!(code(&format!("{n}+{h}")), ErrorCode::Malformed);
    assert_eq!(code(&format!("a b+{h}+{k}")), ErrorCode::Malformed);
    assert_eq!(code(&format!("{n}+{h}0+{k}")), ErrorCode::Malformed);
    assert_eq!(
        code(&format!("{n}+0x{}+{k}", &h[2..])),
        ErrorCode::Malformed
    );
    assert_eq!(code(&format!("{n}+{h}+")), ErrorCode::Malformed);
    // Type 0x04 (Ed25519 cosignature) and unknown 0xff labels are not cairn note keys.
    let mut raw = b64_decode(k).unwrap();
    raw[0] = 0x04;
    let other = cairn_core::encoding::b64_encode(&raw);
    assert_eq!(
        code(&format!("{n}+{h}+{other}")),
        ErrorCode::UnsupportedAlgorithm
    );
    let mut raw = b"\xffsomeone-else\n".to_vec();
    raw.extend_from_slice(&[1; 32]);
    let other = cairn_core::encoding::b64_encode(&raw);
    assert_eq!(
        code(&format!("{n}+{h}+{other}")),
        ErrorCode::UnsupportedAlgorithm
    );
    // A hybrid is two note keys, not one.
    let hybrid = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[5; 32]);
    assert_eq!(
        NoteVerifier::new(NAME, hybrid.public_key())
            .unwrap_err()
            .code(),
        ErrorCode::UnsupportedAlgorithm
    );
    let legacy = PublicKey::from_bytes(Algorithm::Dilithium2R3, &[0; 1312]).unwrap();
    assert_eq!(
        NoteVerifier::for_key(NAME, &legacy).unwrap_err().code(),
        ErrorCode::UnsupportedAlgorithm
    );
}

#[test]
fn go_matching_rules() {
    let a = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    let b = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
    let va = NoteVerifier::for_key("a", a.public_key()).unwrap();
    let vb = NoteVerifier::for_key("b", b.public_key()).unwrap();
    let both: Vec<_> = va.iter().chain(&vb).cloned().collect();
    let note = signed("t\n", &[("a", &a), ("b", &b)]);
    assert_eq!(verify_note(note.as_bytes(), &both).unwrap().1, [0, 1]);
    assert_eq!(verify_note(note.as_bytes(), &vb).unwrap().1, [0]);

    // A known key's corrupted line rejects the note even though another key verified.
    let mut parsed = Note::parse(note.as_bytes()).unwrap();
    let mut bad = parsed.signatures()[1].clone();
    bad.signature[0] ^= 1;
    parsed.push_signature(bad.clone()).unwrap();
    let corrupted = parsed.encode().unwrap();
    assert_eq!(
        verify_note(corrupted.as_bytes(), &both).unwrap_err().code(),
        ErrorCode::SignatureInvalid
    );
    // ... but it is ignored when that key is unknown.
    assert_eq!(verify_note(corrupted.as_bytes(), &va).unwrap().1, [0]);

    // Only the first line of a known key is checked.
    let good_b = Note::parse(note.as_bytes()).unwrap().signatures()[1].to_line();
    let twice = format!("t\n\n{good_b}{}", bad.to_line());
    assert_eq!(verify_note(twice.as_bytes(), &vb).unwrap().1, [0]);
    let twice = format!("t\n\n{}{good_b}", bad.to_line());
    assert_eq!(
        verify_note(twice.as_bytes(), &vb).unwrap_err().code(),
        ErrorCode::SignatureInvalid
    );

    // Same name, other hash; same hash, other name: both unknown.
    let mut other_hash = bad.clone();
    other_hash.key_hash ^= 1;
    let mut other_name = bad.clone();
    other_name.name = "c".into();
    let n = format!("t\n\n{}{}", other_hash.to_line(), other_name.to_line());
    assert_eq!(
        verify_note(n.as_bytes(), &vb).unwrap_err().code(),
        ErrorCode::UnknownKey
    );
    assert_eq!(
        verify_note(note.as_bytes(), &[]).unwrap_err().code(),
        ErrorCode::UnknownKey
    );
}

#[test]
fn ambiguous_verifiers_are_refused_identical_ones_are_not() {
    let a = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    let v = NoteVerifier::for_key("a", a.public_key())
        .unwrap()
        .remove(0);
    let note = signed("t\n", &[("a", &a)]);
    assert_eq!(
        verify_note(note.as_bytes(), &[v.clone(), v.clone()])
            .unwrap()
            .1,
        [0, 1]
    );
    // The hybrid and plain Ed25519 views of one key share the Ed25519 line without
    // ambiguity. (Two different keys with one name and hash are refused: see the unit test
    // in note.rs, since a real collision takes about 2^16 keys to find.)
    let h = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    let hv = NoteVerifier::for_key("a", h.public_key()).unwrap();
    let ed =
        PublicKey::from_bytes(Algorithm::Ed25519, &h.public_key().ed25519_part().unwrap()).unwrap();
    let mut all = hv.clone();
    all.push(NoteVerifier::new("a", &ed).unwrap());
    let hn = signed("t\n", &[("a", &h)]);
    assert_eq!(verify_note(hn.as_bytes(), &all).unwrap().1, [0, 1, 2]);
}

#[test]
fn push_signature_replaces_same_key_and_bounds_count() {
    let mut n = Note::new("t\n").unwrap();
    let sig = |h: u32, b: u8| NoteSignature {
        name: "k".into(),
        key_hash: h,
        signature: vec![b],
    };
    n.push_signature(sig(1, 1)).unwrap();
    n.push_signature(sig(1, 2)).unwrap();
    assert_eq!(n.signatures(), [sig(1, 2)]);
    for h in 2..=100 {
        n.push_signature(sig(h, 0)).unwrap();
    }
    assert_eq!(
        n.push_signature(sig(101, 0)).unwrap_err().code(),
        ErrorCode::TooLarge
    );
    assert!(Note::parse(n.encode().unwrap().as_bytes()).is_ok());
    assert!(Note::new("t\n").unwrap().encode().is_err());
    assert!(Note::new("no newline").is_err());
    assert!(Note::new("").is_err());
    assert!(Note::new("tab\there\n").is_err());
}

/// One Ed25519-signed note, made once (debug-build signing is slow).
fn ed_note() -> (String, Vec<NoteVerifier>) {
    static NOTE: std::sync::OnceLock<(String, Vec<NoteVerifier>)> = std::sync::OnceLock::new();
    NOTE.get_or_init(|| {
        let k = SigningKey::from_seed(Algorithm::Ed25519, &[9; 32]);
        (
            signed("example.test/log\n3\nabc\n", &[(NAME, &k)]),
            NoteVerifier::for_key(NAME, k.public_key()).unwrap(),
        )
    })
    .clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Note::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_note_like_text(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("\n".to_string()), Just("\u{2014} ".to_string()), Just(" ".to_string()),
                Just("AAAAAAE=".to_string()), Just("k".to_string()), Just("+".to_string()),
                Just("\u{2014}".to_string()), "[a-zA-Z0-9+/=]{0,12}",
            ],
            0..40,
        )
    ) {
        let s = parts.concat();
        if let Ok(n) = Note::parse(s.as_bytes()) {
            // What parses re-encodes to the same bytes.
            prop_assert_eq!(n.encode().unwrap(), s);
        }
    }

    #[test]
    fn key_strings_never_panic(s in "[ -~]{0,120}") {
        let _ = NoteVerifier::from_verifier_key(&s);
        let _ = parse_signer_key(&s);
        let _ = NoteVerifier::from_verifier_key(&format!("n+{s}"));
        let _ = parse_signer_key(&format!("PRIVATE+KEY+n+{s}"));
    }
}

proptest! {
    // Each case runs an Ed25519 verification, slow in debug builds: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_byte_change_is_rejected(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (note, v) = ed_note();
        let mut bytes = note.into_bytes();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        prop_assert!(verify_note(&bytes, &v).is_err());
    }

    #[test]
    fn truncation_and_extension_are_rejected(cut in 1usize..200, tail in "[ -~\n]{1,8}") {
        let (note, v) = ed_note();
        let bytes = note.as_bytes();
        let cut = cut.min(bytes.len());
        prop_assert!(verify_note(&bytes[..bytes.len() - cut], &v).is_err());
        let mut longer = note.clone();
        longer.push_str(&tail);
        // Appending can only add (unknown or malformed) lines: never a changed text.
        if let Ok((n, _)) = verify_note(longer.as_bytes(), &v) {
            prop_assert_eq!(n.text(), "example.test/log\n3\nabc\n");
        }
    }
}

#[test]
fn documented_example_keys() {
    // docs/FORMATS.md, "Worked examples".
    let ed = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
    let v = NoteVerifier::new("example.test/log", ed.public_key()).unwrap();
    assert_eq!(
        v.verifier_key(),
        "example.test/log+33af70b4+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
    );
    assert_eq!(
        format_signer_key("example.test/log", &[2; 32])
            .unwrap()
            .as_str(),
        "PRIVATE+KEY+example.test/log+33af70b4+AQICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC"
    );
    let hy = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    let vs = NoteVerifier::for_key("example.test/log", hy.public_key()).unwrap();
    assert_eq!(
        vs[0].verifier_key(),
        "example.test/log+424b48d3+AVcLkwg/PzZaWFs0sJbRlhIIDOdMS8gdl0JaxC2ioJ4f"
    );
    assert_eq!(vs[1].key_hash(), 0xe45e8090);
    assert!(vs[1]
        .verifier_key()
        .starts_with("example.test/log+e45e8090+/2NhaXJuLW1sLWRzYS00NC12MQqwoV++QQSvuVRWakLB"));
}
