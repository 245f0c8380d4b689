//! Verification benches: signatures (Ed25519 single and batched, ML-DSA-44/65 with cairn's
//! backend and RustCrypto's `ml-dsa`), end-to-end token, manifest, checkpoint and bundle
//! verification beside the bare primitives each one needs, and Merkle proofs at a few sizes.
//!
//! `cargo bench --bench verify` runs the criterion benches, then prints the summary tables
//! (interleaved A/B ratios against the performance bar). `cargo test --benches` runs every
//! routine once without timing. See docs/PERFORMANCE.md.

mod support;

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use cairn_core::bundle::example::{MemoryRegistry, NOW};
use cairn_core::bundle::{verify_bundle, Bundle, BundlePolicy};
use cairn_core::checkpoint::{verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier};
use cairn_core::crypto::{Algorithm, PublicKey, Signature, SigningKey};
use cairn_core::dsse::Envelope;
use cairn_core::encoding::{sha256, Digest};
use cairn_core::ledger::{Event, LedgerEntry, ZERO_HASH};
use cairn_core::manifest::{sign_manifest, verify_manifest, ArtifactCheck, ManifestClaims};
use cairn_core::merkle::{leaf_hash, verify_consistency, verify_inclusion, MemoryTree, TreeHashes};
use cairn_core::note::{Note, MLDSA_CONTEXT};
use cairn_core::token::{verify_token, TokenBuilder, VerifyOptions};
use cairn_core::trust::VerifiedRoot;
use criterion::{BenchmarkId, Criterion, Throughput};
use fips204::traits::{SerDes as _, Verifier as _};
use fips204::{ml_dsa_44, ml_dsa_65};
use support::{fmt_time, paired, Mode, Table};

const ORIGIN: &str = "bench.example/log";
const AUDIENCE: &str = "registry.example";
const CAPABILITY: &str = "publish";

// ---------------------------------------------------------------------------------------
// Bare primitives, with keys parsed once (what a verifier holding trusted keys can do).
// ---------------------------------------------------------------------------------------

/// Ed25519 with ed25519-dalek, key already decompressed.
struct BareEd {
    key: ed25519_dalek::VerifyingKey,
    key_bytes: [u8; 32],
}

impl BareEd {
    fn new(pk: &PublicKey) -> BareEd {
        let key_bytes = pk.ed25519_part().expect("an Ed25519 key");
        BareEd {
            key: ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).expect("valid key"),
            key_bytes,
        }
    }

    fn verify(&self, msg: &[u8], sig: &ed25519_dalek::Signature) -> bool {
        self.key.verify_strict(msg, sig).is_ok()
    }

    /// Decompresses the key on every call, as a verifier that keeps only key bytes does.
    fn verify_from_bytes(&self, msg: &[u8], sig: &ed25519_dalek::Signature) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(&self.key_bytes)
            .is_ok_and(|k| k.verify_strict(msg, sig).is_ok())
    }
}

fn dalek_sig(bytes: &[u8]) -> ed25519_dalek::Signature {
    ed25519_dalek::Signature::from_slice(bytes).expect("64 bytes")
}

/// ML-DSA-44 with fips204 (cairn's backend), key expanded once.
struct BareMl44 {
    key: ml_dsa_44::PublicKey,
    key_bytes: [u8; ml_dsa_44::PK_LEN],
}

impl BareMl44 {
    fn new(pk_bytes: &[u8]) -> BareMl44 {
        let key_bytes: [u8; ml_dsa_44::PK_LEN] = pk_bytes.try_into().expect("ML-DSA-44 key");
        BareMl44 {
            key: ml_dsa_44::PublicKey::try_from_bytes(key_bytes).expect("valid key"),
            key_bytes,
        }
    }

    fn verify(&self, msg: &[u8], ctx: &[u8], sig: &[u8; ml_dsa_44::SIG_LEN]) -> bool {
        self.key.verify(msg, sig, ctx)
    }

    fn verify_from_bytes(&self, msg: &[u8], ctx: &[u8], sig: &[u8; ml_dsa_44::SIG_LEN]) -> bool {
        ml_dsa_44::PublicKey::try_from_bytes(self.key_bytes).is_ok_and(|k| k.verify(msg, sig, ctx))
    }
}

/// ML-DSA-65 with fips204, key expanded once.
struct BareMl65 {
    key: ml_dsa_65::PublicKey,
    key_bytes: [u8; ml_dsa_65::PK_LEN],
}

impl BareMl65 {
    fn new(pk_bytes: &[u8]) -> BareMl65 {
        let key_bytes: [u8; ml_dsa_65::PK_LEN] = pk_bytes.try_into().expect("ML-DSA-65 key");
        BareMl65 {
            key: ml_dsa_65::PublicKey::try_from_bytes(key_bytes).expect("valid key"),
            key_bytes,
        }
    }

    fn verify(&self, msg: &[u8], ctx: &[u8], sig: &[u8; ml_dsa_65::SIG_LEN]) -> bool {
        self.key.verify(msg, sig, ctx)
    }

