//! Reading JavaScript arguments through N-API, with the same rules as the wasm build's
//! `js.rs` (cairn-wasm): the same accepted shapes, limits and error codes, so a call gives the
//! same verdict on both backends. Every reader returns a cairn-core error for a value of the
//! wrong type or size, never a panic or a JavaScript exception.

use cairn_core::checkpoint::{CheckpointPolicy, CheckpointVerifier};
use cairn_core::crypto::{KeyId, PublicKey};
use cairn_core::encoding::Digest;
use cairn_core::ledger::ChainHead;
use cairn_core::{Error, ErrorCode, Result, UnixTime};
use cairn_wasm::api::{Artifact, StreamHasher};
use cairn_wasm::input::{self, KeySpec, MAX_KEYS, MAX_OBJECT_LEN};
use napi::{
    Env, JsBigInt, JsBoolean, JsDate, JsNumber, JsObject, JsString, JsTypedArray, JsUnknown,
    NapiRaw, TypedArrayType, ValueType,
};
use serde_json::Value;

/// Most bytes all the objects of one list may add up to.
pub const MAX_LIST_BYTES: usize = 64 << 20;

/// What a JavaScript value is, as far as the readers care.
pub enum Val {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    BigInt(JsUnknown),
    Str(JsString),
    /// A Uint8Array (a Buffer is one).
    U8(JsUnknown),
    ArrayBuffer(JsUnknown),
    Array(JsObject),
    Date(f64),
    Object(JsObject),
    /// Symbol, function, other typed arrays...: never accepted; the name for messages.
    Other(&'static str),
}

impl Val {
    /// Classifies `v`. N-API failures here mean the engine is in trouble; they become
    /// `malformed` so the caller still sees a CairnError.
    pub fn of(env: &Env, v: JsUnknown) -> Result<Val> {
        classify(env, v).map_err(|e| Error::malformed(format!("cannot read argument: {e}")))
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Val::Undefined | Val::Null)
    }

    pub fn is_binary(&self) -> bool {
        matches!(self, Val::U8(_) | Val::ArrayBuffer(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Val::Str(_))
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Undefined => "undefined",
            Val::Null => "null",
            Val::Bool(_) => "boolean",
            Val::Number(_) => "number",
            Val::BigInt(_) => "bigint",
            Val::Str(_) => "string",
            Val::Array(_) => "an array",
            Val::U8(_) | Val::ArrayBuffer(_) | Val::Date(_) | Val::Object(_) => "object",
            Val::Other(t) => t,
        }
    }
}

fn classify(env: &Env, v: JsUnknown) -> napi::Result<Val> {
    Ok(match v.get_type()? {
        ValueType::Undefined => Val::Undefined,
        ValueType::Null => Val::Null,
        ValueType::Boolean => Val::Bool(JsBoolean::try_from(v)?.get_value()?),
        ValueType::Number => Val::Number(JsNumber::try_from(v)?.get_double()?),
        ValueType::String => Val::Str(JsString::try_from(v)?),
        ValueType::BigInt => Val::BigInt(v),
        ValueType::Symbol => Val::Other("symbol"),
        ValueType::Function => Val::Other("function"),
        ValueType::Object => {
            if v.is_typedarray()? {
                // SAFETY: napi_is_typedarray said so.
                let ta: JsTypedArray = unsafe { v.cast() };
                if ta.into_value()?.typedarray_type == TypedArrayType::Uint8 {
                    Val::U8(v)
                } else {
                    Val::Other("object")
                }
            } else if is_arraybuffer(env, &v)? {
                Val::ArrayBuffer(v)
            } else if v.is_array()? {
                Val::Array(JsObject::try_from(v)?)
            } else if v.is_date()? {
                // SAFETY: napi_is_date said so.
                let d: JsDate = unsafe { v.cast() };
                Val::Date(d.value_of()?)
            } else {
                Val::Object(JsObject::try_from(v)?)
            }
        }
        _ => Val::Other("object"),
    })
}

fn is_arraybuffer(env: &Env, v: &JsUnknown) -> napi::Result<bool> {
    let mut out = false;
    // SAFETY: a plain N-API query on a live value of this call's scope.
    let status = unsafe { napi::sys::napi_is_arraybuffer(env.raw(), v.raw(), &mut out) };
    if status != napi::sys::Status::napi_ok {
        return Err(napi::Error::from_reason("napi_is_arraybuffer failed"));
    }
    Ok(out)
}

