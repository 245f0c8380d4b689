//! Ed25519's equation in the module: cairn-core checks the encoding rules (A and R canonical
//! and not of small order, S < L) and then asks [`equation`], installed when the module
//! starts (in Node and in browsers), for the verdict of `R = [S]B − [k]A`. It answers in one
//! of three ways:
//!
//! 1. A key used again and again gets a [`PreparedEd25519Key`] (its precomputed multiples,
//!    about 40 KiB and two verifications' time, built at its third use among the last
//!    [`SEEN_KEYS`] keys seen) and is verified with it, about 1.7× faster than ed25519-dalek
//!    here. The module keeps [`PREPARED_KEYS`] of them, the least recently used dropped first:
//!    a verifier checks a few issuers' tokens many times. A key used once or twice (a holder,
//!    a one-off) never pays for a table.
//! 2. Otherwise, in Node, node:crypto (OpenSSL) decides: the Node entry passes the JavaScript
//!    function (`(publicKey, message, signature) => boolean`) to [`use_host_ed25519`]; it is
//!    kept inside this module instance, not in a global other code could replace. Anything
//!    but a boolean answer (an exception) falls back to ed25519-dalek.
//! 3. Otherwise (a browser, `CAIRN_VERIFY_ED25519=wasm`) ed25519-dalek decides.
//!
//! The three give the same verdicts: cairn-core's tests hold the prepared key's to
//! ed25519-dalek's `verify_strict`, node-bindings/test/backend.test.mjs node:crypto's and the
//! prepared key's to the native backend's.

use cairn_core::crypto::prepared::PreparedEd25519Key;
use core::cell::RefCell;
use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;

/// Prepared keys kept (about 40 KiB each).
const PREPARED_KEYS: usize = 8;
/// Keys not prepared whose uses are counted (a ring: the oldest forgotten first).
const SEEN_KEYS: usize = 64;
/// The use at which a key is prepared.
const PREPARE_AT_USE: u8 = 3;

/// The module's prepared keys, most recently used last, and the uses of keys not prepared.
struct PreparedKeys {
    prepared: Vec<PreparedEd25519Key>,
    /// Keys seen and how often; a new key is written at `seen[next_seen]`, the oldest slot (a
    /// slot freed when its key was prepared stays empty until then).
    seen: [Option<([u8; 32], u8)>; SEEN_KEYS],
    next_seen: usize,
}

impl Default for PreparedKeys {
    fn default() -> Self {
        PreparedKeys {
            prepared: Vec::new(),
            seen: [None; SEEN_KEYS],
            next_seen: 0,
        }
    }
}

impl PreparedKeys {
    /// The prepared key for `pk`, made now at its [`PREPARE_AT_USE`]th use; `None` before that
    /// (the use is counted) or for a key that cannot be prepared (the caller's verifier
    /// decides).
    fn prepared(&mut self, pk: &[u8; 32]) -> Option<&PreparedEd25519Key> {
        if let Some(i) = self.prepared.iter().position(|k| k.key_bytes() == pk) {
            let k = self.prepared.remove(i);
            self.prepared.push(k);
            return self.prepared.last();
        }
        let slot = self
            .seen
            .iter()
            .position(|s| s.is_some_and(|(k, _)| &k == pk));
        let Some(slot) = slot else {
            self.seen[self.next_seen] = Some((*pk, 1));
            self.next_seen = (self.next_seen + 1) % SEEN_KEYS;
            return None;
        };
        let uses = self.seen[slot].map_or(0, |(_, n)| n).saturating_add(1);
        if uses < PREPARE_AT_USE {
            self.seen[slot] = Some((*pk, uses));
            return None;
        }
        self.seen[slot] = None;
        let k = PreparedEd25519Key::new(pk).ok()?;
        if self.prepared.len() == PREPARED_KEYS {
            self.prepared.remove(0);
        }
        self.prepared.push(k);
        self.prepared.last()
    }
}

thread_local! {
    static HOST: RefCell<Option<Function>> = const { RefCell::new(None) };
    static KEYS: RefCell<PreparedKeys> = RefCell::new(PreparedKeys::default());
}

/// Installs [`equation`] when the module is instantiated.
#[wasm_bindgen(start, js_name = __cairnStart, skip_typescript)]
fn start() {
    cairn_core::crypto::host::set_host_equation(equation);
}

fn equation(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    let prepared = KEYS.with(|keys| {
        let mut keys = keys.try_borrow_mut().ok()?;
        let k = keys.prepared(pk)?;
        Some(k.verify(msg, sig).is_ok())
    });
    prepared.or_else(|| host_equation(pk, msg, sig))
}

fn host_equation(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    HOST.with(|host| {
        let host = host.try_borrow().ok()?;
        let f = host.as_ref()?;
        f.call3(
            &JsValue::NULL,
            &Uint8Array::from(&pk[..]),
            &Uint8Array::from(msg),
            &Uint8Array::from(&sig[..]),
        )
        .ok()?
        .as_bool()
    })
}

/// Hands Ed25519's equation for keys not prepared to `f` from now on (once per module
/// instance: later calls change nothing and return false).
#[wasm_bindgen(js_name = __useHostEd25519, skip_typescript)]
pub fn use_host_ed25519(f: Function) -> bool {
    HOST.with(|host| match host.try_borrow_mut() {
        Ok(mut h) if h.is_none() => {
            *h = Some(f);
            true
        }
        _ => false,
    })
}
