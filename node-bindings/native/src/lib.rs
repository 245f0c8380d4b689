//! # cairn-node
//!
//! The native Node addon of `cairn-verify` (napi-rs): the same exports, arguments, results and
//! error codes as the WebAssembly build (crate cairn-wasm), over the same code: the verifiers
//! and result views are cairn-wasm's `api` module, the argument rules its `input` module; only
//! the reading of JavaScript values (module `js`) is N-API here instead of wasm-bindgen.
//!
//! Every failure is thrown as an `Error` with `name = "CairnError"`, `code` = the stable code
//! and `message` = the detail, exactly as the wasm build throws it.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod js;

use cairn_core::{Error, ErrorCode, Result};
use cairn_wasm::api::{self, BluxIssuers, BundleOptions, SignatureItem, TokenItem};
use cairn_wasm::handle::{self as handle_api, SecretKeyArg};
use cairn_wasm::input::{
    self, KeyCache, MAX_BATCH, MAX_CHAIN, MAX_KEYS, MAX_LEAVES, MAX_LEDGER_ENTRIES,
    MAX_MESSAGE_LEN, MAX_OBJECT_LEN, MAX_PROOF, MAX_REVOKED,
};
use napi::{Env, JsUnknown};
use napi_derive::napi;
use serde_json::Value;

use js::{usize_of, Reader};

type JsResult = napi::Result<JsUnknown>;

/// Throws `e` as a CairnError; the returned value is ignored by the engine (an exception is
/// pending).
fn throw(env: &Env, e: &Error) -> JsResult {
    let mut err = env.create_error(napi::Error::from_reason(e.detail()))?;
    err.set_named_property("name", env.create_string("CairnError")?)?;
    err.set_named_property("code", env.create_string(e.code().as_str())?)?;
    let class = cairn_core::view::error_class(e.code());
    err.set_named_property("class", env.create_string(class)?)?;
    env.throw(err)?;
    Ok(env.get_undefined()?.into_unknown())
}

/// A verifier's outcome: a plain object, or a thrown CairnError.
fn finish(env: &Env, result: Result<Value>) -> JsResult {
    match result {
        Ok(v) => js::to_js(env, &v),
        Err(e) => throw(env, &e),
    }
}

/// At load: Ed25519 keys verified again and again (a token issuer, a log key) get prepared
/// tables, one set for the process (`cairn_core::crypto::prepared::process`), as in `cairn
/// serve`. The verdicts are ed25519-dalek's `verify_strict`'s (cairn-core's tests).
#[napi::module_init]
fn init() {
    cairn_core::crypto::prepared::process::install();
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::malformed(format!("{what}: not UTF-8 text")))
}

/// Verifies one raw signature by `publicKey` over `message` (FIPS 204 `context` for ML-DSA).
#[napi(js_name = "verifySignature")]
pub fn verify_signature(
    env: Env,
    public_key: JsUnknown,
    message: JsUnknown,
    signature: JsUnknown,
    context: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let key = r.key(&r.val(public_key)?, "publicKey")?;
        let message = r.bytes(&r.val(message)?, "message", MAX_MESSAGE_LEN)?;
        let signature = r.binary(&r.val(signature)?, "signature", MAX_OBJECT_LEN)?;
        let context = r.opt(context)?;
        let context = if context.is_absent() {
            Vec::new()
        } else {
            r.bytes(&context, "context", MAX_OBJECT_LEN)?
        };
        api::verify_signature(&key, &message, &signature, &context)
    })();
    finish(&env, out)
}

/// Verifies many raw signatures at once (Ed25519 through one batch equation).
#[napi(js_name = "verifySignatures")]
pub fn verify_signatures(env: Env, items: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let mut keys = KeyCache::default();
        let mut total = 0usize;
        let items = r.list(&r.val(items)?, "signatures", MAX_BATCH, |r, item, what| {
            let key_what = format!("{what}.publicKey");
            let spec = r.key_spec(&r.prop_any(item, &["publicKey", "key"])?, &key_what)?;
            let key = keys.parse(spec).map_err(|e| e.context(&key_what))?;
            let message = r.bytes(
                &r.prop(item, "message")?,
                &format!("{what}.message"),
                MAX_MESSAGE_LEN,
            )?;
            total = total.saturating_add(message.len());
            input::check_len(total, js::MAX_LIST_BYTES, "signatures")?;
            let signature = r.binary(
                &r.prop(item, "signature")?,
                &format!("{what}.signature"),
                MAX_OBJECT_LEN,
            )?;
            let context = r.prop(item, "context")?;
            let context = if context.is_absent() {
                Vec::new()
            } else {
                r.bytes(&context, &format!("{what}.context"), MAX_OBJECT_LEN)?
            };
            // Every byte an item carries counts toward the list's total, not its message
            // alone: 65,536 items of large signatures would otherwise copy gigabytes.
            total = total.saturating_add(signature.len() + context.len());
            input::check_len(total, js::MAX_LIST_BYTES, "signatures")?;
            Ok(SignatureItem {
                key,
                message,
                signature,
                context,
            })
        })?;
        api::verify_signatures(&items)
    })();
    finish(&env, out)
}

