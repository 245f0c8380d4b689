//! Turning caller-supplied values into cairn-core inputs, with limits.
//!
//! The JavaScript layer reduces every argument to one of the shapes here (bytes, text, a
//! number) and this module does the checking, so that the rules are testable natively.

use cairn_core::crypto::{pem, Algorithm, PublicKey};
use cairn_core::encoding::{b64_decode, hex_decode_array, Digest};
use cairn_core::{Error, ErrorCode, Result, UnixTime};

/// Largest serialised object (bundle, envelope, checkpoint, trust root...) accepted from a
/// caller. Every cairn-core parser has tighter limits of its own; this one only bounds the copy
/// into wasm memory.
pub const MAX_OBJECT_LEN: usize = 8 << 20;
/// Largest message accepted by `verifySignature` (artifacts are hashed in chunks instead).
pub const MAX_MESSAGE_LEN: usize = 64 << 20;
/// Most keys accepted in one key list.
pub const MAX_KEYS: usize = 256;
/// Most ledger entries one `verifyLedgerChain` call takes.
pub const MAX_LEDGER_ENTRIES: usize = 100_000;
/// Most trust-root versions / token parents accepted.
pub const MAX_CHAIN: usize = 1024;
/// Most revoked ids accepted.
pub const MAX_REVOKED: usize = 100_000;
/// Most hashes in one Merkle proof.
pub const MAX_PROOF: usize = 1024;
/// Most Merkle leaves accepted by `merkleRoot`.
pub const MAX_LEAVES: usize = 100_000;
/// Largest value a JavaScript number represents exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Most items of one `verifySignatures` / `verifyTokens` call.
pub const MAX_BATCH: usize = 65_536;

/// A public key as a caller may give it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeySpec {
    /// `-----BEGIN PUBLIC KEY-----` PEM, or the JSON form `{"alg": "...", "key": "<base64>"}`.
    Text(String),
    /// SubjectPublicKeyInfo DER.
    Der(Vec<u8>),
    /// An algorithm name (`ed25519`, `ml-dsa-44`, `ed25519+ml-dsa-65`, ...) and raw key bytes.
    Raw {
        /// Algorithm name.
        alg: String,
        /// Raw public key bytes (hybrid: Ed25519 key ‖ ML-DSA key).
        key: Vec<u8>,
    },
}

/// Parses a key in any of the [`KeySpec`] shapes.
///
/// ```
/// use cairn_wasm::input::{parse_key, KeySpec};
/// let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAc9L5J+vRUDiG6vaY7dyqdzsXrZK/ZItbb+LjjYlkAZg=\n-----END PUBLIC KEY-----\n";
/// let key = parse_key(KeySpec::Text(pem.into()))?;
/// assert_eq!(key.algorithm().name(), "ed25519");
/// assert_eq!(parse_key(KeySpec::Text("nope".into())).unwrap_err().code().as_str(), "malformed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_key(spec: KeySpec) -> Result<PublicKey> {
    match spec {
        KeySpec::Text(text) => {
            let t = text.trim();
            if t.starts_with("-----BEGIN") {
                pem::public_key_from_pem(t)
            } else if t.starts_with('{') {
                if t.len() > MAX_OBJECT_LEN {
                    return Err(Error::new(ErrorCode::TooLarge, "key JSON is too large"));
                }
                PublicKey::from_json(t)
            } else {
                Err(Error::malformed(
                    "a key must be a PUBLIC KEY PEM block, SubjectPublicKeyInfo DER bytes, or {alg, key}",
                ))
            }
        }
        KeySpec::Der(der) => pem::public_key_from_der(&der),
        KeySpec::Raw { alg, key } => PublicKey::from_bytes(Algorithm::parse(&alg)?, &key),
    }
}

/// Parses each distinct key once: a batch whose items name the same key (as bytes, base64 or
/// PEM) decodes its point once, not once per item. The keys are found through a small
/// open-addressing hash index rather than a `BTreeMap<KeySpec, _>` (one generic map instance
/// less in the WebAssembly module), in constant time however many distinct keys a batch has.
#[derive(Default)]
pub struct KeyCache {
    keys: Vec<(KeySpec, PublicKey)>,
    /// Index + 1 into `keys` (0: free); a power of two, at least twice `keys.len()`.
    slots: Vec<u32>,
}

