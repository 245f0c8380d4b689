//! The JavaScript surface: one `#[wasm_bindgen]` function per verifier. Each reads its
//! arguments with [`crate::js`], calls [`crate::api`], and returns a plain object or throws a
//! `CairnError` carrying the code. Arguments are taken as `JsValue` so that a value of the
//! wrong type becomes a `malformed` error here rather than an exception in generated glue.
//! Adding an export: a function here, its result type in `types.d.ts`, its name in
//! node-bindings/lib (node.mjs, web.js) — the Node tests fail until all three agree.
//!
//! These are the main module's exports (feature `verifiers`); `inspect` and the blux-reg
//! exports are in [`crate::extras`], a second module loaded on demand (feature `extras`).

use cairn_core::ErrorCode;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::api::{self, BundleOptions, SignatureItem, TokenItem};
use crate::input::{KeyCache, MAX_BATCH, MAX_CHAIN, MAX_MESSAGE_LEN, MAX_OBJECT_LEN, MAX_REVOKED};
use crate::js::{self, finish, prop, prop_any};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

type JsResult = core::result::Result<JsValue, JsValue>;

/// Verifies one raw signature by `publicKey` over `message`. `context` is the FIPS 204
/// context string (ML-DSA only; cairn puts the payload type there), empty when absent.
#[wasm_bindgen(js_name = verifySignature, unchecked_return_type = "SignatureVerification", skip_typescript)]
pub fn verify_signature(
    #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "KeyInput")] public_key: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] message: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] signature: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] context: Option<JsValue>,
) -> JsResult {
    let context = context.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let key = js::key(&public_key, "publicKey")?;
        let message = js::bytes(&message, "message", MAX_MESSAGE_LEN)?;
        let signature = js::binary(&signature, "signature", MAX_OBJECT_LEN)?;
        let context = if js::is_absent(&context) {
            Vec::new()
        } else {
            // Longer than 255 bytes is refused by cairn-core (domain_mismatch), not here.
            js::bytes(&context, "context", MAX_OBJECT_LEN)?
        };
        api::verify_signature(&key, &message, &signature, &context)
    })())
}

/// Verifies many raw signatures at once (`[{publicKey, message, signature, context}]`):
/// Ed25519 ones with one batch equation, each distinct key parsed once. Throws the first bad
/// item's error, its message prefixed with `signatures[i]`.
#[wasm_bindgen(js_name = verifySignatures, unchecked_return_type = "SignaturesVerification", skip_typescript)]
pub fn verify_signatures(
    #[wasm_bindgen(unchecked_param_type = "SignatureItemInput[]")] items: JsValue,
) -> JsResult {
    finish((|| {
        let mut keys = KeyCache::default();
        let mut total = 0usize;
        let items = js::list(&items, "signatures", MAX_BATCH, |item, what| {
            let key_what = format!("{what}.publicKey");
            let spec = js::key_spec(&prop_any(item, &["publicKey", "key"])?, &key_what)?;
            let key = keys.parse(spec).map_err(|e| e.context(&key_what))?;
            let message = js::bytes(
                &prop(item, "message")?,
                &format!("{what}.message"),
                MAX_MESSAGE_LEN,
            )?;
            total = total.saturating_add(message.len());
            crate::input::check_len(total, js::MAX_LIST_BYTES, "signatures")?;
            let signature = js::binary(
                &prop(item, "signature")?,
                &format!("{what}.signature"),
                MAX_OBJECT_LEN,
            )?;
            let context = prop(item, "context")?;
            let context = if js::is_absent(&context) {
                Vec::new()
            } else {
                js::bytes(&context, &format!("{what}.context"), MAX_OBJECT_LEN)?
            };
            // Every byte an item carries counts toward the list's total, not its message
            // alone: 65,536 items of large signatures would otherwise copy gigabytes.
            total = total.saturating_add(signature.len() + context.len());
            crate::input::check_len(total, js::MAX_LIST_BYTES, "signatures")?;
            Ok(SignatureItem {
                key,
                message,
                signature,
                context,
            })
        })?;
        api::verify_signatures(&items)
    })())
}

/// A key's algorithm, id and size, after the checks verification applies to it
/// (`invalid_key`, `unsupported_algorithm`).
#[wasm_bindgen(js_name = keyId, unchecked_return_type = "KeyInfo", skip_typescript)]
pub fn key_id(#[wasm_bindgen(js_name = publicKey)] public_key: JsValue) -> JsResult {
    finish(js::key(&public_key, "publicKey").map(|k| api::key_info(&k)))
}

/// Verifies a DSSE envelope (JSON text or compact bytes) of `payloadType`, signed by at least
/// `threshold` (default 1) distinct keys of `keys`.
#[wasm_bindgen(js_name = verifyEnvelope, unchecked_return_type = "EnvelopeVerification", skip_typescript)]
pub fn verify_envelope(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] envelope: JsValue,
    #[wasm_bindgen(js_name = payloadType, unchecked_param_type = "string")] payload_type: JsValue,
    #[wasm_bindgen(unchecked_param_type = "KeysInput")] keys: JsValue,
    #[wasm_bindgen(unchecked_param_type = "IntegerInput")] threshold: Option<JsValue>,
) -> JsResult {
    let threshold = threshold.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let env = js::bytes(&envelope, "envelope", MAX_OBJECT_LEN)?;
        let payload_type = js::text(&payload_type, "payloadType", 255)?;
        let keys = js::keys(&keys, "keys")?;
        let threshold = js::usize_of(
            js::optional_integer(&threshold, "threshold", 1)?,
            "threshold",
        )?;
        api::verify_envelope(&env, &payload_type, &keys, threshold)
    })())
}

