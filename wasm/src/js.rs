//! Reading JavaScript arguments. Every reader returns a cairn-core error (`malformed`,
//! `too_large`, ...) for a value of the wrong type or size, never a panic or a JS exception.

use cairn_core::checkpoint::{CheckpointPolicy, CheckpointVerifier};
use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::encoding::Digest;
use cairn_core::ledger::ChainHead;
use cairn_core::{Error, ErrorCode, Result, UnixTime};
use js_sys::{Array, ArrayBuffer, Date, JsString, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{Artifact, StreamHasher};
use crate::input::{self, KeySpec, MAX_KEYS, MAX_OBJECT_LEN};

/// Most bytes all the objects of one list may add up to.
pub const MAX_LIST_BYTES: usize = 64 << 20;

/// A JS `Error` with `name = "CairnError"`, `code` = the stable code, `class` = `"invalid"`
/// or `"error"` (cairn-core's `view::error_class`), `message` = the detail.
pub fn to_js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(e.detail());
    err.set_name("CairnError");
    // Setting a property on a fresh Error object does not fail.
    let _ = Reflect::set(&err, &"code".into(), &e.code().as_str().into());
    let class = cairn_core::view::error_class(e.code());
    let _ = Reflect::set(&err, &"class".into(), &class.into());
    err.into()
}

/// Converts a verifier's outcome: a plain object, or a thrown `CairnError`.
///
/// The view crosses into JavaScript as JSON text and `JSON.parse` builds the object: one
/// crossing. Building it member by member from wasm (`Reflect.set`, a string conversion per
/// key and value) was measured slower, about 0.6 µs per string, so a token's view cost some
/// 30 µs more, for 1.3 KB less module.
pub fn finish<T: serde::Serialize>(result: Result<T>) -> core::result::Result<JsValue, JsValue> {
    let value = result.map_err(|e| to_js_error(&e))?;
    // Written straight into a byte buffer rather than through `Value`'s `Display` (the
    // formatting machinery): as fast, and about 600 bytes of gzip less module.
    let unrepresentable = || to_js_error(&Error::malformed("result is not representable in JSON"));
    let text = serde_json::to_string(&value).map_err(|_| unrepresentable())?;
    js_sys::JSON::parse(&text).map_err(|_| unrepresentable())
}

pub fn is_absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

pub fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        v.js_typeof().as_string().unwrap_or_default()
    }
}

fn expected(what: &str, shape: &str, v: &JsValue) -> Error {
    Error::malformed(format!("{what}: expected {shape}, got {}", type_name(v)))
}

/// Property `name` of an options object; `undefined` when `obj` itself is absent.
pub fn prop(obj: &JsValue, name: &str) -> Result<JsValue> {
    if is_absent(obj) {
        return Ok(JsValue::UNDEFINED);
    }
    if !obj.is_object() || Array::is_array(obj) {
        return Err(expected("options", "an object", obj));
    }
    Reflect::get(obj, &JsValue::from_str(name))
        .map_err(|_| Error::malformed(format!("cannot read property {name}")))
}

/// The first present one of several property names (aliases).
pub fn prop_any(obj: &JsValue, names: &[&str]) -> Result<JsValue> {
    for n in names {
        let v = prop(obj, n)?;
        if !v.is_undefined() {
            return Ok(v);
        }
    }
    Ok(JsValue::UNDEFINED)
}

pub fn is_binary(v: &JsValue) -> bool {
    v.is_instance_of::<Uint8Array>() || v.is_instance_of::<ArrayBuffer>()
}

/// What a binary argument is checked with, taken from the built-ins when this module loads:
/// `Uint8Array.prototype`, the global `Uint8Array` constructor, and the built-in getters of a
/// typed array's `length` and an ArrayBuffer's `byteLength` (called on an object, they read its
/// internal slots, and throw for anything that has none, a Proxy included).
struct Intrinsics {
    proto: JsValue,
    ctor: js_sys::Function,
    length: js_sys::Function,
    buffer: js_sys::Function,
    byte_offset: js_sys::Function,
    byte_length: js_sys::Function,
}