/// A key's algorithm, id and size, after the checks verification applies to it.
#[napi(js_name = "keyId")]
pub fn key_id(env: Env, public_key: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(public_key)
        .and_then(|v| r.key(&v, "publicKey"))
        .map(|k| api::key_info(&k));
    finish(&env, out)
}

/// Verifies a DSSE envelope of `payloadType`, signed by `threshold` (default 1) of `keys`.
#[napi(js_name = "verifyEnvelope")]
pub fn verify_envelope(
    env: Env,
    envelope: JsUnknown,
    payload_type: JsUnknown,
    keys: JsUnknown,
    threshold: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let e = r.bytes(&r.val(envelope)?, "envelope", MAX_OBJECT_LEN)?;
        let payload_type = r.text(&r.val(payload_type)?, "payloadType", 255)?;
        let keys = r.keys(&r.val(keys)?, "keys")?;
        let threshold = usize_of(
            r.optional_integer(&r.opt(threshold)?, "threshold", 1)?,
            "threshold",
        )?;
        api::verify_envelope(&e, &payload_type, &keys, threshold)
    })();
    finish(&env, out)
}

/// Verifies a capability token issued by one of `trustedIssuers`, with its delegation parents.
#[napi(js_name = "verifyToken")]
pub fn verify_token(
    env: Env,
    token: JsUnknown,
    trusted_issuers: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        let token = r.bytes(&r.val(token)?, "token", MAX_OBJECT_LEN)?;
        let issuers = r.keys(&r.val(trusted_issuers)?, "trustedIssuers")?;
        let parents = r.optional_byte_list(&r.prop(&options, "parents")?, "parents", MAX_CHAIN)?;
        let now = r.now(&r.prop(&options, "now")?)?;
        let revoked = r.digest_list(&r.prop(&options, "revoked")?, "revoked", MAX_REVOKED)?;
        let audience = r.optional_text(&r.prop(&options, "audience")?, "audience", 1024)?;
        let capability = r.optional_text(&r.prop(&options, "capability")?, "capability", 1024)?;
        api::verify_token(&api::TokenCheck {
            token: &token,
            parents: &parents,
            trusted_issuers: &issuers,
            now,
            revoked: &revoked,
            audience: audience.as_deref(),
            capability: capability.as_deref(),
        })
    })();
    finish(&env, out)
}

/// Verifies many capability tokens under the same issuers and options.
#[napi(js_name = "verifyTokens")]
pub fn verify_tokens(
    env: Env,
    tokens: JsUnknown,
    trusted_issuers: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        let mut total = 0usize;
        let items = r.list(&r.val(tokens)?, "tokens", MAX_BATCH, |r, item, what| {
            let t = if item.is_binary() || item.is_string() {
                TokenItem {
                    token: r.bytes(item, what, MAX_OBJECT_LEN)?,
                    parents: Vec::new(),
                }
            } else {
                TokenItem {
                    token: r.bytes(
                        &r.prop(item, "token")?,
                        &format!("{what}.token"),
                        MAX_OBJECT_LEN,
                    )?,
                    parents: r.optional_byte_list(
                        &r.prop(item, "parents")?,
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
            input::check_len(total, js::MAX_LIST_BYTES, "tokens")?;
            Ok(t)
        })?;
        let issuers = r.keys(&r.val(trusted_issuers)?, "trustedIssuers")?;
        let now = r.now(&r.prop(&options, "now")?)?;
        let revoked = r.digest_list(&r.prop(&options, "revoked")?, "revoked", MAX_REVOKED)?;
        let audience = r.optional_text(&r.prop(&options, "audience")?, "audience", 1024)?;
        let capability = r.optional_text(&r.prop(&options, "capability")?, "capability", 1024)?;
        api::verify_tokens(
            &items,
            &issuers,
            now,
            &revoked,
            audience.as_deref(),
            capability.as_deref(),
        )
    })();
    finish(&env, out)
}

/// Verifies an artifact manifest signed by `threshold` of `trustedSigners`, and the artifact.
#[napi(js_name = "verifyManifest")]
pub fn verify_manifest(
    env: Env,
    manifest: JsUnknown,
    trusted_signers: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        let manifest = r.bytes(&r.val(manifest)?, "manifest", MAX_OBJECT_LEN)?;
        let signers = r.keys(&r.val(trusted_signers)?, "trustedSigners")?;
        let threshold = usize_of(
            r.optional_integer(&r.prop(&options, "threshold")?, "threshold", 1)?,
            "threshold",
        )?;
        let artifact = r.optional_artifact(&r.prop(&options, "artifact")?, "artifact")?;
        api::verify_manifest(&manifest, &signers, threshold, artifact.as_ref())
    })();
    finish(&env, out)
}

/// Verifies a signed checkpoint note by `verifiers` under `policy`.
#[napi(js_name = "verifyCheckpoint")]
pub fn verify_checkpoint(
    env: Env,
    note: JsUnknown,
    verifiers: JsUnknown,
    policy: JsUnknown,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let note = r.bytes(&r.val(note)?, "note", MAX_OBJECT_LEN)?;
        let verifiers = r.checkpoint_verifiers(&r.val(verifiers)?)?;
        let policy = r.checkpoint_policy(&r.val(policy)?)?;
        api::verify_checkpoint(&note, &verifiers, &policy)
    })();
    finish(&env, out)
}