/// Verifies a capability token (envelope bytes or DSSE JSON) issued by one of
/// `trustedIssuers`, with its delegation parents, at `options.now`.
#[wasm_bindgen(js_name = verifyToken, unchecked_return_type = "TokenVerification", skip_typescript)]
pub fn verify_token(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] token: JsValue,
    #[wasm_bindgen(js_name = trustedIssuers, unchecked_param_type = "KeysInput")]
    trusted_issuers: JsValue,
    #[wasm_bindgen(unchecked_param_type = "TokenOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    let verified = (|| {
        let token = js::bytes(&token, "token", MAX_OBJECT_LEN)?;
        let issuers = js::keys(&trusted_issuers, "trustedIssuers")?;
        let parents = js::optional_byte_list(&prop(&options, "parents")?, "parents", MAX_CHAIN)?;
        let now = js::now(&prop(&options, "now")?)?;
        let revoked = js::digest_list(&prop(&options, "revoked")?, "revoked", MAX_REVOKED)?;
        let audience = js::optional_text(&prop(&options, "audience")?, "audience", 1024)?;
        let capability = js::optional_text(&prop(&options, "capability")?, "capability", 1024)?;
        api::check_token(&api::TokenCheck {
            token: &token,
            parents: &parents,
            trusted_issuers: &issuers,
            now,
            revoked: &revoked,
            audience: audience.as_deref(),
            capability: capability.as_deref(),
        })
    })();
    // The view written straight to JSON text (no `Value` built): a third of the time spent
    // outside the signature check went there.
    let v = verified.map_err(|e| js::to_js_error(&e))?;
    finish(Ok(api::Valid {
        view: v.json(),
        valid: true,
    }))
}

/// Verifies many capability tokens (each envelope bytes, DSSE JSON, or `{token, parents}`)
/// under the same issuers and options; throws the first bad token's error, its message
/// prefixed with `tokens[i]`.
#[wasm_bindgen(js_name = verifyTokens, unchecked_return_type = "TokensVerification", skip_typescript)]
pub fn verify_tokens(
    #[wasm_bindgen(unchecked_param_type = "TokenItemInput[]")] tokens: JsValue,
    #[wasm_bindgen(js_name = trustedIssuers, unchecked_param_type = "KeysInput")]
    trusted_issuers: JsValue,
    #[wasm_bindgen(unchecked_param_type = "TokensOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let mut total = 0usize;
        let items = js::list(&tokens, "tokens", MAX_BATCH, |item, what| {
            let t = if js::is_binary(item) || item.is_string() {
                TokenItem {
                    token: js::bytes(item, what, MAX_OBJECT_LEN)?,
                    parents: Vec::new(),
                }
            } else {
                TokenItem {
                    token: js::bytes(
                        &prop(item, "token")?,
                        &format!("{what}.token"),
                        MAX_OBJECT_LEN,
                    )?,
                    parents: js::optional_byte_list(
                        &prop(item, "parents")?,
                        &format!("{what}.parents"),
                        MAX_CHAIN,
                    )?,
                }
            };
            total = t
                .parents
                .iter()
                .fold(total.saturating_add(t.token.len()), |n, p| {
                    n.saturating_add(p.len())
                });
            crate::input::check_len(total, js::MAX_LIST_BYTES, "tokens")?;
            Ok(t)
        })?;
        let issuers = js::keys(&trusted_issuers, "trustedIssuers")?;
        let now = js::now(&prop(&options, "now")?)?;
        let revoked = js::digest_list(&prop(&options, "revoked")?, "revoked", MAX_REVOKED)?;
        let audience = js::optional_text(&prop(&options, "audience")?, "audience", 1024)?;
        let capability = js::optional_text(&prop(&options, "capability")?, "capability", 1024)?;
        api::verify_tokens(
            &items,
            &issuers,
            now,
            &revoked,
            audience.as_deref(),
            capability.as_deref(),
        )
    })())
}

/// Verifies an artifact manifest (envelope bytes or DSSE JSON) signed by `threshold` of
/// `trustedSigners`, and the artifact (bytes, or a digest from `hashFile`/`hashBlob`/
/// `ArtifactHasher`) against it when `options.artifact` is given.
#[wasm_bindgen(js_name = verifyManifest, unchecked_return_type = "ManifestVerification", skip_typescript)]
pub fn verify_manifest(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] manifest: JsValue,
    #[wasm_bindgen(js_name = trustedSigners, unchecked_param_type = "KeysInput")]
    trusted_signers: JsValue,
    #[wasm_bindgen(unchecked_param_type = "ManifestOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let manifest = js::bytes(&manifest, "manifest", MAX_OBJECT_LEN)?;
        let signers = js::keys(&trusted_signers, "trustedSigners")?;
        let threshold = js::usize_of(
            js::optional_integer(&prop(&options, "threshold")?, "threshold", 1)?,
            "threshold",
        )?;
        let artifact = js::optional_artifact(&prop(&options, "artifact")?, "artifact")?;
        api::verify_manifest(&manifest, &signers, threshold, artifact.as_ref())
    })())
}