/// Clears the JavaScript exception a failed call left pending (a throwing getter, a Proxy
/// trap), so that the caller sees the CairnError this crate throws instead, as in the wasm
/// build, where `Reflect.get` failing becomes a `malformed` error.
fn clear_exception(env: &Env) {
    let mut ignored = std::ptr::null_mut();
    // SAFETY: a plain N-API call on this call's env; a no-op when nothing is pending.
    unsafe {
        napi::sys::napi_get_and_clear_last_exception(env.raw(), &mut ignored);
    }
}

/// Bytes of a Uint8Array or an ArrayBuffer, with a length check before the copy.
fn copy_binary(v: &Val, what: &str, max: usize) -> Result<Vec<u8>> {
    let fail = |e: napi::Error| Error::malformed(format!("{what}: cannot read bytes: {e}"));
    match v {
        Val::U8(u) => {
            // SAFETY: classified as a Uint8Array.
            let ta: JsTypedArray = unsafe { u.cast() };
            let tv = ta.into_value().map_err(fail)?;
            input::check_len(tv.length, max, what)?;
            // N-API may give a null data pointer for an empty array: no slice of it.
            if tv.length == 0 {
                return Ok(Vec::new());
            }
            let s: &[u8] = tv.as_ref();
            Ok(s.to_vec())
        }
        Val::ArrayBuffer(u) => {
            // SAFETY: classified as an ArrayBuffer.
            let ab: napi::JsArrayBuffer = unsafe { u.cast() };
            let av = ab.into_value().map_err(fail)?;
            input::check_len(av.len(), max, what)?;
            // (napi-rs checks the data pointer of an ArrayBuffer itself.)
            Ok(av.as_ref().to_vec())
        }
        _ => Err(Error::malformed(format!("{what}: not binary"))),
    }
}

pub struct Reader<'e> {
    pub env: &'e Env,
}

impl<'e> Reader<'e> {
    pub fn val(&self, v: JsUnknown) -> Result<Val> {
        Val::of(self.env, v)
    }

    pub fn opt(&self, v: Option<JsUnknown>) -> Result<Val> {
        match v {
            Some(v) => self.val(v),
            None => Ok(Val::Undefined),
        }
    }

    /// Property `name` of an options object; `undefined` when `obj` itself is absent.
    pub fn prop(&self, obj: &Val, name: &str) -> Result<Val> {
        if obj.is_absent() {
            return Ok(Val::Undefined);
        }
        let o: &JsObject = match obj {
            Val::Object(o) => o,
            // The wasm build reads properties of any non-array object (a Date, a Uint8Array):
            // they have none of the option names, so those read as undefined there too.
            Val::U8(_) | Val::ArrayBuffer(_) | Val::Date(_) | Val::Other("object") => {
                return Ok(Val::Undefined)
            }
            _ => return Err(expected("options", "an object", obj)),
        };
        let v: JsUnknown = o.get_named_property(name).map_err(|_| {
            clear_exception(self.env);
            Error::malformed(format!("cannot read property {name}"))
        })?;
        self.val(v)
    }

    /// The first present one of several property names (aliases).
    pub fn prop_any(&self, obj: &Val, names: &[&str]) -> Result<Val> {
        for n in names {
            let v = self.prop(obj, n)?;
            if !matches!(v, Val::Undefined) {
                return Ok(v);
            }
        }
        Ok(Val::Undefined)
    }

    /// Bytes from a Uint8Array, an ArrayBuffer or a string (UTF-8), at most `max` of them.
    pub fn bytes(&self, v: &Val, what: &str, max: usize) -> Result<Vec<u8>> {
        match v {
            Val::U8(_) | Val::ArrayBuffer(_) => copy_binary(v, what, max),
            Val::Str(_) => self.text(v, what, max).map(String::into_bytes),
            _ => Err(expected(what, "a Uint8Array or a string", v)),
        }
    }

    /// A string of at most `max` UTF-8 bytes.
    pub fn text(&self, v: &Val, what: &str, max: usize) -> Result<String> {
        let Val::Str(s) = v else {
            return Err(expected(what, "a string", v));
        };
        let fail = |_| Error::malformed(format!("{what}: not a string"));
        // UTF-8 never has fewer bytes than UTF-16 units: the same bound as the wasm build's.
        input::check_len(s.utf8_len().map_err(fail)?, max, what)?;
        let owned = s.into_utf8().and_then(|u| u.into_owned()).map_err(fail)?;
        input::check_len(owned.len(), max, what)?;
        Ok(owned)
    }