/// Verifies an RFC 9162 inclusion proof.
#[napi(js_name = "verifyInclusion")]
pub fn verify_inclusion(
    env: Env,
    leaf_hash: JsUnknown,
    index: JsUnknown,
    tree_size: JsUnknown,
    proof: JsUnknown,
    root: JsUnknown,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let leaf = r.digest(&r.val(leaf_hash)?, "leafHash")?;
        let index = r.integer(&r.val(index)?, "index")?;
        let size = r.integer(&r.val(tree_size)?, "treeSize")?;
        let proof = r.list(&r.val(proof)?, "proof", MAX_PROOF, |r, v, w| r.digest(v, w))?;
        let root = r.digest(&r.val(root)?, "root")?;
        api::verify_inclusion(&leaf, index, size, &proof, &root)
    })();
    finish(&env, out)
}

/// Verifies an RFC 9162 consistency proof.
#[napi(js_name = "verifyConsistency")]
pub fn verify_consistency(
    env: Env,
    old_size: JsUnknown,
    new_size: JsUnknown,
    old_root: JsUnknown,
    new_root: JsUnknown,
    proof: JsUnknown,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let old_size = r.integer(&r.val(old_size)?, "oldSize")?;
        let new_size = r.integer(&r.val(new_size)?, "newSize")?;
        let old_root = r.digest(&r.val(old_root)?, "oldRoot")?;
        let new_root = r.digest(&r.val(new_root)?, "newRoot")?;
        let proof = r.list(&r.val(proof)?, "proof", MAX_PROOF, |r, v, w| r.digest(v, w))?;
        api::verify_consistency(old_size, new_size, &old_root, &new_root, &proof)
    })();
    finish(&env, out)
}

/// The RFC 6962 Merkle root of `leaves`, with each leaf's hash.
#[napi(js_name = "merkleRoot")]
pub fn merkle_root(env: Env, leaves: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(leaves)
        .and_then(|v| r.byte_list(&v, "leaves", MAX_LEAVES))
        .and_then(|l| api::merkle_root(&l));
    finish(&env, out)
}

/// Verifies a pinned trust root and walks the rotation `chain` to the newest version.
#[napi(js_name = "verifyTrustRootChain")]
pub fn verify_trust_root_chain(
    env: Env,
    pinned: JsUnknown,
    chain: Option<JsUnknown>,
    now: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let pinned = r.bytes(&r.val(pinned)?, "pinned", MAX_OBJECT_LEN)?;
        let chain = r.optional_byte_list(&r.opt(chain)?, "chain", MAX_CHAIN)?;
        let now = r.now(&r.opt(now)?)?;
        api::verify_trust_root_chain(&pinned, &chain, now)
    })();
    finish(&env, out)
}

/// Verifies one signed ledger entry by `threshold` of `logKeys`.
#[napi(js_name = "verifyLedgerEntry")]
pub fn verify_ledger_entry(
    env: Env,
    entry: JsUnknown,
    log_keys: JsUnknown,
    threshold: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let entry = r.bytes(&r.val(entry)?, "entry", MAX_OBJECT_LEN)?;
        let keys = r.keys(&r.val(log_keys)?, "logKeys")?;
        let threshold = usize_of(
            r.optional_integer(&r.opt(threshold)?, "threshold", 1)?,
            "threshold",
        )?;
        api::verify_ledger_entry(&entry, &keys, threshold)
    })();
    finish(&env, out)
}

/// Verifies the hash chain of ledger entries from genesis or from `start`.
#[napi(js_name = "verifyLedgerChain")]
pub fn verify_ledger_chain(env: Env, entries: JsUnknown, start: Option<JsUnknown>) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let entries = r.byte_list(&r.val(entries)?, "entries", MAX_LEDGER_ENTRIES)?;
        let start = r.chain_head(&r.opt(start)?)?;
        api::verify_ledger_chain(&entries, start)
    })();
    finish(&env, out)
}

/// Verifies a bundle offline against the pinned trust root (and, with `options.witnesses`,
/// that `witnessQuorum` of them cosigned its checkpoint).
#[napi(js_name = "verifyBundle")]
pub fn verify_bundle(
    env: Env,
    bundle: JsUnknown,
    trusted_root: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        // Read first, as the package's verifyBundle on the wasm backend checks them (with the
        // second module) before the main module's verifyBundle runs: the same code for the
        // same arguments on both backends.
        let witnesses = r.witness_policy(&options, api::BUNDLE_WITNESS_OPTIONS)?;
        let bundle = r.bytes(&r.val(bundle)?, "bundle", MAX_OBJECT_LEN)?;
        let root = r.bytes(&r.val(trusted_root)?, "trustedRoot", MAX_OBJECT_LEN)?;
        let now = r.now(&r.prop(&options, "now")?)?;
        let opts = BundleOptions {
            artifact: r.optional_artifact(&r.prop(&options, "artifact")?, "artifact")?,
            revoked: r.digest_list(&r.prop(&options, "revoked")?, "revoked", MAX_REVOKED)?,
            audience: r.optional_text(&r.prop(&options, "audience")?, "audience", 1024)?,
            capability: r.optional_text(&r.prop(&options, "capability")?, "capability", 1024)?,
            allow_classical_checkpoint: !r.boolean(
                &r.prop(&options, "requireHybridCheckpoint")?,
                "requireHybridCheckpoint",
                true,
            )?,
            last_seen: {
                let note = r.prop(&options, "lastSeen")?;
                let note = if note.is_absent() {
                    None
                } else {
                    Some(r.bytes(&note, "lastSeen", cairn_core::note::MAX_NOTE_LEN)?)
                };
                let min = r.prop(&options, "minSize")?;
                let min = if min.is_absent() {
                    None
                } else {
                    Some(r.integer(&min, "minSize")?)
                };
                api::last_seen(note.as_deref(), min)?
            },
            max_age: r.maybe_integer(&r.prop(&options, "maxAge")?, "maxAge")?,
        };
        let mut v = api::verify_bundle(&bundle, &root, now, &opts)?;
        if let Some(w) = &witnesses {
            v["witnessed"] = api::bundle_witnesses(&bundle, w, now)?;
        }
        Ok(v)
    })();
    finish(&env, out)
}

