//! The JavaScript surface. Each export converts its arguments with the helpers below, calls
//! [`crate::api`], and returns a plain object or throws a `CairnError` carrying the code.
//! Arguments are taken as `JsValue` so that a wrong type becomes a `malformed` error here
//! instead of a `TypeError` (or worse) in the generated glue.

use cairn_core::crypto::PublicKey;
use cairn_core::{Error, ErrorCode, Result};
use js_sys::{Array, ArrayBuffer, Date, JsString, Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api;
use crate::input::{self, KeySpec, MAX_KEYS, MAX_MESSAGE_LEN, MAX_OBJECT_LEN};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

type JsResult = core::result::Result<JsValue, JsValue>;

/// A JS `Error` with `name = "CairnError"`, `code` = the stable code, `message` = the detail.
fn to_js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(e.detail());
    err.set_name("CairnError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&err, &"code".into(), &e.code().as_str().into());
    err.into()
}

/// Runs a verifier and converts its outcome.
fn finish(result: Result<Value>) -> JsResult {
    let value = result.map_err(|e| to_js_error(&e))?;
    js_sys::JSON::parse(&value.to_string())
        .map_err(|_| to_js_error(&Error::malformed("result is not representable in JSON")))
}

fn get(obj: &JsValue, name: &str) -> Result<JsValue> {
    Reflect::get(obj, &JsValue::from_str(name))
        .map_err(|_| Error::malformed(format!("cannot read property {name}")))
}

/// Bytes from a Uint8Array, an ArrayBuffer or a string (UTF-8), at most `max` of them.
fn bytes(v: &JsValue, what: &str, max: usize) -> Result<Vec<u8>> {
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        input::check_len(a.length() as usize, max, what)?;
        return Ok(a.to_vec());
    }
    if let Some(b) = v.dyn_ref::<ArrayBuffer>() {
        input::check_len(b.byte_length() as usize, max, what)?;
        return Ok(Uint8Array::new(b).to_vec());
    }
    text(v, what, max).map(String::into_bytes)
}

/// A string, at most `max` UTF-8 bytes.
fn text(v: &JsValue, what: &str, max: usize) -> Result<String> {
    let Some(js) = v.dyn_ref::<JsString>() else {
        return Err(Error::malformed(format!(
            "{what}: expected a Uint8Array or a string, got {}",
            type_name(v)
        )));
    };
    // UTF-8 never has fewer bytes than UTF-16 units, so this bounds the copy.
    input::check_len(js.length() as usize, max, what)?;
    let s = js
        .as_string()
        .ok_or_else(|| Error::malformed(format!("{what}: not a string")))?;
    input::check_len(s.len(), max, what)?;
    Ok(s)
}

/// Binary data where text is base64: bytes are taken as is, a string is decoded.
fn binary(v: &JsValue, what: &str, max: usize) -> Result<Vec<u8>> {
    if v.is_string() {
        input::base64_arg(&text(v, what, max.saturating_mul(2))?, what)
    } else {
        bytes(v, what, max)
    }
}

fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        v.js_typeof().as_string().unwrap_or_default()
    }
}

fn is_binary(v: &JsValue) -> bool {
    v.is_instance_of::<Uint8Array>() || v.is_instance_of::<ArrayBuffer>()
}

fn key(v: &JsValue) -> Result<PublicKey> {
    let spec = if v.is_string() {
        KeySpec::Text(text(v, "key", MAX_OBJECT_LEN)?)
    } else if is_binary(v) {
        KeySpec::Der(bytes(v, "key", MAX_OBJECT_LEN)?)
    } else if v.is_object() && !Array::is_array(v) {
        let mut alg = get(v, "algorithm")?;
        if alg.is_undefined() {
            alg = get(v, "alg")?;
        }
        let mut raw = get(v, "publicKey")?;
        for other in ["public_key", "key"] {
            if raw.is_undefined() {
                raw = get(v, other)?;
            }
        }
        KeySpec::Raw {
            alg: text(&alg, "key algorithm", 64)?,
            key: binary(&raw, "public key", MAX_OBJECT_LEN)?,
        }
    } else {
        return Err(Error::malformed(format!(
            "key: expected PEM text, DER bytes or {{algorithm, publicKey}}, got {}",
            type_name(v)
        )));
    };
    input::parse_key(spec)
}

fn keys(v: &JsValue) -> Result<Vec<PublicKey>> {
    let Some(list) = v.dyn_ref::<Array>() else {
        return Ok(vec![key(v)?]);
    };
    input::check_len(list.length() as usize, MAX_KEYS, "key list (entries)")?;
    list.iter()
        .enumerate()
        .map(|(i, k)| key(&k).map_err(|e| e.context(&format!("key {i}"))))
        .collect()
}

fn integer(v: &JsValue, what: &str) -> Result<u64> {
    if let Some(x) = v.as_f64() {
        return input::integer_from_f64(x, what);
    }
    if v.is_bigint() {
        return u64::try_from(v.clone())
            .map_err(|_| Error::malformed(format!("{what} must fit in an unsigned 64-bit integer")));
    }
    if v.is_string() {
        return input::integer_from_text(&text(v, what, 32)?, what);
    }
    Err(Error::malformed(format!(
        "{what}: expected a number, got {}",
        type_name(v)
    )))
}

fn optional_integer(v: &JsValue, what: &str, default: u64) -> Result<u64> {
    if v.is_undefined() || v.is_null() {
        Ok(default)
    } else {
        integer(v, what)
    }
}

