//! A reader for the two JSON shapes the verifiers take as text: the DSSE JSON envelope
//! (`{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}`) and a public key
//! (`{"alg", "key"}`). It accepts exactly what `serde_json::from_str` accepted for those
//! structs with `#[derive(Deserialize)]` (serde_json 1.0): the object form or the array form
//! (fields in order), each field once, unknown members skipped but checked to be valid JSON,
//! strings with JSON's escapes (surrogates paired), only JSON's four whitespace characters,
//! nothing after the value. Without serde_json's deserializer the browser module is about
//! 15 KB of gzip smaller. core/tests/json_compat.rs compares the two over tables and random
//! mutations.

use alloc::string::String;
use alloc::vec::Vec;

/// A position in JSON text. Every method returns `None` on text serde_json refuses.
pub(crate) struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Json<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Json {
            s: text.as_bytes(),
            i: 0,
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.s.get(self.i) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(b);
            }
            self.i += 1;
        }
        None
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = *self.s.get(self.i)?;
        self.i += 1;
        Some(b)
    }

    /// Consumes `b` (after whitespace).
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    /// The end of the text: only whitespace left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// The byte offset reached (where the text went wrong, after a `None`).
    pub(crate) fn offset(&self) -> usize {
        self.i
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.s.get(self.i..self.i + 4)?;
        self.i += 4;
        let mut n = 0u16;
        for &d in digits {
            n = n << 4 | u16::from((d as char).to_digit(16)? as u8);
        }
        Some(n)
    }

    /// A string value (after whitespace), decoded: escapes resolved, surrogates paired, no
    /// control characters.
    pub(crate) fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.next_byte()? {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let c = match self.next_byte()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\x08',
                        b'f' => '\x0c',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let n = self.hex4()?;
                            let c = match n {
                                0xD800..=0xDBFF => {
                                    if self.next_byte()? != b'\\' || self.next_byte()? != b'u' {
                                        return None;
                                    }
                                    let lo = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&lo) {
                                        return None;
                                    }
                                    0x1_0000
                                        + ((u32::from(n) - 0xD800) << 10)
                                        + (u32::from(lo) - 0xDC00)
                                }
                                0xDC00..=0xDFFF => return None,
                                _ => u32::from(n),
                            };
                            char::from_u32(c)?
                        }
                        _ => return None,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1F => return None,
                b => out.push(b),
            }
        }
    }

    /// Skips a string whose opening quote is consumed (serde_json's `ignore_str`: escapes
    /// checked for form only, lone surrogates allowed).
    fn skip_string(&mut self) -> Option<()> {
        loop {
            match self.next_byte()? {
                b'"' => return Some(()),
                b'\\' => match self.next_byte()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        self.hex4()?;
                    }
                    _ => return None,
                },
                0..=0x1F => return None,
                _ => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// Skips a number whose first byte (a digit, or the `-` consumed) is next.
    fn skip_number(&mut self) -> Option<()> {
        match self.next_byte()? {
            b'0' => {
                if matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Skips any JSON value (iteratively: no depth limit, as serde_json's `ignore_value`).
    pub(crate) fn skip_value(&mut self) -> Option<()> {
        // The open arrays and objects, innermost last.
        let mut open: Vec<u8> = Vec::new();
        loop {
            // A value.
            match self.peek()? {
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' => {
                    self.i += 1;
                    self.skip_number()?;
                }
                b'0'..=b'9' => self.skip_number()?,
                b'"' => {
                    self.i += 1;
                    self.skip_string()?;
                }
                b @ (b'[' | b'{') => {
                    self.i += 1;
                    let close = if b == b'[' { b']' } else { b'}' };
                    if self.peek()? == close {
                        self.i += 1;
                    } else {
                        open.push(b);
                        if b == b'{' {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // After a value: a comma and the next one, or the ends of what it closes.
            loop {
                let Some(&frame) = open.last() else {
                    return Some(());
                };
                match (self.peek()?, frame) {
                    (b',', _) => {
                        self.i += 1;
                        if frame == b'{' {
                            self.member_key()?;
                        }
                        break;
                    }
                    (b']', b'[') | (b'}', b'{') => {
                        self.i += 1;
                        open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A skipped member name and its colon.
    fn member_key(&mut self) -> Option<()> {
        self.eat(b'"')?;
        self.skip_string()?;
        self.eat(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.s.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A struct of the named fields, as serde's derive reads it from serde_json: an object
    /// with each field exactly once (other members skipped), or an array of the fields in
    /// order. `field(json, index)` reads the value of field `index`.
    pub(crate) fn record(
        &mut self,
        names: &[&str],
        mut field: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        match self.peek()? {
            b'[' => {
                self.i += 1;
                for k in 0..names.len() {
                    if k > 0 {
                        self.eat(b',')?;
                    }
                    if self.peek()? == b']' {
                        return None;
                    }
                    field(self, k)?;
                }
                self.eat(b']')
            }
            b'{' => {
                self.i += 1;
                let mut seen = 0u32;
                let mut first = true;
                loop {
                    // serde_json's `has_next_key`: the end, a comma after a member, or the
                    // first member's name (a trailing comma is refused by `string`).
                    match self.peek()? {
                        b'}' => {
                            self.i += 1;
                            break;
                        }
                        b',' if !first => self.i += 1,
                        _ if first => {}
                        _ => return None,
                    }
                    first = false;
                    let name = self.string()?;
                    self.eat(b':')?;
                    match names.iter().position(|n| *n == name) {
                        Some(k) => {
                            if seen & (1 << k) != 0 {
                                return None;
                            }
                            seen |= 1 << k;
                            field(self, k)?;
                        }
                        None => self.skip_value()?,
                    }
                }
                (seen == (1u32 << names.len()) - 1).then_some(())
            }
            _ => None,
        }
    }

    /// A list (array) of values read by `item`.
    pub(crate) fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(out);
        }
        loop {
            out.push(item(self)?);
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    if self.peek()? == b']' {
                        return None;
                    }
                }
                b']' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }
}
