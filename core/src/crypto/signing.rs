//! Signing keys (feature `std`): generation from OS randomness, deterministic derivation
//! from a 32-byte seed (for test vectors and reproducible fixtures), and signing.
//!
//! Secret form: every single-algorithm key is its 32-byte seed (the RFC 8032 private key for
//! Ed25519, FIPS 204's ξ for ML-DSA). A hybrid key is two seeds, Ed25519's then ML-DSA's
//! (64 bytes). The seed bytes are held in zeroizing memory and wiped on drop.

use alloc::boxed::Box;
use alloc::vec::Vec;
use fips204::traits::{KeyGen, SerDes, Signer as _};
use fips204::{ml_dsa_44, ml_dsa_65};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::{Algorithm, PublicKey, Signature, MAX_CONTEXT_LEN};
use crate::encoding::sha256;
use crate::error::{Error, ErrorCode, Result};

// Boxed: the expanded keys are 12-18 KiB, too large to move around on the stack.
enum Pq {
    M44(Box<ml_dsa_44::PrivateKey>),
    M65(Box<ml_dsa_65::PrivateKey>),
}

/// A private key of any non-legacy algorithm.
///
/// ```
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// let sk = SigningKey::generate(Algorithm::MlDsa65);
/// let sig = sk.sign(b"msg", b"application/example")?;
/// sk.public_key().verify(b"msg", b"application/example", &sig)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SigningKey {
    alg: Algorithm,
    secret: Zeroizing<Vec<u8>>,
    ed: Option<ed25519_dalek::SigningKey>,
    pq: Option<Pq>,
    /// The same ML-DSA key in PQClean's form, for hedged signing (feature
    /// `native-mldsa-sign`).
    #[cfg(feature = "native-mldsa-sign")]
    native: Option<super::native_sign::NativeSigner>,
    public: PublicKey,
}

impl SigningKey {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Panics
    /// Panics for the legacy round-3 algorithms (use `LegacySigningKey`, feature
    /// `legacy-dilithium`; [`SigningKey::try_generate`] returns an error instead) and if the
    /// operating system has no randomness to give.
    pub fn generate(alg: Algorithm) -> SigningKey {
        match SigningKey::try_generate(alg) {
            Ok(k) => k,
            // Documented in `# Panics`; fallible callers use `try_generate`.
            Err(e) => panic!("SigningKey::generate({alg}): {e}"), // invariant: only a legacy algorithm (or an OS without randomness) reaches this arm
        }
    }

    /// Like [`SigningKey::generate`], but returns `unsupported_algorithm` for the legacy
    /// round-3 algorithms instead of panicking.
    ///
    /// ```
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// assert!(SigningKey::try_generate(Algorithm::Ed25519MlDsa65).is_ok());
    /// assert!(SigningKey::try_generate(Algorithm::Dilithium2R3).is_err());
    /// ```
    pub fn try_generate(alg: Algorithm) -> Result<SigningKey> {
        refuse_legacy(alg)?;
        let mut secret = Zeroizing::new(alloc::vec![0u8; secret_len(alg)]);
        OsRng.fill_bytes(&mut secret);
        SigningKey::from_secret_bytes(alg, &secret)
    }

    /// Derives a key deterministically from a 32-byte seed. A single-algorithm key's secret is
    /// the seed itself; for hybrids the two halves' seeds are
    /// SHA-256("cairn/hybrid/ed25519" ‖ seed) and SHA-256("cairn/hybrid/ml-dsa" ‖ seed).
    ///
    /// ```
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// let a = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    /// let b = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    /// assert_eq!(a.public_key(), b.public_key());
    /// ```
    ///
    /// # Panics
    /// Panics for the legacy round-3 algorithms ([`SigningKey::try_from_seed`] returns an
    /// error instead).
    pub fn from_seed(alg: Algorithm, seed: &[u8; 32]) -> SigningKey {
        match SigningKey::try_from_seed(alg, seed) {
            Ok(k) => k,
            // Documented in `# Panics`; fallible callers use `try_from_seed`.
            Err(e) => panic!("SigningKey::from_seed({alg}): {e}"), // invariant: only a legacy algorithm reaches this arm
        }
    }