    pub fn optional_text(&self, v: &Val, what: &str, max: usize) -> Result<Option<String>> {
        if v.is_absent() {
            Ok(None)
        } else {
            self.text(v, what, max).map(Some)
        }
    }

    /// Binary data where a string means standard base64.
    pub fn binary(&self, v: &Val, what: &str, max: usize) -> Result<Vec<u8>> {
        if v.is_string() {
            input::base64_arg(&self.text(v, what, max.saturating_mul(2))?, what)
        } else if v.is_binary() {
            self.bytes(v, what, max)
        } else {
            Err(expected(what, "a Uint8Array or a base64 string", v))
        }
    }

    /// A SHA-256 digest: 32 bytes, 64 hex characters (optionally `sha256:`-prefixed) or base64.
    pub fn digest(&self, v: &Val, what: &str) -> Result<Digest> {
        if v.is_binary() {
            return input::digest_bytes(&self.bytes(v, what, 32)?, what);
        }
        let t = self.text(v, what, 128)?;
        let t = t.trim();
        if t.len() == 64 || t.starts_with("sha256:") {
            input::digest_hex(t, what)
        } else {
            input::digest_bytes(&input::base64_arg(t, what)?, what)
        }
    }

    /// Items of a JS array (at most `max`), each read by `f`; errors name the index.
    pub fn list<T>(
        &self,
        v: &Val,
        what: &str,
        max: usize,
        mut f: impl FnMut(&Self, &Val, &str) -> Result<T>,
    ) -> Result<Vec<T>> {
        let Val::Array(arr) = v else {
            return Err(expected(what, "an array", v));
        };
        let len = arr.get_array_length().map_err(|e| {
            clear_exception(self.env);
            Error::malformed(format!("{what}: {e}"))
        })? as usize;
        if len > max {
            return Err(Error::new(
                ErrorCode::TooLarge,
                format!("{what}: {len} items exceeds the limit of {max}"),
            ));
        }
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            let item: JsUnknown = arr.get_element(i as u32).map_err(|e| {
                clear_exception(self.env);
                Error::malformed(format!("{what}[{i}]: {e}"))
            })?;
            let item = self.val(item)?;
            out.push(f(self, &item, &format!("{what}[{i}]"))?);
        }
        Ok(out)
    }

    /// A list of byte strings whose total stays under [`MAX_LIST_BYTES`].
    pub fn byte_list(&self, v: &Val, what: &str, max_items: usize) -> Result<Vec<Vec<u8>>> {
        let mut total = 0usize;
        self.list(v, what, max_items, |r, item, name| {
            let b = r.bytes(item, name, MAX_OBJECT_LEN)?;
            total = total.saturating_add(b.len());
            input::check_len(total, MAX_LIST_BYTES, what)?;
            Ok(b)
        })
    }

    pub fn optional_byte_list(
        &self,
        v: &Val,
        what: &str,
        max_items: usize,
    ) -> Result<Vec<Vec<u8>>> {
        if v.is_absent() {
            Ok(Vec::new())
        } else {
            self.byte_list(v, what, max_items)
        }
    }

    pub fn digest_list(&self, v: &Val, what: &str, max_items: usize) -> Result<Vec<Digest>> {
        if v.is_absent() {
            return Ok(Vec::new());
        }
        self.list(v, what, max_items, |r, item, name| r.digest(item, name))
    }

    /// A public key: PEM text or cairn's `{"alg","key"}` JSON text, SPKI DER bytes, or an
    /// object `{algorithm | alg, publicKey | public_key | key}` with raw bytes or base64.
    pub fn key(&self, v: &Val, what: &str) -> Result<PublicKey> {
        input::parse_key_recent(self.key_spec(v, what)?).map_err(|e| e.context(what))
    }

    /// The shape of a key argument, unparsed (see [`Reader::key`]).
    pub fn key_spec(&self, v: &Val, what: &str) -> Result<KeySpec> {
        Ok(match v {
            Val::Str(_) => KeySpec::Text(self.text(v, what, MAX_OBJECT_LEN)?),
            Val::U8(_) | Val::ArrayBuffer(_) => {
                KeySpec::Der(self.bytes(v, what, MAX_OBJECT_LEN)?)
            }
            Val::Object(_) | Val::Date(_) | Val::Other("object") => {
                let alg = self.prop_any(v, &["algorithm", "alg"])?;
                let raw = self.prop_any(v, &["publicKey", "public_key", "key"])?;
                KeySpec::Raw {
                    alg: self.text(&alg, &format!("{what}.algorithm"), 64)?,
                    key: self.binary(&raw, &format!("{what}.publicKey"), MAX_OBJECT_LEN)?,
                }
            }
            _ => {
                return Err(expected(
                    what,
                    "PEM text, DER bytes or {algorithm, publicKey}",
                    v,
                ))
            }
        })
    }

    /// One key or an array of keys.
    pub fn keys(&self, v: &Val, what: &str) -> Result<Vec<PublicKey>> {
        if matches!(v, Val::Array(_)) {
            self.list(v, what, MAX_KEYS, |r, item, name| r.key(item, name))
        } else {
            Ok(vec![self.key(v, what)?])
        }
    }

    /// [`Reader::integer`], or `None` when the value is absent.
    pub fn maybe_integer(&self, v: &Val, what: &str) -> Result<Option<u64>> {
        if v.is_absent() {
            Ok(None)
        } else {
            self.integer(v, what).map(Some)
        }
    }

    /// A non-negative integer: number (exact), bigint, or decimal text.
    pub fn integer(&self, v: &Val, what: &str) -> Result<u64> {
        match v {
            Val::Number(x) => input::integer_from_f64(*x, what),
            Val::BigInt(b) => {
                // SAFETY: classified as a bigint.
                let b: JsBigInt = unsafe { b.cast() };
                match b.get_u64() {
                    Ok((x, true)) => Ok(x),
                    _ => Err(Error::malformed(format!(
                        "{what} must fit in an unsigned 64-bit integer"
                    ))),
                }
            }
            Val::Str(_) => input::integer_from_text(&self.text(v, what, 32)?, what),
            _ => Err(expected(what, "a non-negative integer", v)),
        }
    }

    pub fn optional_integer(&self, v: &Val, what: &str, default: u64) -> Result<u64> {
        if v.is_absent() {
            Ok(default)
        } else {
            self.integer(v, what)
        }
    }

    /// `now`: Unix seconds (number, bigint), a Date, or — when absent — the host's clock.
    pub fn now(&self, v: &Val) -> Result<UnixTime> {
        match v {
            Val::Undefined | Val::Null => {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as f64)
                    .unwrap_or(f64::NAN);
                input::time_from_millis(ms)
            }
            Val::Date(ms) => input::time_from_millis(*ms),
            _ => self.integer(v, "now"),
        }
    }

    pub fn boolean(&self, v: &Val, what: &str, default: bool) -> Result<bool> {
        match v {
            Val::Undefined | Val::Null => Ok(default),
            Val::Bool(b) => Ok(*b),
            _ => Err(expected(what, "a boolean", v)),
        }
    }

    /// An artifact: its bytes, or a digest object `{digest | sha256, size}`; for
    /// `allow_hex_text`, a hex digest string.
    pub fn artifact(&self, v: &Val, what: &str, allow_hex_text: bool) -> Result<Artifact> {
        if v.is_binary() {
            let mut h = StreamHasher::new();
            self.feed(&mut h, v, what)?;
            let (size, sha256) = h.finish();
            return Ok(Artifact::Digest {
                sha256,
                size: Some(size),
            });
        }
        if allow_hex_text && v.is_string() {
            return Ok(Artifact::Digest {
                sha256: self.digest(v, what)?,
                size: None,
            });
        }
        if matches!(v, Val::Object(_) | Val::Date(_) | Val::Other("object")) {
            let alg = self.prop(v, "algorithm")?;
            let is_sha256 = match &alg {
                Val::Undefined | Val::Null => true,
                Val::Str(_) => self.text(&alg, "algorithm", 64).ok().as_deref() == Some("sha256"),
                _ => false,
            };
            if !is_sha256 {
                return Err(Error::new(
                    ErrorCode::UnsupportedAlgorithm,
                    format!("{what}: only sha256 digests are used"),
                ));
            }
            let d = self.prop_any(v, &["digest", "sha256"])?;
            let size = self.prop(v, "size")?;
            return Ok(Artifact::Digest {
                sha256: self.digest(&d, &format!("{what}.digest"))?,
                size: if size.is_absent() {
                    None
                } else {
                    Some(self.integer(&size, &format!("{what}.size"))?)
                },
            });
        }
        Err(expected(what, "artifact bytes or {digest, size}", v))
    }

    pub fn optional_artifact(&self, v: &Val, what: &str) -> Result<Option<Artifact>> {
        if v.is_absent() {
            Ok(None)
        } else {
            self.artifact(v, what, false).map(Some)
        }
    }

    /// Checkpoint verifiers: `[{name, ...key}]` (key inline or in `key`).
    pub fn checkpoint_verifiers(&self, v: &Val) -> Result<Vec<CheckpointVerifier>> {
        let one = |r: &Self, item: &Val, what: &str| -> Result<CheckpointVerifier> {
            let name = r.text(&r.prop(item, "name")?, &format!("{what}.name"), 1024)?;
            let public_key = if matches!(r.prop_any(item, &["algorithm", "alg"])?, Val::Undefined) {
                r.key(&r.prop(item, "key")?, what)?
            } else {
                r.key(item, what)?
            };
            Ok(CheckpointVerifier { name, public_key })
        };
        if matches!(v, Val::Array(_)) {
            self.list(v, "verifiers", MAX_KEYS, one)
        } else {
            one(self, v, "verifiers").map(|x| vec![x])
        }
    }

    /// A checkpoint policy `{origin, threshold = 1, required = []}`, or just the origin.
    pub fn checkpoint_policy(&self, v: &Val) -> Result<CheckpointPolicy> {
        if v.is_string() {
            return Ok(CheckpointPolicy::new(&self.text(v, "origin", 1024)?));
        }
        let origin = self.text(&self.prop(v, "origin")?, "policy.origin", 1024)?;
        let threshold = usize_of(
            self.optional_integer(&self.prop(v, "threshold")?, "policy.threshold", 1)?,
            "policy.threshold",
        )?;
        let required = self
            .digest_list(&self.prop(v, "required")?, "policy.required", MAX_KEYS)?
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
    pub fn chain_head(&self, v: &Val) -> Result<Option<ChainHead>> {
        if v.is_absent() {
            return Ok(None);
        }
        Ok(Some(ChainHead {
            next_seq: self.integer(
                &self.prop_any(v, &["next_seq", "nextSeq"])?,
                "start.next_seq",
            )?,
            head_hash: self.digest(
                &self.prop_any(v, &["head_hash", "headHash"])?,
                "start.head_hash",
            )?,
            last_time: self.integer(
                &self.prop_any(v, &["last_time", "lastTime"])?,
                "start.last_time",
            )?,
        }))
    }

    /// Feeds a Uint8Array, an ArrayBuffer or a string (UTF-8) to `h`. Native memory reads
    /// the bytes in place, so no piecewise copy is needed.
    pub fn feed(&self, h: &mut StreamHasher, v: &Val, what: &str) -> Result<()> {
        let fail = |e: napi::Error| Error::malformed(format!("{what}: cannot read bytes: {e}"));
        match v {
            Val::U8(u) => {
                // SAFETY: classified as a Uint8Array.
                let ta: JsTypedArray = unsafe { u.cast() };
                let tv = ta.into_value().map_err(fail)?;
                if tv.length > 0 {
                    h.update(tv.as_ref());
                }
                Ok(())
            }
            Val::ArrayBuffer(u) => {
                // SAFETY: classified as an ArrayBuffer.
                let ab: napi::JsArrayBuffer = unsafe { u.cast() };
                h.update(ab.into_value().map_err(fail)?.as_ref());
                Ok(())
            }
            _ => {
                h.update(self.text(v, what, input::MAX_MESSAGE_LEN)?.as_bytes());
                Ok(())
            }
        }
    }
}