/// `now`: Unix seconds, a Date, or (absent) the host clock.
#[allow(dead_code)] // used by the time-checking verifiers
fn now(v: &JsValue) -> Result<u64> {
    if v.is_undefined() || v.is_null() {
        return input::time_from_millis(Date::now());
    }
    if let Some(d) = v.dyn_ref::<Date>() {
        return input::time_from_millis(d.get_time());
    }
    integer(v, "now")
}

fn usize_of(x: u64, what: &str) -> Result<usize> {
    usize::try_from(x).map_err(|_| Error::new(ErrorCode::TooLarge, format!("{what} is too large")))
}

/// Verifies one raw signature by `publicKey` over `message`. `context` is the FIPS 204
/// context string (ML-DSA only; cairn puts the payload type there), empty when absent.
#[wasm_bindgen(js_name = verifySignature, unchecked_return_type = "SignatureVerification")]
pub fn verify_signature(
    #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "KeyInput")] public_key: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] message: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] signature: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BytesInput | undefined")] context: JsValue,
) -> JsResult {
    finish((|| {
        let key = key(&public_key)?;
        let message = bytes(&message, "message", MAX_MESSAGE_LEN)?;
        let signature = binary(&signature, "signature", MAX_OBJECT_LEN)?;
        let context = if context.is_undefined() || context.is_null() {
            Vec::new()
        } else {
            bytes(&context, "context", 255)?
        };
        api::verify_signature(&key, &message, &signature, &context)
    })())
}

/// Verifies a DSSE envelope (JSON text or compact bytes) of `payloadType`, signed by at least
/// `threshold` (default 1) distinct keys of `keys`.
#[wasm_bindgen(js_name = verifyEnvelope, unchecked_return_type = "EnvelopeVerification")]
pub fn verify_envelope(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] envelope: JsValue,
    #[wasm_bindgen(js_name = payloadType, unchecked_param_type = "string")] payload_type: JsValue,
    #[wasm_bindgen(unchecked_param_type = "KeysInput")] keys: JsValue,
    #[wasm_bindgen(unchecked_param_type = "IntegerInput | undefined")] threshold: JsValue,
) -> JsResult {
    finish((|| {
        let env = bytes(&envelope, "envelope", MAX_OBJECT_LEN)?;
        let payload_type = text(&payload_type, "payloadType", 255)?;
        let keys = self::keys(&keys)?;
        let threshold = usize_of(optional_integer(&threshold, "threshold", 1)?, "threshold")?;
        api::verify_envelope(&env, &payload_type, &keys, threshold)
    })())
}

/// Decodes any cairn object this build knows into a plain view tagged by `kind`, verifying
/// nothing.
#[wasm_bindgen(unchecked_return_type = "InspectView")]
pub fn inspect(#[wasm_bindgen(unchecked_param_type = "BytesInput")] object: JsValue) -> JsResult {
    finish(bytes(&object, "object", MAX_OBJECT_LEN).and_then(|b| api::inspect(&b)))
}

/// Every error code, in declaration order.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "ErrorCode[]")]
pub fn error_codes() -> JsValue {
    ErrorCode::ALL
        .iter()
        .map(|c| JsValue::from_str(c.as_str()))
        .collect::<Array>()
        .into()
}

/// Streaming SHA-256 of an artifact, for artifacts too large to hold in memory at once.
#[wasm_bindgen(js_name = ArtifactHasher)]
pub struct ArtifactHasher {
    inner: api::StreamHasher,
    buf: Vec<u8>,
}

/// Bytes copied into wasm memory at a time, so any chunk size hashes in bounded memory.
const COPY_LEN: u32 = 64 * 1024;

#[wasm_bindgen(js_class = ArtifactHasher)]
impl ArtifactHasher {
    /// A hasher that has seen nothing.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> ArtifactHasher {
        ArtifactHasher {
            inner: api::StreamHasher::new(),
            buf: Vec::new(),
        }
    }

    /// Feeds the next chunk (Uint8Array, ArrayBuffer, or a string as UTF-8).
    pub fn update(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "BytesInput")] chunk: JsValue,
    ) -> core::result::Result<(), JsValue> {
        let array = if let Some(a) = chunk.dyn_ref::<Uint8Array>() {
            a.clone()
        } else if let Some(b) = chunk.dyn_ref::<ArrayBuffer>() {
            Uint8Array::new(b)
        } else {
            let t = text(&chunk, "chunk", MAX_MESSAGE_LEN).map_err(|e| to_js_error(&e))?;
            self.inner.update(t.as_bytes());
            return Ok(());
        };
        let len = array.length();
        let mut at = 0u32;
        while at < len {
            let end = len.min(at.saturating_add(COPY_LEN));
            let n = (end - at) as usize;
            self.buf.resize(n, 0);
            array.subarray(at, end).copy_to(&mut self.buf[..n]);
            self.inner.update(&self.buf[..n]);
            at = end;
        }
        Ok(())
    }

    /// `{algorithm: "sha256", digest (hex), size}` of everything fed so far.
    #[wasm_bindgen(unchecked_return_type = "ArtifactDigest")]
    pub fn digest(&self) -> JsResult {
        finish(Ok(self.inner.view()))
    }

    /// Bytes fed so far.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> f64 {
        self.inner.size() as f64
    }
}
