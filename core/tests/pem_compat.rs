//! crypto::pem reads SubjectPublicKeyInfo DER and PEM without an ASN.1 library. It must
//! accept and refuse exactly what the reader it replaced did (der 0.7 / spki 0.7 /
//! pem-rfc7468 0.7 through `pkcs8`), with the same error codes: this file keeps that reader as
//! the reference and compares the two over tables of edge cases, exhaustive single-byte
//! changes and random mutations. Private keys (PKCS#8) still go through `pkcs8`, but their PEM
//! layer is the new one, so it is compared for both labels.

mod support;

use cairn_core::crypto::{pem, Algorithm, PublicKey, SigningKey};
use cairn_core::encoding::b64_encode;
use cairn_core::{Error, ErrorCode};
use pkcs8::der::Decode;
use pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use proptest::prelude::*;

type Outcome = Result<(Algorithm, Vec<u8>), ErrorCode>;

fn outcome(r: Result<PublicKey, Error>) -> Outcome {
    r.map(|k| (k.algorithm(), k.as_bytes().to_vec()))
        .map_err(|e| e.code())
}

// ---- The reference: the reader as it was (pkcs8 0.10, der 0.7, pem-rfc7468 0.7). ----

const REF_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const REF_MLDSA44: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17");
const REF_MLDSA65: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18");

fn ref_alg_for(oid: ObjectIdentifier) -> Result<Algorithm, ErrorCode> {
    if oid == REF_ED25519 {
        Ok(Algorithm::Ed25519)
    } else if oid == REF_MLDSA44 {
        Ok(Algorithm::MlDsa44)
    } else if oid == REF_MLDSA65 {
        Ok(Algorithm::MlDsa65)
    } else {
        Err(ErrorCode::UnsupportedAlgorithm)
    }
}

fn ref_from_der(der: &[u8]) -> Outcome {
    if der.len() > pem::MAX_DER_LEN {
        return Err(ErrorCode::TooLarge);
    }
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|_| ErrorCode::Malformed)?;
    if spki.algorithm.parameters.is_some() {
        return Err(ErrorCode::Malformed);
    }
    let alg = ref_alg_for(spki.algorithm.oid)?;
    let raw = spki
        .subject_public_key
        .as_bytes()
        .ok_or(ErrorCode::Malformed)?;
    outcome(PublicKey::from_bytes(alg, raw))
}

fn ref_decode_pem(text: &str, label: &str) -> Result<Vec<u8>, ErrorCode> {
    if text.len() > pem::MAX_PEM_LEN {
        return Err(ErrorCode::TooLarge);
    }
    let (found, der) =
        pkcs8::der::pem::decode_vec(text.trim().as_bytes()).map_err(|_| ErrorCode::Malformed)?;
    if found != label {
        return Err(ErrorCode::Malformed);
    }
    Ok(der)
}

fn ref_from_pem(text: &str) -> Outcome {
    ref_from_der(&ref_decode_pem(text, "PUBLIC KEY")?)
}

fn ref_signing_key_from_pem(text: &str) -> Result<Vec<u8>, ErrorCode> {
    let der = ref_decode_pem(text, "PRIVATE KEY")?;
    signing_outcome(pem::signing_key_from_der(&der))
}

fn signing_outcome(r: Result<SigningKey, Error>) -> Result<Vec<u8>, ErrorCode> {
    r.map(|k| k.public_key().as_bytes().to_vec())
        .map_err(|e| e.code())
}

#[track_caller]
fn same_der(der: &[u8]) {
    assert_eq!(
        outcome(pem::public_key_from_der(der)),
        ref_from_der(der),
        "DER {}",
        cairn_core::encoding::hex_encode(der)
    );
}

#[track_caller]
fn same_pem(text: &str) {
    assert_eq!(
        outcome(pem::public_key_from_pem(text)),
        ref_from_pem(text),
        "PEM {text:?}"
    );
    // The PEM layer alone, under the other label (the DER is not a private key: both refuse
    // it the same way, or both refuse the PEM).
    let private = text.replace("PUBLIC KEY", "PRIVATE KEY");
    assert_eq!(
        signing_outcome(pem::signing_key_from_pem(&private)),
        ref_signing_key_from_pem(&private),
        "PEM {private:?}"
    );
}

// ---- Inputs. ----

fn key(alg: Algorithm) -> PublicKey {
    SigningKey::from_seed(alg, &[7; 32]).public_key().clone()
}