/// Verifies a signed checkpoint note (C2SP signed note holding a tlog-checkpoint) by
/// `verifiers` under `policy` (`{origin, threshold, required}` or just the origin).
#[wasm_bindgen(js_name = verifyCheckpoint, unchecked_return_type = "CheckpointVerification", skip_typescript)]
pub fn verify_checkpoint(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] note: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointVerifierInput | CheckpointVerifierInput[]")]
    verifiers: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointPolicyInput | string")] policy: JsValue,
) -> JsResult {
    finish((|| {
        let note = js::bytes(&note, "note", MAX_OBJECT_LEN)?;
        let verifiers = js::checkpoint_verifiers(&verifiers)?;
        let policy = js::checkpoint_policy(&policy)?;
        api::verify_checkpoint(&note, &verifiers, &policy)
    })())
}

/// Verifies a bundle (CBDL bytes) offline against the pinned trust root (envelope bytes or
/// DSSE JSON): trust chain, checkpoint, inclusion, ledger entry, and the token or manifest
/// (with the artifact when `options.artifact` is given). `options.witnesses` (k-of-n
/// cosignatures) is applied by the package's `verifyBundle` with the second module
/// (`extras::bundle_witnesses`), which keeps the witness code out of this one; the verdict's
/// `witnessed` is null here.
#[wasm_bindgen(js_name = verifyBundle, unchecked_return_type = "BundleVerification", skip_typescript)]
pub fn verify_bundle(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] bundle: JsValue,
    #[wasm_bindgen(js_name = trustedRoot, unchecked_param_type = "BytesInput")]
    trusted_root: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BundleOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let bundle = js::bytes(&bundle, "bundle", MAX_OBJECT_LEN)?;
        let root = js::bytes(&trusted_root, "trustedRoot", MAX_OBJECT_LEN)?;
        let now = js::now(&prop(&options, "now")?)?;
        let opts = BundleOptions {
            artifact: js::optional_artifact(&prop(&options, "artifact")?, "artifact")?,
            revoked: js::digest_list(&prop(&options, "revoked")?, "revoked", MAX_REVOKED)?,
            audience: js::optional_text(&prop(&options, "audience")?, "audience", 1024)?,
            capability: js::optional_text(&prop(&options, "capability")?, "capability", 1024)?,
            allow_classical_checkpoint: !js::boolean(
                &prop(&options, "requireHybridCheckpoint")?,
                "requireHybridCheckpoint",
                true,
            )?,
            last_seen: last_seen(&options)?,
            max_age: js::maybe_integer(&prop(&options, "maxAge")?, "maxAge")?,
        };
        api::verify_bundle(&bundle, &root, now, &opts)
    })())
}

/// `verifyBundle`'s `lastSeen` / `minSize` options.
fn last_seen(options: &JsValue) -> cairn_core::Result<Option<cairn_core::checkpoint::LastSeen>> {
    let note = prop(options, "lastSeen")?;
    let note = if js::is_absent(&note) {
        None
    } else {
        Some(js::bytes(
            &note,
            "lastSeen",
            cairn_core::note::MAX_NOTE_LEN,
        )?)
    };
    let min = prop(options, "minSize")?;
    let min = if js::is_absent(&min) {
        None
    } else {
        Some(js::integer(&min, "minSize")?)
    };
    api::last_seen(note.as_deref(), min)
}

/// Every error code, in declaration order.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "ErrorCode[]", skip_typescript)]
pub fn error_codes() -> JsValue {
    ErrorCode::ALL
        .iter()
        .map(|c| JsValue::from_str(c.as_str()))
        .collect::<Array>()
        .into()
}

/// Streaming SHA-256 of an artifact: `update(chunk)` as often as needed, then `digest()`.
/// Any chunk size hashes in bounded wasm memory.
#[wasm_bindgen(js_name = ArtifactHasher)]
pub struct ArtifactHasher {
    inner: api::StreamHasher,
}

#[wasm_bindgen(js_class = ArtifactHasher)]
impl ArtifactHasher {
    /// A hasher that has seen nothing.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> ArtifactHasher {
        ArtifactHasher {
            inner: api::StreamHasher::new(),
        }
    }

    /// Feeds the next chunk (Uint8Array, ArrayBuffer, or a string as UTF-8).
    pub fn update(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "BytesInput")] chunk: JsValue,
    ) -> core::result::Result<(), JsValue> {
        js::feed(&mut self.inner, &chunk, "chunk").map_err(|e| js::to_js_error(&e))
    }

    /// `{algorithm: "sha256", digest (hex), size}` of everything fed so far; the hasher can
    /// keep going.
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
