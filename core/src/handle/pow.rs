//! Proof-of-work challenges for the handle registry's lookups (docs/FORMATS.md section 19.4).
//!
//! The server issues a [`Challenge`]: a random nonce (from the caller), a difficulty and an
//! expiry, authenticated by HMAC-SHA-256 under a server secret, so that a client can neither
//! forge a challenge nor make one easier or longer-lived. The client finds a `counter` such
//! that `SHA-256(challenge bytes || counter as 8 bytes big endian)` starts with `difficulty`
//! zero bits ([`solve`]); the server checks the tag, the expiry and the work ([`verify`]).
//! Refusing a second use of one challenge is the server's job: [`Challenge::id`] is the key
//! for its replay set (kept until the challenge's expiry).
//!
//! Challenge bytes (58):
//!
//! ```text
//! version (0x01) || difficulty (1 byte, 0..=32) || expires (8 bytes, big endian Unix seconds)
//!   || nonce (16 bytes) || tag (32 bytes)
//! tag = HMAC-SHA-256(secret, "cairn handle pow v1" || 0x00 || the first 26 bytes)
//! ```
//!
//! Text form: unpadded base64url of the 58 bytes (78 characters). A solution's text form is
//! the challenge's text, `.`, and the counter in decimal.
//!
//! Errors: `malformed`, `too_large` (difficulty over [`MAX_DIFFICULTY`], oversized text),
//! `unsupported_version`, `signature_invalid` (the tag does not verify: forged or altered, or
//! another secret), `expired` (`now` after `expires`), `proof_invalid` (not enough work).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::blind::{hmac_sha256, hmac_sha256_verify};
use crate::encoding::{hex_encode, sha256};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// The challenge format version (first byte).
pub const POW_VERSION: u8 = 1;
/// The domain of the challenge tag.
pub const POW_TAG_LABEL: &[u8] = b"cairn handle pow v1";
/// Highest difficulty (leading zero bits) a challenge may ask for.
pub const MAX_DIFFICULTY: u8 = 32;
/// Length of a challenge's nonce (its id).
pub const POW_NONCE_LEN: usize = 16;
/// Length of an encoded challenge.
pub const CHALLENGE_LEN: usize = 2 + 8 + POW_NONCE_LEN + 32;
/// Length of the part of a challenge the tag covers.
const SIGNED_LEN: usize = CHALLENGE_LEN - 32;
/// Longest solution text accepted: a challenge, a dot and 20 digits.
pub const MAX_SOLUTION_TEXT_LEN: usize = 78 + 1 + 20;
/// Shortest server secret accepted, in bytes.
pub const MIN_POW_SECRET_LEN: usize = 16;
/// Longest server secret accepted, in bytes.
pub const MAX_POW_SECRET_LEN: usize = 64;

/// The server's secret HMAC key for challenges. Wiped when dropped; `Debug` hides it.
///
/// ```
/// use cairn_core::handle::PowSecret;
/// assert!(PowSecret::from_bytes(&[1; 32]).is_ok());
/// assert_eq!(PowSecret::from_bytes(&[1; 4]).unwrap_err().code().as_str(), "invalid_key");
/// ```
#[derive(Clone)]
pub struct PowSecret(Zeroizing<Vec<u8>>);

impl PowSecret {
    /// Wraps a secret of [`MIN_POW_SECRET_LEN`] to [`MAX_POW_SECRET_LEN`] bytes
    /// (`invalid_key` otherwise).
    pub fn from_bytes(bytes: &[u8]) -> Result<PowSecret> {
        if !(MIN_POW_SECRET_LEN..=MAX_POW_SECRET_LEN).contains(&bytes.len()) {
            return Err(Error::new(
                ErrorCode::InvalidKey,
                alloc::format!(
                    "a proof-of-work secret is {MIN_POW_SECRET_LEN} to {MAX_POW_SECRET_LEN} bytes, got {}",
                    bytes.len()
                ),
            ));
        }
        Ok(PowSecret(Zeroizing::new(bytes.to_vec())))
    }
}

impl fmt::Debug for PowSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PowSecret({} bytes)", self.0.len())
    }
}

/// A proof-of-work challenge (see the module documentation for its bytes).
///
/// ```
/// use cairn_core::handle::{solve, verify, Challenge, PowSecret};
/// let secret = PowSecret::from_bytes(&[1; 32])?;
/// let c = Challenge::issue(&secret, [7; 16], 8, 1_700_000_120)?;
/// let text = c.encode();
/// assert_eq!(text.len(), 78);
/// let counter = solve(&Challenge::decode(&text)?, 1 << 20).ok_or("no counter within 2^20")?;
/// assert_eq!(verify(&c, counter, &secret, 1_700_000_000)?, [7; 16]);
/// assert_eq!(verify(&c, counter, &secret, 1_700_000_121).unwrap_err().code().as_str(), "expired");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Challenge {
    difficulty: u8,
    expires: UnixTime,
    nonce: [u8; POW_NONCE_LEN],
    tag: [u8; 32],
}

