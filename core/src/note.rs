//! C2SP signed notes (`c2sp.org/signed-note`), parsed strictly and verified the way Go's
//! `golang.org/x/mod/sumdb/note` does.
//!
//! A note is a text (one or more lines, each ending in `\n`), a blank line, and one or more
//! signature lines `— <key name> <base64(key hash ‖ signature)>\n`. Signature lines are
//! identified by the pair (key name, 4-byte key hash):
//!
//! - Ed25519 (signature type `0x01`, the standard one): key hash =
//!   `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte key)[:4]`; the signature is RFC 8032 Ed25519 over the
//!   note text. Go's verifier checks these lines.
//! - ML-DSA-44 / ML-DSA-65 (cairn's types under the reserved byte `0xff`): the type encoding is
//!   `0xff ‖ label ‖ 0x0A` with label [`MLDSA44_LABEL`] or [`MLDSA65_LABEL`], so key hash =
//!   `SHA-256(name ‖ 0x0A ‖ 0xff ‖ label ‖ 0x0A ‖ public key)[:4]`; the signature is pure FIPS 204
//!   ML-DSA over the note text with context string [`MLDSA_CONTEXT`]. Standard verifiers skip
//!   these lines as unknown.
//!
//! A hybrid cairn key signs with two lines under the same name, Ed25519 first.
//!
//! Verification ([`verify_note`]): lines whose (name, key hash) match no known key are ignored;
//! a line that matches a known key must verify or the whole note is rejected; further lines of
//! a key already seen are skipped unchecked (as Go does); at least one known key must have
//! signed.

use alloc::string::String;
#[cfg(feature = "std")]
use alloc::vec;
use alloc::vec::Vec;

use crate::crypto::{Algorithm, PublicKey, Signature};
#[cfg(feature = "std")]
use crate::crypto::{SigningKey, ED25519_SIG_LEN};
use crate::encoding::{b64_decode, b64_encode, sha256};
use crate::error::{Error, ErrorCode, Result};

/// Largest note accepted, in bytes (C2SP asks verifiers to take at least 16 signatures, and
/// ML-DSA-65 lines are about 4.4 KB each).
pub const MAX_NOTE_LEN: usize = 1 << 20;
/// Most signature lines accepted in one note (Go's limit).
pub const MAX_SIGNATURE_LINES: usize = 100;
/// FIPS 204 context string of every ML-DSA note signature made or checked by cairn.
pub const MLDSA_CONTEXT: &[u8] = b"cairn-signed-note-v1";
/// Label of the ML-DSA-44 note signature type (after the `0xff` type byte).
pub const MLDSA44_LABEL: &str = "cairn-ml-dsa-44-v1";
/// Label of the ML-DSA-65 note signature type (after the `0xff` type byte).
pub const MLDSA65_LABEL: &str = "cairn-ml-dsa-65-v1";

/// Start of every signature line: U+2014 EM DASH and one space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Signed-note type byte of Ed25519.
const TYPE_ED25519: u8 = 0x01;
/// Signed-note type byte reserved for types named by a longer identifier.
const TYPE_RESERVED: u8 = 0xff;

/// A signature type a note line can carry in cairn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureType {
    /// C2SP type `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0xff` + [`MLDSA44_LABEL`]: ML-DSA-44 over the note text, context [`MLDSA_CONTEXT`].
    MlDsa44,
    /// `0xff` + [`MLDSA65_LABEL`]: ML-DSA-65 over the note text, context [`MLDSA_CONTEXT`].
    MlDsa65,
}

