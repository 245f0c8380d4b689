//! Typed constraints of a capability token and the "tighter" relation delegation relies on.
//!
//! Every constraint denotes a set of allowed values: numeric ones an inclusive interval of
//! `u64`, text ones a set of strings. A constraint is *within* another when its set is a
//! subset of the other's. That single rule defines narrowing for every pair of variants, so
//! delegation can never widen what a token allows, whatever variants the two tokens use.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};

/// Longest text value (of `Exact`, `Prefix` and each `OneOf` member), in bytes.
pub const MAX_TEXT_LEN: usize = 255;
/// Most members of a `OneOf` set.
pub const MAX_ONE_OF: usize = 32;

/// The value of one named constraint. The variant order is frozen (it is the postcard
/// variant index, see docs/FORMATS.md): 0 `Max`, 1 `Min`, 2 `Range`, 3 `Exact`, 4 `OneOf`,
/// 5 `Prefix`.
///
/// ```
/// use cairn_core::token::ConstraintValue;
/// let parent = ConstraintValue::Range { min: 10, max: 100 };
/// assert!(ConstraintValue::Max(50).is_within(&ConstraintValue::Max(100)));
/// assert!(ConstraintValue::Range { min: 20, max: 30 }.is_within(&parent));
/// assert!(!ConstraintValue::Max(50).is_within(&parent)); // Max(50) also allows 0..9
/// assert!(ConstraintValue::Exact("prod/eu".into())
///     .is_within(&ConstraintValue::Prefix("prod/".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstraintValue {
    /// The value is a number `<=` this bound.
    Max(u64),
    /// The value is a number `>=` this bound.
    Min(u64),
    /// The value is a number in `min..=max` (`min <= max` is required).
    Range {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// The value is exactly this string.
    Exact(String),
    /// The value is one of these strings (at least one, at most [`MAX_ONE_OF`]).
    OneOf(BTreeSet<String>),
    /// The value is a string starting with these bytes (UTF-8 byte prefix).
    Prefix(String),
}

