//! Ed25519 through the host in Node: cairn-core checks the encoding rules (A and R canonical
//! and not of small order, S < L) and hands the equation to node:crypto (OpenSSL), which is
//! faster than ed25519-dalek compiled to wasm. The Node entry passes the JavaScript function
//! (`(publicKey, message, signature) => boolean`) to [`use_host_ed25519`]; it is kept inside
//! this module instance, not in a global other code could replace. Browsers never call it.
//! Anything but a boolean answer (an exception) falls back to ed25519-dalek.

use core::cell::RefCell;
use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;

thread_local! {
    static HOST: RefCell<Option<Function>> = const { RefCell::new(None) };
}

fn equation(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
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

/// Hands Ed25519's equation to `f` from now on (once per module instance: later calls change
/// nothing and return false).
#[wasm_bindgen(js_name = __useHostEd25519, skip_typescript)]
pub fn use_host_ed25519(f: Function) -> bool {
    let first = HOST.with(|host| match host.try_borrow_mut() {
        Ok(mut h) if h.is_none() => {
            *h = Some(f);
            true
        }
        _ => false,
    });
    first && cairn_core::crypto::host::set_host_equation(equation)
}