/// Verifies a blux-reg v1.0 capability token file.
#[napi(js_name = "bluxVerifyToken")]
pub fn blux_verify_token(env: Env, token: JsUnknown, options: Option<JsUnknown>) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        let token = utf8(r.bytes(&r.val(token)?, "token", MAX_OBJECT_LEN)?, "token")?;
        let now = r.now(&r.prop(&options, "now")?)?;
        let revocations = r.prop(&options, "revocations")?;
        let revocations = if revocations.is_absent() {
            None
        } else {
            Some(utf8(
                r.bytes(&revocations, "revocations", MAX_MESSAGE_LEN)?,
                "revocations",
            )?)
        };
        let trusted = r.prop_any(&options, &["trustedIssuers", "trusted_issuers"])?;
        let issuers = if trusted.is_absent() {
            BluxIssuers::Any
        } else {
            BluxIssuers::Fingerprints(r.list(
                &trusted,
                "trustedIssuers",
                MAX_KEYS,
                |r, v, what| {
                    if v.is_string() && r.text(v, what, 128).is_ok_and(|t| t.trim().len() == 64) {
                        r.digest(v, what)
                    } else {
                        r.key(v, what).map(|k| cairn_core::blux::fingerprint(&k))
                    }
                },
            )?)
        };
        api::blux_verify_token(&token, now, revocations.as_deref(), &issuers)
    })();
    finish(&env, out)
}

/// Verifies a blux-reg v1.0 manifest file against the artifact and trusted Ed25519 keys.
#[napi(js_name = "bluxVerifyManifest")]
pub fn blux_verify_manifest(
    env: Env,
    manifest: JsUnknown,
    artifact: JsUnknown,
    keys: JsUnknown,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let manifest = utf8(
            r.bytes(&r.val(manifest)?, "manifest", MAX_OBJECT_LEN)?,
            "manifest",
        )?;
        let artifact = r.artifact(&r.val(artifact)?, "artifact", true)?;
        let keys = r.keys(&r.val(keys)?, "keys")?;
        api::blux_verify_manifest(&manifest, &artifact, &keys)
    })();
    finish(&env, out)
}

/// Verifies the hash chain of a blux-reg ledger file (JSON lines).
#[napi(js_name = "bluxVerifyLedger")]
pub fn blux_verify_ledger(env: Env, ledger: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(ledger)
        .and_then(|v| r.bytes(&v, "ledger", MAX_MESSAGE_LEN))
        .and_then(|b| utf8(b, "ledger"))
        .and_then(|t| api::blux_verify_ledger(&t));
    finish(&env, out)
}

/// Verifies a registry's ledger export stream against what `options` expects of its source.
#[napi(js_name = "verifyExport")]
pub fn verify_export(env: Env, stream: JsUnknown, options: Option<JsUnknown>) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let stream = r.bytes(&r.val(stream)?, "stream", MAX_MESSAGE_LEN)?;
        let options = r.opt(options)?;
        let origin = r.optional_text(&r.prop(&options, "origin")?, "origin", 1024)?;
        let note = r.optional_text(&r.prop(&options, "checkpoint")?, "checkpoint", 64 * 1024)?;
        let checkpoint = match note {
            None => None,
            Some(n) => Some((
                n,
                r.key(
                    &r.prop_any(&options, &["checkpointKey", "checkpoint_key"])?,
                    "checkpointKey",
                )?,
            )),
        };
        api::verify_export(&stream, origin, checkpoint)
    })();
    finish(&env, out)
}

/// Verifies a checkpoint and, from tiles the caller fetched, an entry and its inclusion proof
/// and the consistency proof from an older checkpoint (`{complete: false, missing}` until every
/// tile needed is given).
#[napi(js_name = "verifyFromTiles")]
pub fn verify_from_tiles(
    env: Env,
    note: JsUnknown,
    verifiers: JsUnknown,
    policy: JsUnknown,
    request: Option<JsUnknown>,
    tiles: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let note = r.bytes(&r.val(note)?, "note", MAX_OBJECT_LEN)?;
        let verifiers = r.checkpoint_verifiers(&r.val(verifiers)?)?;
        let policy = r.checkpoint_policy(&r.val(policy)?)?;
        let request = r.opt(request)?;
        let entry = r.prop(&request, "entry")?;
        let old = r.prop_any(&request, &["oldCheckpoint", "old_checkpoint"])?;
        let request = api::TileRequest {
            entry: (!entry.is_absent())
                .then(|| r.integer(&entry, "entry"))
                .transpose()?,
            old_checkpoint: (!old.is_absent())
                .then(|| r.bytes(&old, "oldCheckpoint", MAX_OBJECT_LEN))
                .transpose()?,
        };
        let tiles = r.opt(tiles)?;
        let tiles = if tiles.is_absent() {
            Vec::new()
        } else {
            let mut total = 0;
            r.list(&tiles, "tiles", api::MAX_TILES, |r, v, what| {
                let path = r.text(&r.prop(v, "path")?, what, 256)?;
                api::tile_input(
                    path,
                    |limit| r.bytes(&r.prop(v, "data")?, what, limit),
                    &mut total,
                )
            })?
        };
        api::verify_from_tiles(&note, &verifiers, &policy, &request, &tiles)
    })();
    finish(&env, out)
}

