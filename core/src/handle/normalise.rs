//! Handle normalisation: the one rule that decides which strings name the same handle and
//! which strings are refused (docs/FORMATS.md section 19.1).
//!
//! The rule, in order:
//!
//! 1. the input is at most [`MAX_HANDLE_INPUT_LEN`] bytes of UTF-8 (`too_large` otherwise);
//! 2. leading and trailing Unicode `White_Space` is trimmed;
//! 3. any control character (general category Cc), bidirectional formatting character or
//!    invisible character ([`is_refused_char`]) anywhere in what remains refuses the input
//!    (`malformed`): such characters make two handles look alike, or reorder what a person sees;
//! 4. Unicode NFKC (compatibility composition), which maps fullwidth forms, ligatures,
//!    superscripts, the long s and the Kelvin sign to their plain letters;
//! 5. lowercase by `char::to_lowercase` (Unicode's default, locale-independent full lowercase
//!    mapping: no Turkish or Lithuanian tailoring);
//! 6. every character must then be in the handle alphabet `a-z 0-9 . _ -` (`malformed`
//!    otherwise: accented letters, dotless i, other scripts);
//! 7. the result is [`MIN_HANDLE_LEN`] to [`MAX_HANDLE_LEN`] characters (`malformed` when
//!    shorter, `too_large` when longer), starts and ends with a letter or digit and has no two
//!    separators (`.`, `_`, `-`) in a row (`malformed`).
//!
//! Why lowercase and not Unicode full case folding: the result must be ASCII, and the only
//! characters whose full case folding (CaseFolding.txt, statuses C and F) differs from their
//! lowercase mapping *and* is ASCII are `ß` (U+00DF) and `ẞ` (U+1E9E), which fold to `ss`. Both
//! are refused here instead (a registrant writes `ss`); every other character gives the same
//! verdict under either mapping. No crate that is `no_std` and maintained offers full case
//! folding, and none is needed for this alphabet.
//!
//! Because the alphabet is ASCII, the rule closes the usual confusable tricks: look-alike
//! letters of other scripts (Cyrillic `а`), combining marks (`e` + U+0301), the dotless and
//! dotted Turkish i (`ı`, `İ`, which lowercases to `i` + U+0307) and invisible characters are
//! refused; compatibility forms (`ＡＬＩＣＥ`, `ﬁ`, `ſ`, `K`) become the handle they imitate.
//! Normalising a normalised handle gives it back unchanged.

use alloc::string::String;
use core::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, ErrorCode, Result};

/// Largest raw input accepted, in bytes, before anything else is done.
pub const MAX_HANDLE_INPUT_LEN: usize = 256;
/// Shortest normalised handle, in characters (= bytes: the alphabet is ASCII).
pub const MIN_HANDLE_LEN: usize = 3;
/// Longest normalised handle, in characters (= bytes).
pub const MAX_HANDLE_LEN: usize = 32;

/// A normalised handle: the output of [`normalise`], and the only thing a blind index is
/// computed over. It can only be made by [`normalise`], so holding one means the rule was
/// applied.
///
/// ```
/// use cairn_core::handle::normalise;
/// let h = normalise("  Alice.B ")?;
/// assert_eq!(h.as_str(), "alice.b");
/// assert_eq!(h.to_string(), "alice.b");
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(String);

impl Handle {
    /// The normalised handle (ASCII: `a-z 0-9 . _ -`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised handle's bytes (what the blind index hashes).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({:?})", self.0)
    }
}

/// True for the characters step 3 of the rule refuses before normalising: controls (Cc),
/// the bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069) and invisible ones: soft hyphen U+00AD, combining grapheme joiner U+034F,
/// Hangul fillers U+115F, U+1160, U+3164, U+FFA0, Khmer vowels U+17B4, U+17B5, Mongolian
/// selectors and vowel separator U+180B–U+180F, zero-width space, non-joiner and joiner
/// U+200B–U+200D, word joiner and invisible operators U+2060–U+2064, variation selectors
/// U+FE00–U+FE0F and U+E0100–U+E01EF, the byte order mark U+FEFF, shorthand format controls
/// U+1BCA0–U+1BCA3 and tags U+E0000–U+E007F.
///
/// ```
/// use cairn_core::handle::is_refused_char;
/// assert!(is_refused_char('\u{200B}'));
/// assert!(is_refused_char('\u{202E}'));
/// assert!(!is_refused_char('a'));
/// ```
pub fn is_refused_char(c: char) -> bool {
    c.is_control() || refused_kind(c).is_some()
}

fn refused_kind(c: char) -> Option<&'static str> {
    match c {
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some("a bidirectional formatting character"),
        '\u{00AD}'
        | '\u{034F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{E0000}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}' => Some("an invisible character"),
        _ if c.is_control() => Some("a control character"),
        _ => None,
    }
}

fn is_separator(c: char) -> bool {
    matches!(c, '.' | '_' | '-')
}

fn refuse(detail: String) -> Error {
    Error::malformed(detail).in_field("handle")
}

/// Applies the normalisation rule (see the module documentation) to what a person typed.
///
/// Errors (field `handle`): `too_large` for an input over [`MAX_HANDLE_INPUT_LEN`] bytes or a
/// result over [`MAX_HANDLE_LEN`] characters; `malformed` for everything else the rule refuses.
///
/// ```
/// use cairn_core::handle::normalise;
/// assert_eq!(normalise("ＡＬＩＣＥ")?.as_str(), "alice"); // fullwidth
/// assert_eq!(normalise("ﬁsh")?.as_str(), "fish"); // ligature
/// let err = normalise("al\u{200B}ice").unwrap_err(); // zero-width space
/// assert_eq!(err.code().as_str(), "malformed");
/// assert!(normalise("ıstanbul").is_err()); // dotless i is not in the alphabet
/// # Ok::<(), cairn_core::Error>(())
/// ```
pub fn normalise(input: &str) -> Result<Handle> {
    if input.len() > MAX_HANDLE_INPUT_LEN {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!(
                "the handle is {} bytes, the limit is {MAX_HANDLE_INPUT_LEN}",
                input.len()
            ),
        )
        .in_field("handle"));
    }
    let trimmed = input.trim();
    if let Some((c, kind)) = trimmed
        .chars()
        .find_map(|c| refused_kind(c).map(|k| (c, k)))
    {
        return Err(refuse(alloc::format!(
            "U+{:04X} is {kind}, which handles may not contain",
            c as u32
        )));
    }
    let mut out = String::with_capacity(trimmed.len());
    for c in trimmed.nfkc().flat_map(char::to_lowercase) {
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || is_separator(c)) {
            return Err(refuse(alloc::format!(
                "U+{:04X} ({c}) is outside the handle alphabet a-z 0-9 . _ - (after NFKC and lowercasing)",
                c as u32
            )));
        }
        if out.len() == MAX_HANDLE_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("the normalised handle is over {MAX_HANDLE_LEN} characters"),
            )
            .in_field("handle"));
        }
        if is_separator(c) && out.chars().next_back().is_some_and(is_separator) {
            return Err(refuse("two separators (. _ -) in a row".into()));
        }
        out.push(c);
    }
    if out.len() < MIN_HANDLE_LEN {
        return Err(refuse(alloc::format!(
            "the normalised handle {out:?} is shorter than {MIN_HANDLE_LEN} characters"
        )));
    }
    let first_last = [out.chars().next(), out.chars().next_back()];
    if first_last.iter().flatten().any(|&c| is_separator(c)) {
        return Err(refuse(
            "a handle starts and ends with a letter or a digit".into(),
        ));
    }
    Ok(Handle(out))
}