    fn verify_from_bytes(&self, msg: &[u8], ctx: &[u8], sig: &[u8; ml_dsa_65::SIG_LEN]) -> bool {
        ml_dsa_65::PublicKey::try_from_bytes(self.key_bytes).is_ok_and(|k| k.verify(msg, sig, ctx))
    }
}

/// RustCrypto `ml-dsa`, for comparison with cairn's backend.
mod rustcrypto {
    use ml_dsa::{EncodedSignature, EncodedVerifyingKey, MlDsaParams, Signature, VerifyingKey};

    pub struct Bare<P: MlDsaParams> {
        pub key: VerifyingKey<P>,
        pub sig: Signature<P>,
        key_enc: EncodedVerifyingKey<P>,
        sig_enc: EncodedSignature<P>,
    }

    impl<P: MlDsaParams> Bare<P> {
        pub fn new(pk: &[u8], sig: &[u8]) -> Bare<P> {
            let key_enc = EncodedVerifyingKey::<P>::try_from(pk).expect("key length");
            let sig_enc = EncodedSignature::<P>::try_from(sig).expect("signature length");
            Bare {
                key: VerifyingKey::<P>::decode(&key_enc),
                sig: Signature::<P>::decode(&sig_enc).expect("signature decodes"),
                key_enc,
                sig_enc,
            }
        }

        /// Key decoded (and its matrix expanded) once.
        pub fn verify(&self, msg: &[u8], ctx: &[u8]) -> bool {
            self.key.verify_with_context(msg, ctx, &self.sig)
        }

        /// Decodes key and signature on every call, as cairn does with stored key bytes.
        pub fn verify_from_bytes(&self, msg: &[u8], ctx: &[u8]) -> bool {
            let key = VerifyingKey::<P>::decode(&self.key_enc);
            Signature::<P>::decode(&self.sig_enc)
                .is_some_and(|sig| key.verify_with_context(msg, ctx, &sig))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

fn key(alg: Algorithm, seed: u8) -> SigningKey {
    SigningKey::from_seed(alg, &[seed; 32])
}

/// A message the size of a token's DSSE PAE, signed by one key.
struct SigCase {
    pk: PublicKey,
    sig: Signature,
    msg: Vec<u8>,
    ctx: &'static [u8],
}

fn sig_case(alg: Algorithm, seed: u8) -> SigCase {
    let sk = key(alg, seed);
    let msg: Vec<u8> = (0..220u32).map(|i| (i * 7 + 3) as u8).collect();
    let ctx = b"application/vnd.cairn.token.v1+postcard";
    let sig = sk.sign_deterministic(&msg, ctx).expect("signs");
    SigCase {
        pk: sk.public_key().clone(),
        sig,
        msg,
        ctx,
    }
}

/// One ML-DSA signature, with both backends' keys and signatures ready.
struct MlCase {
    case: SigCase,
    bare: MlBare,
}

// Built once per bench and only borrowed after, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum MlBare {
    M44(
        BareMl44,
        Box<[u8; ml_dsa_44::SIG_LEN]>,
        rustcrypto::Bare<ml_dsa::MlDsa44>,
    ),
    M65(
        BareMl65,
        Box<[u8; ml_dsa_65::SIG_LEN]>,
        rustcrypto::Bare<ml_dsa::MlDsa65>,
    ),
}

impl MlCase {
    fn new(alg: Algorithm, seed: u8) -> MlCase {
        let case = sig_case(alg, seed);
        let (pk, sig) = (case.pk.as_bytes(), case.sig.as_bytes());
        let bare = match alg {
            Algorithm::MlDsa44 => MlBare::M44(
                BareMl44::new(pk),
                Box::new(sig.try_into().expect("length")),
                rustcrypto::Bare::new(pk, sig),
            ),
            _ => MlBare::M65(
                BareMl65::new(pk),
                Box::new(sig.try_into().expect("length")),
                rustcrypto::Bare::new(pk, sig),
            ),
        };
        MlCase { case, bare }
    }

    fn cairn(&self) -> bool {
        let c = &self.case;
        black_box(&c.pk)
            .verify(black_box(&c.msg), c.ctx, &c.sig)
            .is_ok()
    }

    fn fips204(&self, from_bytes: bool) -> bool {
        let (m, x) = (black_box(&self.case.msg[..]), self.case.ctx);
        match (&self.bare, from_bytes) {
            (MlBare::M44(f, s, _), false) => f.verify(m, x, s),
            (MlBare::M44(f, s, _), true) => f.verify_from_bytes(m, x, s),
            (MlBare::M65(f, s, _), false) => f.verify(m, x, s),
            (MlBare::M65(f, s, _), true) => f.verify_from_bytes(m, x, s),
        }
    }