/// A SubjectPublicKeyInfo with the given OID contents, parameters and BIT STRING contents,
/// lengths in minimal DER.
fn spki(oid: &[u8], params: &[u8], bits: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = v.len();
        match n {
            0..=127 => out.push(n as u8),
            128..=255 => out.extend([0x81, n as u8]),
            _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(v);
        out
    }
    let mut alg_id = tlv(0x06, oid);
    alg_id.extend_from_slice(params);
    let mut body = tlv(0x30, &alg_id);
    body.extend(tlv(0x03, bits));
    tlv(0x30, &body)
}

const OID_ED25519: &[u8] = &[0x2B, 0x65, 0x70];
const OID_X25519: &[u8] = &[0x2B, 0x65, 0x6E];
const OID_MLDSA44: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x11];

fn bits(key: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(key);
    v
}

fn base_ders() -> Vec<Vec<u8>> {
    let ed = key(Algorithm::Ed25519);
    let mut out: Vec<Vec<u8>> = [Algorithm::Ed25519, Algorithm::MlDsa44, Algorithm::MlDsa65]
        .into_iter()
        .map(|a| pem::public_key_to_der(&key(a)).unwrap())
        .collect();
    out.push(spki(OID_X25519, &[], &bits(ed.as_bytes())));
    out.push(spki(OID_ED25519, &[0x05, 0x00], &bits(ed.as_bytes())));
    out.push(spki(OID_ED25519, &[], &[3, 0xFF, 0xF8]));
    out
}

/// Wraps DER as PEM with the given line width and line break.
fn wrap(der: &[u8], width: usize, eol: &str, label: &str) -> String {
    let b64 = b64_encode(der);
    let mut s = format!("-----BEGIN {label}-----{eol}");
    for line in b64.as_bytes().chunks(width) {
        s.push_str(std::str::from_utf8(line).unwrap());
        s.push_str(eol);
    }
    s.push_str(&format!("-----END {label}-----{eol}"));
    s
}

// ---- Tests. ----

#[test]
fn writer_matches_der_and_pem_rfc7468() {
    use pkcs8::der::Encode;
    for alg in [Algorithm::Ed25519, Algorithm::MlDsa44, Algorithm::MlDsa65] {
        let k = key(alg);
        let der = pem::public_key_to_der(&k).unwrap();
        let spki = SubjectPublicKeyInfoRef::from_der(&der).unwrap();
        assert_eq!(spki.to_der().unwrap(), der);
        assert_eq!(ref_from_der(&der).unwrap().1, k.as_bytes());
        let text = pem::public_key_to_pem(&k).unwrap();
        let theirs =
            pkcs8::der::pem::encode_string("PUBLIC KEY", pkcs8::der::pem::LineEnding::LF, &der)
                .unwrap();
        assert_eq!(text, theirs);
    }
    for alg in [Algorithm::Ed25519MlDsa44, Algorithm::Ed25519MlDsa65] {
        assert_eq!(
            pem::public_key_to_der(&key(alg)).unwrap_err().code(),
            ErrorCode::UnsupportedAlgorithm
        );
    }
}