impl SignatureType {
    /// The single-algorithm crypto suite behind the type.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            SignatureType::Ed25519 => Algorithm::Ed25519,
            SignatureType::MlDsa44 => Algorithm::MlDsa44,
            SignatureType::MlDsa65 => Algorithm::MlDsa65,
        }
    }

    /// The type for a single-algorithm suite (hybrids sign with two types).
    pub fn from_algorithm(alg: Algorithm) -> Result<SignatureType> {
        match alg {
            Algorithm::Ed25519 => Ok(SignatureType::Ed25519),
            Algorithm::MlDsa44 => Ok(SignatureType::MlDsa44),
            Algorithm::MlDsa65 => Ok(SignatureType::MlDsa65),
            other => Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                alloc::format!("{other} has no signed-note signature type"),
            )),
        }
    }

    /// The cairn label that follows `0xff`, if the type has one.
    pub const fn label(self) -> Option<&'static str> {
        match self {
            SignatureType::Ed25519 => None,
            SignatureType::MlDsa44 => Some(MLDSA44_LABEL),
            SignatureType::MlDsa65 => Some(MLDSA65_LABEL),
        }
    }

    /// The type encoding that precedes the public key in key hashes and verifier keys:
    /// `0x01`, or `0xff ‖ label ‖ 0x0A`.
    ///
    /// ```
    /// use cairn_core::note::SignatureType;
    /// assert_eq!(SignatureType::Ed25519.encoding(), [0x01]);
    /// assert_eq!(SignatureType::MlDsa44.encoding(), b"\xffcairn-ml-dsa-44-v1\n");
    /// ```
    pub fn encoding(self) -> Vec<u8> {
        match self.label() {
            None => alloc::vec![TYPE_ED25519],
            Some(label) => {
                let mut v = Vec::with_capacity(label.len() + 2);
                v.push(TYPE_RESERVED);
                v.extend_from_slice(label.as_bytes());
                v.push(b'\n');
                v
            }
        }
    }

    /// Splits a verifier key's `type ‖ public key` bytes.
    fn split_encoding(bytes: &[u8]) -> Result<(SignatureType, &[u8])> {
        match bytes.split_first() {
            Some((&TYPE_ED25519, key)) => Ok((SignatureType::Ed25519, key)),
            Some((&TYPE_RESERVED, rest)) => {
                for t in [SignatureType::MlDsa44, SignatureType::MlDsa65] {
                    let enc = t.encoding();
                    if let Some(key) = bytes.strip_prefix(enc.as_slice()) {
                        return Ok((t, key));
                    }
                }
                let label_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                Err(Error::new(
                    ErrorCode::UnsupportedAlgorithm,
                    alloc::format!(
                        "unknown 0xff signature type label {:?}",
                        String::from_utf8_lossy(rest.get(..label_end.min(64)).unwrap_or(&[]))
                    ),
                ))
            }
            Some((t, _)) => Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                alloc::format!("unsupported signed-note signature type 0x{t:02x}"),
            )),
            None => Err(Error::malformed("empty verifier key")),
        }
    }
}

/// Whether `name` is a valid key name: non-empty, no Unicode white space, no `+`.
///
/// ```
/// use cairn_core::note::is_valid_key_name;
/// assert!(is_valid_key_name("example.test/log"));
/// assert!(!is_valid_key_name("a b") && !is_valid_key_name("a+b") && !is_valid_key_name(""));
/// ```
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_key_name(name: &str) -> Result<()> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::malformed(alloc::format!(
            "invalid key name {name:?}: it must be non-empty, without spaces or '+'"
        )))
    }
}

/// Key hash (key ID) of a note key: the first four bytes, big-endian, of
/// SHA-256(name ‖ 0x0A ‖ type encoding ‖ public key).
///
/// ```
/// use cairn_core::encoding::b64_decode;
/// use cairn_core::note::{key_hash, SignatureType};
/// // The example key of Go's note package, PeterNeumann+c74f20a3+ARpc2Qc...
/// let key = b64_decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")?;
/// assert_eq!(key_hash("PeterNeumann", SignatureType::Ed25519, &key[1..]), 0xc74f20a3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn key_hash(name: &str, sig_type: SignatureType, public_key: &[u8]) -> u32 {
    let d = sha256(&[name.as_bytes(), b"\n", &sig_type.encoding(), public_key]);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// One known key as note lines see it: a name, a signature type and a single-algorithm
/// public key (a hybrid cairn key is two of these; see [`NoteVerifier::for_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    sig_type: SignatureType,
    key: PublicKey,
    key_hash: u32,
}

impl NoteVerifier {
    /// A verifier for a single-algorithm key (Ed25519, ML-DSA-44 or ML-DSA-65) under `name`.
    pub fn new(name: &str, key: &PublicKey) -> Result<NoteVerifier> {
        check_key_name(name)?;
        let sig_type = SignatureType::from_algorithm(key.algorithm())?;
        Ok(NoteVerifier {
            name: name.into(),
            sig_type,
            key_hash: key_hash(name, sig_type, key.as_bytes()),
            key: key.clone(),
        })
    }

