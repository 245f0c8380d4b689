//! Artifact manifests: signing, co-signing, verification, the streaming hasher, and
//! robustness on hostile input.

use std::io::{self, Read};
use std::sync::OnceLock;

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::sha256;
use cairn_core::manifest::{
    add_cosignature, hash_reader, manifest_digest, sign_manifest, verify_manifest, ArtifactCheck,
    ArtifactHasher, ManifestClaims, MAX_METADATA_ENTRIES, MAX_METADATA_VALUE_LEN,
};
use cairn_core::token::TokenBuilder;
use cairn_core::ErrorCode;
use proptest::prelude::*;

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

struct Fixture {
    a: SigningKey,
    b: SigningKey,
    artifact: Vec<u8>,
    env: Envelope,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let a = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
        let b = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
        let artifact = pseudo_random(1000, 1);
        let claims = ManifestClaims::new(
            "a.bin",
            "application/octet-stream",
            1000,
            sha256(&[&artifact]),
            0,
        );
        let env = sign_manifest(&claims, &a).unwrap();
        Fixture {
            a,
            b,
            artifact,
            env,
        }
    })
}

#[test]
fn streaming_hash_equals_one_shot_on_every_chunking() {
    let data = pseudo_random(3 * 1024 * 1024 + 17, 42);
    let expected = sha256(&[&data]);
    // Chunk sizes around SHA-256's 64-byte block and around powers of two.
    for chunk in [1usize, 63, 64, 65, 4095, 4096, 65_537, 1 << 20] {
        let mut h = ArtifactHasher::new();
        if chunk < 64 {
            // Byte-sized chunks over the whole input would be slow in a debug build; cover a
            // prefix with them and the rest in one call.
            for c in data[..10_000].chunks(chunk) {
                h.update(c);
            }
            h.update(&data[10_000..]);
        } else {
            for c in data.chunks(chunk) {
                h.update(c);
            }
        }
        assert_eq!(h.size(), data.len() as u64);
        assert_eq!(h.finalize(), (data.len() as u64, expected), "chunk {chunk}");
    }
    // Random chunk sizes, including empty chunks.
    let sizes = pseudo_random(4096, 7);
    let (mut h, mut at, mut i) = (ArtifactHasher::new(), 0usize, 0usize);
    while at < data.len() {
        let n = (usize::from(sizes[i % sizes.len()]) * 97).min(data.len() - at);
        h.update(&data[at..at + n]);
        at += n;
        i += 1;
    }
    assert_eq!(h.finalize(), (data.len() as u64, expected));
}

/// A reader that returns short reads and spurious interruptions.
struct Awkward {
    data: Vec<u8>,
    at: usize,
    calls: usize,
}

impl Read for Awkward {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 3 == 0 {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
        }
        let n = (self.calls * 7919 % 70_000)
            .min(buf.len())
            .min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn hash_reader_handles_short_reads_and_reports_progress() {
    let data = pseudo_random(1024 * 1024 + 3, 9);
    let mut seen = Vec::new();
    let mut progress = |n: u64| seen.push(n);
    let reader = Awkward {
        data: data.clone(),
        at: 0,
        calls: 0,
    };
    let got = hash_reader(reader, Some(&mut progress)).unwrap();
    assert_eq!(got, (data.len() as u64, sha256(&[&data])));
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seen.last(), Some(&(data.len() as u64)));

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    assert!(hash_reader(Failing, None).is_err());
    assert_eq!(hash_reader(io::empty(), None).unwrap(), (0, sha256(&[])));
}

#[test]
fn cosigning_keeps_the_digest() {
    let f = fixture();
    let mut env = f.env.clone();
    let before = manifest_digest(&env);
    add_cosignature(&mut env, &f.b).unwrap();
    assert_eq!(manifest_digest(&env), before);
    assert_ne!(env.id(), f.env.id());
    let keys = [f.a.public_key().clone(), f.b.public_key().clone()];
    let v = verify_manifest(&env, &keys, 2, ArtifactCheck::Bytes(&f.artifact)).unwrap();
    assert_eq!(v.digest, before);
    assert_eq!(
        v.signers,
        vec![f.a.public_key().key_id(), f.b.public_key().key_id()]
    );
    assert_eq!(
        add_cosignature(&mut env, &f.b).unwrap_err().code(),
        ErrorCode::Malformed,
        "the same key twice"
    );
}

