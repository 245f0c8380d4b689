//! Node specifications (`NodeSpec::from_json`), the document `cairn node register` and the
//! service's validate/register endpoints read from untrusted callers.
//!
//! Records: the spec text (only the first record is used).
//!
//! Invariants: parsing never panics; every error names a stable code and, for field-level
//! failures, a field; an accepted spec validates, its JSON form parses back to the same spec,
//! and its digest is the SHA-256 of its canonical bytes.
#![no_main]

use cairn_core::encoding::sha256;
use cairn_core::nodespec::NodeSpec;
use cairn_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let Some(text) = input.records.first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(spec) = NodeSpec::from_json(text) else {
        return;
    };
    assert!(spec.validate().is_ok(), "an accepted spec validates");
    let again = NodeSpec::from_json(&spec.to_json()).expect("a spec's own JSON parses");
    assert_eq!(again, spec, "the JSON form round-trips");
    assert_eq!(
        spec.digest(),
        sha256(&[&spec.to_bytes()]),
        "the digest is of the canonical bytes"
    );
});
