//! cairn-store's integration tests, one binary: each module is one area of the registry.

mod blux;
#[cfg(unix)]
mod crash;
mod damage;
mod export;
mod export_vectors;
mod handles;
mod lifecycle;
mod migrate;
mod ops;
mod peer;
mod peer_tcp;
mod props;
mod revocation;
mod rollback;
mod rules;
mod tamper;

#[path = "../../../core/tests/support/mod.rs"]
mod support;

/// Postcard's unsigned varint (LEB128) of `n`: how the registry's records encode lengths,
/// sequence numbers and times, for tests that edit a record's bytes.
pub(crate) fn varint(n: u64) -> Vec<u8> {
    let (mut out, mut n) = (Vec::new(), n);
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// Reads the varint at the start of `bytes`: (its value, how many bytes it takes).
pub(crate) fn read_varint(bytes: &[u8]) -> (usize, usize) {
    let (mut value, mut at) = (0usize, 0usize);
    loop {
        let b = bytes[at];
        value |= usize::from(b & 0x7f) << (7 * at);
        at += 1;
        if b & 0x80 == 0 {
            return (value, at);
        }
    }
}
