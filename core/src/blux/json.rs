//! A JSON value model and parser that read a document exactly as Python's `json.loads`
//! does, so that re-serialising it ([`super::canonical_json`]) gives the bytes blux-reg
//! hashed and signed.
//!
//! What "as Python does" means here:
//! - a duplicated key keeps its **last** value;
//! - `NaN`, `Infinity` and `-Infinity` are accepted as floats;
//! - a number with a fraction or exponent is a float (`f64`, correctly rounded, overflow to
//!   infinity); any other number is an integer kept exactly as decimal text (at most 4300
//!   digits, Python's default `int_max_str_digits`);
//! - strings may hold lone surrogates (`"\ud800"`): Python keeps them and writes them back
//!   as the same escape, so a [`JsonString`] holds code points, not only Unicode scalars;
//! - whitespace between tokens is only space, tab, LF and CR; raw control characters inside
//!   strings are refused (Python's strict mode); a leading byte-order mark is refused.
//!
//! cairn adds limits Python lacks: input length and nesting depth ([`Limits`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::error::{Error, ErrorCode, Result};

/// Python's default limit on the digits of an integer read from text (`sys.int_max_str_digits`).
pub const MAX_INT_DIGITS: usize = 4300;

/// Size limits for one JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_len: usize,
    /// Deepest accepted nesting of arrays and objects (the top-level container is depth 1).
    pub max_depth: usize,
}

impl Limits {
    /// The limits used for tokens, manifests and single ledger or revocation lines:
    /// 1 MiB and 128 levels. blux-reg files are a few kilobytes and a few levels deep.
    pub const DEFAULT: Limits = Limits {
        max_len: 1024 * 1024,
        max_depth: 128,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A string as Python holds it: a sequence of code points, lone surrogates included.
///
/// Stored as generalised UTF-8 (a lone surrogate takes the 3-byte form UTF-8 would give it;
/// a surrogate pair is always stored as the astral character it stands for). Byte order of
/// this encoding is code point order, which is the order Python sorts keys in.
///
/// ```
/// use cairn_core::blux::JsonString;
/// let s = JsonString::from("café");
/// assert_eq!(s.as_str(), Some("café"));
/// assert_eq!(s.code_points().collect::<Vec<_>>(), [0x63, 0x61, 0x66, 0xe9]);
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct JsonString(Vec<u8>);

impl JsonString {
    /// The text, or `None` if it holds a lone surrogate (which no Rust `str` can).
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.0).ok()
    }

    /// The generalised UTF-8 bytes (equal to UTF-8 when there is no lone surrogate).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The code points in order (surrogates appear only when they were lone).
    pub fn code_points(&self) -> CodePoints<'_> {
        CodePoints {
            bytes: &self.0,
            pos: 0,
        }
    }

    /// Appends one code point. A low surrogate right after a high one is joined into the
    /// astral character, as Python's decoder does for `\ud83d\ude80`.
    pub fn push(&mut self, cp: u32) {
        if (0xDC00..=0xDFFF).contains(&cp) {
            if let Some(high) = self.trailing_high_surrogate() {
                let len = self.0.len() - 3;
                self.0.truncate(len);
                let joined = 0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00);
                encode_code_point(joined, &mut self.0);
                return;
            }
        }
        encode_code_point(cp, &mut self.0);
    }

    fn trailing_high_surrogate(&self) -> Option<u32> {
        let n = self.0.len();
        // 0xED 0xA0..=0xAF xx is the generalised UTF-8 of U+D800..=U+DBFF.
        match *self.0.get(n.checked_sub(3)?..)? {
            [0xED, b1 @ 0xA0..=0xAF, b2] => {
                Some(0xD000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F))
            }
            _ => None,
        }
    }

    fn push_str(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }
}

impl From<&str> for JsonString {
    fn from(s: &str) -> Self {
        JsonString(s.as_bytes().to_vec())
    }
}