    /// The verifiers whose lines a cairn key of any supported suite signs with: one for a
    /// single-algorithm key, two for a hybrid (Ed25519 first, then ML-DSA).
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::note::{NoteVerifier, SignatureType};
    /// let sk = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
    /// let v = NoteVerifier::for_key("example.test/log", sk.public_key())?;
    /// assert_eq!(v[0].signature_type(), SignatureType::Ed25519);
    /// assert_eq!(v[1].signature_type(), SignatureType::MlDsa44);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_key(name: &str, key: &PublicKey) -> Result<Vec<NoteVerifier>> {
        // The halves share the hybrid key's decoded forms, so a caller that keeps its
        // PublicKey pays the ML-DSA expansion once, not on every note it verifies.
        match key.hybrid_halves() {
            None => Ok(alloc::vec![NoteVerifier::new(name, key)?]),
            Some((ed, ml)) => Ok(alloc::vec![
                NoteVerifier::new(name, &ed)?,
                NoteVerifier::new(name, &ml)?,
            ]),
        }
    }

    /// Parses a verifier key string `<name>+<hash8hex>+<base64(type encoding ‖ key)>` (Go's
    /// `note.NewVerifier` format; `0xff` keys carry cairn's ML-DSA labels). The hash must match.
    ///
    /// ```
    /// use cairn_core::note::NoteVerifier;
    /// let v = NoteVerifier::from_verifier_key(
    ///     "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")?;
    /// assert_eq!((v.name(), v.key_hash()), ("PeterNeumann", 0xc74f20a3));
    /// assert!(NoteVerifier::from_verifier_key(
    ///     "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_verifier_key(vkey: &str) -> Result<NoteVerifier> {
        if vkey.len() > 8192 {
            return Err(Error::new(
                ErrorCode::TooLarge,
                "verifier key over 8192 bytes",
            ));
        }
        let mut parts = vkey.splitn(3, '+');
        let (name, hash_hex, key64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(Error::malformed("verifier key must be name+hash+key")),
        };
        check_key_name(name)?;
        let hash = parse_hash8(hash_hex)?;
        let bytes = b64_decode(key64).map_err(|e| e.context("verifier key"))?;
        let (sig_type, key_bytes) = SignatureType::split_encoding(&bytes)?;
        let key = PublicKey::from_bytes(sig_type.algorithm(), key_bytes)?;
        let v = NoteVerifier::new(name, &key)?;
        if v.key_hash != hash {
            return Err(Error::new(
                ErrorCode::KeyMismatch,
                alloc::format!("verifier key hash {hash_hex} does not match its key"),
            ));
        }
        Ok(v)
    }

    /// The verifier key string (lowercase hash): what Go's `note.NewVerifier` takes for
    /// Ed25519.
    pub fn verifier_key(&self) -> String {
        let mut enc = self.sig_type.encoding();
        enc.extend_from_slice(self.key.as_bytes());
        alloc::format!("{}+{:08x}+{}", self.name, self.key_hash, b64_encode(&enc))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash (key ID).
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.sig_type
    }

    /// The single-algorithm public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// Checks one line's signature bytes (after the key hash) over the note text.
    pub fn verify(&self, text: &[u8], signature: &[u8]) -> Result<()> {
        let sig = Signature::from_bytes(self.sig_type.algorithm(), signature)?;
        self.key.verify(text, MLDSA_CONTEXT, &sig)
    }

    fn same_key(&self, other: &NoteVerifier) -> bool {
        self.sig_type == other.sig_type && self.key == other.key
    }
}

fn parse_hash8(text: &str) -> Result<u32> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::malformed("key hash must be 8 hex digits"));
    }
    u32::from_str_radix(text, 16).map_err(|_| Error::malformed("key hash must be 8 hex digits"))
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key hash (first four bytes of the decoded base64, big-endian).
    pub key_hash: u32,
    /// The signature bytes after the key hash (at least one byte).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line as it appears in a note: `— <name> <base64(hash ‖ signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_hash.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        alloc::format!("{SIG_PREFIX}{} {}\n", self.name, b64_encode(&raw))
    }

    fn parse_line(line: &str) -> Result<NoteSignature> {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
            Error::malformed("signature line must start with an em dash and a space")
        })?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| Error::malformed("signature line must be '— name signature'"))?;
        check_key_name(name)?;
        let raw = b64_decode(b64).map_err(|e| e.context("signature line"))?;
        if raw.len() < 5 {
            return Err(Error::malformed(
                "signature must decode to at least 5 bytes",
            ));
        }
        let (hash, sig) = raw.split_at(4);
        Ok(NoteSignature {
            name: name.into(),
            key_hash: u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]),
            signature: sig.to_vec(),
        })
    }
}