/// The arguments of both peer-key verifiers: message, own peer id, time, clock skew.
fn peer_args(
    r: &Reader,
    message: JsUnknown,
    me: JsUnknown,
    options: &js::Val,
) -> Result<(Vec<u8>, String, u64, u64)> {
    Ok((
        r.bytes(&r.val(message)?, "message", MAX_OBJECT_LEN)?,
        r.text(&r.val(me)?, "me", 1024)?,
        r.now(&r.prop(options, "now")?)?,
        r.optional_integer(
            &r.prop_any(options, &["maxSkew", "max_skew"])?,
            "maxSkew",
            300,
        )?,
    ))
}

/// Verifies a peer key request addressed to `me`.
#[napi(js_name = "verifyKeyRequest")]
pub fn verify_key_request(
    env: Env,
    message: JsUnknown,
    me: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .opt(options)
        .and_then(|options| peer_args(&r, message, me, &options))
        .and_then(|(m, me, now, skew)| api::verify_key_request(&m, &me, now, skew));
    finish(&env, out)
}

/// Verifies a peer key response answering `me`, and who vouches for its key when the options
/// name a rule (`bootstrapRoot`, `logRoots`, `pinnedKeyId`, `trustOnFirstUse`, `maxAge`).
#[napi(js_name = "verifyKeyResponse")]
pub fn verify_key_response(
    env: Env,
    message: JsUnknown,
    me: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        let (m, me, now, skew) = peer_args(&r, message, me, &options)?;
        let bootstrap = r.prop(&options, "bootstrapRoot")?;
        let mut asked = false;
        for name in api::VOUCH_OPTIONS {
            asked |= !r.prop(&options, name)?.is_absent();
        }
        let vouch = api::PeerVouchOptions {
            asked,
            bootstrap_root: if bootstrap.is_absent() {
                None
            } else {
                Some(r.bytes(&bootstrap, "bootstrapRoot", MAX_OBJECT_LEN)?)
            },
            log_roots: {
                let logs = r.prop(&options, "logRoots")?;
                if logs.is_absent() {
                    Vec::new()
                } else {
                    let mut total = 0usize;
                    r.list(&logs, "logRoots", MAX_CHAIN, |r, v, what| {
                        let root = r.bytes(&r.prop(v, "root")?, what, MAX_OBJECT_LEN)?;
                        total = total.saturating_add(root.len());
                        input::check_len(total, js::MAX_LIST_BYTES, "logRoots")?;
                        Ok((r.text(&r.prop(v, "peer")?, what, 256)?, root))
                    })?
                }
            },
            pinned_key_id: r.optional_text(
                &r.prop(&options, "pinnedKeyId")?,
                "pinnedKeyId",
                128,
            )?,
            trust_on_first_use: r.boolean(
                &r.prop(&options, "trustOnFirstUse")?,
                "trustOnFirstUse",
                false,
            )?,
            require_hybrid_checkpoint: r.boolean(
                &r.prop(&options, "requireHybridCheckpoint")?,
                "requireHybridCheckpoint",
                true,
            )?,
            max_age: r.maybe_integer(&r.prop(&options, "maxAge")?, "maxAge")?,
        };
        api::verify_key_response(&m, &me, now, skew, &vouch)
    })();
    finish(&env, out)
}

/// blux-reg's canonical JSON of a JSON text, and its SHA-256.
#[napi(js_name = "bluxCanonicalJson")]
pub fn blux_canonical_json(env: Env, json: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(json)
        .and_then(|v| r.bytes(&v, "json", MAX_OBJECT_LEN))
        .and_then(|b| utf8(b, "json"))
        .and_then(|t| api::blux_canonical_json(&t));
    finish(&env, out)
}

/// Decodes any cairn object into a plain view tagged by `kind`, verifying nothing.
#[napi(js_name = "inspect")]
pub fn inspect(env: Env, object: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(object)
        .and_then(|v| r.bytes(&v, "object", MAX_OBJECT_LEN))
        .and_then(|b| api::inspect(&b));
    finish(&env, out)
}

/// The option names of a witness policy in `verifyCosignatures` and
/// `verifyWitnessedCheckpoint`.
const WITNESS_OPTIONS: [&str; 4] = ["witnesses", "quorum", "maxAge", "maxFutureSkew"];