impl Intrinsics {
    fn load() -> Option<Intrinsics> {
        let getter = |on: &JsValue, name: &str| -> Option<js_sys::Function> {
            let desc =
                Reflect::get_own_property_descriptor(on.dyn_ref::<js_sys::Object>()?, &name.into())
                    .ok()?;
            Reflect::get(&desc, &"get".into()).ok()?.dyn_into().ok()
        };
        let ctor: js_sys::Function = Reflect::get(&js_sys::global(), &"Uint8Array".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let proto = Reflect::get(&ctor, &"prototype".into()).ok()?;
        let typed_array_proto = JsValue::from(Reflect::get_prototype_of(&proto).ok()?);
        let array_buffer_proto = Reflect::get(
            &Reflect::get(&js_sys::global(), &"ArrayBuffer".into()).ok()?,
            &"prototype".into(),
        )
        .ok()?;
        Some(Intrinsics {
            length: getter(&typed_array_proto, "length")?,
            buffer: getter(&typed_array_proto, "buffer")?,
            byte_offset: getter(&typed_array_proto, "byteOffset")?,
            byte_length: getter(&array_buffer_proto, "byteLength")?,
            proto,
            ctor,
        })
    }
}

thread_local! {
    static INTRINSICS: Option<Intrinsics> = Intrinsics::load();
}

/// A Uint8Array whose `length` is its real length, for a binary argument (a Uint8Array or an
/// ArrayBuffer; `None` for anything else). The argument's internal length is read with the
/// built-in getter, which refuses a Proxy or another object posing as one (`malformed`); a
/// plain Uint8Array (its prototype `Uint8Array.prototype`, no `length` of its own) is used as
/// it is; an ArrayBuffer through a fresh view; any other Uint8Array (a subclass such as Node's
/// Buffer, or one whose `length` was redefined) through a fresh view of the same bytes, made
/// from its internal buffer, offset and length (no copy). js-sys sizes its copies by the
/// `length` property and traps when it lies, so no other value reaches a copy. (A page that
/// redefines the built-in getters themselves changes every typed array at once; that is beyond
/// what an argument check can undo.)
fn own_bytes(v: &JsValue, what: &str) -> Option<Result<Uint8Array>> {
    let array_buffer = v.is_instance_of::<ArrayBuffer>();
    if !array_buffer && !v.is_instance_of::<Uint8Array>() {
        return None;
    }
    let unreadable = || {
        Error::malformed(format!(
            "{what}: a Uint8Array or an ArrayBuffer that cannot be read"
        ))
    };
    Some(INTRINSICS.with(|i| {
        let i = i
            .as_ref()
            .ok_or_else(|| Error::malformed("internal: the Uint8Array built-ins"))?;
        let internal = |getter: &js_sys::Function| {
            Reflect::apply(getter, v, &Array::new()).map_err(|_| unreadable())
        };
        let view = |args: &Array| {
            Reflect::construct(&i.ctor, args)
                .ok()
                .and_then(|c| c.dyn_into::<Uint8Array>().ok())
                .ok_or_else(unreadable)
        };
        if array_buffer {
            internal(&i.byte_length)?;
            return view(&Array::of1(v));
        }
        let length = internal(&i.length)?;
        let plain = Reflect::get_prototype_of(v).is_ok_and(|p| JsValue::from(p) == i.proto)
            && Reflect::get_own_property_descriptor(
                v.unchecked_ref::<js_sys::Object>(),
                &"length".into(),
            )
            .is_ok_and(|d| d.is_undefined());
        if plain {
            return Ok(v.unchecked_ref::<Uint8Array>().clone());
        }
        view(&Array::of3(
            &internal(&i.buffer)?,
            &internal(&i.byte_offset)?,
            &length,
        ))
    }))
}

/// Bytes from a Uint8Array, an ArrayBuffer or a string (UTF-8), at most `max` of them.
pub fn bytes(v: &JsValue, what: &str, max: usize) -> Result<Vec<u8>> {
    if let Some(a) = own_bytes(v, what) {
        let a = a?;
        input::check_len(a.length() as usize, max, what)?;
        return Ok(a.to_vec());
    }
    if v.is_string() {
        return text(v, what, max).map(String::into_bytes);
    }
    Err(expected(what, "a Uint8Array or a string", v))
}

/// A string of at most `max` UTF-8 bytes.
pub fn text(v: &JsValue, what: &str, max: usize) -> Result<String> {
    let Some(js) = v.dyn_ref::<JsString>() else {
        return Err(expected(what, "a string", v));
    };
    // UTF-8 never has fewer bytes than UTF-16 units, so this bounds the copy.
    input::check_len(js.length() as usize, max, what)?;
    let s = js
        .as_string()
        .ok_or_else(|| Error::malformed(format!("{what}: not a string")))?;
    input::check_len(s.len(), max, what)?;
    Ok(s)
}

pub fn optional_text(v: &JsValue, what: &str, max: usize) -> Result<Option<String>> {
    if is_absent(v) {
        Ok(None)
    } else {
        text(v, what, max).map(Some)
    }
}

/// Binary data where a string means standard base64.
pub fn binary(v: &JsValue, what: &str, max: usize) -> Result<Vec<u8>> {
    if v.is_string() {
        input::base64_arg(&text(v, what, max.saturating_mul(2))?, what)
    } else if is_binary(v) {
        bytes(v, what, max)
    } else {
        Err(expected(what, "a Uint8Array or a base64 string", v))
    }
}

/// A SHA-256 digest: 32 bytes, 64 hex characters (optionally `sha256:`-prefixed) or base64.
pub fn digest(v: &JsValue, what: &str) -> Result<Digest> {
    if is_binary(v) {
        return input::digest_bytes(&bytes(v, what, 32)?, what);
    }
    let t = text(v, what, 128)?;
    let t = t.trim();
    if t.len() == 64 || t.starts_with("sha256:") {
        input::digest_hex(t, what)
    } else {
        input::digest_bytes(&input::base64_arg(t, what)?, what)
    }
}

/// Items of a JS array (at most `max`), each read by `f`; errors name the index.
pub fn list<T>(
    v: &JsValue,
    what: &str,
    max: usize,
    mut f: impl FnMut(&JsValue, &str) -> Result<T>,
) -> Result<Vec<T>> {
    let Some(arr) = v.dyn_ref::<Array>() else {
        return Err(expected(what, "an array", v));
    };
    let len = arr.length() as usize;
    if len > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!("{what}: {len} items exceeds the limit of {max}"),
        ));
    }
    let mut out = Vec::with_capacity(len);
    for (i, item) in arr.iter().enumerate() {
        out.push(f(&item, &format!("{what}[{i}]"))?);
    }
    Ok(out)
}