fn check_difficulty(difficulty: u8) -> Result<()> {
    if difficulty > MAX_DIFFICULTY {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("difficulty {difficulty} is over the limit {MAX_DIFFICULTY}"),
        ));
    }
    Ok(())
}

impl Challenge {
    /// Issues a challenge: `nonce` must be fresh random bytes from the caller, `expires` the
    /// last Unix second at which a solution is accepted. `too_large` for a difficulty over
    /// [`MAX_DIFFICULTY`].
    pub fn issue(
        secret: &PowSecret,
        nonce: [u8; POW_NONCE_LEN],
        difficulty: u8,
        expires: UnixTime,
    ) -> Result<Challenge> {
        check_difficulty(difficulty)?;
        let mut c = Challenge {
            difficulty,
            expires,
            nonce,
            tag: [0; 32],
        };
        c.tag = hmac_sha256(&secret.0, &[POW_TAG_LABEL, &[0], &c.signed_part()]);
        Ok(c)
    }

    fn signed_part(&self) -> [u8; SIGNED_LEN] {
        let mut b = [0u8; SIGNED_LEN];
        b[0] = POW_VERSION;
        b[1] = self.difficulty;
        b[2..10].copy_from_slice(&self.expires.to_be_bytes());
        b[10..].copy_from_slice(&self.nonce);
        b
    }

    /// The 58 bytes.
    pub fn to_bytes(&self) -> [u8; CHALLENGE_LEN] {
        let mut b = [0u8; CHALLENGE_LEN];
        b[..SIGNED_LEN].copy_from_slice(&self.signed_part());
        b[SIGNED_LEN..].copy_from_slice(&self.tag);
        b
    }

    /// Reads the 58 bytes (layout only; [`verify`] checks the tag): `malformed` for another
    /// length, `unsupported_version`, `too_large` for a difficulty over [`MAX_DIFFICULTY`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Challenge> {
        if bytes.len() != CHALLENGE_LEN {
            return Err(Error::malformed(alloc::format!(
                "a challenge is {CHALLENGE_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        if bytes[0] != POW_VERSION {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                alloc::format!("challenge version {} is not supported", bytes[0]),
            ));
        }
        check_difficulty(bytes[1])?;
        let mut expires = [0u8; 8];
        expires.copy_from_slice(&bytes[2..10]);
        let mut nonce = [0u8; POW_NONCE_LEN];
        nonce.copy_from_slice(&bytes[10..SIGNED_LEN]);
        let mut tag = [0u8; 32];
        tag.copy_from_slice(&bytes[SIGNED_LEN..]);
        Ok(Challenge {
            difficulty: bytes[1],
            expires: u64::from_be_bytes(expires),
            nonce,
            tag,
        })
    }

    /// The text form: unpadded base64url of the bytes.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.to_bytes())
    }

    /// Reads the text form (strict: no padding, canonical trailing bits), then as
    /// [`Challenge::from_bytes`].
    pub fn decode(text: &str) -> Result<Challenge> {
        if text.len() > 2 * CHALLENGE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("a challenge's text is 78 characters, got {}", text.len()),
            ));
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| Error::malformed(alloc::format!("challenge: invalid base64url: {e}")))?;
        Challenge::from_bytes(&bytes)
    }

    /// The challenge's id (its nonce): the key of the server's replay set.
    pub fn id(&self) -> [u8; POW_NONCE_LEN] {
        self.nonce
    }

    /// Leading zero bits a solution needs.
    pub fn difficulty(&self) -> u8 {
        self.difficulty
    }

    /// The last Unix second at which a solution is accepted.
    pub fn expires(&self) -> UnixTime {
        self.expires
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Challenge(id {}, difficulty {}, expires {})",
            hex_encode(&self.nonce),
            self.difficulty,
            self.expires
        )
    }
}

/// `SHA-256(challenge bytes || counter as 8 bytes big endian)`.
///
/// ```
/// use cairn_core::handle::{work_hash, Challenge, PowSecret};
/// let c = Challenge::issue(&PowSecret::from_bytes(&[1; 32])?, [0; 16], 0, 0)?;
/// assert_eq!(work_hash(&c, 0).len(), 32);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn work_hash(challenge: &Challenge, counter: u64) -> [u8; 32] {
    sha256(&[&challenge.to_bytes(), &counter.to_be_bytes()])
}