/// Refusals, one line each, with the code both readers give.
#[test]
fn der_table() {
    let ed = key(Algorithm::Ed25519);
    let good = pem::public_key_to_der(&ed).unwrap();
    let edb = bits(ed.as_bytes());
    let mut trailing = good.clone();
    trailing.push(0);
    let mut long_len = good.clone();
    long_len.splice(1..2, [0x81, 0x2A]);
    let mut zero_len = good.clone();
    zero_len.splice(1..2, [0x82, 0x00, 0x2A]);
    let mut indefinite = good.clone();
    indefinite[1] = 0x80;
    indefinite.extend([0, 0]);
    let mut long_key = edb.clone();
    long_key.push(0);
    use ErrorCode::*;
    let table: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        ("empty", vec![], Malformed),
        (
            "truncated by one",
            good[..good.len() - 1].to_vec(),
            Malformed,
        ),
        ("header only", good[..2].to_vec(), Malformed),
        ("trailing byte", trailing, Malformed),
        ("non-minimal length 0x81 0x2a", long_len, Malformed),
        ("non-minimal length 0x82 0x00 0x2a", zero_len, Malformed),
        ("indefinite length", indefinite, Malformed),
        ("outer SET", [&[0x31][..], &good[1..]].concat(), Malformed),
        (
            "wrong OID: X25519",
            spki(OID_X25519, &[], &edb),
            UnsupportedAlgorithm,
        ),
        (
            "wrong OID: ML-DSA-87",
            spki(
                &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x13],
                &[],
                &edb,
            ),
            UnsupportedAlgorithm,
        ),
        ("OID of one byte", spki(&[0x2B], &[], &edb), Malformed),
        (
            "OID of two bytes",
            spki(&[0x2B, 0x65], &[], &edb),
            Malformed,
        ),
        (
            "OID first arc 3",
            spki(&[120, 0x65, 0x70], &[], &edb),
            Malformed,
        ),
        (
            "OID arc unfinished",
            spki(&[0x2B, 0x65, 0xF0], &[], &edb),
            Malformed,
        ),
        (
            "OID arc of 5 bytes",
            spki(&[0x2B, 0x8F, 0xFF, 0xFF, 0xFF, 0x0F], &[], &edb),
            UnsupportedAlgorithm,
        ),
        (
            "OID arc too big",
            spki(&[0x2B, 0x90, 0x80, 0x80, 0x80, 0x10], &[], &edb),
            Malformed,
        ),
        (
            "OID arc of 6 bytes",
            spki(&[0x2B, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &[], &edb),
            Malformed,
        ),
        (
            "OID arc with a leading 0x80",
            spki(&[0x2B, 0x80, 0x65, 0x70], &[], &edb),
            UnsupportedAlgorithm,
        ),
        ("OID of 40 bytes", spki(&[0x2B; 40], &[], &edb), Malformed),
        (
            "NULL parameters",
            spki(OID_ED25519, &[0x05, 0x00], &edb),
            Malformed,
        ),
        (
            "parameters after unknown OID",
            spki(OID_X25519, &[0x05, 0x00], &edb),
            Malformed,
        ),
        (
            "garbage after OID",
            spki(OID_ED25519, &[0xFF], &edb),
            Malformed,
        ),
        ("empty BIT STRING", spki(OID_ED25519, &[], &[]), Malformed),
        ("unused bits 8", spki(OID_ED25519, &[], &[8, 1]), Malformed),
        (
            "unused bits with no bytes",
            spki(OID_ED25519, &[], &[1]),
            Malformed,
        ),
        (
            "unused bits 1",
            spki(OID_ED25519, &[], &[&[1][..], ed.as_bytes()].concat()),
            Malformed,
        ),
        (
            "unused bits under an unknown OID",
            spki(OID_X25519, &[], &[1, 0]),
            UnsupportedAlgorithm,
        ),
        (
            "key one byte short",
            spki(OID_ED25519, &[], &edb[..32]),
            InvalidKey,
        ),
        (
            "key one byte long",
            spki(OID_ED25519, &[], &long_key),
            InvalidKey,
        ),
        (
            "ML-DSA-44 OID with an Ed25519 key",
            spki(OID_MLDSA44, &[], &edb),
            InvalidKey,
        ),
        (
            "small-order Ed25519 key",
            spki(OID_ED25519, &[], &bits(&[0; 32])),
            InvalidKey,
        ),
        ("too large", vec![0x30; pem::MAX_DER_LEN + 1], TooLarge),
    ];
    for (name, der, want) in table {
        assert_eq!(
            outcome(pem::public_key_from_der(&der)).map(|_| ()),
            Err(want),
            "{name}"
        );
        same_der(&der);
    }
}