/// FNV-1a over the spec's variant and bytes.
fn spec_hash(spec: &KeySpec) -> usize {
    let (tag, a, b): (u8, &[u8], &[u8]) = match spec {
        KeySpec::Text(t) => (0, t.as_bytes(), &[]),
        KeySpec::Der(d) => (1, d, &[]),
        KeySpec::Raw { alg, key } => (2, alg.as_bytes(), key),
    };
    let mut h: u32 = 0x811c_9dc5;
    for &x in core::iter::once(&tag).chain(a).chain(&[0xff]).chain(b) {
        h = (h ^ u32::from(x)).wrapping_mul(0x0100_0193);
    }
    h as usize
}

impl KeyCache {
    /// The slot of `spec`: where it is, or the free slot where it goes.
    fn slot(&self, spec: &KeySpec) -> usize {
        let mask = self.slots.len().saturating_sub(1);
        let mut i = spec_hash(spec) & mask;
        loop {
            match self.slots.get(i).copied().unwrap_or(0) {
                0 => return i,
                n if self.keys.get(n as usize - 1).is_some_and(|e| e.0 == *spec) => return i,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The key for `spec`, parsed at its first appearance.
    pub fn parse(&mut self, spec: KeySpec) -> Result<PublicKey> {
        if self.slots.len() < 2 * (self.keys.len() + 1) {
            let len = (4 * (self.keys.len() + 1)).next_power_of_two();
            self.slots = vec![0; len];
            for n in 0..self.keys.len() {
                let i = self.slot(&self.keys[n].0);
                self.slots[i] = n as u32 + 1; // invariant: slot() returns an index below slots.len()
            }
        }
        let i = self.slot(&spec);
        if let Some(e) = self.slots[i]
            .checked_sub(1)
            .and_then(|n| self.keys.get(n as usize))
        {
            return Ok(e.1.clone());
        }
        let k = parse_key(spec.clone())?;
        self.keys.push((spec, k.clone()));
        if let Some(s) = self.slots.get_mut(i) {
            *s = self.keys.len() as u32;
        }
        Ok(k)
    }
}

/// Most keys [`parse_key_recent`] remembers (per thread, in a list searched in order); it
/// starts over when full.
pub const RECENT_KEYS: usize = 64;
/// Largest key argument [`parse_key_recent`] remembers (a hybrid ML-DSA-65 key in PEM is
/// about 2.7 KB).
pub const RECENT_KEY_MAX_LEN: usize = 8 << 10;

std::thread_local! {
    static RECENT: core::cell::RefCell<Vec<(KeySpec, PublicKey)>> =
        const { core::cell::RefCell::new(Vec::new()) };
}

/// [`parse_key`], remembering the last [`RECENT_KEYS`] keys that parsed, by their argument
/// form: a server passing the same issuer keys on every call decodes each point (and computes
/// nothing else again) once. Parsing is a pure function of the argument, so a remembered key
/// is exactly what parsing it again gives; errors are not remembered.
pub fn parse_key_recent(spec: KeySpec) -> Result<PublicKey> {
    let size = match &spec {
        KeySpec::Text(t) => t.len(),
        KeySpec::Der(d) => d.len(),
        KeySpec::Raw { alg, key } => alg.len() + key.len(),
    };
    if size > RECENT_KEY_MAX_LEN {
        return parse_key(spec);
    }
    if let Some(k) = RECENT.with(|r| {
        r.try_borrow()
            .ok()
            .and_then(|m| m.iter().find(|e| e.0 == spec).map(|e| e.1.clone()))
    }) {
        return Ok(k);
    }
    let key = parse_key(spec.clone())?;
    RECENT.with(|r| {
        if let Ok(mut m) = r.try_borrow_mut() {
            if m.len() >= RECENT_KEYS {
                m.clear();
            }
            m.push((spec, key.clone()));
        }
    });
    Ok(key)
}

/// Most pinned trust roots [`pinned_root_recent`] remembers (per thread); it starts over when
/// full.
pub const RECENT_ROOTS: usize = 8;

std::thread_local! {
    static RECENT_ROOT: core::cell::RefCell<Vec<(Digest, cairn_core::trust::VerifiedRoot)>> =
        const { core::cell::RefCell::new(Vec::new()) };
}

/// A pinned trust root (a signed root envelope, verified against its own root keys: cairn-core's
/// `VerifiedRoot::from_pinned`), remembering the last [`RECENT_ROOTS`] that verified by the
/// SHA-256 of their bytes: a caller passing the same pinned roots on every call decodes and
/// verifies each once. The check is a pure function of the bytes (times are checked later,
/// against each call's `now`), so a remembered root is exactly what verifying it again gives;
/// errors are not remembered. `what` names the argument in errors.
pub fn pinned_root_recent(bytes: &[u8], what: &str) -> Result<cairn_core::trust::VerifiedRoot> {
    let digest = cairn_core::encoding::sha256(&[bytes]);
    if let Some(r) = RECENT_ROOT.with(|c| {
        c.try_borrow()
            .ok()
            .and_then(|m| m.iter().find(|e| e.0 == digest).map(|e| e.1.clone()))
    }) {
        return Ok(r);
    }
    let env = cairn_core::dsse::Envelope::parse(bytes).map_err(|e| e.context(what))?;
    let root = cairn_core::trust::VerifiedRoot::from_pinned(&env).map_err(|e| e.context(what))?;
    RECENT_ROOT.with(|c| {
        if let Ok(mut m) = c.try_borrow_mut() {
            if m.len() >= RECENT_ROOTS {
                m.clear();
            }
            m.push((digest, root.clone()));
        }
    });
    Ok(root)
}

/// Bytes given as text where binary is meant: standard base64 (strict).
pub fn base64_arg(text: &str, what: &str) -> Result<Vec<u8>> {
    b64_decode(text.trim()).map_err(|e| e.context(what))
}

/// A SHA-256 digest given as 64 hex characters, optionally prefixed by `sha256:`.
///
/// ```
/// let d = cairn_wasm::input::digest_hex(&"ab".repeat(32), "digest")?;
/// assert_eq!(d, [0xab; 32]);
/// assert!(cairn_wasm::input::digest_hex("sha256:00", "digest").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn digest_hex(text: &str, what: &str) -> Result<Digest> {
    let t = text.trim();
    let t = t.strip_prefix("sha256:").unwrap_or(t);
    hex_decode_array::<32>(t).map_err(|e| e.context(what))
}

/// A SHA-256 digest given as 32 raw bytes.
pub fn digest_bytes(bytes: &[u8], what: &str) -> Result<Digest> {
    bytes.try_into().map_err(|_| {
        Error::malformed(format!(
            "{what}: a SHA-256 digest is 32 bytes, got {}",
            bytes.len()
        ))
    })
}

/// A non-negative integer given as a JavaScript number (exact up to 2^53 - 1).
///
/// ```
/// use cairn_wasm::input::integer_from_f64;
/// assert_eq!(integer_from_f64(1700000000.0, "now")?, 1_700_000_000);
/// assert!(integer_from_f64(-1.0, "now").is_err());
/// assert!(integer_from_f64(1.5, "now").is_err());
/// assert!(integer_from_f64(f64::NAN, "now").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn integer_from_f64(x: f64, what: &str) -> Result<u64> {
    if !x.is_finite() || x < 0.0 || x.fract() != 0.0 || x > MAX_SAFE_INTEGER {
        // Described, not printed: formatting a float would pull Rust's float printing
        // (about 15 KB) into the WebAssembly module for this one message.
        let got = if x.is_nan() {
            "NaN"
        } else if x.is_infinite() {
            "an infinite number"
        } else if x < 0.0 {
            "a negative number"
        } else if x.fract() != 0.0 {
            "a fraction"
        } else {
            "a number of 2^53 or more"
        };
        return Err(Error::malformed(format!(
            "{what} must be a non-negative integer below 2^53, got {got}"
        )));
    }
    // Exact: x is an integer in [0, 2^53).
    Ok(x as u64)
}

/// A non-negative integer given as decimal text (for values a JavaScript number cannot hold).
pub fn integer_from_text(text: &str, what: &str) -> Result<u64> {
    let t = text.trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::malformed(format!(
            "{what} must be a decimal integer, got {t:?}"
        )));
    }
    t.parse::<u64>()
        .map_err(|_| Error::malformed(format!("{what} does not fit in 64 bits")))
}