/// Leading zero bits of a hash.
///
/// ```
/// use cairn_core::handle::leading_zero_bits;
/// assert_eq!(leading_zero_bits(&[0, 0x10, 0xff]), 11);
/// assert_eq!(leading_zero_bits(&[0; 4]), 32);
/// ```
pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for &b in hash {
        if b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// The client's search: the first counter from 0 up whose [`work_hash`] has the challenge's
/// difficulty in leading zero bits, trying at most `max_iterations` counters (`None` when none
/// of them does; about `2^difficulty` tries are needed on average).
///
/// ```
/// use cairn_core::handle::{solve, Challenge, PowSecret};
/// let c = Challenge::issue(&PowSecret::from_bytes(&[1; 32])?, [3; 16], 32, 0)?;
/// assert_eq!(solve(&c, 10), None);
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn solve(challenge: &Challenge, max_iterations: u64) -> Option<u64> {
    let bytes = challenge.to_bytes();
    let need = u32::from(challenge.difficulty);
    (0..max_iterations)
        .find(|counter| leading_zero_bits(&sha256(&[&bytes, &counter.to_be_bytes()])) >= need)
}

/// The server's check of a solution, in this order: the tag under `secret`
/// (`signature_invalid`), the expiry (`expired` when `now > expires`), the work
/// (`proof_invalid`). Returns the challenge's id, for the caller's replay set.
///
/// ```
/// use cairn_core::handle::{verify, Challenge, PowSecret};
/// let secret = PowSecret::from_bytes(&[1; 32])?;
/// let c = Challenge::issue(&secret, [3; 16], 0, 100)?;
/// assert_eq!(verify(&c, 0, &secret, 100)?, [3; 16]);
/// let other = PowSecret::from_bytes(&[2; 32])?;
/// assert_eq!(verify(&c, 0, &other, 100).unwrap_err().code().as_str(), "signature_invalid");
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn verify(
    challenge: &Challenge,
    counter: u64,
    secret: &PowSecret,
    now: UnixTime,
) -> Result<[u8; POW_NONCE_LEN]> {
    if !hmac_sha256_verify(
        &secret.0,
        &[POW_TAG_LABEL, &[0], &challenge.signed_part()],
        &challenge.tag,
    ) {
        return Err(Error::new(
            ErrorCode::SignatureInvalid,
            "the challenge's tag does not verify: not issued by this server, or altered",
        ));
    }
    if now > challenge.expires {
        return Err(Error::new(
            ErrorCode::Expired,
            alloc::format!("the challenge expired at {}", challenge.expires),
        ));
    }
    let bits = leading_zero_bits(&work_hash(challenge, counter));
    if bits < u32::from(challenge.difficulty) {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            alloc::format!(
                "the work hash has {bits} leading zero bits, the challenge asks for {}",
                challenge.difficulty
            ),
        ));
    }
    Ok(challenge.nonce)
}

/// [`verify`], and a challenge asking at least `min_difficulty` leading zero bits
/// (`proof_invalid` below it): what a server whose difficulty is now `min_difficulty` accepts.
/// A challenge stays authentic under its secret until it expires, so one issued before the
/// difficulty was raised (a secret kept across the change) would otherwise still pass at the
/// old difficulty.
///
/// ```
/// use cairn_core::handle::{verify_at_least, Challenge, PowSecret};
/// let secret = PowSecret::from_bytes(&[1; 32])?;
/// let easy = Challenge::issue(&secret, [3; 16], 0, 100)?;
/// assert_eq!(verify_at_least(&easy, 0, &secret, 100, 0)?, [3; 16]);
/// assert_eq!(verify_at_least(&easy, 0, &secret, 100, 8).unwrap_err().code().as_str(), "proof_invalid");
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn verify_at_least(
    challenge: &Challenge,
    counter: u64,
    secret: &PowSecret,
    now: UnixTime,
    min_difficulty: u8,
) -> Result<[u8; POW_NONCE_LEN]> {
    let id = verify(challenge, counter, secret, now)?;
    if challenge.difficulty < min_difficulty {
        return Err(Error::new(
            ErrorCode::ProofInvalid,
            alloc::format!(
                "the challenge asks for {} leading zero bits, and {min_difficulty} are asked for now; solve a new challenge",
                challenge.difficulty
            ),
        ));
    }
    Ok(id)
}

/// A solution as a client sends it: a challenge and a counter.
///
/// ```
/// use cairn_core::handle::{Challenge, PowSecret, Solution};
/// let c = Challenge::issue(&PowSecret::from_bytes(&[1; 32])?, [3; 16], 0, 100)?;
/// let s = Solution { challenge: c, counter: 42 };
/// let text = s.encode();
/// assert!(text.ends_with(".42"));
/// assert_eq!(Solution::decode(&text)?, s);
/// assert!(Solution::decode(&format!("{}.042", c.encode())).is_err());
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solution {
    /// The challenge solved.
    pub challenge: Challenge,
    /// The counter found.
    pub counter: u64,
}

impl Solution {
    /// `<challenge text>.<counter in decimal>`.
    pub fn encode(&self) -> String {
        alloc::format!("{}.{}", self.challenge.encode(), self.counter)
    }

    /// Reads the text form: `malformed` unless the counter is canonical decimal (no sign, no
    /// leading zero, at most `u64::MAX`).
    pub fn decode(text: &str) -> Result<Solution> {
        if text.len() > MAX_SOLUTION_TEXT_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("a solution's text is at most {MAX_SOLUTION_TEXT_LEN} characters"),
            ));
        }
        let (c, n) = text
            .split_once('.')
            .ok_or_else(|| Error::malformed("a solution is <challenge>.<counter>"))?;
        let canonical = !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n == "0" || !n.starts_with('0'));
        let counter = canonical
            .then(|| n.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                Error::malformed("a solution's counter is decimal without leading zeros")
            })?;
        Ok(Solution {
            challenge: Challenge::decode(c)?,
            counter,
        })
    }
}