#[test]
fn pem_table() {
    let ed = pem::public_key_to_pem(&key(Algorithm::Ed25519)).unwrap();
    let ml = pem::public_key_to_pem(&key(Algorithm::MlDsa44)).unwrap();
    let body = ed.lines().nth(1).unwrap().to_string();
    // The character before the padding with its lowest (unused) bit set.
    let pad = ed.find('=').unwrap();
    let mut non_canonical = ed.clone();
    let last = ed.as_bytes()[pad - 1];
    non_canonical.replace_range(pad - 1..pad, &((last + 1) as char).to_string());
    use ErrorCode::*;
    let table: Vec<(&str, String, Option<ErrorCode>)> = vec![
        ("as written", ed.clone(), None),
        ("CRLF", ed.replace('\n', "\r\n"), None),
        ("CR", ed.replace('\n', "\r"), None),
        ("surrounding whitespace", format!(" \n\t{ed}\n\n "), None),
        ("no final line break", ed.trim_end().to_string(), None),
        ("preamble", format!("key:\n{ed}"), None),
        (
            "one blank line before END",
            ed.replace("\n-----END", "\n\n-----END"),
            None,
        ),
        ("ML-DSA as written", ml.clone(), None),
        ("ML-DSA CRLF", ml.replace('\n', "\r\n"), None),
        ("empty", String::new(), Some(Malformed)),
        ("no BEGIN", body.clone(), Some(Malformed)),
        (
            "no END",
            format!("-----BEGIN PUBLIC KEY-----\n{body}\n"),
            Some(Malformed),
        ),
        (
            "wrong label",
            ed.replace("PUBLIC KEY", "PRIVATE KEY"),
            Some(Malformed),
        ),
        (
            "other END label",
            ed.replace("END PUBLIC", "END PRIVATE"),
            Some(Malformed),
        ),
        (
            "lower-case label",
            ed.replace("PUBLIC KEY", "public key"),
            Some(Malformed),
        ),
        (
            "label with two spaces",
            ed.replace("PUBLIC KEY", "PUBLIC  KEY"),
            Some(Malformed),
        ),
        (
            "RSA label",
            ed.replace("PUBLIC KEY", "RSA PUBLIC KEY"),
            Some(Malformed),
        ),
        (
            "BEGIN line without a line break",
            ed.replacen("-----\n", "-----", 1),
            Some(Malformed),
        ),
        (
            "empty body",
            "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n".into(),
            Some(Malformed),
        ),
        (
            "two blank lines before END",
            ed.replace("\n-----END", "\n\n\n-----END"),
            Some(Malformed),
        ),
        (
            "blank line after BEGIN",
            ed.replacen("-----\n", "-----\n\n", 1),
            Some(Malformed),
        ),
        (
            "header line",
            ed.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1),
            Some(Malformed),
        ),
        (
            "NUL in the preamble",
            format!("a\0b\n{ed}"),
            Some(Malformed),
        ),
        (
            "preamble without a line break",
            format!("key: {ed}"),
            Some(Malformed),
        ),
        ("missing padding", ed.replace('=', ""), Some(Malformed)),
        ("extra padding", ed.replace('=', "=="), Some(Malformed)),
        (
            "non-canonical last character",
            non_canonical,
            Some(Malformed),
        ),
        (
            "bad base64 character",
            ed.replacen('M', "*", 1),
            Some(Malformed),
        ),
        (
            "URL-safe alphabet",
            ed.replace('+', "-").replace('/', "_"),
            Some(Malformed),
        ),
        (
            "space inside the base64",
            ed.replacen("MC", "M C", 1),
            Some(Malformed),
        ),
        (
            "trailing DER byte",
            wrap(
                &[
                    pem::public_key_to_der(&key(Algorithm::Ed25519)).unwrap(),
                    vec![0],
                ]
                .concat(),
                64,
                "\n",
                "PUBLIC KEY",
            ),
            Some(Malformed),
        ),
        (
            "ML-DSA lines of 76",
            wrap(
                &pem::public_key_to_der(&key(Algorithm::MlDsa44)).unwrap(),
                76,
                "\n",
                "PUBLIC KEY",
            ),
            Some(Malformed),
        ),
        (
            "ML-DSA lines of 63",
            wrap(
                &pem::public_key_to_der(&key(Algorithm::MlDsa44)).unwrap(),
                63,
                "\n",
                "PUBLIC KEY",
            ),
            Some(Malformed),
        ),
        (
            "ML-DSA in one line",
            wrap(
                &pem::public_key_to_der(&key(Algorithm::MlDsa44)).unwrap(),
                1 << 20,
                "\n",
                "PUBLIC KEY",
            ),
            Some(Malformed),
        ),
        (
            "unknown OID",
            wrap(
                &spki(OID_X25519, &[], &bits(key(Algorithm::Ed25519).as_bytes())),
                64,
                "\n",
                "PUBLIC KEY",
            ),
            Some(UnsupportedAlgorithm),
        ),
        (
            "too large",
            "A".repeat(pem::MAX_PEM_LEN + 1),
            Some(TooLarge),
        ),
        (
            "DER too large",
            wrap(&vec![0x30; pem::MAX_DER_LEN + 1], 64, "\n", "PUBLIC KEY"),
            Some(TooLarge),
        ),
    ];
    for (name, text, want) in table {
        let got = outcome(pem::public_key_from_pem(&text)).map(|_| ()).err();
        assert_eq!(got, want, "{name}");
        same_pem(&text);
    }
}

#[test]
fn every_single_byte_change_to_the_header() {
    for der in base_ders() {
        let head = der.len().min(24);
        for i in 0..=head {
            same_der(&der[..i]);
            for b in 0..=255u8 {
                let mut d = der.clone();
                d[i.min(der.len() - 1)] = b;
                same_der(&d);
                let mut d = der.clone();
                d.insert(i, b);
                same_der(&d);
            }
            let mut d = der.clone();
            d.remove(i.min(der.len() - 1));
            same_der(&d);
        }
        let mut d = der.clone();
        d.push(0);
        same_der(&d);
    }
}