/// Verifies the witness cosignatures of a checkpoint note and reports which witnesses cosigned
/// and whether the quorum is met (not enforced).
#[napi(js_name = "verifyCosignatures")]
pub fn verify_cosignatures(env: Env, note: JsUnknown, options: Option<JsUnknown>) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        let note = r.bytes(&r.val(note)?, "note", MAX_OBJECT_LEN)?;
        let policy = r.required_witness_policy(&options, WITNESS_OPTIONS)?;
        let now = r.now(&r.prop(&options, "now")?)?;
        api::verify_cosignatures(&note, &policy, now)
    })();
    finish(&env, out)
}

/// Verifies a checkpoint note's log signature and that a quorum of witnesses cosigned it.
#[napi(js_name = "verifyWitnessedCheckpoint")]
pub fn verify_witnessed_checkpoint(
    env: Env,
    note: JsUnknown,
    verifiers: JsUnknown,
    policy: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let options = r.opt(options)?;
        let note = r.bytes(&r.val(note)?, "note", MAX_OBJECT_LEN)?;
        let verifiers = r.checkpoint_verifiers(&r.val(verifiers)?)?;
        let policy = r.checkpoint_policy(&r.val(policy)?)?;
        let witnesses = r.required_witness_policy(&options, WITNESS_OPTIONS)?;
        let now = r.now(&r.prop(&options, "now")?)?;
        api::verify_witnessed_checkpoint(&note, &verifiers, &policy, &witnesses, now)
    })();
    finish(&env, out)
}

/// Compares two signed checkpoint notes of one log: `{split_view: null}` or the split view.
#[napi(js_name = "detectSplitView")]
pub fn detect_split_view(
    env: Env,
    first: JsUnknown,
    second: JsUnknown,
    verifiers: JsUnknown,
    policy: JsUnknown,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let first = r.bytes(&r.val(first)?, "first", MAX_OBJECT_LEN)?;
        let second = r.bytes(&r.val(second)?, "second", MAX_OBJECT_LEN)?;
        let verifiers = r.checkpoint_verifiers(&r.val(verifiers)?)?;
        let policy = r.checkpoint_policy(&r.val(policy)?)?;
        api::detect_split_view(&first, &second, &verifiers, &policy)
    })();
    finish(&env, out)
}

/// The revocation map's key of an object.
#[napi(js_name = "revocationMapKey")]
pub fn revocation_map_key(env: Env, kind: JsUnknown, id: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let kind = r.text(&r.val(kind)?, "kind", 64)?;
        api::revocation_map_key(&kind, &r.digest(&r.val(id)?, "id")?)
    })();
    finish(&env, out)
}

/// The root of the revocation map holding `revoked` (`[{kind, id, seq}]`).
#[napi(js_name = "revocationMapRoot")]
pub fn revocation_map_root(env: Env, revoked: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let objects = r.list(
            &r.val(revoked)?,
            "revoked",
            api::MAX_MAP_OBJECTS,
            |r, v, what| {
                Ok((
                    r.text(&r.prop(v, "kind")?, &format!("{what}.kind"), 64)?,
                    r.digest(&r.prop(v, "id")?, &format!("{what}.id"))?,
                    r.integer(&r.prop(v, "seq")?, &format!("{what}.seq"))?,
                ))
            },
        )?;
        api::revocation_map_root(&objects)
    })();
    finish(&env, out)
}

/// The arguments of both revocation proof verifiers.
type ProofArgs = (
    cairn_core::encoding::Digest,
    String,
    cairn_core::encoding::Digest,
    Vec<u8>,
);

fn proof_args(
    r: &Reader<'_>,
    root: JsUnknown,
    kind: JsUnknown,
    id: JsUnknown,
    proof: JsUnknown,
) -> Result<ProofArgs> {
    Ok((
        r.digest(&r.val(root)?, "root")?,
        r.text(&r.val(kind)?, "kind", 64)?,
        r.digest(&r.val(id)?, "id")?,
        r.binary(&r.val(proof)?, "proof", MAX_OBJECT_LEN)?,
    ))
}

/// Moves a bundle to the newer checkpoint of the registry's refresh pieces (`CRFP`), after
/// checking they fit it; returns the refreshed (version 2) bundle's bytes: a plain Uint8Array,
/// as the wasm backend returns (not a Buffer, whose `slice` and `toString` differ).
#[napi(js_name = "refreshBundle")]
pub fn refresh_bundle(env: Env, bundle: JsUnknown, pieces: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let max = cairn_core::bundle::MAX_BUNDLE_LEN;
    let out = (|| {
        let b = r.binary(&r.val(bundle)?, "bundle", max)?;
        let p = r.binary(&r.val(pieces)?, "pieces", max)?;
        api::refresh_bundle(&b, &p)
    })();
    match out {
        Ok(bytes) => {
            let len = bytes.len();
            Ok(env
                .create_arraybuffer_with_data(bytes)?
                .into_raw()
                .into_typedarray(napi::TypedArrayType::Uint8, len, 0)?
                .into_unknown())
        }
        Err(e) => throw(&env, &e),
    }
}

/// Verifies a revocation map non-membership proof: the object is not revoked.
#[napi(js_name = "verifyNotRevoked")]
pub fn verify_not_revoked(
    env: Env,
    root: JsUnknown,
    kind: JsUnknown,
    id: JsUnknown,
    proof: JsUnknown,
) -> JsResult {
    let r = Reader { env: &env };
    let out = proof_args(&r, root, kind, id, proof)
        .and_then(|(root, kind, id, proof)| api::verify_not_revoked(&root, &kind, &id, &proof));
    finish(&env, out)
}

