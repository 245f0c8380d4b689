//! # cairn-wasm
//!
//! WebAssembly bindings of cairn-core's offline verifiers, for Node and browsers.
//!
//! The crate has two layers, so that everything but the JavaScript glue is testable natively:
//! - [`api`]: plain Rust. Each verifier takes parsed inputs and returns a JSON view
//!   ([`serde_json::Value`], from [`cairn_core::view`]) of what it established, or a
//!   cairn-core [`Error`].
//! - `exports` and `js` (wasm32 only): the `#[wasm_bindgen]` functions. They turn JavaScript
//!   values into Rust inputs (`js`, with the rules of [`input`]), call [`api`], and turn the view into a plain JavaScript object,
//!   or the error into a thrown `Error` whose `code` is the [`ErrorCode`] string.
//!
//! Nothing here panics on input: every conversion returns an error instead, so no trap
//! (`RuntimeError: unreachable`) can reach JavaScript.
//!
//! [`Error`]: cairn_core::Error
//! [`ErrorCode`]: cairn_core::ErrorCode
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
#[cfg(feature = "handle")]
pub mod handle;
pub mod input;

// The main module (feature `verifiers`) and the second one, loaded on demand (feature
// `extras`: inspect and blux-reg); scripts/build-wasm.sh builds each with one feature.
#[cfg(all(target_arch = "wasm32", feature = "verifiers"))]
mod exports;
#[cfg(all(target_arch = "wasm32", feature = "extras"))]
mod extras;
#[cfg(all(target_arch = "wasm32", feature = "handle"))]
mod handle_exports;
#[cfg(all(target_arch = "wasm32", any(feature = "verifiers", feature = "extras")))]
mod host;
#[cfg(target_arch = "wasm32")]
#[cfg_attr(not(all(feature = "verifiers", feature = "extras")), allow(dead_code))]
mod js;