/// Checks the note-wide character rules: valid UTF-8 (given by `&str`), no ASCII control
/// characters other than newline.
fn check_chars(text: &str) -> Result<()> {
    match text.chars().find(|&c| c < ' ' && c != '\n') {
        Some(c) => Err(Error::malformed(alloc::format!(
            "note contains control character U+{:04X}",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Checks a note text: non-empty, ends in a newline, character rules.
pub fn check_text(text: &str) -> Result<()> {
    if !text.ends_with('\n') {
        return Err(Error::malformed(
            "note text must be non-empty and end with a newline",
        ));
    }
    if text.len() >= MAX_NOTE_LEN {
        return Err(Error::new(ErrorCode::TooLarge, "note text over 1 MiB"));
    }
    check_chars(text)
}

/// A parsed signed note: its text and signature lines (nothing verified yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note with this text (see [`check_text`]).
    pub fn new(text: &str) -> Result<Note> {
        check_text(text)?;
        Ok(Note {
            text: text.into(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note strictly: at most [`MAX_NOTE_LEN`] bytes (`too_large`), valid
    /// UTF-8 without control characters other than newline, text and signatures split at the
    /// last blank line, 1 to [`MAX_SIGNATURE_LINES`] signature lines (more: `too_large`), each
    /// `— <valid name> <canonical base64 of ≥ 5 bytes>`.
    ///
    /// ```
    /// use cairn_core::note::Note;
    /// let n = Note::parse("hello\n\n\u{2014} k AAAAAAE=\n".as_bytes())?;
    /// assert_eq!(n.text(), "hello\n");
    /// assert_eq!((n.signatures()[0].key_hash, n.signatures()[0].signature.as_slice()), (0, &[1u8][..]));
    /// assert!(Note::parse("hello\n\n- k AAAAAAE=\n".as_bytes()).is_err()); // hyphen
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(note: &[u8]) -> Result<Note> {
        if note.len() > MAX_NOTE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!(
                    "note of {} bytes exceeds the limit of {MAX_NOTE_LEN}",
                    note.len()
                ),
            ));
        }
        let note =
            core::str::from_utf8(note).map_err(|_| Error::malformed("note is not valid UTF-8"))?;
        check_chars(note)?;
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| Error::malformed("note has no blank line before its signatures"))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(Error::malformed(
                "note must end with signature lines, each ending in a newline",
            ));
        }
        let body = &sigs[..sigs.len() - 1];
        if body.split('\n').count() > MAX_SIGNATURE_LINES {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("note has more than {MAX_SIGNATURE_LINES} signature lines"),
            ));
        }
        let signatures = body
            .split('\n')
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>>>()?;
        Ok(Note {
            text: text.into(),
            signatures,
        })
    }

    /// The signed text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines in note order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line, replacing any line with the same (name, key hash).
    pub fn push_signature(&mut self, sig: NoteSignature) -> Result<()> {
        check_key_name(&sig.name)?;
        if sig.signature.is_empty() {
            return Err(Error::malformed("empty signature"));
        }
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_hash == sig.key_hash));
        if self.signatures.len() >= MAX_SIGNATURE_LINES {
            return Err(Error::new(ErrorCode::TooLarge, "too many signature lines"));
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// The note in its text form. Fails unless it has at least one signature and fits in
    /// [`MAX_NOTE_LEN`] bytes.
    pub fn encode(&self) -> Result<String> {
        if self.signatures.is_empty() {
            return Err(Error::malformed(
                "a signed note needs at least one signature",
            ));
        }
        let mut out = String::with_capacity(self.text.len() + 1 + 100 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        if out.len() > MAX_NOTE_LEN {
            return Err(Error::new(ErrorCode::TooLarge, "encoded note over 1 MiB"));
        }
        Ok(out)
    }

    /// Verifies the note's lines against `verifiers` (see [`verify_note`]) and returns the
    /// indices of the verifiers whose line verified, in verifier order. After the first line
    /// of a known key, further lines of the same key are skipped unchecked, as Go's
    /// `note.Open` does (tests/vectors/checkpoint.json).
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<Vec<usize>> {
        self.verify_lines(verifiers, false)
    }

    /// [`Note::verify`], but every line of a known key must verify, repeated ones included:
    /// signed-note's "if the key name and ID match a known key, verifiers MUST verify the
    /// signature", which tlog-witness enforces (a witness answers 403 to a note with such a
    /// line that fails, rather than cosign it and keep it). Each key still counts once.
    ///
    /// ```
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::note::{Note, NoteVerifier};
    /// let key = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    /// let mut note = Note::new("text\n")?;
    /// note.sign("example.test/log", &key)?;
    /// let good = note.signatures()[0].clone();
    /// let mut bad = good.clone();
    /// bad.signature[0] ^= 1;
    /// let twice = format!("text\n\n{}{}", good.to_line(), bad.to_line());
    /// let twice = Note::parse(twice.as_bytes())?;
    /// let v = [NoteVerifier::new("example.test/log", key.public_key())?];
    /// assert_eq!(twice.verify(&v)?, [0]);
    /// assert_eq!(twice.verify_strict(&v).unwrap_err().code().as_str(), "signature_invalid");
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn verify_strict(&self, verifiers: &[NoteVerifier]) -> Result<Vec<usize>> {
        self.verify_lines(verifiers, true)
    }

    fn verify_lines(&self, verifiers: &[NoteVerifier], every_line: bool) -> Result<Vec<usize>> {
        check_unambiguous(verifiers)?;
        let mut verified = alloc::vec![false; verifiers.len()];
        let mut seen: Vec<(&str, u32)> = Vec::new();
        let mut matched_any = false;
        for line in &self.signatures {
            let key = (line.name.as_str(), line.key_hash);
            let mut matching = verifiers
                .iter()
                .enumerate()
                .filter(|(_, v)| v.name == line.name && v.key_hash == line.key_hash)
                .peekable();
            let Some(&(_, first)) = matching.peek() else {
                continue; // unknown key: ignored, as the spec requires
            };
            matched_any = true;
            if seen.contains(&key) && !every_line {
                continue; // Go checks only the first line of each known key
            }
            seen.push(key);
            first
                .verify(self.text.as_bytes(), &line.signature)
                .map_err(|e| {
                    Error::new(
                        ErrorCode::SignatureInvalid,
                        alloc::format!(
                            "invalid signature for key {}+{:08x}: {}",
                            line.name,
                            line.key_hash,
                            e.detail()
                        ),
                    )
                })?;
            for (i, _) in matching {
                if let Some(slot) = verified.get_mut(i) {
                    *slot = true;
                }
            }
        }
        if !matched_any {
            return Err(Error::new(
                ErrorCode::UnknownKey,
                "no signature line is from a known key",
            ));
        }
        Ok(verified
            .iter()
            .enumerate()
            .filter_map(|(i, &ok)| ok.then_some(i))
            .collect())
    }

    /// Signs the text with `key` under `name`, adding one line (two for a hybrid key: Ed25519
    /// then ML-DSA). ML-DSA uses hedged randomness.
    #[cfg(feature = "std")]
    pub fn sign(&mut self, name: &str, key: &SigningKey) -> Result<()> {
        let sig = key.sign(self.text.as_bytes(), MLDSA_CONTEXT)?;
        self.add_signature_lines(name, key, sig)
    }

    /// Like [`Note::sign`] with FIPS 204's deterministic ML-DSA variant: the same key and text
    /// always give the same note (used for test vectors).
    #[cfg(feature = "std")]
    pub fn sign_deterministic(&mut self, name: &str, key: &SigningKey) -> Result<()> {
        let sig = key.sign_deterministic(self.text.as_bytes(), MLDSA_CONTEXT)?;
        self.add_signature_lines(name, key, sig)
    }

    #[cfg(feature = "std")]
    fn add_signature_lines(&mut self, name: &str, key: &SigningKey, sig: Signature) -> Result<()> {
        let verifiers = NoteVerifier::for_key(name, key.public_key())?;
        let bytes = sig.as_bytes();
        let parts: Vec<&[u8]> = if verifiers.len() == 2 {
            let (ed, pq) = bytes.split_at(ED25519_SIG_LEN.min(bytes.len()));
            vec![ed, pq]
        } else {
            vec![bytes]
        };
        for (v, part) in verifiers.iter().zip(parts) {
            self.push_signature(NoteSignature {
                name: name.into(),
                key_hash: v.key_hash,
                signature: part.to_vec(),
            })?;
        }
        Ok(())
    }
}

/// Two different keys with the same (name, key hash) would make lines ambiguous: refuse them,
/// as Go's verifier list does.
fn check_unambiguous(verifiers: &[NoteVerifier]) -> Result<()> {
    for (i, a) in verifiers.iter().enumerate() {
        for b in verifiers.iter().skip(i + 1) {
            if a.name == b.name && a.key_hash == b.key_hash && !a.same_key(b) {
                return Err(Error::malformed(alloc::format!(
                    "ambiguous verifier keys: two keys share {}+{:08x}",
                    a.name,
                    a.key_hash
                )));
            }
        }
    }
    Ok(())
}

/// Parses and verifies a signed note as Go's `note.Open` does, returning the parsed note and
/// the indices of the verifiers whose line verified.
///
/// Errors: `too_large`, `malformed` (parse errors, ambiguous verifiers), `signature_invalid`
/// (a line from a known key does not verify), `unknown_key` (no line is from a known key).
///
/// ```
/// # #[cfg(feature = "std")] {
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::note::{verify_note, Note, NoteVerifier};
/// let sk = SigningKey::from_seed(Algorithm::Ed25519, &[3; 32]);
/// let mut note = Note::new("hello\n")?;
/// note.sign("example.test/k", &sk)?;
/// let text = note.encode()?;
/// let v = NoteVerifier::for_key("example.test/k", sk.public_key())?;
/// let (parsed, ok) = verify_note(text.as_bytes(), &v)?;
/// assert_eq!((parsed.text(), ok), ("hello\n", vec![0]));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_note(note: &[u8], verifiers: &[NoteVerifier]) -> Result<(Note, Vec<usize>)> {
    let parsed = Note::parse(note)?;
    let ok = parsed.verify(verifiers)?;
    Ok((parsed, ok))
}

/// Go's signer key string for an Ed25519 key:
/// `PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 ‖ 32-byte seed)>`. Handle it as a secret.
///
/// ```
/// use cairn_core::note::{format_signer_key, parse_signer_key};
/// let s = format_signer_key("example.test/log", &[9; 32])?;
/// assert!(s.starts_with("PRIVATE+KEY+example.test/log+"));
/// let (name, seed) = parse_signer_key(&s)?;
/// assert_eq!((name.as_str(), *seed), ("example.test/log", [9; 32]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn format_signer_key(name: &str, seed: &[u8; 32]) -> Result<zeroize::Zeroizing<String>> {
    check_key_name(name)?;
    let public = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
    let hash = key_hash(name, SignatureType::Ed25519, public.as_bytes());
    let mut raw = zeroize::Zeroizing::new(Vec::with_capacity(33));
    raw.push(TYPE_ED25519);
    raw.extend_from_slice(seed);
    Ok(zeroize::Zeroizing::new(alloc::format!(
        "PRIVATE+KEY+{name}+{hash:08x}+{}",
        b64_encode(&raw)
    )))
}