/// Verifies a revocation map membership proof: the object is revoked, by entry `seq`.
#[napi(js_name = "verifyRevoked")]
pub fn verify_revoked(
    env: Env,
    root: JsUnknown,
    kind: JsUnknown,
    id: JsUnknown,
    proof: JsUnknown,
) -> JsResult {
    let r = Reader { env: &env };
    let out = proof_args(&r, root, kind, id, proof)
        .and_then(|(root, kind, id, proof)| api::verify_revoked(&root, &kind, &id, &proof));
    finish(&env, out)
}

/// A checkpoint extension line read as a `cairn.revocations` line, or null.
#[napi(js_name = "parseRevocationsLine")]
pub fn parse_revocations_line(env: Env, line: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(line)
        .and_then(|v| r.text(&v, "line", 1024))
        .and_then(|l| api::parse_revocations_line(&l));
    finish(&env, out)
}

/// Every error code, in declaration order.
#[napi(js_name = "errorCodes")]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// Streaming SHA-256 of an artifact (cairn-core's hasher): `update(chunk)`, then `digest()`.
#[napi(js_name = "ArtifactHasher")]
pub struct ArtifactHasher {
    inner: api::StreamHasher,
}

#[napi]
impl ArtifactHasher {
    /// A hasher that has seen nothing.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        ArtifactHasher {
            inner: api::StreamHasher::new(),
        }
    }

    /// Feeds the next chunk (Uint8Array, ArrayBuffer, or a string as UTF-8).
    #[napi]
    pub fn update(&mut self, env: Env, chunk: JsUnknown) -> JsResult {
        let r = Reader { env: &env };
        match r
            .val(chunk)
            .and_then(|v| r.feed(&mut self.inner, &v, "chunk"))
        {
            Ok(()) => Ok(env.get_undefined()?.into_unknown()),
            Err(e) => throw(&env, &e),
        }
    }

    /// `{algorithm: "sha256", digest (hex), size}` of everything fed so far.
    #[napi]
    pub fn digest(&self, env: Env) -> JsResult {
        finish(&env, Ok(self.inner.view()))
    }

    /// Bytes fed so far.
    #[napi(getter)]
    pub fn size(&self) -> f64 {
        self.inner.size() as f64
    }

    /// Nothing to release (parity with the wasm class, whose memory is freed here).
    #[napi]
    pub fn free(&self) {}
}

/// Which build this is (`"native"`); the wasm build has no such export, the JS loader answers
/// for it.
#[napi(js_name = "backend")]
pub fn backend() -> &'static str {
    "native"
}

// ---------------------------------------------------------------------------------------------
// The handle registry's client side (cairn_wasm::handle, the wasm build's second module)
// ---------------------------------------------------------------------------------------------

/// Bytes given as a Uint8Array / Buffer / ArrayBuffer or as a hex string.
fn hex_or_bytes(r: &Reader, v: &js::Val, what: &str, max: usize) -> Result<Vec<u8>> {
    if v.is_string() {
        cairn_core::encoding::hex_decode(&r.text(v, what, max.saturating_mul(2))?)
            .map_err(|e| e.context(what))
    } else {
        r.bytes(v, what, max)
    }
}

fn optional_hex_or_bytes(r: &Reader, v: &js::Val, what: &str, max: usize) -> Result<Vec<u8>> {
    if v.is_absent() {
        Ok(Vec::new())
    } else {
        hex_or_bytes(r, v, what, max)
    }
}

/// A recipient's public key: bytes, hex or base64 ([`handle_api::public_key_text`]).
fn public_key(r: &Reader, v: &js::Val, what: &str) -> Result<Vec<u8>> {
    if v.is_binary() {
        r.bytes(v, what, handle_api::MAX_ENVELOPE_PUBLIC_KEY_LEN)
    } else {
        let max = 4 * handle_api::MAX_ENVELOPE_PUBLIC_KEY_LEN;
        handle_api::public_key_text(&r.text(v, what, max)?, what)
    }
}

fn secret_key_arg(r: &Reader, v: &js::Val, what: &str) -> Result<SecretKeyArg> {
    Ok(SecretKeyArg {
        secret: r.digest(&r.prop(v, "secret")?, &format!("{what}.secret"))?,
        kid: r.optional_text(&r.prop(v, "kid")?, &format!("{what}.kid"), 64)?,
        suite: r.optional_text(&r.prop(v, "suite")?, &format!("{what}.suite"), 64)?,
    })
}

/// The handle as the registry stores and compares it (NFKC, lowercase, limits).
#[napi(js_name = "normaliseHandle")]
pub fn normalise_handle(env: Env, input: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(input)
        .and_then(|v| r.text(&v, "input", 1024))
        .and_then(|t| handle_api::normalise_handle(&t));
    finish(&env, out)
}

/// The normalised handle and its peppered blind index.
#[napi(js_name = "handleBlindIndex")]
pub fn handle_blind_index(env: Env, pepper: JsUnknown, input: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let pepper = hex_or_bytes(&r, &r.val(pepper)?, "pepper", 4096)?;
        let input = r.text(&r.val(input)?, "input", 1024)?;
        handle_api::blind_index(&pepper, &input)
    })();
    finish(&env, out)
}

