//! Ed25519 through the host in Node: cairn-core checks the encoding rules (A and R canonical
//! and not of small order, S < L) and hands the equation to node:crypto (OpenSSL), which is
//! faster than ed25519-dalek compiled to wasm. The Node entry installs the JavaScript side,
//! `globalThis[Symbol.for("cairn-verify.ed25519")](publicKey, message, signature)`, and calls
//! [`use_host_ed25519`]; browsers never do. Anything but a boolean answer (no such function,
//! an exception) falls back to ed25519-dalek.

use js_sys::{Function, Reflect, Symbol, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn equation(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    let f = Reflect::get(&js_sys::global(), &Symbol::for_("cairn-verify.ed25519")).ok()?;
    let f = f.dyn_ref::<Function>()?;
    let answer = f
        .call3(
            &JsValue::NULL,
            &Uint8Array::from(&pk[..]),
            &Uint8Array::from(msg),
            &Uint8Array::from(&sig[..]),
        )
        .ok()?;
    answer.as_bool()
}

/// Hands Ed25519's equation to the host from now on (once per module instance); false when
/// it was already.
#[wasm_bindgen(js_name = __useHostEd25519, skip_typescript)]
pub fn use_host_ed25519() -> bool {
    cairn_core::crypto::host::set_host_equation(equation)
}