impl From<String> for JsonString {
    fn from(s: String) -> Self {
        JsonString(s.into_bytes())
    }
}

impl fmt::Debug for JsonString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => fmt::Debug::fmt(s, f),
            None => {
                f.write_str("\"")?;
                for cp in self.code_points() {
                    match char::from_u32(cp) {
                        Some(c) => write!(f, "{}", c.escape_debug())?,
                        None => write!(f, "\\u{{{cp:x}}}")?,
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

/// Iterator over the code points of a [`JsonString`].
#[derive(Debug, Clone)]
pub struct CodePoints<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Iterator for CodePoints<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let b0 = *self.bytes.get(self.pos)?;
        let (len, init) = match b0 {
            0x00..=0x7F => (1, u32::from(b0)),
            0xC0..=0xDF => (2, u32::from(b0 & 0x1F)),
            0xE0..=0xEF => (3, u32::from(b0 & 0x0F)),
            _ => (4, u32::from(b0 & 0x07)),
        };
        let mut cp = init;
        for i in 1..len {
            // A JsonString is only built from valid (generalised) UTF-8, so continuation
            // bytes are present; a missing one just ends the sequence early.
            let b = self.bytes.get(self.pos + i).copied().unwrap_or(0x80);
            cp = (cp << 6) | u32::from(b & 0x3F);
        }
        self.pos += len;
        Some(cp)
    }
}

fn encode_code_point(cp: u32, out: &mut Vec<u8>) {
    // Truncating casts are intended: each byte takes the low bits after masking.
    match cp {
        0..=0x7F => out.push(cp as u8),
        0x80..=0x7FF => {
            out.push(0xC0 | (cp >> 6) as u8);
            out.push(0x80 | (cp & 0x3F) as u8);
        }
        0x800..=0xFFFF => {
            out.push(0xE0 | (cp >> 12) as u8);
            out.push(0x80 | ((cp >> 6) & 0x3F) as u8);
            out.push(0x80 | (cp & 0x3F) as u8);
        }
        _ => {
            out.push(0xF0 | ((cp >> 18) & 0x07) as u8);
            out.push(0x80 | ((cp >> 12) & 0x3F) as u8);
            out.push(0x80 | ((cp >> 6) & 0x3F) as u8);
            out.push(0x80 | (cp & 0x3F) as u8);
        }
    }
}

/// An integer of any size, kept as normalised decimal text (`-?[1-9][0-9]*` or `0`).
///
/// ```
/// use cairn_core::blux::{parse_json, Value};
/// let v = parse_json("18446744073709551616")?;
/// assert!(matches!(&v, Value::Int(i) if i.as_str() == "18446744073709551616"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Int(String);

impl Int {
    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, if it fits an `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// Parses JSON integer text (`-?(0|[1-9][0-9]*)`), as Python's `int()` does for it.
    pub fn parse(text: &str) -> Result<Int> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed {
            return Err(Error::malformed(alloc::format!(
                "not a JSON integer: {text:?}"
            )));
        }
        if digits.len() > MAX_INT_DIGITS {
            return Err(Error::malformed(alloc::format!(
                "integer has {} digits; Python refuses more than {MAX_INT_DIGITS}",
                digits.len()
            )));
        }
        // Python's int has no negative zero.
        Ok(Int(if digits == "0" {
            String::from("0")
        } else {
            String::from(text)
        }))
    }
}

impl From<i64> for Int {
    fn from(v: i64) -> Self {
        Int(alloc::format!("{v}"))
    }
}

impl fmt::Debug for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A JSON object as Python's `dict` after `json.loads`: keys unique (the last duplicate won),
/// held sorted by code point, the order `sort_keys=True` writes them in.
#[derive(Clone, PartialEq, Default)]
pub struct Object(Vec<(JsonString, Value)>);

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Object(Vec::new())
    }

    /// Builds an object from pairs in document order: a later duplicate key replaces an
    /// earlier one, as in a Python dict.
    pub fn from_pairs(mut pairs: Vec<(JsonString, Value)>) -> Self {
        // Stable sort keeps duplicates in document order, so the last of each run wins.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(JsonString, Value)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        out.shrink_to_fit();
        Object(out)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v)
    }

    /// True if `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, replacing any previous value.
    pub fn insert(&mut self, key: impl Into<JsonString>, value: Value) {
        let key = key.into();
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self
            .0
            .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()))
            .ok()?;
        Some(self.0.remove(i).1)
    }

    /// The entries in key order.
    pub fn iter(&self) -> core::slice::Iter<'_, (JsonString, Value)> {
        self.0.iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