/// A list of byte strings whose total stays under [`MAX_LIST_BYTES`].
pub fn byte_list(v: &JsValue, what: &str, max_items: usize) -> Result<Vec<Vec<u8>>> {
    let mut total = 0usize;
    list(v, what, max_items, |item, name| {
        let b = bytes(item, name, MAX_OBJECT_LEN)?;
        total = total.saturating_add(b.len());
        input::check_len(total, MAX_LIST_BYTES, what)?;
        Ok(b)
    })
}

pub fn optional_byte_list(v: &JsValue, what: &str, max_items: usize) -> Result<Vec<Vec<u8>>> {
    if is_absent(v) {
        Ok(Vec::new())
    } else {
        byte_list(v, what, max_items)
    }
}

pub fn digest_list(v: &JsValue, what: &str, max_items: usize) -> Result<Vec<Digest>> {
    if is_absent(v) {
        return Ok(Vec::new());
    }
    list(v, what, max_items, digest)
}

/// A public key: PEM text or cairn's `{"alg","key"}` JSON text, SPKI DER bytes, or an object
/// `{algorithm | alg, publicKey | public_key | key}` with raw key bytes or base64.
pub fn key(v: &JsValue, what: &str) -> Result<PublicKey> {
    input::parse_key_recent(key_spec(v, what)?).map_err(|e| e.context(what))
}

/// The shape of a key argument, unparsed (see [`key`]).
pub fn key_spec(v: &JsValue, what: &str) -> Result<KeySpec> {
    Ok(if v.is_string() {
        KeySpec::Text(text(v, what, MAX_OBJECT_LEN)?)
    } else if is_binary(v) {
        KeySpec::Der(bytes(v, what, MAX_OBJECT_LEN)?)
    } else if v.is_object() && !Array::is_array(v) {
        let alg = prop_any(v, &["algorithm", "alg"])?;
        let raw = prop_any(v, &["publicKey", "public_key", "key"])?;
        KeySpec::Raw {
            alg: text(&alg, &format!("{what}.algorithm"), 64)?,
            key: binary(&raw, &format!("{what}.publicKey"), MAX_OBJECT_LEN)?,
        }
    } else {
        return Err(expected(
            what,
            "PEM text, DER bytes or {algorithm, publicKey}",
            v,
        ));
    })
}

/// One key or an array of keys.
pub fn keys(v: &JsValue, what: &str) -> Result<Vec<PublicKey>> {
    if Array::is_array(v) {
        list(v, what, MAX_KEYS, key)
    } else {
        Ok(vec![key(v, what)?])
    }
}

/// [`integer`], or `None` when the value is absent.
pub fn maybe_integer(v: &JsValue, what: &str) -> Result<Option<u64>> {
    if is_absent(v) {
        Ok(None)
    } else {
        integer(v, what).map(Some)
    }
}

