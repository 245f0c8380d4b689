//! Ledger export streams (cairn-core's `ledger::export`, what a registry's import and the
//! npm package run).
//!
//! Mode 0 (even): the first record is a whole stream. Mode 1 (odd): the records are frame
//! bodies, framed here behind the magic, so mutations land inside frames.
//!
//! Invariants: the whole-stream verifier and the frame-by-frame `ExportVerifier` agree on
//! every input (same verdict, same report); an accepted stream reports as many entries as it
//! carries Entry frames, at least one checkpoint, and verifies again the same way.
#![no_main]

use cairn_core::ledger::export::{
    verify_export, ExportExpectation, ExportVerifier, Frame, EXPORT_MAGIC, MAX_FRAME_LEN,
};
use cairn_fuzz::Input;
use libfuzzer_sys::fuzz_target;

/// The frame-by-frame verifier over the same bytes.
fn incremental(
    stream: &[u8],
) -> Result<cairn_core::ledger::export::ExportReport, cairn_core::ErrorCode> {
    let mut v = ExportVerifier::new(ExportExpectation::default());
    if stream.len() < EXPORT_MAGIC.len() {
        return Err(cairn_core::ErrorCode::Malformed);
    }
    v.magic(&stream[..EXPORT_MAGIC.len()])
        .map_err(|e| e.code())?;
    let mut rest = &stream[EXPORT_MAGIC.len()..];
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(cairn_core::ErrorCode::Malformed);
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(cairn_core::ErrorCode::TooLarge);
        }
        let body = rest
            .get(4..4 + len)
            .ok_or(cairn_core::ErrorCode::Malformed)?;
        v.frame(body).map_err(|e| e.code())?;
        rest = &rest[4 + len..];
    }
    v.finish().map_err(|e| e.code())
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let stream = if input.mode % 2 == 0 {
        match input.records.first() {
            Some(s) => s.clone(),
            None => return,
        }
    } else {
        let mut s = EXPORT_MAGIC.to_vec();
        for body in &input.records {
            s.extend_from_slice(&(body.len() as u32).to_be_bytes());
            s.extend_from_slice(body);
        }
        s
    };
    let whole = verify_export(&stream, &ExportExpectation::default());
    let frames = incremental(&stream);
    match (&whole, &frames) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the two verifiers report differently"),
        (Err(a), Err(b)) => assert_eq!(a.code(), *b, "the two verifiers refuse differently"),
        _ => panic!("one verifier accepts what the other refuses: {whole:?} / {frames:?}"),
    }
    if let Ok(report) = whole {
        assert!(report.checkpoints >= 1);
        let entries = input
            .records
            .iter()
            .filter(|r| {
                matches!(
                    cairn_core::encoding::from_postcard::<Frame>(r, MAX_FRAME_LEN, "frame"),
                    Ok(Frame::Entry(_))
                )
            })
            .count() as u64;
        if input.mode % 2 == 1 {
            assert_eq!(
                report.entries, entries,
                "entries reported vs Entry frames carried"
            );
        }
        assert_eq!(
            verify_export(&stream, &ExportExpectation::default()).ok(),
            Some(report)
        );
    }
});
