//! The handle registry's pure part (cairn_core::handle, feature `handle`, which cairn-core's
//! dev-dependency on itself turns on for every test build): the normalisation table with its
//! confusable inputs, envelopes and proof of work case by case, totality on mutated input, and
//! tests/vectors/handle.json (`CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test handle`
//! rewrites it; otherwise the committed file must equal what the generator produces).

mod support;

mod normalisation {
    use cairn_core::handle::*;
    use cairn_core::ErrorCode;

    /// (input, the normalised handle or the error code).
    pub const TABLE: &[(&str, Result<&str, &str>)] = &[
        // Plain, trimmed, lowercased.
        ("alice", Ok("alice")),
        ("Alice", Ok("alice")),
        ("  alice\t\n", Ok("alice")),
        ("\u{3000}alice\u{00A0}", Ok("alice")),
        ("bob.smith_99-x", Ok("bob.smith_99-x")),
        ("007", Ok("007")),
        // Compatibility forms become what they imitate (NFKC).
        ("ＡＬＩＣＥ", Ok("alice")),
        ("ａｌｉｃｅ１２", Ok("alice12")),
        ("\u{FB01}sh", Ok("fish")),
        ("\u{FB00}ord", Ok("fford")),
        ("\u{017F}am", Ok("sam")),
        ("\u{212A}ate", Ok("kate")),
        ("bob\u{2122}", Ok("bobtm")),
        ("x\u{00B2}y", Ok("x2y")),
        ("\u{2460}\u{2461}\u{2462}", Ok("123")),
        ("\u{FF0E}ab", Err("malformed")),
        // Turkish i: only the ASCII I and i are letters of the alphabet.
        ("ISTANBUL", Ok("istanbul")),
        ("\u{0131}stanbul", Err("malformed")),
        ("\u{0130}stanbul", Err("malformed")),
        // Combining forms and precomposed accents are outside the alphabet either way.
        ("jose\u{0301}", Err("malformed")),
        ("jos\u{00E9}", Err("malformed")),
        ("a\u{0308}bc", Err("malformed")),
        // ß and capital ẞ are refused rather than folded to ss.
        ("stra\u{00DF}e", Err("malformed")),
        ("STRA\u{1E9E}E", Err("malformed")),
        // Other scripts' look-alikes.
        ("\u{0430}lice", Err("malformed")),
        ("\u{03BF}scar", Err("malformed")),
        ("p\u{0430}ypal", Err("malformed")),
        // Invisible, bidirectional and control characters anywhere inside.
        ("al\u{200B}ice", Err("malformed")),
        ("al\u{200D}ice", Err("malformed")),
        ("al\u{2060}ice", Err("malformed")),
        ("\u{FEFF}alice", Err("malformed")),
        ("al\u{00AD}ice", Err("malformed")),
        ("alice\u{FE0F}", Err("malformed")),
        ("alice\u{E0041}", Err("malformed")),
        ("ali\u{202E}ecil", Err("malformed")),
        ("\u{2066}alice\u{2069}", Err("malformed")),
        ("al\u{200F}ice", Err("malformed")),
        ("al\u{061C}ice", Err("malformed")),
        ("al\tice", Err("malformed")),
        ("al\u{0000}ice", Err("malformed")),
        ("al\u{0085}ice", Err("malformed")),
        // Layout of the result.
        ("al ice", Err("malformed")),
        ("al@ice", Err("malformed")),
        ("", Err("malformed")),
        ("   ", Err("malformed")),
        ("ab", Err("malformed")),
        (".alice", Err("malformed")),
        ("alice-", Err("malformed")),
        ("al..ice", Err("malformed")),
        ("al._ice", Err("malformed")),
        (
            "abcdefghijklmnopqrstuvwxyz012345",
            Ok("abcdefghijklmnopqrstuvwxyz012345"),
        ),
        ("abcdefghijklmnopqrstuvwxyz0123456", Err("too_large")),
        ("\u{FF41}\u{FF42}\u{FF43}", Ok("abc")),
    ];

    #[test]
    fn the_table() {
        for (input, want) in TABLE {
            let got = normalise(input);
            match (want, &got) {
                (Ok(h), Ok(g)) => assert_eq!(g.as_str(), *h, "{input:?}"),
                (Err(code), Err(e)) => {
                    assert_eq!(e.code().as_str(), *code, "{input:?}: {e}");
                    assert_eq!(e.field(), Some("handle"), "{input:?}");
                }
                _ => panic!("{input:?}: expected {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for (input, _) in TABLE {
            if let Ok(h) = normalise(input) {
                assert_eq!(normalise(h.as_str()).unwrap(), h, "{input:?}");
            }
        }
    }

    #[test]
    fn input_size_limit_comes_first() {
        let long = "a".repeat(MAX_HANDLE_INPUT_LEN + 1);
        assert_eq!(normalise(&long).unwrap_err().code(), ErrorCode::TooLarge);
        // 256 bytes of spaces around a short handle is still within the limit.
        let padded = format!("{}abc{}", " ".repeat(126), " ".repeat(127));
        assert_eq!(padded.len(), MAX_HANDLE_INPUT_LEN);
        assert_eq!(normalise(&padded).unwrap().as_str(), "abc");
    }

    #[test]
    fn refused_chars_are_refused_wherever_they_stand() {
        for c in [
            '\u{200B}',
            '\u{202A}',
            '\u{2069}',
            '\u{180E}',
            '\u{1BCA1}',
            '\u{E01EF}',
        ] {
            assert!(is_refused_char(c), "U+{:04X}", c as u32);
            for s in [format!("{c}abc"), format!("ab{c}c"), format!("abc{c}")] {
                assert_eq!(normalise(&s).unwrap_err().code(), ErrorCode::Malformed);
            }
        }
    }

    proptest::proptest! {
        /// Any string: no panic, and an accepted one is a fixed point in the alphabet.
        #[test]
        fn total_and_idempotent(s in "\\PC{0,40}") {
            if let Ok(h) = normalise(&s) {
                proptest::prop_assert!(h.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)));
                proptest::prop_assert_eq!(normalise(h.as_str()).unwrap(), h);
            }
        }
    }
}

