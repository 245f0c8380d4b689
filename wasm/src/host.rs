//! Ed25519's equation in the module: cairn-core checks the encoding rules (A and R canonical
//! and not of small order, S < L) and then asks [`equation`], installed when the module
//! starts (in Node and in browsers), for the verdict of `R = [S]B − [k]A`. It answers in one
//! of three ways:
//!
//! 1. A key used again and again gets a `PreparedEd25519Key` (its precomputed multiples,
//!    about 40 KiB and two verifications' time) when cairn-core's [`PreparedKeys`] says so
//!    (at its third use among the last 64 keys seen; eight kept, the least recently used
//!    dropped first) and is verified with it, about 1.7× faster than ed25519-dalek here: a
//!    verifier checks a few issuers' tokens many times. A key used once or twice (a holder, a
//!    one-off) never pays for a table.
//! 2. Otherwise, in Node, node:crypto (OpenSSL) decides: the Node entry passes the JavaScript
//!    function (`(publicKey, message, signature) => boolean`) to [`use_host_ed25519`]; it is
//!    kept inside this module instance, not in a global other code could replace. Anything
//!    but a boolean answer (an exception) falls back to ed25519-dalek.
//! 3. Otherwise (a browser, `CAIRN_VERIFY_ED25519=wasm`) ed25519-dalek decides.
//!
//! The three give the same verdicts: cairn-core's tests hold the prepared key's to
//! ed25519-dalek's `verify_strict`, node-bindings/test/backend.test.mjs node:crypto's and the
//! prepared key's to the native backend's.

use cairn_core::crypto::prepared::PreparedKeys;
use core::cell::RefCell;
use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;

thread_local! {
    static HOST: RefCell<Option<Function>> = const { RefCell::new(None) };
    static KEYS: RefCell<PreparedKeys> = const { RefCell::new(PreparedKeys::new()) };
}

/// Installs [`equation`] when the module is instantiated.
#[wasm_bindgen(start, js_name = __cairnStart, skip_typescript)]
fn start() {
    cairn_core::crypto::host::set_host_equation(equation);
}

fn equation(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    let prepared = KEYS.with(|keys| keys.try_borrow_mut().ok()?.prepared(pk));
    let prepared = prepared.map(|k| k.verify(msg, sig).is_ok());
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