/// A non-negative integer: number (exact), bigint, or decimal text.
pub fn integer(v: &JsValue, what: &str) -> Result<u64> {
    if let Some(x) = v.as_f64() {
        return input::integer_from_f64(x, what);
    }
    if v.is_bigint() {
        return u64::try_from(v.clone()).map_err(|_| {
            Error::malformed(format!("{what} must fit in an unsigned 64-bit integer"))
        });
    }
    if v.is_string() {
        return input::integer_from_text(&text(v, what, 32)?, what);
    }
    Err(expected(what, "a non-negative integer", v))
}

pub fn optional_integer(v: &JsValue, what: &str, default: u64) -> Result<u64> {
    if is_absent(v) {
        Ok(default)
    } else {
        integer(v, what)
    }
}

pub fn usize_of(x: u64, what: &str) -> Result<usize> {
    usize::try_from(x).map_err(|_| Error::new(ErrorCode::TooLarge, format!("{what} is too large")))
}

/// `now`: Unix seconds (number, bigint), a Date, or — when absent — the host's clock.
pub fn now(v: &JsValue) -> Result<UnixTime> {
    if is_absent(v) {
        return input::time_from_millis(Date::now());
    }
    if let Some(d) = v.dyn_ref::<Date>() {
        return input::time_from_millis(d.get_time());
    }
    integer(v, "now")
}

pub fn boolean(v: &JsValue, what: &str, default: bool) -> Result<bool> {
    if is_absent(v) {
        return Ok(default);
    }
    v.as_bool().ok_or_else(|| expected(what, "a boolean", v))
}

/// An artifact: its bytes (Uint8Array/ArrayBuffer), or a digest object
/// `{digest | sha256, size}` such as `hashFile` / `ArtifactHasher.digest()` return; for
/// `allow_hex_text`, a hex digest string.
pub fn artifact(v: &JsValue, what: &str, allow_hex_text: bool) -> Result<Artifact> {
    if is_binary(v) {
        // Hashed here in bounded pieces: an artifact of any size never sits in wasm memory.
        let mut h = StreamHasher::new();
        feed(&mut h, v, what)?;
        let (size, sha256) = h.finish();
        return Ok(Artifact::Digest {
            sha256,
            size: Some(size),
        });
    }
    if allow_hex_text && v.is_string() {
        return Ok(Artifact::Digest {
            sha256: digest(v, what)?,
            size: None,
        });
    }
    if v.is_object() && !Array::is_array(v) {
        let alg = prop(v, "algorithm")?;
        if !is_absent(&alg) && alg.as_string().as_deref() != Some("sha256") {
            return Err(Error::new(
                ErrorCode::UnsupportedAlgorithm,
                format!("{what}: only sha256 digests are used"),
            ));
        }
        let d = prop_any(v, &["digest", "sha256"])?;
        let size = prop(v, "size")?;
        return Ok(Artifact::Digest {
            sha256: digest(&d, &format!("{what}.digest"))?,
            size: if is_absent(&size) {
                None
            } else {
                Some(integer(&size, &format!("{what}.size"))?)
            },
        });
    }
    Err(expected(what, "artifact bytes or {digest, size}", v))
}

pub fn optional_artifact(v: &JsValue, what: &str) -> Result<Option<Artifact>> {
    if is_absent(v) {
        Ok(None)
    } else {
        artifact(v, what, false).map(Some)
    }
}

/// Checkpoint verifiers: `[{name, ...key}]` where the key is given as for [`key`] (in `key`
/// or inline as `algorithm` + `publicKey`).
pub fn checkpoint_verifiers(v: &JsValue) -> Result<Vec<CheckpointVerifier>> {
    let one = |item: &JsValue, what: &str| -> Result<CheckpointVerifier> {
        let name = text(&prop(item, "name")?, &format!("{what}.name"), 1024)?;
        // Either the key's fields inline ({name, algorithm, publicKey}) or {name, key}.
        let public_key = if prop_any(item, &["algorithm", "alg"])?.is_undefined() {
            key(&prop(item, "key")?, what)?
        } else {
            key(item, what)?
        };
        Ok(CheckpointVerifier { name, public_key })
    };
    if Array::is_array(v) {
        list(v, "verifiers", MAX_KEYS, one)
    } else {
        Ok(vec![one(v, "verifiers")?])
    }
}