    fn rustcrypto(&self, from_bytes: bool) -> bool {
        let (m, x) = (black_box(&self.case.msg[..]), self.case.ctx);
        match (&self.bare, from_bytes) {
            (MlBare::M44(_, _, r), false) => r.verify(m, x),
            (MlBare::M44(_, _, r), true) => r.verify_from_bytes(m, x),
            (MlBare::M65(_, _, r), false) => r.verify(m, x),
            (MlBare::M65(_, _, r), true) => r.verify_from_bytes(m, x),
        }
    }
}

/// A token as it travels (compact envelope bytes), its issuer, and the bare checks it needs.
struct TokenCase {
    bytes: Vec<u8>,
    issuers: Vec<PublicKey>,
    revoked: BTreeSet<Digest>,
    pae: Vec<u8>,
    ed_sig: ed25519_dalek::Signature,
    ml_sig: Option<[u8; ml_dsa_44::SIG_LEN]>,
    ed: BareEd,
    ml: Option<BareMl44>,
}

fn token_case(alg: Algorithm) -> TokenCase {
    let issuer = key(alg, 11);
    let holder = key(Algorithm::Ed25519, 12);
    let env = TokenBuilder::new(holder.public_key().clone())
        .audience(AUDIENCE)
        .capability(CAPABILITY)
        .capability("read")
        .validity(NOW - 3600, NOW + 3600)
        .nonce([7; 16])
        .deterministic()
        .issue(&issuer)
        .expect("issues");
    let sig = &env.signatures[0].sig;
    let ml = issuer
        .public_key()
        .mldsa_part()
        .map(|(_, pk)| BareMl44::new(pk));
    TokenCase {
        bytes: env.to_compact(),
        issuers: vec![issuer.public_key().clone()],
        // A revocation list of realistic size, so the lookup is paid for.
        revoked: (0..1000u32)
            .map(|i| sha256(&[b"revoked", &i.to_le_bytes()]))
            .collect(),
        pae: env.signed_bytes(),
        ed_sig: dalek_sig(&sig[..64]),
        ml_sig: ml
            .as_ref()
            .map(|_| sig[64..].try_into().expect("ML-DSA-44 signature")),
        ed: BareEd::new(issuer.public_key()),
        ml,
    }
}

impl TokenCase {
    fn cairn(&self) -> bool {
        let opts = VerifyOptions {
            audience: Some(AUDIENCE),
            capability: Some(CAPABILITY),
        };
        Envelope::from_compact(&self.bytes)
            .and_then(|env| verify_token(&env, &[], &self.issuers, NOW, &self.revoked, &opts))
            .is_ok()
    }

    fn bare(&self) -> bool {
        let ctx = cairn_core::token::TOKEN_PAYLOAD_TYPE.as_bytes();
        let ed = self.ed.verify(&self.pae, &self.ed_sig);
        match (&self.ml, &self.ml_sig) {
            (Some(ml), Some(sig)) => ed & ml.verify(&self.pae, ctx, sig),
            _ => ed,
        }
    }
}

/// A signed manifest as it travels, its signer, and the artifact digest the verifier has.
struct ManifestCase {
    bytes: Vec<u8>,
    signers: Vec<PublicKey>,
    size: u64,
    sha: Digest,
    pae: Vec<u8>,
    sig: ed25519_dalek::Signature,
    ed: BareEd,
}

fn manifest_case() -> ManifestCase {
    let signer = key(Algorithm::Ed25519, 21);
    let sha = sha256(&[b"artifact bytes"]);
    let claims = ManifestClaims::new(
        "cairn-0.1.0.tar.gz",
        "application/gzip",
        1 << 20,
        sha,
        NOW - 60,
    );
    let env = sign_manifest(&claims, &signer).expect("signs");
    ManifestCase {
        bytes: env.to_compact(),
        signers: vec![signer.public_key().clone()],
        size: 1 << 20,
        sha,
        pae: env.signed_bytes(),
        sig: dalek_sig(&env.signatures[0].sig),
        ed: BareEd::new(signer.public_key()),
    }
}

impl ManifestCase {
    fn cairn(&self) -> bool {
        let artifact = ArtifactCheck::Digest {
            size: self.size,
            sha256: self.sha,
        };
        Envelope::from_compact(&self.bytes)
            .and_then(|env| verify_manifest(&env, &self.signers, 1, artifact))
            .is_ok()
    }

    fn bare(&self) -> bool {
        self.ed.verify(&self.pae, &self.sig)
    }
}

/// The two signatures of a hybrid-signed note, for the bare side.
struct NoteSigs {
    text: Vec<u8>,
    ed_sig: ed25519_dalek::Signature,
    ml_sig: [u8; ml_dsa_44::SIG_LEN],
    ed: BareEd,
    ml: BareMl44,
}

impl NoteSigs {
    fn new(note: &str, key: &PublicKey) -> NoteSigs {
        let parsed = Note::parse(note.as_bytes()).expect("note parses");
        let sigs = parsed.signatures();
        assert_eq!(sigs.len(), 2, "a hybrid key signs two lines");
        let (_, ml_pk) = key.mldsa_part().expect("hybrid key");
        NoteSigs {
            text: parsed.text().as_bytes().to_vec(),
            ed_sig: dalek_sig(&sigs[0].signature),
            ml_sig: sigs[1].signature[..]
                .try_into()
                .expect("ML-DSA-44 signature"),
            ed: BareEd::new(key),
            ml: BareMl44::new(ml_pk),
        }
    }

