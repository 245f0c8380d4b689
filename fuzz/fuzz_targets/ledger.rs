//! cairn ledger entries and hash chains.
//!
//! Mode 0: records are entry bytes (postcard `LedgerEntry`), checked as a chain from genesis.
//! Mode 1: the first record is a signed entry envelope, verified with every log key named in
//! ledger.json (threshold `flags % 2 + 1`).
//! Mode 2: records are entry bytes that the target re-links (seq and prev_hash rewritten) so
//! the chain rules past linking are reached.
//!
//! Invariants: accepted entry bytes are canonical and re-encode identically; an accepted
//! chain's head counts the entries and names the hash and time of the last one; the same
//! entries verify alike through `verify_chain` and `verify_chain_bytes`; a chain re-linked by
//! the target verifies whenever every entry decodes and time never goes backwards; a verified
//! envelope's entry is exactly its payload.
#![no_main]

use std::sync::OnceLock;

use cairn_core::crypto::PublicKey;
use cairn_core::dsse::Envelope;
use cairn_core::ledger::{
    entry_hash, verify_chain, verify_chain_bytes, verify_entry, ChainHead, LedgerEntry, ZERO_HASH,
};
use cairn_fuzz::{all_keys, vectors, Input};
use libfuzzer_sys::fuzz_target;

fn log_keys() -> &'static [PublicKey] {
    static F: OnceLock<Vec<PublicKey>> = OnceLock::new();
    F.get_or_init(|| all_keys(vectors::LEDGER, "log_keys"))
}

fn check_chain(records: &[Vec<u8>]) -> Option<ChainHead> {
    let decoded: Vec<Option<LedgerEntry>> = records
        .iter()
        .map(|r| LedgerEntry::from_bytes(r).ok())
        .collect();
    for (r, e) in records.iter().zip(&decoded) {
        if let Some(e) = e {
            assert_eq!(&e.to_bytes(), r, "accepted entry bytes are canonical");
            assert!(e.validate().is_ok());
        }
    }
    let head = verify_chain_bytes(records.iter().map(Vec::as_slice), None);
    if let Some(entries) = decoded.into_iter().collect::<Option<Vec<_>>>() {
        let typed = verify_chain(&entries, None);
        assert_eq!(
            head.as_ref().map_err(|e| e.code()),
            typed.as_ref().map_err(|e| e.code()),
            "bytes and typed chains agree"
        );
    }
    let head = head.ok()?;
    assert_eq!(head.next_seq, records.len() as u64);
    match records.last() {
        None => assert_eq!(head.head_hash, ZERO_HASH),
        Some(last) => {
            assert_eq!(head.head_hash, entry_hash(last));
            assert_eq!(head.last_time, LedgerEntry::from_bytes(last).unwrap().time);
        }
    }
    Some(head)
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    match input.mode % 3 {
        0 => {
            check_chain(&input.records);
        }
        1 => {
            let Some(env) = input.records.first().and_then(|r| Envelope::parse(r).ok()) else {
                return;
            };
            let threshold = usize::from(input.flags % 2) + 1;
            if let Ok(entry) = verify_entry(&env, log_keys(), threshold) {
                assert_eq!(entry.to_bytes(), env.payload);
                assert_eq!(
                    verify_entry(&env, log_keys(), threshold).ok().as_ref(),
                    Some(&entry)
                );
            }
        }
        _ => {
            let Some(entries) = input
                .records
                .iter()
                .map(|r| LedgerEntry::from_bytes(r).ok())
                .collect::<Option<Vec<_>>>()
            else {
                return;
            };
            let mut prev = ZERO_HASH;
            let mut relinked = Vec::new();
            for (i, mut e) in entries.into_iter().enumerate() {
                e.seq = i as u64;
                e.prev_hash = prev;
                let bytes = e.to_bytes();
                prev = entry_hash(&bytes);
                relinked.push((e.time, bytes));
            }
            let monotonic = relinked.windows(2).all(|w| w[0].0 <= w[1].0);
            let records: Vec<Vec<u8>> = relinked.into_iter().map(|(_, b)| b).collect();
            let head = check_chain(&records);
            assert_eq!(
                head.is_some(),
                monotonic,
                "a re-linked chain verifies iff time is monotonic"
            );
        }
    }
});