/// A JSON value as Python's `json.loads` produces it.
#[derive(Clone, PartialEq, Debug)]
pub enum Value {
    /// `null` (Python `None`).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer of any size.
    Int(Int),
    /// A float (from a fraction, an exponent, `NaN`, `Infinity` or `-Infinity`).
    Float(f64),
    /// A string.
    Str(JsonString),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Object),
}

impl Value {
    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The text, if this is a string without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => s.as_str(),
            _ => None,
        }
    }

    /// `obj[key]` if this is an object holding `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// Python truthiness (`bool(value)`): false for `None`, `False`, zero, `""`, `[]`, `{}`.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => i.as_str() != "0",
            // NaN is truthy in Python; only ±0.0 is false.
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.as_bytes().is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(JsonString::from(s))
    }
}

/// Parses one JSON document as Python's `json.loads` does, within [`Limits::DEFAULT`].
///
/// ```
/// use cairn_core::blux::{canonical_json, parse_json};
/// let v = parse_json(r#"{"b": 1, "a": [NaN, 1E2, -0], "b": "\u00e9"}"#)?;
/// assert_eq!(canonical_json(&v), r#"{"a":[NaN,100.0,0],"b":"\u00e9"}"#);
/// assert!(parse_json("{\"a\": 1,}").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_json(text: &str) -> Result<Value> {
    parse_json_with(text, &Limits::DEFAULT)
}