    fn bare(&self) -> bool {
        self.ed.verify(&self.text, &self.ed_sig)
            & self.ml.verify(&self.text, MLDSA_CONTEXT, &self.ml_sig)
    }
}

/// A hybrid-signed checkpoint note and the policy that requires its key.
struct CheckpointCase {
    note: String,
    verifiers: Vec<CheckpointVerifier>,
    policy: CheckpointPolicy,
    bare: NoteSigs,
}

fn checkpoint_case() -> CheckpointCase {
    let log = key(Algorithm::Ed25519MlDsa44, 31);
    let mut tree = MemoryTree::new();
    for i in 0..1000u32 {
        tree.append(&i.to_le_bytes()).expect("appends");
    }
    let note = Checkpoint::new(ORIGIN, tree.tree_size(), tree.root())
        .sign_deterministic(&[(ORIGIN, &log)])
        .expect("signs");
    let verifiers = vec![CheckpointVerifier {
        name: ORIGIN.into(),
        public_key: log.public_key().clone(),
    }];
    CheckpointCase {
        bare: NoteSigs::new(&note, log.public_key()),
        policy: CheckpointPolicy::all(ORIGIN, &verifiers),
        verifiers,
        note,
    }
}

impl CheckpointCase {
    fn cairn(&self) -> bool {
        verify_checkpoint(self.note.as_bytes(), &self.verifiers, &self.policy).is_ok()
    }
}

/// A bundle from the in-memory example registry, with `history` entries before its subject,
/// and the bare checks it needs: the checkpoint's two signatures, the subject's Ed25519
/// signature and the inclusion proof.
struct BundleCase {
    bytes: Vec<u8>,
    pinned: VerifiedRoot,
    artifact: Option<(u64, Digest)>,
    checkpoint: NoteSigs,
    subject_pae: Vec<u8>,
    subject_sig: ed25519_dalek::Signature,
    subject_key: BareEd,
    leaf: Vec<u8>,
    index: u64,
    size: u64,
    proof: Vec<Digest>,
    root: Digest,
}

fn bundle_case(token: bool, history: u32) -> BundleCase {
    let mut reg = MemoryRegistry::new(40);
    for i in 0..history {
        reg.append(Event::AuditNote {
            text: format!("history entry {i}"),
        })
        .expect("appends");
    }
    let artifact = b"release artifact bytes".repeat(100);
    let (subject, seq, digest) = if token {
        let holder = key(Algorithm::Ed25519, 41);
        let (env, seq) = reg.issue_token(&holder, CAPABILITY, 3600).expect("issues");
        (env, seq, None)
    } else {
        let (env, seq) = reg.sign_artifact("artifact.bin", &artifact).expect("signs");
        let d = (artifact.len() as u64, sha256(&[&artifact]));
        (env, seq, Some(d))
    };
    // More entries after the subject too, so the proof is a full-depth path.
    for i in 0..history / 2 {
        reg.append(Event::AuditNote {
            text: format!("later entry {i}"),
        })
        .expect("appends");
    }
    let bundle = reg
        .bundle(seq, subject.clone(), Vec::new())
        .expect("bundles");
    let tree = reg.tree();
    BundleCase {
        bytes: bundle.to_bytes(),
        pinned: reg.pinned(),
        artifact: digest,
        checkpoint: NoteSigs::new(&bundle.checkpoint, reg.log_key.public_key()),
        subject_pae: subject.signed_bytes(),
        subject_sig: dalek_sig(&subject.signatures[0].sig),
        subject_key: BareEd::new(reg.signer.public_key()),
        leaf: bundle.entry.clone(),
        index: seq,
        size: tree.tree_size(),
        proof: bundle.inclusion.hashes.clone(),
        root: tree.root(),
    }
}

impl BundleCase {
    fn cairn(&self) -> bool {
        let mut policy = BundlePolicy::default();
        if let Some((size, sha256)) = self.artifact {
            policy.artifact = ArtifactCheck::Digest { size, sha256 };
        } else {
            policy.token = VerifyOptions {
                audience: Some(AUDIENCE),
                capability: Some(CAPABILITY),
            };
        }
        Bundle::from_bytes(&self.bytes)
            .and_then(|b| verify_bundle(&b, &self.pinned, NOW, &policy))
            .is_ok()
    }