/// Parses Go's Ed25519 signer key string into the key name and the 32-byte RFC 8032 seed,
/// checking the key hash against the derived public key.
pub fn parse_signer_key(skey: &str) -> Result<(String, zeroize::Zeroizing<[u8; 32]>)> {
    let rest = skey
        .strip_prefix("PRIVATE+KEY+")
        .ok_or_else(|| Error::malformed("signer key must start with PRIVATE+KEY+"))?;
    let mut parts = rest.splitn(3, '+');
    let (name, hash_hex, key64) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(h), Some(k)) => (n, h, k),
        _ => {
            return Err(Error::malformed(
                "signer key must be PRIVATE+KEY+name+hash+key",
            ))
        }
    };
    check_key_name(name)?;
    let hash = parse_hash8(hash_hex)?;
    let raw = zeroize::Zeroizing::new(b64_decode(key64).map_err(|e| e.context("signer key"))?);
    let seed_bytes = match raw.split_first() {
        Some((&TYPE_ED25519, seed)) if seed.len() == 32 => seed,
        Some((&TYPE_ED25519, _)) => {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                "Ed25519 seed must be 32 bytes",
            ))
        }
        _ => {
            return Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                "signer keys exist only for Ed25519 (type 0x01)",
            ))
        }
    };
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(seed_bytes);
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    if key_hash(name, SignatureType::Ed25519, public.as_bytes()) != hash {
        return Err(Error::new(
            ErrorCode::KeyMismatch,
            "signer key hash does not match its key",
        ));
    }
    Ok((name.into(), seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_example_key_hash() {
        let v = NoteVerifier::from_verifier_key(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        assert_eq!(
            v.verifier_key(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        // Go accepts an uppercase hash; so does cairn, writing lowercase back.
        let up = NoteVerifier::from_verifier_key(
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        assert_eq!(up, v);
    }

    #[test]
    fn go_example_note_verifies() {
        // From the documentation of Go's note package.
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let v = NoteVerifier::from_verifier_key(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        let (n, ok) = verify_note(note.as_bytes(), &[v]).unwrap();
        assert_eq!(ok, [0]);
        assert!(n.text().starts_with("If you think"));
        let tampered = note.replace("answer", "Answer");
        assert_eq!(
            verify_note(
                tampered.as_bytes(),
                &[NoteVerifier::from_verifier_key(
                    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
                )
                .unwrap()]
            )
            .unwrap_err()
            .code(),
            ErrorCode::SignatureInvalid
        );
    }

    #[test]
    fn split_at_last_blank_line() {
        let n = Note::parse("a\n\nb\n\n\u{2014} k AAAAAAE=\n".as_bytes()).unwrap();
        assert_eq!(n.text(), "a\n\nb\n");
        let n = Note::parse("a\n\n\n\u{2014} k AAAAAAE=\n".as_bytes()).unwrap();
        assert_eq!(n.text(), "a\n\n");
        assert_eq!(n.encode().unwrap(), "a\n\n\n\u{2014} k AAAAAAE=\n");
    }

    #[test]
    fn strict_parse_rejections() {
        for bad in [
            "a\n\n\u{2014} k AAAAAAE=",          // no final newline
            "a\n\u{2014} k AAAAAAE=\n",          // no blank line
            "a\n\n",                             // no signature
            "a\n\n\u{2014} k AAAAAA==\n",        // 4 bytes only
            "a\n\n\u{2014} k AAAAAAF=\n",        // non-canonical base64
            "a\n\n\u{2014} k AAAAAAE\n",         // missing padding
            "a\n\n\u{2014} k+x AAAAAAE=\n",      // plus in name
            "a\n\n\u{2014}  AAAAAAE=\n",         // empty name
            "a\n\n\u{2014} k  AAAAAAE=\n",       // two spaces
            "a\n\n\u{2014} k AAAAAAE= \n",       // trailing space
            "a\n\n\u{2014}k AAAAAAE=\n",         // no space after dash
            "a\n\n- k AAAAAAE=\n",               // hyphen
            "a\r\n\n\u{2014} k AAAAAAE=\n",      // CR
            "a\tb\n\n\u{2014} k AAAAAAE=\n",     // tab
            "a\n\n\u{2014} k AAAAAAE=\n\n",      // empty signature line
            "a\n\n\u{2014} k\u{a0}x AAAAAAE=\n", // no-break space in name
        ] {
            assert_eq!(
                Note::parse(bad.as_bytes()).unwrap_err().code(),
                ErrorCode::Malformed,
                "{bad:?}"
            );
        }
        assert_eq!(
            Note::parse(b"a\n\n\xe2\x80\x94 k AAAAAAE=\n\xff")
                .unwrap_err()
                .code(),
            ErrorCode::Malformed
        );
    }

    #[test]
    fn limits() {
        let line = "\u{2014} k AAAAAAE=\n";
        let ok = alloc::format!("a\n\n{}", line.repeat(100));
        assert_eq!(Note::parse(ok.as_bytes()).unwrap().signatures().len(), 100);
        let over = alloc::format!("a\n\n{}", line.repeat(101));
        assert_eq!(
            Note::parse(over.as_bytes()).unwrap_err().code(),
            ErrorCode::TooLarge
        );
        let big = alloc::format!("{}\n\n{line}", "a".repeat(MAX_NOTE_LEN));
        assert_eq!(
            Note::parse(big.as_bytes()).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn colliding_verifiers_are_ambiguous() {
        let pk = |b: u8| {
            let sk = ed25519_dalek::SigningKey::from_bytes(&[b; 32]);
            PublicKey::from_bytes(Algorithm::Ed25519, sk.verifying_key().as_bytes()).unwrap()
        };
        let a = NoteVerifier::new("n", &pk(1)).unwrap();
        let mut b = NoteVerifier::new("n", &pk(2)).unwrap();
        b.key_hash = a.key_hash;
        let line = NoteSignature {
            name: "n".into(),
            key_hash: a.key_hash,
            signature: alloc::vec![0; 64],
        };
        let note = alloc::format!("t\n\n{}", line.to_line());
        let e = verify_note(note.as_bytes(), &[a, b]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Malformed);
        assert!(e.detail().contains("ambiguous"));
    }

    #[test]
    fn signer_key_rejections() {
        let good = format_signer_key("n", &[1; 32]).unwrap();
        assert!(parse_signer_key(&good).is_ok());
        let mut tampered = good.to_string();
        let pos = "PRIVATE+KEY+n+".len();
        let c = if &tampered[pos..pos + 1] == "0" {
            "1"
        } else {
            "0"
        };
        tampered.replace_range(pos..pos + 1, c);
        assert_eq!(
            parse_signer_key(&tampered).unwrap_err().code(),
            ErrorCode::KeyMismatch
        );
        assert!(parse_signer_key("PRIVATE+KEY+n+00000000+AgEB").is_err());
        assert!(parse_signer_key("PRIVATE+KEY+n").is_err());
        assert!(parse_signer_key("n+00000000+AQ==").is_err());
    }

    /// Witness cosignature lines appended to a log's note (tlog-cosignature) are lines of keys
    /// the log's verifiers do not know: ignored, so the log's signature still verifies, for
    /// a hybrid key's two lines too; a damaged line of a known key still fails the note.
    #[cfg(feature = "std")]
    #[test]
    fn cosignature_lines_of_unknown_keys_are_ignored() {
        use crate::checkpoint::{
            verify_checkpoint, Checkpoint, CheckpointPolicy, CheckpointVerifier,
        };
        let o = "example.test/log";
        let log = SigningKey::from_seed(Algorithm::Ed25519MlDsa44, &[1; 32]);
        let signed = Checkpoint::new(o, 0, crate::merkle::EMPTY_ROOT)
            .sign(&[(o, &log)])
            .unwrap();
        let mut note = Note::parse(signed.as_bytes()).unwrap();
        for (seed, alg) in [(2u8, Algorithm::Ed25519), (3, Algorithm::MlDsa44)] {
            let w = SigningKey::from_seed(alg, &[seed; 32]);
            let line = crate::witness::cosign(note.text(), "example.test/w", &w, 100).unwrap();
            note.push_signature(line).unwrap();
        }
        // One more line under the log's own name with an unknown key hash: ignored too.
        note.push_signature(NoteSignature {
            name: o.into(),
            key_hash: 0x0102_0304,
            signature: alloc::vec![7; 64],
        })
        .unwrap();
        let text = note.encode().unwrap();
        assert_eq!(note.signatures().len(), 5);
        let vs = NoteVerifier::for_key(o, log.public_key()).unwrap();
        assert_eq!(verify_note(text.as_bytes(), &vs).unwrap().1, [0, 1]);
        let v = [CheckpointVerifier {
            name: o.into(),
            public_key: log.public_key().clone(),
        }];
        assert!(verify_checkpoint(text.as_bytes(), &v, &CheckpointPolicy::new(o)).is_ok());
        // A damaged line of the log's key still refuses the note.
        let mut bad = Note::parse(text.as_bytes()).unwrap();
        let mut first = bad.signatures()[0].clone();
        first.signature[0] ^= 1;
        bad.push_signature(first).unwrap();
        assert_eq!(
            verify_note(bad.encode().unwrap().as_bytes(), &vs)
                .unwrap_err()
                .code(),
            ErrorCode::SignatureInvalid
        );
    }
}