/// [`parse_json`] with explicit limits.
pub fn parse_json_with(text: &str, limits: &Limits) -> Result<Value> {
    if text.len() > limits.max_len {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!(
                "JSON text of {} bytes exceeds the limit of {}",
                text.len(),
                limits.max_len
            ),
        ));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
        max_depth: limits.max_depth,
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.err("extra data after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Error {
        Error::malformed(alloc::format!("JSON: {what} at byte {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s.get(self.pos..self.pos + lit.len()) == Some(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        match self.peek() {
            None => Err(self.err("expected a value, found the end")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => {
                if self.eat("-Infinity") {
                    Ok(Value::Float(f64::NEG_INFINITY))
                } else {
                    self.number()
                }
            }
            Some(_) => {
                if self.eat("null") {
                    Ok(Value::Null)
                } else if self.eat("true") {
                    Ok(Value::Bool(true))
                } else if self.eat("false") {
                    Ok(Value::Bool(false))
                } else if self.eat("NaN") {
                    Ok(Value::Float(f64::NAN))
                } else if self.eat("Infinity") {
                    Ok(Value::Float(f64::INFINITY))
                } else {
                    Err(self.err("expected a value"))
                }
            }
        }
    }

    fn enter(&self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!("JSON nesting deeper than {} levels", self.max_depth),
            ));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Value> {
        self.enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    items.shrink_to_fit();
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value> {
        self.enter(depth)?;
        self.pos += 1; // '{'
        let mut pairs = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Object::new()));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value(depth)?;
            pairs.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(Object::from_pairs(pairs)));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.err("invalid \\uXXXX escape")),
            };
            v = (v << 4) | u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<JsonString> {
        self.pos += 1; // opening quote
        let mut out = JsonString::default();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            if self.pos > start {
                // Splitting only at ASCII bytes keeps the slice on char boundaries.
                let chunk = self
                    .text
                    .get(start..self.pos)
                    .ok_or_else(|| self.err("string is not valid UTF-8"))?;
                out.push_str(chunk);
            }
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let e = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.pos += 1;
                    let cp = match e {
                        b'"' => 0x22,
                        b'\\' => 0x5C,
                        b'/' => 0x2F,
                        b'b' => 0x08,
                        b'f' => 0x0C,
                        b'n' => 0x0A,
                        b'r' => 0x0D,
                        b't' => 0x09,
                        b'u' => self.hex4()?,
                        _ => return Err(self.err("invalid escape")),
                    };
                    // Raw text never ends in a surrogate, so a high surrogate at the end of
                    // `out` came from the escape just before: `push` joins the pair exactly
                    // when Python's decoder does.
                    out.push(cp);
                }
                Some(_) => return Err(self.err("invalid control character in string")),
            }
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return Err(self.err("expected a value")),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.s.get(self.pos + 1), Some(b'0'..=b'9')) {
            is_float = true;
            self.pos += 1;
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            let mut q = self.pos + 1;
            if let Some(b'+' | b'-') = self.s.get(q) {
                q += 1;
            }
            if matches!(self.s.get(q), Some(b'0'..=b'9')) {
                is_float = true;
                self.pos = q;
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
        }
        let text = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.err("bad number"))?;
        if is_float {
            text.parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.err("bad float"))
        } else {
            Int::parse(text).map(Value::Int)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogates() {
        let v = parse_json(r#""\ud83d\ude80""#).unwrap();
        assert_eq!(v.as_str(), Some("🚀"));
        let v = parse_json(r#""\ud83d""#).unwrap();
        let Value::Str(s) = &v else { panic!() };
        assert_eq!(s.as_str(), None);
        assert_eq!(s.code_points().collect::<Vec<_>>(), [0xD83D]);
        let v = parse_json(r#""\ud83dx\ude80""#).unwrap();
        let Value::Str(s) = &v else { panic!() };
        assert_eq!(s.code_points().collect::<Vec<_>>(), [0xD83D, 0x78, 0xDE80]);
        let v = parse_json(r#""\ude80\ud83d""#).unwrap();
        let Value::Str(s) = &v else { panic!() };
        assert_eq!(s.code_points().collect::<Vec<_>>(), [0xDE80, 0xD83D]);
        assert!(parse_json(r#""\ud83d\u00zz""#).is_err());
    }

    #[test]
    fn duplicates_last_wins() {
        let v = parse_json(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Int(Int::parse("3").unwrap())));
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn numbers() {
        assert!(matches!(parse_json("-0").unwrap(), Value::Int(i) if i.as_str() == "0"));
        assert!(matches!(parse_json("1e400").unwrap(), Value::Float(f) if f == f64::INFINITY));
        for bad in [
            "01", "1.", ".5", "+1", "1e", "--1", "-", "0x1", "1.e5", "-NaN", "nan",
        ] {
            assert!(parse_json(bad).is_err(), "{bad}");
        }
        let big = "9".repeat(MAX_INT_DIGITS);
        assert!(parse_json(&big).is_ok());
        assert!(parse_json(&alloc::format!("-{big}9")).is_err());
    }

    #[test]
    fn limits() {
        let deep = "[".repeat(129) + &"]".repeat(129);
        assert_eq!(parse_json(&deep).unwrap_err().code(), ErrorCode::TooLarge);
        let ok = "[".repeat(128) + &"]".repeat(128);
        assert!(parse_json(&ok).is_ok());
        let small = Limits {
            max_len: 4,
            max_depth: 1,
        };
        assert_eq!(
            parse_json_with("[1, 2]", &small).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn whitespace_and_controls() {
        assert!(parse_json(" \t\r\n{}\n").is_ok());
        assert!(parse_json("\u{feff}{}").is_err());
        assert!(parse_json("\u{a0}{}").is_err());
        assert!(parse_json("\"a\tb\"").is_err());
        assert!(parse_json("\"a\u{7f}b\"").is_ok());
    }
}