/// The public half of an envelope secret key, with its kid and suite.
#[napi(js_name = "envelopeKey")]
pub fn envelope_key(env: Env, key: JsUnknown) -> JsResult {
    let r = Reader { env: &env };
    let out = r
        .val(key)
        .and_then(|k| secret_key_arg(&r, &k, "key"))
        .and_then(|k| handle_api::envelope_key(&k));
    finish(&env, out)
}

/// Seals `plaintext` to the recipient's envelope key (HPKE); `options.seed` is 32 random bytes.
#[napi(js_name = "sealEnvelope")]
pub fn seal_envelope(
    env: Env,
    recipient: JsUnknown,
    plaintext: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let recipient = r.val(recipient)?;
        let options = r.opt(options)?;
        let pk = public_key(
            &r,
            &r.prop_any(&recipient, &["publicKey", "public_key"])?,
            "recipient.publicKey",
        )?;
        let kid = r.optional_text(&r.prop(&recipient, "kid")?, "recipient.kid", 64)?;
        let suite = r.optional_text(&r.prop(&recipient, "suite")?, "recipient.suite", 64)?;
        let plaintext = r.bytes(&r.val(plaintext)?, "plaintext", MAX_OBJECT_LEN)?;
        let purpose = r.text(&r.prop(&options, "purpose")?, "options.purpose", 256)?;
        let aad = optional_hex_or_bytes(&r, &r.prop(&options, "aad")?, "options.aad", 4096)?;
        let seed = r.digest(&r.prop(&options, "seed")?, "options.seed")?;
        handle_api::seal_envelope(
            &pk,
            kid.as_deref(),
            suite.as_deref(),
            &purpose,
            &aad,
            &plaintext,
            &seed,
        )
    })();
    finish(&env, out)
}

/// Opens an envelope with one of `keys` (the first is the active one, the rest retired).
#[napi(js_name = "openEnvelope")]
pub fn open_envelope(
    env: Env,
    keys: JsUnknown,
    envelope: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let keys = r.list(
            &r.val(keys)?,
            "keys",
            handle_api::MAX_ENVELOPE_KEYS,
            |r, v, what| secret_key_arg(r, v, what),
        )?;
        let envelope = r.binary(&r.val(envelope)?, "envelope", MAX_MESSAGE_LEN)?;
        let options = r.opt(options)?;
        let purpose = r.text(&r.prop(&options, "purpose")?, "options.purpose", 256)?;
        let aad = optional_hex_or_bytes(&r, &r.prop(&options, "aad")?, "options.aad", 4096)?;
        handle_api::open_envelope(&keys, &envelope, &purpose, &aad)
    })();
    finish(&env, out)
}

/// Issues a proof-of-work challenge authenticated by the server's `secret` (server side).
#[napi(js_name = "issuePowChallenge")]
pub fn issue_pow_challenge(env: Env, secret: JsUnknown, options: Option<JsUnknown>) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let secret = hex_or_bytes(&r, &r.val(secret)?, "secret", 4096)?;
        let options = r.opt(options)?;
        let nonce = hex_or_bytes(&r, &r.prop(&options, "nonce")?, "options.nonce", 4096)?;
        let difficulty = r.integer(&r.prop(&options, "difficulty")?, "options.difficulty")?;
        let expires = r.integer(&r.prop(&options, "expires")?, "options.expires")?;
        handle_api::issue_pow_challenge(&secret, &nonce, difficulty, expires)
    })();
    finish(&env, out)
}

/// Solves a proof-of-work challenge: `{counter, solution}`, both `null` when
/// `options.maxIterations` (default 2^28) ran out.
#[napi(js_name = "solvePow")]
pub fn solve_pow(env: Env, challenge: JsUnknown, options: Option<JsUnknown>) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let challenge = r.text(&r.val(challenge)?, "challenge", 256)?;
        let options = r.opt(options)?;
        let max = r.optional_integer(
            &r.prop_any(&options, &["maxIterations", "max_iterations"])?,
            "options.maxIterations",
            handle_api::DEFAULT_POW_ITERATIONS,
        )?;
        handle_api::solve_pow(&challenge, max)
    })();
    finish(&env, out)
}

/// Checks a proof-of-work solution (server side): authentic, not expired, the work done, a
/// challenge asking at least `options.minDifficulty` bits (default 0).
#[napi(js_name = "verifyPowSolution")]
pub fn verify_pow_solution(
    env: Env,
    solution: JsUnknown,
    secret: JsUnknown,
    options: Option<JsUnknown>,
) -> JsResult {
    let r = Reader { env: &env };
    let out = (|| {
        let solution = r.text(&r.val(solution)?, "solution", 256)?;
        let secret = hex_or_bytes(&r, &r.val(secret)?, "secret", 4096)?;
        let options = r.opt(options)?;
        let now = r.now(&r.prop(&options, "now")?)?;
        let min = r.optional_integer(
            &r.prop_any(&options, &["minDifficulty", "min_difficulty"])?,
            "options.minDifficulty",
            0,
        )?;
        handle_api::verify_pow_solution(&solution, &secret, now, min)
    })();
    finish(&env, out)
}
