//! blux-reg's canonical JSON: Python's
//! `json.dumps(v, sort_keys=True, separators=(",", ":"))` with its defaults
//! (`ensure_ascii=True`, `allow_nan=True`), byte for byte.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use super::json::{JsonString, Value};

/// Serialises `value` exactly as Python's
/// `json.dumps(value, sort_keys=True, separators=(",", ":"))` does.
///
/// The output is ASCII: keys sorted by code point at every level, no whitespace, non-ASCII
/// and control characters as lowercase `\uXXXX` (astral characters as surrogate pairs), the
/// short escapes `\b \t \n \f \r`, `/` unescaped, integers as exact decimal, floats as
/// Python's `repr` (`1e+20`, `1e-07`, `1000000000000000.0`, `-0.0`, `NaN`, `Infinity`).
///
/// The worked example of blux-reg's format notes:
///
/// ```
/// use cairn_core::blux::{canonical_json, parse_json};
/// let v = parse_json(r#"{"b": [1, -2, true, null], "a": {"z": "café ☕", "é": "🚀"}}"#)?;
/// let text = canonical_json(&v);
/// assert_eq!(
///     text,
///     r#"{"a":{"z":"caf\u00e9 \u2615","\u00e9":"\ud83d\ude80"},"b":[1,-2,true,null]}"#
/// );
/// let digest = cairn_core::encoding::sha256(&[text.as_bytes()]);
/// assert_eq!(
///     cairn_core::encoding::hex_encode(&digest),
///     "c8adc4f539d0de7f57edbb97e61612ed9a8a552bd4bdc58429bed2cc4350e1dc"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// Where the serialiser is inside a container. An explicit stack instead of recursion keeps
/// stack use flat however deep a caller-built value is.
enum Frame<'a> {
    Array(core::slice::Iter<'a, Value>, bool),
    Object(core::slice::Iter<'a, (JsonString, Value)>, bool),
}

fn write_value(root: &Value, out: &mut String) {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut next: Option<&Value> = Some(root);
    loop {
        if let Some(v) = next.take() {
            match v {
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Frame::Array(items.iter(), true));
                }
                Value::Object(obj) => {
                    out.push('{');
                    stack.push(Frame::Object(obj.iter(), true));
                }
                scalar => write_scalar(scalar, out),
            }
        }
        // Find the next value to write, closing finished containers.
        let Some(top) = stack.last_mut() else {
            return;
        };
        match top {
            Frame::Array(it, first) => match it.next() {
                Some(v) => {
                    if !core::mem::replace(first, false) {
                        out.push(',');
                    }
                    next = Some(v);
                }
                None => {
                    out.push(']');
                    stack.pop();
                }
            },
            Frame::Object(it, first) => match it.next() {
                Some((k, v)) => {
                    if !core::mem::replace(first, false) {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    next = Some(v);
                }
                None => {
                    out.push('}');
                    stack.pop();
                }
            },
        }
    }
}

fn write_scalar(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => out.push_str(i.as_str()),
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) => write_string(s, out),
        // Containers are handled by the caller's stack.
        Value::Array(_) | Value::Object(_) => {}
    }
}

/// Python's `json` string encoding with `ensure_ascii=True`.
pub(crate) fn write_string(s: &JsonString, out: &mut String) {
    out.push('"');
    for cp in s.code_points() {
        match cp {
            0x22 => out.push_str("\\\""),
            0x5C => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            0x0A => out.push_str("\\n"),
            0x0D => out.push_str("\\r"),
            0x09 => out.push_str("\\t"),
            0x20..=0x7E => {
                // The range check makes the cast lossless.
                out.push(char::from(cp as u8));
            }
            0x10000.. => {
                let v = cp - 0x10000;
                let _ = write!(
                    out,
                    "\\u{:04x}\\u{:04x}",
                    0xD800 + (v >> 10),
                    0xDC00 + (v & 0x3FF)
                );
            }
            _ => {
                let _ = write!(out, "\\u{cp:04x}");
            }
        }
    }
    out.push('"');
}

/// Python's `float.__repr__` as `json` uses it, with `NaN`, `Infinity`, `-Infinity` for the
/// non-finite values.
///
/// ```
/// use cairn_core::blux::python_float_repr;
/// assert_eq!(python_float_repr(1e20), "1e+20");
/// assert_eq!(python_float_repr(1e-7), "1e-07");
/// assert_eq!(python_float_repr(1e15), "1000000000000000.0");
/// assert_eq!(python_float_repr(-0.0), "-0.0");
/// assert_eq!(python_float_repr(f64::NAN), "NaN");
/// ```
pub fn python_float_repr(f: f64) -> String {
    let mut out = String::new();
    write_float(f, &mut out);
    out
}

/// The shortest decimal digits that round-trip to `x` (finite, non-negative) and the decimal
/// exponent of the first digit, choosing as Python's repr (David Gay's shortest mode) does:
/// among the shortest candidates, the one nearest to `x`, ties to even.
fn shortest_digits(x: f64) -> (String, i32) {
    // Rust's `{:e}` finds the shortest length, but on a tie between two candidates of that
    // length it may pick the other one. Formatting with exactly that many digits rounds the
    // exact binary value correctly (half to even), which is the nearest candidate.
    let shortest = alloc::format!("{x:e}");
    let n = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.bytes().filter(u8::is_ascii_digit).count());
    let exact = alloc::format!("{x:.prec$e}", prec = n.saturating_sub(1));
    let chosen = if exact.parse::<f64>().ok() == Some(x) {
        exact
    } else {
        shortest
    };
    let (mantissa, exp) = chosen.split_once('e').unwrap_or((chosen.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let (digits, exp) = shortest_digits(f.abs());
    if f.is_sign_negative() {
        out.push('-');
    }
    // Python: exponent form when the decimal point position is < -3 or > 16.
    let decpt = exp + 1;
    if !(-3..=16).contains(&decpt) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.unsigned_abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = usize::try_from(decpt).unwrap_or(0);
        if point >= digits.len() {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            let (int_part, frac) = digits.split_at(point);
            out.push_str(int_part);
            out.push('.');
            out.push_str(frac);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blux::json::parse_json;

    #[test]
    fn floats() {
        let cases: &[(f64, &str)] = &[
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (1e-7, "1e-07"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e15, "1000000000000000.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1234567890123456.7, "1234567890123456.8"),
            (9999999999999998.0, "9999999999999998.0"),
            (-1.5e-300, "-1.5e-300"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (100.0, "100.0"),
            (2.5, "2.5"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(*f), *want, "{f:e}");
        }
    }

    #[test]
    fn strings() {
        let v = parse_json(r#"["\u0000\u001f\u007f\u0080/\\\"\b\f\n\r\t", "e\u0301", "\ud800"]"#)
            .unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"["\u0000\u001f\u007f\u0080/\\\"\b\f\n\r\t","e\u0301","\ud800"]"#
        );
    }

    #[test]
    fn key_order_is_code_point_order() {
        let v = parse_json(r#"{"😀":1,"ｚ":2,"é":3,"Z":4,"a":5,"":6}"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"":6,"Z":4,"a":5,"\u00e9":3,"\uff5a":2,"\ud83d\ude00":1}"#
        );
    }

    #[test]
    fn nesting() {
        let v = parse_json(r#"{"a":[],"b":{},"c":[[1],{"x":[{}]}]}"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":[],"b":{},"c":[[1],{"x":[{}]}]}"#
        );
    }
}