#[test]
fn every_short_oid() {
    let ed = bits(key(Algorithm::Ed25519).as_bytes());
    for a in 0..=255u8 {
        same_der(&spki(&[a], &[], &ed));
        for b in 0..=255u8 {
            same_der(&spki(&[a, b], &[], &ed));
            for c in [
                0x00, 0x01, 0x0F, 0x10, 0x70, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0xF0, 0xFF,
            ] {
                same_der(&spki(&[a, b, c], &[], &ed));
            }
        }
    }
}

#[test]
fn every_pem_line_break_and_character_change() {
    let mut texts = vec![];
    for der in base_ders().into_iter().chain([
        // A DER whose base64 fills its last line exactly (a multiple of 48 bytes), with and
        // without a blank line before END (accepted only without padding).
        vec![0x30; 96],
        vec![0x30; 95],
    ]) {
        for eol in ["\n", "\r\n", "\r"] {
            texts.push(wrap(&der, 64, eol, "PUBLIC KEY"));
        }
    }
    let chars = [
        'A', '=', '\n', '\r', ' ', '\t', '-', '\0', ':', '+', '/', 'Q', 'g', '\u{e9}',
    ];
    for text in &texts {
        same_pem(text);
        let bytes: Vec<char> = text.chars().collect();
        // Every position of short texts; around the boundaries and line ends of long ones.
        let positions: Vec<usize> = if bytes.len() < 200 {
            (0..=bytes.len()).collect()
        } else {
            (0..40)
                .chain(bytes.len() - 80..=bytes.len())
                .chain((60..bytes.len() - 80).step_by(7))
                .collect()
        };
        support::mutate::char_edits(&bytes, &positions, &chars, same_pem);
        for blank in ["\n", "\r\n", "\r", "\n\n", "\r\r\n", "\n\r\n"] {
            same_pem(&text.replace("\n-----END", &format!("{blank}-----END")));
            same_pem(&text.replace("\r-----END", &format!("{blank}-----END")));
            same_pem(&text.replace("\r\n-----END", &format!("{blank}-----END")));
            same_pem(&text.replacen("-----\n", &format!("-----{blank}"), 1));
        }
        for pre in [
            "x\n",
            "x\r\n",
            "\n",
            "-----BEGIN X-----\n",
            "a\nb\n",
            "\0\n",
            "x\n\0",
        ] {
            same_pem(&format!("{pre}{text}"));
        }
        for post in ["\n", "x", "\n-----END PUBLIC KEY-----", "-----"] {
            same_pem(&format!("{text}{post}"));
            same_pem(&format!("{}{post}", text.trim_end()));
        }
    }
}

fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6).prop_map(
        move |edits| {
            let mut d = base.clone();
            for (at, b, kind) in edits {
                let i = at.index(d.len() + 1);
                match kind {
                    0 => d.insert(i, b),
                    1 if i < d.len() => d[i] = b,
                    _ if i < d.len() => {
                        d.remove(i);
                    }
                    _ => d.push(b),
                }
            }
            d
        },
    )
}

fn any_base_der() -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::select(base_ders())
}

fn pem_pieces() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("-----BEGIN PUBLIC KEY-----".to_string()),
        Just("-----END PUBLIC KEY-----".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\r".to_string()),
        Just("=".to_string()),
        "[A-Za-z0-9+/]{1,8}",
        "[A-Za-z0-9+/]{64}",
        Just("MCowBQYDK2VwAyEA".to_string()),
        ".{0,3}",
    ];
    proptest::collection::vec(piece, 0..14).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_der(der in any_base_der().prop_flat_map(mutated)) {
        same_der(&der);
    }

    #[test]
    fn random_der(der in proptest::collection::vec(any::<u8>(), 0..64)) {
        same_der(&der);
    }

    #[test]
    fn random_oids(oid in proptest::collection::vec(
        prop_oneof![Just(0x80u8), Just(0x7F), Just(0x0F), Just(0x10), any::<u8>()], 0..42)) {
        same_der(&spki(&oid, &[], &bits(key(Algorithm::Ed25519).as_bytes())));
    }

    #[test]
    fn mutated_pem(
        (der, eol) in (any_base_der(), prop::sample::select(vec!["\n", "\r\n", "\r"])),
        edits in proptest::collection::vec((any::<prop::sample::Index>(),
            prop::sample::select(vec!["\n", "\r", "\r\n", "=", "A", " ", "", "-", "\0"]), any::<bool>()), 1..5),
    ) {
        same_pem(&support::mutate::str_edits(wrap(&der, 64, eol, "PUBLIC KEY"), edits));
    }

    #[test]
    fn assembled_pem(text in pem_pieces()) {
        same_pem(&text);
    }
}
