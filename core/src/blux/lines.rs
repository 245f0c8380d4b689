//! Reading JSON Lines files the way blux-reg does: a text-mode Python file iterated line by
//! line (universal newlines: `\n`, `\r\n` and a lone `\r` all end a line), lines that are
//! blank after `str.strip()` skipped, every other line given whole to `json.loads`.

use super::json::{parse_json_with, Limits, Value};
use crate::error::{Error, ErrorCode, Result};

/// One non-blank line of a JSON Lines file.
pub(crate) struct Line<'a> {
    /// 1-based physical line number.
    pub number: usize,
    /// The line's text without its line ending.
    pub text: &'a str,
}

impl Line<'_> {
    /// Parses the line as one JSON document within `limits`; errors name the line.
    pub fn parse(&self, limits: &Limits) -> Result<Value> {
        parse_json_with(self.text, limits)
            .map_err(|e| e.context(&alloc::format!("line {}", self.number)))
    }
}

/// Non-blank lines of `text`, numbered as Python's text-mode iteration counts them.
pub(crate) fn non_blank_lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut rest = text;
    let mut number = 0usize;
    core::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = rest.get(..end).unwrap_or("");
        let after = rest.get(end..).unwrap_or("");
        rest = if let Some(r) = after.strip_prefix("\r\n") {
            r
        } else {
            after.get(1..).unwrap_or("")
        };
        if !line.chars().all(is_python_space) {
            return Some(Line { number, text: line });
        }
    })
}

/// Checks a whole file's size before any line is read.
pub(crate) fn check_len(text: &str, max: usize, what: &str) -> Result<()> {
    if text.len() > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            alloc::format!("{what} of {} bytes exceeds the limit of {max}", text.len()),
        ));
    }
    Ok(())
}

/// Python's `str.isspace()`: Unicode White_Space plus the information separators
/// U+001C..U+001F, which Python also counts as space.
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn universal_newlines() {
        let got: Vec<(usize, &str)> = non_blank_lines("a\r\nb\rc\n\n \u{3000}\u{1f}\nd")
            .map(|l| (l.number, l.text))
            .collect();
        assert_eq!(got, [(1, "a"), (2, "b"), (3, "c"), (6, "d")]);
        assert_eq!(non_blank_lines("").count(), 0);
        assert_eq!(non_blank_lines("\n\r\n").count(), 0);
    }
}