    fn bare(&self) -> bool {
        self.checkpoint.bare()
            & self
                .subject_key
                .verify(&self.subject_pae, &self.subject_sig)
            & verify_inclusion(
                &leaf_hash(&self.leaf),
                self.index,
                self.size,
                &self.proof,
                &self.root,
            )
            .is_ok()
    }
}

/// `n` signed ledger entries (Ed25519 log key): what a ledger audit verifies.
struct AuditCase {
    pk: PublicKey,
    msgs: Vec<Vec<u8>>,
    sigs: Vec<Signature>,
    dalek_sigs: Vec<ed25519_dalek::Signature>,
    keys: Vec<ed25519_dalek::VerifyingKey>,
    ed: BareEd,
}

fn audit_case(n: usize) -> AuditCase {
    let log = key(Algorithm::Ed25519, 51);
    let mut prev = ZERO_HASH;
    let (mut msgs, mut sigs) = (Vec::new(), Vec::new());
    for seq in 0..n as u64 {
        let entry = LedgerEntry::new(
            seq,
            NOW + seq,
            prev,
            Event::AuditNote {
                text: format!("audit entry {seq}"),
            },
        );
        prev = entry.hash();
        let env = entry.to_envelope().expect("encodes");
        let msg = env.signed_bytes();
        sigs.push(
            log.sign_deterministic(&msg, cairn_core::ledger::LEDGER_ENTRY_TYPE.as_bytes())
                .expect("signs"),
        );
        msgs.push(msg);
    }
    let ed = BareEd::new(log.public_key());
    AuditCase {
        dalek_sigs: sigs.iter().map(|s| dalek_sig(s.as_bytes())).collect(),
        keys: vec![ed.key; n],
        pk: log.public_key().clone(),
        msgs,
        sigs,
        ed,
    }
}

impl AuditCase {
    fn cairn_each(&self) -> bool {
        let ctx = cairn_core::ledger::LEDGER_ENTRY_TYPE.as_bytes();
        self.msgs
            .iter()
            .zip(&self.sigs)
            .all(|(m, s)| self.pk.verify(m, ctx, s).is_ok())
    }

    fn strict_each(&self) -> bool {
        self.msgs
            .iter()
            .zip(&self.dalek_sigs)
            .all(|(m, s)| self.ed.verify(m, s))
    }

    fn batch(&self) -> bool {
        let msgs: Vec<&[u8]> = self.msgs.iter().map(Vec::as_slice).collect();
        ed25519_dalek::verify_batch(&msgs, &self.dalek_sigs, &self.keys).is_ok()
    }
}

/// A Merkle tree of `size` leaves with one inclusion and one consistency proof.
struct MerkleCase {
    size: u64,
    leaf: Digest,
    index: u64,
    inclusion: Vec<Digest>,
    root: Digest,
    old_size: u64,
    old_root: Digest,
    consistency: Vec<Digest>,
    tree: MemoryTree,
}

fn merkle_case(size: u64) -> MerkleCase {
    let mut tree = MemoryTree::new();
    for i in 0..size {
        tree.append_leaf_hash(sha256(&[&i.to_le_bytes()]))
            .expect("appends");
    }
    // A leaf and an old size away from the power-of-two edges, so the paths are full length.
    let index = size * 2 / 3;
    let old_size = size * 3 / 5;
    MerkleCase {
        size,
        leaf: tree.leaf_hash(index).expect("leaf"),
        index,
        inclusion: tree.prove_inclusion(index, size).expect("proves"),
        root: tree.root(),
        old_size,
        old_root: tree.root_at(old_size).expect("root"),
        consistency: tree.prove_consistency(old_size, size).expect("proves"),
        tree,
    }
}

impl MerkleCase {
    fn inclusion(&self) -> bool {
        verify_inclusion(
            &self.leaf,
            self.index,
            self.size,
            &self.inclusion,
            &self.root,
        )
        .is_ok()
    }