/// A text constraint seen as a set of strings.
enum TextSet<'a> {
    Finite(Vec<&'a str>),
    Prefix(&'a str),
}

impl ConstraintValue {
    /// Checks the value's own rules: `Range` needs `min <= max` and `OneOf` at least one
    /// member (`malformed`); texts are at most [`MAX_TEXT_LEN`] bytes and sets at most
    /// [`MAX_ONE_OF`] members (`too_large`).
    pub fn validate(&self) -> Result<()> {
        let long = || {
            Error::new(
                ErrorCode::TooLarge,
                alloc::format!("constraint text longer than {MAX_TEXT_LEN} bytes"),
            )
        };
        match self {
            ConstraintValue::Range { min, max } if min > max => Err(Error::malformed(
                alloc::format!("constraint range {min}..={max} is empty"),
            )),
            ConstraintValue::Exact(s) | ConstraintValue::Prefix(s) if s.len() > MAX_TEXT_LEN => {
                Err(long())
            }
            ConstraintValue::OneOf(set) => {
                if set.is_empty() {
                    return Err(Error::malformed("constraint one_of set is empty"));
                }
                if set.len() > MAX_ONE_OF {
                    return Err(Error::new(
                        ErrorCode::TooLarge,
                        alloc::format!("constraint one_of has more than {MAX_ONE_OF} members"),
                    ));
                }
                if set.iter().any(|s| s.len() > MAX_TEXT_LEN) {
                    return Err(long());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The allowed interval of a numeric constraint.
    fn bounds(&self) -> Option<(u64, u64)> {
        match *self {
            ConstraintValue::Max(m) => Some((0, m)),
            ConstraintValue::Min(m) => Some((m, u64::MAX)),
            ConstraintValue::Range { min, max } => Some((min, max)),
            _ => None,
        }
    }

    fn text_set(&self) -> Option<TextSet<'_>> {
        match self {
            ConstraintValue::Exact(s) => Some(TextSet::Finite(alloc::vec![s.as_str()])),
            ConstraintValue::OneOf(set) => {
                Some(TextSet::Finite(set.iter().map(String::as_str).collect()))
            }
            ConstraintValue::Prefix(p) => Some(TextSet::Prefix(p)),
            _ => None,
        }
    }

    /// True when every value this constraint allows is also allowed by `parent`: the
    /// "equal or tighter" relation delegation requires. Numeric and text constraints are never
    /// within each other.
    pub fn is_within(&self, parent: &ConstraintValue) -> bool {
        if let (Some((lo, hi)), Some((plo, phi))) = (self.bounds(), parent.bounds()) {
            return lo >= plo && hi <= phi;
        }
        let (Some(child), Some(parent)) = (self.text_set(), parent.text_set()) else {
            return false;
        };
        match (child, parent) {
            (TextSet::Finite(c), TextSet::Finite(p)) => c.iter().all(|x| p.contains(x)),
            (TextSet::Finite(c), TextSet::Prefix(p)) => c.iter().all(|x| x.starts_with(p)),
            (TextSet::Prefix(c), TextSet::Prefix(p)) => c.starts_with(p),
            // A prefix allows unboundedly many strings; no finite set contains them all.
            (TextSet::Prefix(_), TextSet::Finite(_)) => false,
        }
    }

    /// True when the number `value` satisfies this constraint (always false for text ones).
    ///
    /// ```
    /// use cairn_core::token::ConstraintValue;
    /// assert!(ConstraintValue::Max(10).allows_number(10));
    /// assert!(!ConstraintValue::Max(10).allows_number(11));
    /// assert!(!ConstraintValue::Exact("10".into()).allows_number(10));
    /// ```
    pub fn allows_number(&self, value: u64) -> bool {
        self.bounds()
            .is_some_and(|(lo, hi)| lo <= value && value <= hi)
    }

    /// True when the string `value` satisfies this constraint (always false for numeric ones).
    ///
    /// ```
    /// use cairn_core::token::ConstraintValue;
    /// assert!(ConstraintValue::Prefix("repo/".into()).allows_text("repo/a"));
    /// assert!(!ConstraintValue::Max(10).allows_text("5"));
    /// ```
    pub fn allows_text(&self, value: &str) -> bool {
        match self.text_set() {
            Some(TextSet::Finite(set)) => set.contains(&value),
            Some(TextSet::Prefix(p)) => value.starts_with(p),
            None => false,
        }
    }

    /// The JSON view used by the CLI and JavaScript: `{"max": n}`, `{"min": n}`,
    /// `{"range": [min, max]}`, `{"exact": s}`, `{"one_of": [..]}`, `{"prefix": s}`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            ConstraintValue::Max(m) => json!({ "max": m }),
            ConstraintValue::Min(m) => json!({ "min": m }),
            ConstraintValue::Range { min, max } => json!({ "range": [min, max] }),
            ConstraintValue::Exact(s) => json!({ "exact": s }),
            ConstraintValue::OneOf(set) => json!({ "one_of": set }),
            ConstraintValue::Prefix(p) => json!({ "prefix": p }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConstraintValue::*;

    fn one_of(items: &[&str]) -> ConstraintValue {
        OneOf(items.iter().map(|s| String::from(*s)).collect())
    }

    #[test]
    fn numeric_narrowing_is_interval_containment() {
        assert!(Max(5).is_within(&Max(5)));
        assert!(!Max(6).is_within(&Max(5)));
        assert!(Min(6).is_within(&Min(5)));
        assert!(!Min(4).is_within(&Min(5)));
        assert!(Range { min: 5, max: 7 }.is_within(&Min(5)));
        assert!(Range { min: 0, max: 7 }.is_within(&Max(7)));
        assert!(Max(7).is_within(&Range { min: 0, max: 9 }));
        assert!(!Min(1).is_within(&Range { min: 0, max: 9 }));
        assert!(Min(u64::MAX).is_within(&Min(3)));
    }

    #[test]
    fn text_narrowing_is_set_inclusion() {
        assert!(Exact("a".into()).is_within(&one_of(&["a", "b"])));
        assert!(!Exact("c".into()).is_within(&one_of(&["a", "b"])));
        assert!(one_of(&["a"]).is_within(&Exact("a".into())));
        assert!(!one_of(&["a", "b"]).is_within(&Exact("a".into())));
        assert!(one_of(&["ab", "ac"]).is_within(&Prefix("a".into())));
        assert!(Prefix("ab".into()).is_within(&Prefix("a".into())));
        assert!(!Prefix("a".into()).is_within(&Prefix("ab".into())));
        assert!(!Prefix("a".into()).is_within(&one_of(&["a"])));
        assert!(Prefix("".into()).is_within(&Prefix("".into())));
    }

    #[test]
    fn kinds_never_mix() {
        assert!(!Exact("5".into()).is_within(&Max(5)));
        assert!(!Max(5).is_within(&Exact("5".into())));
        assert!(!Max(5).allows_text("5"));
    }

    #[test]
    fn validation_rules() {
        assert_eq!(
            Range { min: 2, max: 1 }.validate().unwrap_err().code(),
            ErrorCode::Malformed
        );
        assert_eq!(
            one_of(&[]).validate().unwrap_err().code(),
            ErrorCode::Malformed
        );
        let long = "x".repeat(MAX_TEXT_LEN + 1);
        assert_eq!(
            Exact(long.clone()).validate().unwrap_err().code(),
            ErrorCode::TooLarge
        );
        assert_eq!(
            one_of(&[&long]).validate().unwrap_err().code(),
            ErrorCode::TooLarge
        );
        assert!(Exact("x".repeat(MAX_TEXT_LEN)).validate().is_ok());
    }
}