/// A time from milliseconds since the epoch (JavaScript `Date`), rounded down to seconds.
pub fn time_from_millis(ms: f64) -> Result<UnixTime> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(Error::malformed("time must be a valid date after 1970"));
    }
    integer_from_f64((ms / 1000.0).floor(), "time")
}

/// Guard for a length announced before copying bytes in.
pub fn check_len(len: usize, max: usize, what: &str) -> Result<()> {
    if len > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!("{what}: {len} bytes exceeds the limit of {max}"),
        ));
    }
    Ok(())
}

/// One witness of a policy as a caller gives it: its cosigner vkey
/// (`name+keyid+base64(type ‖ key)`, C2SP signed-note), and the name the verdict reports it
/// under (the vkey's key name when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessSpec {
    /// The witness's name in the policy; the key name when `None`.
    pub name: Option<String>,
    /// Its cosigner vkey.
    pub vkey: String,
}

/// A k-of-n witness policy (cairn-core's `witness::WitnessPolicy`) from the witnesses' vkeys,
/// as `cairn bundle verify --witness-key ... --witness-quorum K --witness-max-age SECS` builds
/// it: the quorum defaults to every witness listed, `max_age` to any age, `max_future_skew` to
/// cairn-core's default (300 s). An empty list is `malformed`: with no witness named, the
/// quorum would be 0 and any checkpoint would pass as witnessed (a caller that wants no witness
/// check leaves the list out, as `cairn bundle verify` without `--witness-key` does). Errors
/// (`malformed`, `invalid_key`, `unsupported_algorithm`, `too_large`) name `what` and the
/// witness's index.
///
/// ```
/// use cairn_wasm::input::{witness_policy, WitnessSpec};
/// let vkey = "example.test/w1+2a3d9843+BNBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3";
/// let p = witness_policy(&[WitnessSpec { name: None, vkey: vkey.into() }], None, None, None, "witnesses")?;
/// assert_eq!((p.quorum, p.witnesses[0].name.as_str()), (1, "example.test/w1"));
/// let e = witness_policy(&[WitnessSpec { name: None, vkey: vkey.into() }], Some(2), None, None, "witnesses");
/// assert_eq!(e.unwrap_err().code().as_str(), "malformed");
/// assert!(witness_policy(&[], None, None, None, "witnesses").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn witness_policy(
    witnesses: &[WitnessSpec],
    quorum: Option<u64>,
    max_age: Option<u64>,
    max_future_skew: Option<u64>,
    what: &str,
) -> Result<cairn_core::witness::WitnessPolicy> {
    use cairn_core::witness::{CosignerKey, Witness, WitnessPolicy, DEFAULT_MAX_FUTURE_SKEW};
    if witnesses.is_empty() {
        return Err(Error::malformed(format!(
            "{what}: an empty list names no witness, so any checkpoint would pass as witnessed; leave it out for no witness check"
        )));
    }
    if witnesses.len() > cairn_core::witness::MAX_WITNESSES {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!(
                "{what}: more than {} witnesses",
                cairn_core::witness::MAX_WITNESSES
            ),
        ));
    }
    let list = witnesses
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let key = CosignerKey::from_vkey(w.vkey.trim())
                .map_err(|e| e.context(&format!("{what}[{i}]")))?;
            Ok(Witness {
                name: w.name.clone().unwrap_or_else(|| key.name().to_owned()),
                key,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let n = list.len() as u64;
    let quorum = quorum.unwrap_or(n);
    if quorum > n {
        return Err(Error::malformed(format!(
            "{what}: quorum {quorum} exceeds the {n} witnesses"
        )));
    }
    let policy = WitnessPolicy {
        witnesses: list,
        // At most n (checked above), n at most MAX_WITNESSES.
        quorum: quorum as usize,
        max_age,
        max_future_skew: max_future_skew.unwrap_or(DEFAULT_MAX_FUTURE_SKEW),
    };
    policy.validate().map_err(|e| e.context(what))?;
    Ok(policy)
}