impl Reader<'_> {
    /// A k-of-n witness policy from `options` (cairn-wasm's `input::witness_policy`), read as
    /// the wasm build's `js::witness_policy` reads it: the witnesses under `names[0]` (each a
    /// vkey string or `{name, vkey}`), the quorum, maximum age and maximum future skew under
    /// `names[1..4]`. `None` when there is no witness list.
    pub fn witness_policy(
        &self,
        options: &Val,
        names: [&str; 4],
    ) -> Result<Option<cairn_core::witness::WitnessPolicy>> {
        let witnesses = self.prop(options, names[0])?;
        if witnesses.is_absent() {
            return Ok(None);
        }
        let specs = self.list(
            &witnesses,
            names[0],
            cairn_core::witness::MAX_WITNESSES,
            |r, v, what| {
                if v.is_string() {
                    return Ok(input::WitnessSpec {
                        name: None,
                        vkey: r.text(v, what, MAX_OBJECT_LEN)?,
                    });
                }
                if !matches!(
                    v,
                    Val::Object(_) | Val::U8(_) | Val::ArrayBuffer(_) | Val::Date(_)
                ) {
                    return Err(expected(what, "a vkey string or {name, vkey}", v));
                }
                Ok(input::WitnessSpec {
                    name: r.optional_text(&r.prop(v, "name")?, &format!("{what}.name"), 1024)?,
                    vkey: r.text(&r.prop(v, "vkey")?, &format!("{what}.vkey"), MAX_OBJECT_LEN)?,
                })
            },
        )?;
        let number = |name: &str| -> Result<Option<u64>> {
            let v = self.prop(options, name)?;
            if v.is_absent() {
                Ok(None)
            } else {
                self.integer(&v, name).map(Some)
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

    /// [`Reader::witness_policy`] where the witness list is required.
    pub fn required_witness_policy(
        &self,
        options: &Val,
        names: [&str; 4],
    ) -> Result<cairn_core::witness::WitnessPolicy> {
        match self.witness_policy(options, names)? {
            Some(p) => Ok(p),
            None => Err(expected(
                names[0],
                "an array of witness vkeys",
                &self.prop(options, names[0]).unwrap_or(Val::Undefined),
            )),
        }
    }
}

pub fn usize_of(x: u64, what: &str) -> Result<usize> {
    usize::try_from(x).map_err(|_| Error::new(ErrorCode::TooLarge, format!("{what} is too large")))
}

fn expected(what: &str, shape: &str, v: &Val) -> Error {
    Error::malformed(format!("{what}: expected {shape}, got {}", v.type_name()))
}

/// A JSON view as a plain JavaScript value: numbers as doubles (as `JSON.parse` gives them),
/// objects with their members in the view's order.
///
/// Members are defined as own data properties (writable, enumerable, configurable), which is
/// what `JSON.parse` does (CreateDataProperty) and so what the wasm build returns. An
/// assignment would not do: a member named `__proto__` from untrusted JSON (a blux-reg file's
/// fields, a token's constraints, a manifest's metadata) would set the object's prototype, or
/// be dropped when its value is not an object, instead of becoming an own key.
pub fn to_js(env: &Env, v: &Value) -> napi::Result<JsUnknown> {
    Ok(match v {
        Value::Null => env.get_null()?.into_unknown(),
        Value::Bool(b) => env.get_boolean(*b)?.into_unknown(),
        Value::Number(n) => env
            .create_double(n.as_f64().unwrap_or(f64::NAN))?
            .into_unknown(),
        Value::String(s) => env.create_string(s)?.into_unknown(),
        Value::Array(items) => {
            let mut arr = env.create_array_with_length(items.len())?;
            for (i, item) in items.iter().enumerate() {
                arr.set_element(i as u32, to_js(env, item)?)?;
            }
            arr.into_unknown()
        }
        Value::Object(map) => {
            let obj = env.create_object()?;
            let mut members = Vec::with_capacity(map.len());
            for (k, item) in map {
                // A JavaScript string key, not a C string: a member name from untrusted JSON
                // may hold U+0000.
                let name = env.create_string(k)?;
                let value = to_js(env, item)?;
                members.push(napi::sys::napi_property_descriptor {
                    utf8name: std::ptr::null(),
                    // SAFETY: live values of this call's handle scope, which keeps them alive
                    // until napi_define_properties below has run.
                    name: unsafe { name.raw() },
                    method: None,
                    getter: None,
                    setter: None,
                    // SAFETY: as for `name`.
                    value: unsafe { value.raw() },
                    attributes: napi::sys::PropertyAttributes::writable
                        | napi::sys::PropertyAttributes::enumerable
                        | napi::sys::PropertyAttributes::configurable,
                    data: std::ptr::null_mut(),
                });
            }
            if !members.is_empty() {
                // SAFETY: a fresh plain object of this scope, and descriptors of data
                // properties only (no callbacks, no data pointers), named by JS strings.
                let status = unsafe {
                    napi::sys::napi_define_properties(
                        env.raw(),
                        obj.raw(),
                        members.len(),
                        members.as_ptr(),
                    )
                };
                if status != napi::sys::Status::napi_ok {
                    return Err(napi::Error::from_reason(
                        "napi_define_properties failed on a result object",
                    ));
                }
            }
            obj.into_unknown()
        }
    })
}