mod envelopes {
    use cairn_core::handle::*;
    use cairn_core::ErrorCode;

    fn key(n: u8) -> EnvelopeSecretKey {
        EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[n; 32]).unwrap()
    }

    #[test]
    fn round_trip_with_active_and_retired_keys() {
        let (a, b, c) = (key(1), key(2), key(3));
        let ring = Keyring::new(a.clone(), vec![b.clone()]).unwrap();
        for (k, pt) in [(&a, &b"x"[..]), (&b, &[0u8; 1000][..]), (&a, &[][..])] {
            let env = seal(&k.public_key(), b"register", b"idx", pt, &[9; 32]).unwrap();
            assert_eq!(ring.open(b"register", b"idx", &env).unwrap(), pt);
            assert_eq!(open(k, b"register", b"idx", &env).unwrap(), pt);
        }
        let env = seal(&c.public_key(), b"register", b"", b"x", &[9; 32]).unwrap();
        assert_eq!(
            ring.open(b"register", b"", &env).unwrap_err().code(),
            ErrorCode::UnknownKey
        );
        assert_eq!(ring.public_keys().len(), 2);
        assert_eq!(ring.active().kid(), a.kid());
    }

    #[test]
    fn keyring_refuses_duplicate_kids_and_too_many_keys() {
        let k = key(1);
        assert_eq!(
            Keyring::new(k.clone(), vec![k.clone()]).unwrap_err().code(),
            ErrorCode::Malformed
        );
        let many: Vec<_> = (0..MAX_KEYRING_KEYS as u8).map(|i| key(i + 2)).collect();
        assert_eq!(
            Keyring::new(k, many).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn the_kid_is_given_or_derived() {
        let given = Kid::from_hex("0001020304050607").unwrap();
        let sk =
            EnvelopeSecretKey::from_bytes(Suite::X25519ChaCha20Poly1305, Some(given), &[0x10; 32])
                .unwrap();
        assert_eq!(sk.kid(), given);
        let derived =
            EnvelopeSecretKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &[0x10; 32])
                .unwrap();
        assert_eq!(
            derived.kid(),
            Kid::derive(
                Suite::X25519ChaCha20Poly1305,
                derived.public_key().as_bytes()
            )
        );
        assert_ne!(derived.kid(), given);
    }

    #[test]
    fn limits() {
        let k = key(1);
        let pk = k.public_key();
        let code = |r: cairn_core::Result<Vec<u8>>| r.unwrap_err().code();
        assert_eq!(
            code(seal(&pk, &[0; MAX_PURPOSE_LEN + 1], b"", b"", &[1; 32])),
            ErrorCode::TooLarge
        );
        assert_eq!(
            code(seal(&pk, b"", &vec![0; MAX_AAD_LEN + 1], b"", &[1; 32])),
            ErrorCode::TooLarge
        );
        let max = max_plaintext_len(Suite::X25519ChaCha20Poly1305);
        let env = seal(&pk, b"", b"", &vec![7; max], &[1; 32]).unwrap();
        assert_eq!(env.len(), MAX_ENVELOPE_LEN);
        assert_eq!(open(&k, b"", b"", &env).unwrap().len(), max);
        assert_eq!(
            code(seal(&pk, b"", b"", &vec![7; max + 1], &[1; 32])),
            ErrorCode::TooLarge
        );
        let mut big = env.clone();
        big.push(0);
        assert_eq!(code(open(&k, b"", b"", &big)), ErrorCode::TooLarge);
        assert_eq!(
            code(open(&k, &[0; MAX_PURPOSE_LEN + 1], b"", &env)),
            ErrorCode::TooLarge
        );
        assert_eq!(
            EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &[1; 31])
                .unwrap_err()
                .code(),
            ErrorCode::InvalidKey
        );
        assert_eq!(
            EnvelopePublicKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &[1; 33])
                .unwrap_err()
                .code(),
            ErrorCode::InvalidKey
        );
    }

    #[test]
    fn small_order_points_are_invalid_keys() {
        let k = key(1);
        // Refused when read: nothing could be sealed to it.
        let zero = EnvelopePublicKey::from_bytes(Suite::X25519ChaCha20Poly1305, None, &[0; 32]);
        assert_eq!(zero.unwrap_err().code(), ErrorCode::InvalidKey);
        let mut env = seal(&k.public_key(), b"", b"", b"x", &[1; 32]).unwrap();
        env[ENVELOPE_HEADER_LEN..ENVELOPE_HEADER_LEN + 32].fill(0);
        assert_eq!(
            open(&k, b"", b"", &env).unwrap_err().code(),
            ErrorCode::InvalidKey
        );
    }

    #[test]
    fn the_seed_decides_the_envelope() {
        let pk = key(1).public_key();
        let a = seal(&pk, b"p", b"", b"x", &[1; 32]).unwrap();
        assert_eq!(a, seal(&pk, b"p", b"", b"x", &[1; 32]).unwrap());
        assert_ne!(a, seal(&pk, b"p", b"", b"x", &[2; 32]).unwrap());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any key, seed, purpose, aad and plaintext: what is sealed opens, and only with the
        /// same purpose and aad.
        #[test]
        fn seal_then_open(
            ikm in proptest::array::uniform32(proptest::num::u8::ANY),
            seed in proptest::array::uniform32(proptest::num::u8::ANY),
            purpose in proptest::collection::vec(proptest::num::u8::ANY, 0..=MAX_PURPOSE_LEN),
            aad in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            pt in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let k = EnvelopeSecretKey::derive(Suite::X25519ChaCha20Poly1305, None, &ikm).unwrap();
            let env = seal(&k.public_key(), &purpose, &aad, &pt, &seed).unwrap();
            proptest::prop_assert_eq!(env.len(), ENVELOPE_HEADER_LEN + 32 + pt.len() + 16);
            proptest::prop_assert_eq!(open(&k, &purpose, &aad, &env).unwrap(), pt);
            let mut other = aad.clone();
            other.push(0);
            proptest::prop_assert_eq!(
                open(&k, &purpose, &other, &env).unwrap_err().code(),
                ErrorCode::SignatureInvalid
            );
        }
    }

    /// Every single-byte change and every truncation of an envelope is refused, without a
    /// panic, with a code that names what changed.
    #[test]
    fn every_mutation_is_refused() {
        let (a, b) = (key(1), key(2));
        let ring = Keyring::new(a.clone(), vec![b]).unwrap();
        let env = seal(&a.public_key(), b"register", b"idx", b"payload", &[9; 32]).unwrap();
        for i in 0..env.len() {
            for bit in 0..8 {
                let mut m = env.clone();
                m[i] ^= 1 << bit;
                let code = ring.open(b"register", b"idx", &m).unwrap_err().code();
                let want: &[ErrorCode] = match i {
                    0 => &[ErrorCode::UnsupportedVersion],
                    1 | 2 => &[ErrorCode::UnsupportedAlgorithm],
                    3..=10 => &[ErrorCode::UnknownKey],
                    _ => &[ErrorCode::SignatureInvalid, ErrorCode::InvalidKey],
                };
                assert!(want.contains(&code), "byte {i} bit {bit}: {code}");
            }
        }
        for len in 0..env.len() {
            let code = ring
                .open(b"register", b"idx", &env[..len])
                .unwrap_err()
                .code();
            assert!(
                [ErrorCode::Malformed, ErrorCode::SignatureInvalid].contains(&code),
                "length {len}: {code}"
            );
        }
    }
}