    /// Like [`SigningKey::from_seed`], but returns `unsupported_algorithm` for the legacy
    /// round-3 algorithms instead of panicking.
    ///
    /// ```
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// let k = SigningKey::try_from_seed(Algorithm::MlDsa44, &[9; 32])?;
    /// assert_eq!(k.secret_bytes(), &[9; 32]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_from_seed(alg: Algorithm, seed: &[u8; 32]) -> Result<SigningKey> {
        refuse_legacy(alg)?;
        let secret: Zeroizing<Vec<u8>> =
            if matches!(alg, Algorithm::Ed25519MlDsa44 | Algorithm::Ed25519MlDsa65) {
                let mut s = Zeroizing::new(Vec::with_capacity(64));
                s.extend_from_slice(&sha256(&[b"cairn/hybrid/ed25519", seed]));
                s.extend_from_slice(&sha256(&[b"cairn/hybrid/ml-dsa", seed]));
                s
            } else {
                Zeroizing::new(seed.to_vec())
            };
        SigningKey::from_secret_bytes(alg, &secret)
    }

    /// Rebuilds a key from its secret form (see the module docs).
    pub fn from_secret_bytes(alg: Algorithm, secret: &[u8]) -> Result<SigningKey> {
        refuse_legacy(alg)?;
        if secret.len() != secret_len(alg) {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "{alg} secret must be {} bytes, got {}",
                    secret_len(alg),
                    secret.len()
                ),
            ));
        }
        let mut ed = None;
        let mut pq = None;
        let mut public = Vec::with_capacity(alg.public_key_len());
        let pq_seed: Option<&[u8]> = match alg {
            Algorithm::Ed25519 => {
                let k = ed_from(&secret[..32]);
                public.extend_from_slice(k.verifying_key().as_bytes());
                ed = Some(k);
                None
            }
            Algorithm::MlDsa44 | Algorithm::MlDsa65 => Some(secret),
            _ => {
                let k = ed_from(&secret[..32]);
                public.extend_from_slice(k.verifying_key().as_bytes());
                ed = Some(k);
                Some(&secret[32..])
            }
        };
        if let Some(s) = pq_seed {
            let mut xi = Zeroizing::new([0u8; 32]);
            xi.copy_from_slice(s);
            match alg {
                Algorithm::MlDsa44 | Algorithm::Ed25519MlDsa44 => {
                    let (p, k) = ml_dsa_44::KG::keygen_from_seed(&xi);
                    public.extend_from_slice(&p.into_bytes());
                    pq = Some(Pq::M44(Box::new(k)));
                }
                _ => {
                    let (p, k) = ml_dsa_65::KG::keygen_from_seed(&xi);
                    public.extend_from_slice(&p.into_bytes());
                    pq = Some(Pq::M65(Box::new(k)));
                }
            }
        }
        let public = PublicKey::from_bytes(alg, &public)?;
        #[cfg(feature = "native-mldsa-sign")]
        let native = pq.as_ref().and_then(|k| {
            let (single, sk) = match k {
                Pq::M44(k) => (
                    Algorithm::MlDsa44,
                    Zeroizing::new(k.clone().into_bytes().to_vec()),
                ),
                Pq::M65(k) => (
                    Algorithm::MlDsa65,
                    Zeroizing::new(k.clone().into_bytes().to_vec()),
                ),
            };
            super::native_sign::NativeSigner::from_sk_encoding(single, &sk)
        });
        Ok(SigningKey {
            alg,
            secret: Zeroizing::new(secret.to_vec()),
            ed,
            pq,
            #[cfg(feature = "native-mldsa-sign")]
            native,
            public,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The secret form (seed or seeds). Handle with care: encrypt it before it leaves memory.
    pub fn secret_bytes(&self) -> &[u8] {
        &self.secret
    }

    /// The FIPS 204 expanded private key (sk encoding, 2560 or 4032 bytes) of a single ML-DSA
    /// key, for PKCS#8 forms that carry it.
    pub(crate) fn mldsa_expanded_secret(&self) -> Option<Zeroizing<Vec<u8>>> {
        match (&self.alg, &self.pq) {
            (Algorithm::MlDsa44, Some(Pq::M44(k))) => {
                let sk = Zeroizing::new(k.clone().into_bytes());
                Some(Zeroizing::new(sk.to_vec()))
            }
            (Algorithm::MlDsa65, Some(Pq::M65(k))) => {
                let sk = Zeroizing::new(k.clone().into_bytes());
                Some(Zeroizing::new(sk.to_vec()))
            }
            _ => None,
        }
    }

    /// Signs with hedged ML-DSA randomness from the OS (FIPS 204's default variant); the
    /// Ed25519 half is deterministic as always. Fails only for a context over 255 bytes
    /// (`domain_mismatch`). With feature `native-mldsa-sign` the ML-DSA half is made by
    /// PQClean (the same algorithm, faster; `crypto::native_sign`).
    ///
    /// # Panics
    /// If the operating system has no randomness to give.
    pub fn sign(&self, message: &[u8], context: &[u8]) -> Result<Signature> {
        #[cfg(feature = "native-mldsa-sign")]
        if let Some(native) = &self.native {
            return self.sign_parts(message, context, |m, c| Ok(Some(native.sign(m, c))));
        }
        let mut rnd = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *rnd);
        self.sign_with_rnd(message, context, &rnd)
    }

    /// Signs with FIPS 204's deterministic variant (rnd = 32 zero bytes): the same key, message
    /// and context always give the same signature. Used for test vectors.
    pub fn sign_deterministic(&self, message: &[u8], context: &[u8]) -> Result<Signature> {
        self.sign_with_rnd(message, context, &[0u8; 32])
    }

    /// Signs with fips204, `rnd` being FIPS 204's signing randomness.
    fn sign_with_rnd(&self, message: &[u8], context: &[u8], rnd: &[u8; 32]) -> Result<Signature> {
        self.sign_parts(message, context, |message, context| {
            let pq_fail = |_| Error::new(ErrorCode::SignatureInvalid, "ML-DSA signing failed");
            Ok(match &self.pq {
                Some(Pq::M44(k)) => Some(
                    k.try_sign_with_seed(rnd, message, context)
                        .map_err(pq_fail)?
                        .to_vec(),
                ),
                Some(Pq::M65(k)) => Some(
                    k.try_sign_with_seed(rnd, message, context)
                        .map_err(pq_fail)?
                        .to_vec(),
                ),
                None => None,
            })
        })
    }

    /// The signature's layout, in one place: the context check, then the Ed25519 half
    /// (deterministic, as always), then the ML-DSA half `pq` makes, if the key has one.
    fn sign_parts(
        &self,
        message: &[u8],
        context: &[u8],
        pq: impl FnOnce(&[u8], &[u8]) -> Result<Option<Vec<u8>>>,
    ) -> Result<Signature> {
        if context.len() > MAX_CONTEXT_LEN {
            return Err(Error::new(
                ErrorCode::DomainMismatch,
                "context longer than 255 bytes",
            ));
        }
        let mut out = Vec::with_capacity(self.alg.signature_len());
        if let Some(ed) = &self.ed {
            use ed25519_dalek::Signer as _;
            out.extend_from_slice(&ed.sign(message).to_bytes());
        }
        if let Some(sig) = pq(message, context)? {
            out.extend_from_slice(&sig);
        }
        Signature::from_bytes(self.alg, &out)
    }
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SigningKey({}, {})", self.alg, self.public.key_id())
    }
}

fn ed_from(seed: &[u8]) -> ed25519_dalek::SigningKey {
    let mut s = Zeroizing::new([0u8; 32]);
    s.copy_from_slice(seed);
    ed25519_dalek::SigningKey::from_bytes(&s)
}

fn refuse_legacy(alg: Algorithm) -> Result<()> {
    if alg.is_legacy() {
        return Err(Error::new(
            ErrorCode::UnsupportedAlgorithm,
            alloc::format!("{alg} keys sign only through LegacySigningKey"),
        ));
    }
    Ok(())
}

/// Length of the secret form for `alg`.
pub(crate) fn secret_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::Ed25519MlDsa44 | Algorithm::Ed25519MlDsa65 => 64,
        _ => 32,
    }
}