    fn consistency(&self) -> bool {
        verify_consistency(
            self.old_size,
            self.size,
            &self.old_root,
            &self.root,
            &self.consistency,
        )
        .is_ok()
    }
}

// ---------------------------------------------------------------------------------------
// Criterion benches
// ---------------------------------------------------------------------------------------

fn bench_signatures(c: &mut Criterion) {
    let ed = sig_case(Algorithm::Ed25519, 1);
    let bare = BareEd::new(&ed.pk);
    let dsig = dalek_sig(ed.sig.as_bytes());
    let mut g = c.benchmark_group("ed25519");
    g.bench_function("cairn PublicKey::verify", |b| {
        b.iter(|| {
            black_box(&ed.pk)
                .verify(black_box(&ed.msg), ed.ctx, &ed.sig)
                .is_ok()
        })
    });
    g.bench_function("dalek verify_strict", |b| {
        b.iter(|| bare.verify(black_box(&ed.msg), &dsig))
    });
    g.bench_function("dalek from_bytes + verify_strict", |b| {
        b.iter(|| bare.verify_from_bytes(black_box(&ed.msg), &dsig))
    });
    g.finish();

    for (alg, seed) in [(Algorithm::MlDsa44, 2), (Algorithm::MlDsa65, 3)] {
        let m = MlCase::new(alg, seed);
        assert!(m.cairn() && m.fips204(false) && m.fips204(true));
        assert!(m.rustcrypto(false) && m.rustcrypto(true));
        let mut g = c.benchmark_group(alg.name());
        g.bench_function("cairn PublicKey::verify", |b| b.iter(|| m.cairn()));
        g.bench_function("fips204 (key expanded once)", |b| {
            b.iter(|| m.fips204(false))
        });
        g.bench_function("fips204 (key from bytes)", |b| b.iter(|| m.fips204(true)));
        g.bench_function("ml-dsa (key decoded once)", |b| {
            b.iter(|| m.rustcrypto(false))
        });
        g.bench_function("ml-dsa (key and sig from bytes)", |b| {
            b.iter(|| m.rustcrypto(true))
        });
        g.finish();
    }
}

fn bench_batch(c: &mut Criterion, mode: Mode) {
    let mut g = c.benchmark_group("ed25519 audit");
    for n in mode.pick(vec![16, 64, 256], vec![64], vec![4]) {
        let case = audit_case(n);
        assert!(case.batch() && case.strict_each() && case.cairn_each());
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("cairn verify each", n), &case, |b, c| {
            b.iter(|| c.cairn_each())
        });
        g.bench_with_input(
            BenchmarkId::new("dalek verify_strict each", n),
            &case,
            |b, c| b.iter(|| c.strict_each()),
        );
        g.bench_with_input(BenchmarkId::new("dalek verify_batch", n), &case, |b, c| {
            b.iter(|| c.batch())
        });
    }
    g.finish();
}

fn bench_objects(c: &mut Criterion) {
    for (name, alg) in [
        ("token (ed25519 issuer)", Algorithm::Ed25519),
        ("token (hybrid issuer)", Algorithm::Ed25519MlDsa44),
    ] {
        let t = token_case(alg);
        assert!(t.cairn() && t.bare());
        let mut g = c.benchmark_group(name);
        g.bench_function("cairn decode + verify_token", |b| b.iter(|| t.cairn()));
        g.bench_function("bare signature primitives", |b| b.iter(|| t.bare()));
        g.finish();
    }

    let m = manifest_case();
    assert!(m.cairn() && m.bare());
    let mut g = c.benchmark_group("manifest (ed25519 signer)");
    g.bench_function("cairn decode + verify_manifest", |b| b.iter(|| m.cairn()));
    g.bench_function("bare signature primitives", |b| b.iter(|| m.bare()));
    g.finish();

    let cp = checkpoint_case();
    assert!(cp.cairn() && cp.bare.bare());
    let mut g = c.benchmark_group("checkpoint (hybrid key)");
    g.bench_function("cairn verify_checkpoint", |b| b.iter(|| cp.cairn()));
    g.bench_function("bare signature primitives", |b| b.iter(|| cp.bare.bare()));
    g.finish();
}

fn bench_bundles(c: &mut Criterion, mode: Mode) {
    let history = mode.pick(1000, 1000, 10);
    for (name, token) in [("bundle (manifest)", false), ("bundle (token)", true)] {
        let b = bundle_case(token, history);
        assert!(b.cairn() && b.bare());
        let mut g = c.benchmark_group(name);
        g.bench_function("cairn decode + verify_bundle", |x| x.iter(|| b.cairn()));
        g.bench_function("bare primitives (3 signatures + inclusion)", |x| {
            x.iter(|| b.bare())
        });
        g.finish();
    }
}

fn merkle_sizes(mode: Mode) -> Vec<u64> {
    mode.pick(
        vec![1_000, 100_000, 1_000_000],
        vec![1_000, 100_000],
        vec![100],
    )
}

fn bench_merkle(c: &mut Criterion, cases: &[MerkleCase]) {
    let mut g = c.benchmark_group("merkle");
    for m in cases {
        assert!(m.inclusion() && m.consistency());
        g.bench_with_input(BenchmarkId::new("verify_inclusion", m.size), m, |b, m| {
            b.iter(|| m.inclusion())
        });
        g.bench_with_input(BenchmarkId::new("verify_consistency", m.size), m, |b, m| {
            b.iter(|| m.consistency())
        });
        g.bench_with_input(
            BenchmarkId::new("MemoryTree::prove_inclusion", m.size),
            m,
            |b, m| b.iter(|| m.tree.prove_inclusion(black_box(m.index), m.size)),
        );
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Summary: interleaved ratios against the bar
// ---------------------------------------------------------------------------------------

fn verdict(ratio: f64, bar: Option<f64>, mode: Mode) -> String {
    match (mode.measures(), bar) {
        (false, _) => "(not timed)".into(),
        (true, None) => "-".into(),
        (true, Some(b)) if ratio <= b => format!("meets ≤ {b:.2}x"),
        (true, Some(b)) => format!("SHORT of ≤ {b:.2}x"),
    }
}

fn summary(mode: Mode, merkle: &[MerkleCase]) {
    let budget = Duration::from_secs_f64(mode.pick(3.0, 1.0, 0.0));
    let mut t = Table::new(
        "End-to-end verification vs the bare primitives it needs (interleaved, medians)",
        &["what", "cairn", "bare", "ratio", "bar"],
    );
    let row = |t: &mut Table, what: &str, p: support::Paired, bar: Option<f64>| {
        t.row(vec![
            what.into(),
            fmt_time(p.a),
            fmt_time(p.b),
            if mode.measures() {
                format!("{:.3}x", p.ratio())
            } else {
                "-".into()
            },
            verdict(p.ratio(), bar, mode),
        ]);
    };

    for (name, alg) in [
        (
            "token, Ed25519 issuer (decode + verify_token) vs 1 Ed25519",
            Algorithm::Ed25519,
        ),
        (
            "token, hybrid issuer vs 1 Ed25519 + 1 ML-DSA-44",
            Algorithm::Ed25519MlDsa44,
        ),
    ] {
        let c = token_case(alg);
        let p = paired(mode, budget, || assert!(c.cairn()), || assert!(c.bare()));
        row(&mut t, name, p, Some(1.15));
    }
    let c = checkpoint_case();
    let p = paired(
        mode,
        budget,
        || assert!(c.cairn()),
        || assert!(c.bare.bare()),
    );
    row(
        &mut t,
        "checkpoint, hybrid key (verify_checkpoint) vs 1 Ed25519 + 1 ML-DSA-44",
        p,
        Some(1.15),
    );
    let c = manifest_case();
    let p = paired(mode, budget, || assert!(c.cairn()), || assert!(c.bare()));
    row(
        &mut t,
        "manifest, Ed25519 signer (decode + verify_manifest) vs 1 Ed25519",
        p,
        None,
    );
    let history = mode.pick(1000, 1000, 10);
    for (name, token) in [
        (
            "bundle, manifest (decode + verify_bundle) vs 2 Ed25519 + 1 ML-DSA-44 + inclusion",
            false,
        ),
        ("bundle, token vs 2 Ed25519 + 1 ML-DSA-44 + inclusion", true),
    ] {
        let c = bundle_case(token, history);
        let p = paired(mode, budget, || assert!(c.cairn()), || assert!(c.bare()));
        row(&mut t, name, p, None);
    }
    t.print();

    let mut t = Table::new(
        "Signature primitives (interleaved, medians)",
        &["what", "A", "B", "A / B"],
    );
    let row2 = |t: &mut Table, what: &str, p: support::Paired| {
        t.row(vec![
            what.into(),
            fmt_time(p.a),
            fmt_time(p.b),
            if mode.measures() {
                format!("{:.3}x", p.ratio())
            } else {
                "-".into()
            },
        ]);
    };
    let ed = sig_case(Algorithm::Ed25519, 1);
    let bare = BareEd::new(&ed.pk);
    let dsig = dalek_sig(ed.sig.as_bytes());
    let p = paired(
        mode,
        budget,
        || assert!(ed.pk.verify(&ed.msg, ed.ctx, &ed.sig).is_ok()),
        || assert!(bare.verify(&ed.msg, &dsig)),
    );
    row2(
        &mut t,
        "Ed25519: A = cairn PublicKey::verify, B = dalek verify_strict (key parsed once)",
        p,
    );
    let p = paired(
        mode,
        budget,
        || assert!(bare.verify_from_bytes(&ed.msg, &dsig)),
        || assert!(bare.verify(&ed.msg, &dsig)),
    );
    row2(
        &mut t,
        "Ed25519: A = dalek from_bytes + verify_strict, B = verify_strict",
        p,
    );

    for (alg, seed) in [(Algorithm::MlDsa44, 2), (Algorithm::MlDsa65, 3)] {
        let m = MlCase::new(alg, seed);
        let n = alg.name();
        let p = paired(
            mode,
            budget,
            || assert!(m.cairn()),
            || assert!(m.fips204(false)),
        );
        row2(
            &mut t,
            &format!("{n}: A = cairn PublicKey::verify, B = fips204 (key expanded once)"),
            p,
        );
        let p = paired(
            mode,
            budget,
            || assert!(m.fips204(true)),
            || assert!(m.fips204(false)),
        );
        row2(
            &mut t,
            &format!("{n}: A = fips204 key from bytes, B = fips204 key expanded once"),
            p,
        );
        let p = paired(
            mode,
            budget,
            || assert!(m.rustcrypto(false)),
            || assert!(m.fips204(false)),
        );
        row2(
            &mut t,
            &format!("{n}: A = ml-dsa (key decoded once), B = fips204 (key expanded once)"),
            p,
        );
        let p = paired(
            mode,
            budget,
            || assert!(m.rustcrypto(true)),
            || assert!(m.fips204(true)),
        );
        row2(
            &mut t,
            &format!("{n}: A = ml-dsa from bytes, B = fips204 from bytes"),
            p,
        );
    }

    for n in mode.pick(vec![64, 256], vec![64], vec![4]) {
        let c = audit_case(n);
        let p = paired(
            mode,
            budget,
            || assert!(c.batch()),
            || assert!(c.strict_each()),
        );
        let per = p.per(n);
        row2(
            &mut t,
            &format!("Ed25519 audit of {n} entries, per signature: A = verify_batch, B = verify_strict each"),
            per,
        );
        let p = paired(
            mode,
            budget,
            || assert!(c.cairn_each()),
            || assert!(c.strict_each()),
        );
        let per = p.per(n);
        row2(
            &mut t,
            &format!("Ed25519 audit of {n} entries, per signature: A = cairn verify each, B = verify_strict each"),
            per,
        );
    }
    t.print();

    overhead(mode, budget);

    let mut t = Table::new(
        "Merkle proof verification (median per call)",
        &[
            "tree size",
            "inclusion path",
            "verify_inclusion",
            "consistency path",
            "verify_consistency",
        ],
    );
    for m in merkle {
        let p = paired(
            mode,
            budget / 3,
            || assert!(m.inclusion()),
            || assert!(m.consistency()),
        );
        t.row(vec![
            m.size.to_string(),
            m.inclusion.len().to_string(),
            fmt_time(p.a),
            m.consistency.len().to_string(),
            fmt_time(p.b),
        ]);
    }
    t.print();
}

/// What verification does besides the signature checks: each step timed on its own, so the
/// gap between end-to-end and bare figures can be accounted for.
fn overhead(mode: Mode, budget: Duration) {
    let budget = budget / 2;
    let mut t = Table::new(
        "Where the end-to-end overhead goes (steps cairn's verifiers run besides the signature checks; median per call)",
        &["step", "time", "paid by"],
    );
    let mut step = |what: &str, by: &str, f: &mut dyn FnMut()| {
        let secs = support::timed(mode, budget, f);
        t.row(vec![what.into(), fmt_time(secs), by.into()]);
    };
    let ed = key(Algorithm::Ed25519, 61);
    let hy = key(Algorithm::Ed25519MlDsa44, 62);
    let ed_pk = ed.public_key().as_bytes().to_vec();
    let ml_pk = hy.public_key().mldsa_part().expect("hybrid").1.to_vec();
    step(
        "PublicKey::from_bytes, Ed25519 (point decompression + small-order check)",
        "each Ed25519 key once when it is built (issuer, token holder), not each verify",
        &mut || assert!(PublicKey::from_bytes(Algorithm::Ed25519, &ed_pk).is_ok()),
    );
    let ml = BareMl44::new(&ml_pk);
    step(
        "fips204 PublicKey::try_from_bytes, ML-DSA-44 (key expansion: SHAKE256 of the key, NTTs)",
        "each ML-DSA key once, at its first verify (PublicKey keeps it expanded)",
        &mut || assert!(ml_dsa_44::PublicKey::try_from_bytes(black_box(ml.key_bytes)).is_ok()),
    );
    step(
        "KeyId of a hybrid key (SHA-256 over 1345 bytes)",
        "envelope key lookup, checkpoint signer list",
        &mut || {
            black_box(PublicKey::key_id(black_box(hy.public_key())));
        },
    );
    step(
        "NoteVerifier::for_key, hybrid key (split sharing decoded halves, 2 key hashes)",
        "verify_checkpoint",
        &mut || assert!(cairn_core::note::NoteVerifier::for_key(ORIGIN, hy.public_key()).is_ok()),
    );
    let t_ed = token_case(Algorithm::Ed25519);
    let env = Envelope::from_compact(&t_ed.bytes).expect("decodes");
    step(
        "Envelope::from_compact, token (postcard decode + canonical re-encode check)",
        "token, manifest, bundle",
        &mut || assert!(Envelope::from_compact(black_box(&t_ed.bytes)).is_ok()),
    );
    step(
        "TokenClaims::from_payload (decode, validate, holder key from_bytes)",
        "token",
        &mut || {
            assert!(cairn_core::token::TokenClaims::from_payload(black_box(&env.payload)).is_ok())
        },
    );
    step(
        "Envelope::id (re-encode + SHA-256)",
        "token (revocation id)",
        &mut || {
            black_box(black_box(&env).id());
        },
    );
    step(
        "Envelope::signed_bytes (DSSE PAE)",
        "every envelope verify",
        &mut || {
            black_box(black_box(&env).signed_bytes());
        },
    );
    let cp = checkpoint_case();
    step(
        "Note::parse + Checkpoint::parse_text",
        "verify_checkpoint",
        &mut || {
            let n = Note::parse(black_box(cp.note.as_bytes())).expect("parses");
            assert!(Checkpoint::parse_text(n.text()).is_ok());
        },
    );
    t.print();
}

fn main() {
    let mode = Mode::from_env();
    let mut c = Criterion::default().configure_from_args();
    if mode == Mode::Quick {
        c = c
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20);
    }
    let merkle: Vec<MerkleCase> = merkle_sizes(mode).into_iter().map(merkle_case).collect();
    bench_signatures(&mut c);
    bench_batch(&mut c, mode);
    bench_objects(&mut c);
    bench_bundles(&mut c, mode);
    bench_merkle(&mut c, &merkle);
    c.final_summary();
    summary(mode, &merkle);
    if !mode.measures() {
        println!("verify benches: every routine ran once (test mode, nothing timed)");
    }
}