mod proof_of_work {
    use cairn_core::handle::*;
    use cairn_core::ErrorCode;

    fn secret() -> PowSecret {
        PowSecret::from_bytes(&[0x44; 32]).unwrap()
    }

    #[test]
    fn solve_and_verify_at_several_difficulties() {
        for d in [0u8, 1, 4, 8, 12] {
            let c = Challenge::issue(&secret(), [d; 16], d, 1000).unwrap();
            let n = solve(&c, 1 << 20).unwrap();
            assert!(leading_zero_bits(&work_hash(&c, n)) >= u32::from(d));
            // The first one: every smaller counter falls short.
            assert!((0..n).all(|k| leading_zero_bits(&work_hash(&c, k)) < u32::from(d)));
            assert_eq!(verify(&c, n, &secret(), 1000).unwrap(), [d; 16]);
            let s = Solution::decode(
                &Solution {
                    challenge: c,
                    counter: n,
                }
                .encode(),
            )
            .unwrap();
            assert_eq!((s.challenge, s.counter), (c, n));
        }
    }

    #[test]
    fn difficulty_is_capped() {
        assert_eq!(
            Challenge::issue(&secret(), [0; 16], MAX_DIFFICULTY + 1, 0)
                .unwrap_err()
                .code(),
            ErrorCode::TooLarge
        );
        assert!(Challenge::issue(&secret(), [0; 16], MAX_DIFFICULTY, 0).is_ok());
        let mut b = Challenge::issue(&secret(), [0; 16], 1, 0)
            .unwrap()
            .to_bytes();
        b[1] = 255;
        assert_eq!(
            Challenge::from_bytes(&b).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }

    /// Any change to a challenge's bytes that still parses fails the tag.
    #[test]
    fn every_altered_challenge_is_forged() {
        let c = Challenge::issue(&secret(), [7; 16], 4, 1000).unwrap();
        let n = solve(&c, 1 << 16).unwrap();
        let bytes = c.to_bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut m = bytes;
                m[i] ^= 1 << bit;
                let code = match Challenge::from_bytes(&m) {
                    Ok(altered) => verify(&altered, n, &secret(), 0).unwrap_err().code(),
                    Err(e) => e.code(),
                };
                let want = match i {
                    0 => ErrorCode::UnsupportedVersion,
                    1 if m[1] > MAX_DIFFICULTY => ErrorCode::TooLarge,
                    _ => ErrorCode::SignatureInvalid,
                };
                assert_eq!(code, want, "byte {i} bit {bit}");
            }
        }
        for len in 0..bytes.len() {
            assert_eq!(
                Challenge::from_bytes(&bytes[..len]).unwrap_err().code(),
                ErrorCode::Malformed
            );
        }
    }

    #[test]
    fn texts_are_strict() {
        let c = Challenge::issue(&secret(), [7; 16], 4, 1000).unwrap();
        let t = c.encode();
        for bad in [
            format!("{t}="),
            format!("{t}A"),
            t.replace('-', "+").replace('_', "/") + "x",
            String::new(),
            "!".repeat(78),
        ] {
            assert!(Challenge::decode(&bad).is_err(), "{bad}");
        }
        for bad in [
            t.clone(),
            format!("{t}."),
            format!("{t}.01"),
            format!("{t}.+1"),
            format!("{t}.-1"),
            format!("{t}.18446744073709551616"),
            format!("{t}.1.2"),
            format!("{t}.1 "),
        ] {
            assert!(Solution::decode(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            Solution::decode(&format!("{t}.18446744073709551615"))
                .unwrap()
                .counter,
            u64::MAX
        );
    }
}

mod vectors {
    use cairn_core::encoding::{b64_decode, b64_encode, hex_encode};
    use cairn_core::handle::*;
    use cairn_core::{Error, Result};
    use serde_json::{json, Value};

    use crate::support::vectors::{self, Case, Doc};

    /// Seed 003's `pepper_hex`.
    const PEPPER: &str = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";
    /// Seed 003's `kid_hex` and `x25519_private_key_hex`.
    const SEED_KID: &str = "0001020304050607";
    const SEED_SECRET: &str = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
    const POW_SECRET: [u8; 32] = [0x44; 32];
    const T: u64 = 1_700_000_000;
    const SUITE: Suite = Suite::X25519ChaCha20Poly1305;

    fn hex(v: &Value) -> Vec<u8> {
        hex::decode(v.as_str().expect("a hex string")).expect("hex")
    }

    fn active() -> EnvelopeSecretKey {
        EnvelopeSecretKey::from_bytes(
            SUITE,
            Some(Kid::from_hex(SEED_KID).unwrap()),
            &hex::decode(SEED_SECRET).unwrap(),
        )
        .unwrap()
    }

    fn retired() -> EnvelopeSecretKey {
        EnvelopeSecretKey::derive(SUITE, None, &[0x22; 32]).unwrap()
    }

    fn stranger() -> EnvelopeSecretKey {
        EnvelopeSecretKey::derive(SUITE, None, &[0x33; 32]).unwrap()
    }

    fn secret_json(k: &EnvelopeSecretKey) -> Value {
        json!({"suite": k.suite().name(), "kid": k.kid().to_hex(), "secret": hex_encode(k.secret_bytes())})
    }

    fn public_json(k: &EnvelopePublicKey) -> Value {
        json!({"suite": k.suite().name(), "kid": k.kid().to_hex(), "public_key": hex_encode(k.as_bytes())})
    }

    fn suite_arg(v: &Value) -> Suite {
        Suite::from_name(v.as_str().unwrap()).expect("a known suite name")
    }

    /// The X-Wing keys: active beside seed 003's key, and one outside the keyring.
    fn xwing() -> EnvelopeSecretKey {
        EnvelopeSecretKey::derive(Suite::XWingChaCha20Poly1305, None, &[0x55; 32]).unwrap()
    }

    fn xwing_stranger() -> EnvelopeSecretKey {
        EnvelopeSecretKey::derive(Suite::XWingChaCha20Poly1305, None, &[0x66; 32]).unwrap()
    }

    fn parse_secret(v: &Value) -> Result<EnvelopeSecretKey> {
        EnvelopeSecretKey::from_bytes(
            suite_arg(&v["suite"]),
            Some(Kid::from_hex(v["kid"].as_str().unwrap())?),
            &hex(&v["secret"]),
        )
    }

    struct Gen {
        cases: Vec<Case>,
    }

    impl Gen {
        fn case(&mut self, name: &str, op: &str, args: Value, result: Result<Value>) {
            self.cases.push(Case {
                name: name.into(),
                op: op.into(),
                args,
                expect: vectors::outcome(&result),
            });
        }
    }

    fn open_args(purpose: &str, aad: &[u8], envelope: &[u8], ring: &[&EnvelopeSecretKey]) -> Value {
        json!({
            "keyring": ring.iter().map(|k| secret_json(k)).collect::<Vec<_>>(),
            "purpose": purpose,
            "aad": hex_encode(aad),
            "envelope": b64_encode(envelope),
        })
    }

    pub fn generate() -> String {
        let mut g = Gen { cases: vec![] };

        // Normalisation: the unit table, whole.
        for (input, _) in super::normalisation::TABLE {
            let args = json!({ "input": input });
            let r = normalise(input).map(|h| json!({"handle": h.as_str()}));
            let name = format!("normalise {}", input.escape_unicode());
            g.case(&name, "normalise", args, r);
        }

        // Blind index.
        for (name, pepper, input) in [
            (
                "blind index of alice under seed 003's pepper",
                PEPPER,
                "alice",
            ),
            (
                "blind index of ALICE in fullwidth is alice's",
                PEPPER,
                "ＡＬＩＣＥ",
            ),
            ("blind index of bob", PEPPER, "bob"),
            (
                "blind index under another pepper",
                "ff".repeat(32).leak() as &str,
                "alice",
            ),
            ("blind index of a refused handle", PEPPER, "al\u{200B}ice"),
            (
                "blind index with a 15-byte pepper",
                "00".repeat(15).leak() as &str,
                "alice",
            ),
            (
                "blind index with a 65-byte pepper",
                "00".repeat(65).leak() as &str,
                "alice",
            ),
        ] {
            let args = json!({"pepper": pepper, "input": input});
            let r = run_blind(&args);
            g.case(name, "blind_index", args, r);
        }

        // Keys.
        for (name, k) in [
            ("seed 003's configured key", active()),
            ("a key derived from ikm 0x22 x 32", retired()),
            ("an X-Wing key derived from ikm 0x55 x 32", xwing()),
        ] {
            let args = json!({"suite": k.suite().name(), "kid": k.kid().to_hex(), "secret": hex_encode(k.secret_bytes())});
            let r = Ok(json!({"public_key": hex_encode(k.public_key().as_bytes()),
                "derived_kid": Kid::derive(k.suite(), k.public_key().as_bytes()).to_hex()}));
            g.case(name, "public_key", args, r);
        }

        // Sealing (deterministic: the seed is the ephemeral ikm).
        let (a, r, s) = (active(), retired(), stranger());
        let (xa, xs) = (xwing(), xwing_stranger());
        let index = blind_index(
            &Pepper::from_hex(PEPPER).unwrap(),
            &normalise("alice").unwrap(),
        );
        let identity = br#"{"handle":"alice","device_pubkey":"..."}"#;
        let mut sealed = Vec::new();
        for (name, to, purpose, aad, pt, seed) in [
            (
                "seal a registration to the active key",
                &a,
                "register",
                &index.0[..],
                &identity[..],
                [0x77u8; 32],
            ),
            (
                "seal to the retired key",
                &r,
                "register",
                &[][..],
                &b"old"[..],
                [0x78; 32],
            ),
            (
                "seal an empty plaintext",
                &a,
                "resolve",
                &[][..],
                &[][..],
                [0x79; 32],
            ),
            (
                "seal to a key outside the keyring",
                &s,
                "register",
                &[][..],
                &b"x"[..],
                [0x7a; 32],
            ),
            (
                "seal a registration to the X-Wing key",
                &xa,
                "register",
                &index.0[..],
                &identity[..],
                [0x7b; 32],
            ),
            (
                "seal to an X-Wing key outside the keyring",
                &xs,
                "register",
                &[][..],
                &b"x"[..],
                [0x7c; 32],
            ),
        ] {
            let args = json!({
                "recipient": public_json(&to.public_key()),
                "purpose": purpose, "aad": hex_encode(aad), "plaintext": hex_encode(pt), "seed": hex_encode(&seed),
            });
            let res = run_seal(&args);
            if let Ok(v) = &res {
                sealed.push(b64_decode(v["envelope"].as_str().unwrap()).unwrap());
            }
            g.case(name, "seal", args, res);
        }
        let zero = json!({"suite": SUITE.name(), "kid": "0000000000000000", "public_key": "00".repeat(32)});
        let args = json!({"recipient": zero, "purpose": "register", "aad": "", "plaintext": "00", "seed": "01".repeat(32)});
        let res = run_seal(&args);
        g.case("seal to a small-order key", "seal", args, res);
        let args = json!({"recipient": public_json(&a.public_key()), "purpose": "p".repeat(65), "aad": "", "plaintext": "00", "seed": "01".repeat(32)});
        let res = run_seal(&args);
        g.case("seal with a 65-byte purpose", "seal", args, res);
        let mut short = public_json(&xa.public_key());
        short["public_key"] = json!(hex_encode(&xa.public_key().as_bytes()[..1215]));
        let args = json!({"recipient": short, "purpose": "register", "aad": "", "plaintext": "00", "seed": "01".repeat(32)});
        let res = run_seal(&args);
        g.case("seal to a 1215-byte X-Wing key", "seal", args, res);
        // ML-KEM-768's first coefficient set to 0xfff (above q = 3329): FIPS 203's modulus check.
        let mut over = xa.public_key().as_bytes().to_vec();
        over[0] = 0xff;
        over[1] |= 0x0f;
        let mut bad_key = public_json(&xa.public_key());
        bad_key["public_key"] = json!(hex_encode(&over));
        let args = json!({"recipient": bad_key, "purpose": "register", "aad": "", "plaintext": "00", "seed": "01".repeat(32)});
        let res = run_seal(&args);
        g.case(
            "seal to an X-Wing key failing the modulus check",
            "seal",
            args,
            res,
        );

        // Opening.
        let ring = [&a, &r, &xa];
        let reg = &sealed[0];
        let open_case = |g: &mut Gen,
                         name: &str,
                         purpose: &str,
                         aad: &[u8],
                         env: &[u8],
                         ring: &[&EnvelopeSecretKey]| {
            let args = open_args(purpose, aad, env, ring);
            let res = run_open(&args);
            g.case(name, "open", args, res);
        };
        open_case(
            &mut g,
            "open a registration with the active key",
            "register",
            &index.0,
            reg,
            &ring,
        );
        open_case(
            &mut g,
            "open with the retired key",
            "register",
            &[],
            &sealed[1],
            &ring,
        );
        open_case(
            &mut g,
            "open an empty plaintext",
            "resolve",
            &[],
            &sealed[2],
            &ring,
        );
        open_case(&mut g, "unknown kid", "register", &[], &sealed[3], &ring);
        open_case(&mut g, "wrong purpose", "resolve", &index.0, reg, &ring);
        open_case(
            &mut g,
            "wrong aad (another handle's blind index)",
            "register",
            &[0; 32],
            reg,
            &ring,
        );
        let flip = |i: usize| {
            let mut m = reg.clone();
            m[i] ^= 1;
            m
        };
        open_case(
            &mut g,
            "tampered ciphertext",
            "register",
            &index.0,
            &flip(reg.len() - 20),
            &ring,
        );
        open_case(
            &mut g,
            "tampered tag",
            "register",
            &index.0,
            &flip(reg.len() - 1),
            &ring,
        );
        open_case(
            &mut g,
            "tampered encapsulated key",
            "register",
            &index.0,
            &flip(ENVELOPE_HEADER_LEN + 3),
            &ring,
        );
        let mut small = reg.clone();
        small[ENVELOPE_HEADER_LEN..ENVELOPE_HEADER_LEN + 32].fill(0);
        open_case(
            &mut g,
            "small-order encapsulated key",
            "register",
            &index.0,
            &small,
            &ring,
        );
        let mut rekid = reg.clone();
        rekid[3..11].copy_from_slice(&r.kid().0);
        open_case(
            &mut g,
            "kid changed to the retired key's (wrong key)",
            "register",
            &index.0,
            &rekid,
            &ring,
        );
        let wrong_secret =
            EnvelopeSecretKey::from_bytes(SUITE, Some(a.kid()), &[0x99; 32]).unwrap();
        open_case(
            &mut g,
            "right kid, wrong private key",
            "register",
            &index.0,
            reg,
            &[&wrong_secret],
        );
        open_case(
            &mut g,
            "truncated in the tag",
            "register",
            &index.0,
            &reg[..reg.len() - 1],
            &ring,
        );
        open_case(
            &mut g,
            "truncated to header, enc and 15 bytes",
            "register",
            &index.0,
            &reg[..ENVELOPE_HEADER_LEN + 32 + 15],
            &ring,
        );
        open_case(
            &mut g,
            "truncated in the header",
            "register",
            &index.0,
            &reg[..7],
            &ring,
        );
        open_case(&mut g, "empty envelope", "register", &index.0, &[], &ring);
        let mut v2 = reg.clone();
        v2[0] = 2;
        open_case(&mut g, "version 2", "register", &index.0, &v2, &ring);
        let mut xw = reg.clone();
        xw[1..3].copy_from_slice(&Suite::XWingChaCha20Poly1305.id().to_be_bytes());
        open_case(
            &mut g,
            "suite changed to X-Wing (too short for its enc)",
            "register",
            &index.0,
            &xw,
            &ring,
        );
        let xreg = &sealed[4];
        open_case(
            &mut g,
            "open an X-Wing registration",
            "register",
            &index.0,
            xreg,
            &ring,
        );
        open_case(
            &mut g,
            "X-Wing key outside the keyring",
            "register",
            &[],
            &sealed[5],
            &ring,
        );
        let xflip = |i: usize| {
            let mut m = xreg.clone();
            m[i] ^= 1;
            m
        };
        open_case(
            &mut g,
            "X-Wing: tampered ML-KEM ciphertext (implicit rejection)",
            "register",
            &index.0,
            &xflip(ENVELOPE_HEADER_LEN + 7),
            &ring,
        );
        open_case(
            &mut g,
            "X-Wing: tampered X25519 part of enc",
            "register",
            &index.0,
            &xflip(ENVELOPE_HEADER_LEN + 1100),
            &ring,
        );
        open_case(
            &mut g,
            "X-Wing: tampered tag",
            "register",
            &index.0,
            &xflip(xreg.len() - 1),
            &ring,
        );
        open_case(
            &mut g,
            "X-Wing: wrong purpose",
            "resolve",
            &index.0,
            xreg,
            &ring,
        );
        open_case(
            &mut g,
            "X-Wing: truncated in enc",
            "register",
            &index.0,
            &xreg[..ENVELOPE_HEADER_LEN + 1000],
            &ring,
        );
        let mut to_x25519 = xreg.clone();
        to_x25519[1..3].copy_from_slice(&SUITE.id().to_be_bytes());
        open_case(
            &mut g,
            "X-Wing envelope relabelled as suite 1 (the kid's key is X-Wing)",
            "register",
            &index.0,
            &to_x25519,
            &ring,
        );
        let mut rekid_x = reg.clone();
        rekid_x[3..11].copy_from_slice(&xa.kid().0);
        open_case(
            &mut g,
            "X25519 envelope naming the X-Wing key's kid",
            "register",
            &index.0,
            &rekid_x,
            &ring,
        );
        let mut unknown = reg.clone();
        unknown[1..3].copy_from_slice(&[0xff, 0xff]);
        open_case(
            &mut g,
            "unknown suite",
            "register",
            &index.0,
            &unknown,
            &ring,
        );

        // Proof of work.
        let pow = PowSecret::from_bytes(&POW_SECRET).unwrap();
        let c = Challenge::issue(&pow, [0x55; 16], 12, T + 120).unwrap();
        for (name, nonce, difficulty, expires, secret) in [
            (
                "issue a difficulty-12 challenge",
                [0x55u8; 16],
                12u8,
                T + 120,
                hex_encode(&POW_SECRET),
            ),
            (
                "issue a difficulty-0 challenge",
                [0x56; 16],
                0,
                T + 120,
                hex_encode(&POW_SECRET),
            ),
            (
                "issue with difficulty 33",
                [0x55; 16],
                33,
                T + 120,
                hex_encode(&POW_SECRET),
            ),
            (
                "issue with a 15-byte secret",
                [0x55; 16],
                12,
                T + 120,
                "44".repeat(15),
            ),
        ] {
            let args = json!({"secret": secret, "nonce": hex_encode(&nonce), "difficulty": difficulty, "expires": expires});
            let res = run_issue(&args);
            g.case(name, "issue_challenge", args, res);
        }
        let args = json!({"challenge": c.encode(), "max_iterations": 1_000_000});
        let res = run_solve(&args);
        let counter = res.as_ref().unwrap()["counter"].as_u64().unwrap();
        g.case("solve the difficulty-12 challenge", "solve", args, res);
        let hard = Challenge::issue(&pow, [0x57; 16], 32, T + 120).unwrap();
        let args = json!({"challenge": hard.encode(), "max_iterations": 100});
        let res = run_solve(&args);
        g.case(
            "give up on difficulty 32 after 100 tries",
            "solve",
            args,
            res,
        );
        let short = (0..counter)
            .find(|&n| leading_zero_bits(&work_hash(&c, n)) < 12)
            .unwrap();
        let text = |c: &Challenge, n: u64| {
            Solution {
                challenge: *c,
                counter: n,
            }
            .encode()
        };
        let mut forged = c.to_bytes();
        forged[CHALLENGE_LEN - 1] ^= 1;
        let mut easier = c.to_bytes();
        easier[1] = 1;
        let mut longer = c.to_bytes();
        longer[2] = 0x7f;
        let b64url = |b: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        };
        let mut v2 = c.to_bytes();
        v2[0] = 2;
        let mut d33 = c.to_bytes();
        d33[1] = 33;
        for (name, solution, now, secret) in [
            (
                "verify a solution",
                text(&c, counter),
                T,
                POW_SECRET.to_vec(),
            ),
            (
                "verify at the expiry second",
                text(&c, counter),
                T + 120,
                POW_SECRET.to_vec(),
            ),
            ("expired", text(&c, counter), T + 121, POW_SECRET.to_vec()),
            ("insufficient work", text(&c, short), T, POW_SECRET.to_vec()),
            (
                "forged tag",
                format!("{}.{counter}", b64url(&forged)),
                T,
                POW_SECRET.to_vec(),
            ),
            (
                "difficulty lowered",
                format!("{}.{counter}", b64url(&easier)),
                T,
                POW_SECRET.to_vec(),
            ),
            (
                "expiry extended",
                format!("{}.{counter}", b64url(&longer)),
                T,
                POW_SECRET.to_vec(),
            ),
            (
                "another server's secret",
                text(&c, counter),
                T,
                vec![0x45; 32],
            ),
            (
                "challenge version 2",
                format!("{}.{counter}", b64url(&v2)),
                T,
                POW_SECRET.to_vec(),
            ),
            (
                "difficulty 33",
                format!("{}.{counter}", b64url(&d33)),
                T,
                POW_SECRET.to_vec(),
            ),
            (
                "truncated challenge",
                format!("{}.{counter}", b64url(&c.to_bytes()[..57])),
                T,
                POW_SECRET.to_vec(),
            ),
            (
                "counter with a leading zero",
                format!("{}.0{counter}", c.encode()),
                T,
                POW_SECRET.to_vec(),
            ),
            ("no counter", c.encode(), T, POW_SECRET.to_vec()),
            (
                "padded base64url",
                format!("{}==.{counter}", c.encode()),
                T,
                POW_SECRET.to_vec(),
            ),
        ] {
            let args = json!({"secret": hex_encode(&secret), "solution": solution, "now": now});
            let res = run_verify(&args);
            g.case(name, "verify_solution", args, res);
        }
        // A server that now asks for more work than the challenge did (its difficulty raised
        // since it issued it): refused, though authentic and solved; at the same difficulty,
        // accepted.
        for (name, min) in [
            ("verify at the server's current difficulty", 12),
            (
                "refuse a challenge below the server's current difficulty",
                13,
            ),
        ] {
            let args = json!({"secret": hex_encode(&POW_SECRET), "solution": text(&c, counter),
                              "now": T, "min_difficulty": min});
            let res = run_verify(&args);
            g.case(name, "verify_solution", args, res);
        }

        let doc = Doc {
            kind: "handle",
            version: 1,
            description: "The handle registry (docs/FORMATS.md section 19, feature `handle`): normalisation (trim, refuse controls / bidi / invisible characters, NFKC, lowercase, alphabet a-z 0-9 . _ -, 3 to 32 characters, letter or digit at both ends, no two separators in a row); blind index = HMAC-SHA-256(pepper, normalised handle); envelopes = version 0x01 || suite (2 bytes BE, 0x0001 = DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + ChaCha20-Poly1305; 0x0002 = X-Wing (ML-KEM-768 + X25519, HPKE KEM 0x647a) + HKDF-SHA256 + ChaCha20-Poly1305) || kid (8) || enc (32 for X25519, 1120 for X-Wing) || ciphertext, HPKE base mode with info = \"cairn handle envelope v1\" || 0x00 || purpose, aad = the 11-byte header || caller aad; X25519: the sender's ephemeral key = DeriveKeyPair(seed); X-Wing: the encapsulation's 64 random bytes = seed || SHA-256(\"cairn handle seed stream\" || seed || 0 as 8 BE); proof of work: challenge = 0x01 || difficulty || expires (8 BE) || nonce (16) || HMAC-SHA-256(secret, \"cairn handle pow v1\" || 0x00 || those 26 bytes), text = unpadded base64url, work = SHA-256(challenge || counter as 8 BE) with difficulty leading zero bits, solution text = challenge text \".\" decimal counter. Pepper and the active key are seed 003's config (pepper_hex, kid_hex 0001020304050607, x25519_private_key_hex); the retired key is derived from ikm 0x22 x 32, the stranger from 0x33 x 32, the X-Wing key in the keyring from 0x55 x 32, the X-Wing stranger from 0x66 x 32; proof-of-work secret 0x44 x 32; T = 1700000000.",
            ops: json!({
                "normalise": "args {input}; expect {ok, handle}",
                "blind_index": "args {pepper: hex, input}; expect {ok, handle, blind_index: hex}",
                "public_key": "args {suite, kid: 16 hex, secret: hex}; expect {ok, public_key: hex, derived_kid: the kid Kid::derive gives}",
                "seal": "args {recipient: {suite, kid, public_key: hex}, purpose: text, aad: hex, plaintext: hex, seed: 32 bytes hex}; expect {ok, envelope: base64}",
                "open": "args {keyring: [{suite, kid, secret: hex}] (the first is the active key), purpose, aad: hex, envelope: base64}; expect {ok, kid, plaintext: hex}",
                "issue_challenge": "args {secret: hex, nonce: 16 bytes hex, difficulty, expires}; expect {ok, challenge: base64url text, id: hex}",
                "solve": "args {challenge: text, max_iterations}; expect {ok, counter: the first counter that works, or null}",
                "verify_solution": "args {secret: hex, solution: <challenge>.<counter>, now, min_difficulty (optional, default 0: the least difficulty the server asks for now)}; expect {ok, id: hex, difficulty, expires}"
            }),
            cases: g.cases,
        };
        vectors::render(&doc)
    }

    fn run_blind(a: &Value) -> Result<Value> {
        let pepper = Pepper::from_hex(a["pepper"].as_str().unwrap())?;
        let h = normalise(a["input"].as_str().unwrap())?;
        Ok(json!({"handle": h.as_str(), "blind_index": blind_index(&pepper, &h).to_hex()}))
    }

    fn run_seal(a: &Value) -> Result<Value> {
        let r = &a["recipient"];
        let pk = EnvelopePublicKey::from_bytes(
            suite_arg(&r["suite"]),
            Some(Kid::from_hex(r["kid"].as_str().unwrap())?),
            &hex(&r["public_key"]),
        )?;
        let seed: [u8; 32] = hex(&a["seed"]).try_into().expect("a 32-byte seed");
        let env = seal(
            &pk,
            a["purpose"].as_str().unwrap().as_bytes(),
            &hex(&a["aad"]),
            &hex(&a["plaintext"]),
            &seed,
        )?;
        Ok(json!({"envelope": b64_encode(&env)}))
    }

    fn run_open(a: &Value) -> Result<Value> {
        let mut keys = a["keyring"]
            .as_array()
            .unwrap()
            .iter()
            .map(parse_secret)
            .collect::<Result<Vec<_>>>()?;
        let active = keys.remove(0);
        let ring = Keyring::new(active, keys)?;
        let env = b64_decode(a["envelope"].as_str().unwrap())?;
        let pt = ring.open(
            a["purpose"].as_str().unwrap().as_bytes(),
            &hex(&a["aad"]),
            &env,
        )?;
        let kid = Envelope::parse(&env)?.kid;
        Ok(json!({"kid": kid.to_hex(), "plaintext": hex_encode(&pt)}))
    }

    fn run_issue(a: &Value) -> Result<Value> {
        let secret = PowSecret::from_bytes(&hex(&a["secret"]))?;
        let nonce: [u8; 16] = hex(&a["nonce"]).try_into().expect("a 16-byte nonce");
        let difficulty = u8::try_from(a["difficulty"].as_u64().unwrap()).unwrap();
        let c = Challenge::issue(&secret, nonce, difficulty, a["expires"].as_u64().unwrap())?;
        Ok(json!({"challenge": c.encode(), "id": hex_encode(&c.id())}))
    }

    fn run_solve(a: &Value) -> Result<Value> {
        let c = Challenge::decode(a["challenge"].as_str().unwrap())?;
        Ok(json!({"counter": solve(&c, a["max_iterations"].as_u64().unwrap())}))
    }

    fn run_verify(a: &Value) -> Result<Value> {
        let secret = PowSecret::from_bytes(&hex(&a["secret"]))?;
        let s = Solution::decode(a["solution"].as_str().unwrap())?;
        let min = u8::try_from(a["min_difficulty"].as_u64().unwrap_or(0)).unwrap();
        let id = verify_at_least(
            &s.challenge,
            s.counter,
            &secret,
            a["now"].as_u64().unwrap(),
            min,
        )?;
        Ok(
            json!({"id": hex_encode(&id), "difficulty": s.challenge.difficulty(), "expires": s.challenge.expires()}),
        )
    }

    fn run(case: &Value) -> Result<Value, Error> {
        let a = &case["args"];
        match case["op"].as_str().unwrap() {
            "normalise" => {
                normalise(a["input"].as_str().unwrap()).map(|h| json!({"handle": h.as_str()}))
            }
            "blind_index" => run_blind(a),
            "public_key" => {
                let k = parse_secret(a)?;
                Ok(json!({"public_key": hex_encode(k.public_key().as_bytes()),
                    "derived_kid": Kid::derive(k.suite(), k.public_key().as_bytes()).to_hex()}))
            }
            "seal" => run_seal(a),
            "open" => run_open(a),
            "issue_challenge" => run_issue(a),
            "solve" => run_solve(a),
            "verify_solution" => run_verify(a),
            other => panic!("unknown op {other}"),
        }
    }

    #[test]
    fn handle_vectors() {
        let cases = vectors::committed("handle", &generate());
        assert!(cases.len() > 80, "{} cases", cases.len());
        vectors::assert_distinct_names(&cases);
        vectors::assert_both_verdicts(
            &cases,
            &[
                "normalise",
                "blind_index",
                "seal",
                "open",
                "issue_challenge",
                "verify_solution",
            ],
        );
        vectors::check(&cases, run);
    }

    /// The worked examples of docs/FORMATS.md section 19 are the vectors' values.
    #[test]
    fn worked_examples_in_the_format_doc_are_current() {
        let doc = crate::support::format_doc_without_whitespace();
        let index = blind_index(
            &Pepper::from_hex(PEPPER).unwrap(),
            &normalise("alice").unwrap(),
        );
        let a = active();
        let env = seal(
            &a.public_key(),
            b"register",
            &index.0,
            br#"{"handle":"alice","device_pubkey":"..."}"#,
            &[0x77; 32],
        )
        .unwrap();
        let pow = PowSecret::from_bytes(&POW_SECRET).unwrap();
        let c = Challenge::issue(&pow, [0x55; 16], 12, T + 120).unwrap();
        let counter = solve(&c, 1_000_000).unwrap();
        for s in [
            index.to_hex(),
            hex_encode(a.public_key().as_bytes()),
            hex_encode(&env),
            hex_encode(&c.to_bytes()),
            c.encode(),
            Solution {
                challenge: c,
                counter,
            }
            .encode(),
            hex_encode(&work_hash(&c, counter)),
        ] {
            assert!(doc.contains(&s), "docs/FORMATS.md section 19 lacks {s}");
        }
    }
}