#[test]
fn cosigning_refuses_other_payloads() {
    let f = fixture();
    let mut token = TokenBuilder::new(f.b.public_key().clone())
        .audience("svc")
        .capability("read")
        .validity(0, 1)
        .issue(&f.a)
        .unwrap();
    assert_eq!(
        add_cosignature(&mut token, &f.b).unwrap_err().code(),
        ErrorCode::DomainMismatch
    );
    let mut garbage = f.env.clone();
    garbage.payload = vec![1, 2, 3];
    assert_eq!(
        add_cosignature(&mut garbage, &f.b).unwrap_err().code(),
        ErrorCode::Malformed
    );
}

#[test]
fn claims_limits() {
    let f = fixture();
    let base = ManifestClaims::new("a", "b/c", 0, [0; 32], 0);
    let code = |c: &ManifestClaims| sign_manifest(c, &f.a).unwrap_err().code();
    let mut c = base.clone();
    c.name = "x".repeat(256);
    assert_eq!(code(&c), ErrorCode::TooLarge);
    for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", "\u{7f}"] {
        c.name = bad.into();
        assert_eq!(code(&c), ErrorCode::Malformed, "{bad:?}");
    }
    c.name = "ünïcödé ok.tar".into();
    assert!(sign_manifest(&c, &f.a).is_ok());
    let mut c = base.clone();
    c.media_type = "text/plain\n".into();
    assert_eq!(code(&c), ErrorCode::Malformed);
    let mut c = base.clone();
    c.metadata
        .insert("k".into(), "v".repeat(MAX_METADATA_VALUE_LEN + 1));
    assert_eq!(code(&c), ErrorCode::TooLarge);
    let mut c = base.clone();
    c.metadata.insert("bad key".into(), "v".into());
    assert_eq!(code(&c), ErrorCode::Malformed);
    let mut c = base.clone();
    for i in 0..=MAX_METADATA_ENTRIES {
        c.metadata.insert(format!("k{i}"), String::new());
    }
    assert_eq!(code(&c), ErrorCode::TooLarge);
    let mut c = base;
    c.version = 2;
    assert_eq!(code(&c), ErrorCode::UnsupportedVersion);
}

#[test]
fn json_view() {
    let f = fixture();
    let v = verify_manifest(&f.env, &[f.a.public_key().clone()], 1, ArtifactCheck::None).unwrap();
    let j = v.to_json();
    assert_eq!(j["claims"]["name"], "a.bin");
    assert_eq!(j["claims"]["size"], 1000);
    assert_eq!(j["signers"][0], f.a.public_key().key_id().to_hex());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn streaming_hash_equals_one_shot(
        data in prop::collection::vec(any::<u8>(), 0..20_000),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.sort_unstable();
        let mut h = ArtifactHasher::new();
        let mut at = 0;
        for p in points {
            h.update(&data[at..p]);
            at = p;
        }
        h.update(&data[at..]);
        prop_assert_eq!(h.finalize(), (data.len() as u64, sha256(&[&data])));
    }

    #[test]
    fn claims_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = ManifestClaims::from_payload(&bytes);
        let mut with_version = vec![1u8];
        with_version.extend_from_slice(&bytes);
        if let Ok(c) = ManifestClaims::from_payload(&with_version) {
            prop_assert_eq!(c.to_payload().unwrap(), with_version);
        }
    }

    #[test]
    fn random_envelopes_never_verify(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let f = fixture();
        let mut framed = b"CDSE".to_vec();
        framed.extend_from_slice(&bytes);
        for input in [&bytes, &framed] {
            if let Ok(env) = Envelope::parse(input) {
                let r = verify_manifest(&env, &[f.a.public_key().clone()], 1, ArtifactCheck::None);
                prop_assert!(r.is_err());
            }
        }
    }

    #[test]
    fn mutated_manifests_are_refused(
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
        mode in 0u8..3,
    ) {
        let f = fixture();
        let mut bytes = f.env.to_compact();
        match mode {
            0 => { let i = index.index(bytes.len()); bytes[i] ^= 1 << bit; }
            1 => { let n = index.index(bytes.len()); bytes.truncate(n); }
            _ => { let i = index.index(bytes.len() + 1); bytes.insert(i, bit); }
        }
        if let Ok(env) = Envelope::parse(&bytes) {
            let r = verify_manifest(&env, &[f.a.public_key().clone()], 1, ArtifactCheck::Bytes(&f.artifact));
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn modified_artifacts_are_refused(
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let f = fixture();
        let mut artifact = f.artifact.clone();
        let i = index.index(artifact.len());
        artifact[i] ^= 1 << bit;
        let r = verify_manifest(&f.env, &[f.a.public_key().clone()], 1, ArtifactCheck::Bytes(&artifact));
        prop_assert_eq!(r.unwrap_err().code(), ErrorCode::DigestMismatch);
    }
}