/// A checkpoint policy `{origin, threshold = 1, required = []}`.
pub fn checkpoint_policy(v: &JsValue) -> Result<CheckpointPolicy> {
    if v.is_string() {
        return Ok(CheckpointPolicy::new(&text(v, "origin", 1024)?));
    }
    let origin = text(&prop(v, "origin")?, "policy.origin", 1024)?;
    let threshold = usize_of(
        optional_integer(&prop(v, "threshold")?, "policy.threshold", 1)?,
        "policy.threshold",
    )?;
    let required = digest_list(&prop(v, "required")?, "policy.required", MAX_KEYS)?
        .into_iter()
        .map(KeyId)
        .collect();
    Ok(CheckpointPolicy {
        origin,
        threshold,
        required,
    })
}

/// A ledger chain head `{next_seq, head_hash, last_time}` (camelCase accepted too).
pub fn chain_head(v: &JsValue) -> Result<Option<ChainHead>> {
    if is_absent(v) {
        return Ok(None);
    }
    Ok(Some(ChainHead {
        next_seq: integer(&prop_any(v, &["next_seq", "nextSeq"])?, "start.next_seq")?,
        head_hash: digest(&prop_any(v, &["head_hash", "headHash"])?, "start.head_hash")?,
        last_time: integer(&prop_any(v, &["last_time", "lastTime"])?, "start.last_time")?,
    }))
}

/// Bytes copied into wasm memory at a time when hashing.
const COPY_LEN: u32 = 64 * 1024;

/// Feeds a Uint8Array, an ArrayBuffer or a string (UTF-8) to `h`, copying at most
/// [`COPY_LEN`] bytes at a time, so any size hashes in bounded memory.
pub fn feed(h: &mut StreamHasher, v: &JsValue, what: &str) -> Result<()> {
    let array = if let Some(a) = own_bytes(v, what) {
        a?
    } else {
        h.update(text(v, what, crate::input::MAX_MESSAGE_LEN)?.as_bytes());
        return Ok(());
    };
    let len = array.length();
    let mut buf = vec![0u8; len.min(COPY_LEN) as usize];
    let mut at = 0u32;
    while at < len {
        let end = len.min(at.saturating_add(COPY_LEN));
        let piece = buf
            .get_mut(..(end - at) as usize)
            .ok_or_else(|| Error::malformed("internal: hashing buffer"))?;
        array.subarray(at, end).copy_to(piece);
        h.update(piece);
        at = end;
    }
    Ok(())
}

/// A k-of-n witness policy from `options` (see [`crate::input::witness_policy`]): the
/// witnesses under `names[0]` (each a vkey string or `{name, vkey}`), the quorum, maximum age
/// and maximum future skew (seconds) under `names[1..4]`. `None` when there is no witness list.
pub fn witness_policy(
    options: &JsValue,
    names: [&str; 4],
) -> Result<Option<cairn_core::witness::WitnessPolicy>> {
    let witnesses = prop(options, names[0])?;
    if is_absent(&witnesses) {
        return Ok(None);
    }
    let specs = list(
        &witnesses,
        names[0],
        cairn_core::witness::MAX_WITNESSES,
        |v, what| {
            if v.is_string() {
                return Ok(input::WitnessSpec {
                    name: None,
                    vkey: text(v, what, MAX_OBJECT_LEN)?,
                });
            }
            if !v.is_object() || Array::is_array(v) {
                return Err(expected(what, "a vkey string or {name, vkey}", v));
            }
            Ok(input::WitnessSpec {
                name: optional_text(&prop(v, "name")?, &format!("{what}.name"), 1024)?,
                vkey: text(&prop(v, "vkey")?, &format!("{what}.vkey"), MAX_OBJECT_LEN)?,
            })
        },
    )?;
    let number = |name: &str| -> Result<Option<u64>> {
        let v = prop(options, name)?;
        if is_absent(&v) {
            Ok(None)
        } else {
            integer(&v, name).map(Some)
        }
    };
    input::witness_policy(
        &specs,
        number(names[1])?,
        number(names[2])?,
        number(names[3])?,
        names[0],
    )
    .map(Some)
}

/// [`witness_policy`] where the witness list is required.
pub fn required_witness_policy(
    options: &JsValue,
    names: [&str; 4],
) -> Result<cairn_core::witness::WitnessPolicy> {
    witness_policy(options, names)?.ok_or_else(|| {
        Error::malformed(format!(
            "{}: expected an array of witness vkeys, got {}",
            names[0],
            type_name(&prop(options, names[0]).unwrap_or(JsValue::UNDEFINED))
        ))
    })
}
