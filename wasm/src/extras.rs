//! The second module's exports (feature `extras`): `inspect`, the blux-reg v1.0 interop, the
//! witness and revocation-map functions, and the Merkle, trust-root-chain and ledger
//! verifiers called on their own.
//! Rarely needed next to the verifiers, and a quarter of the code: they are built into their
//! own module (`cairn_wasm_extras`), which the Node entry loads at the first call of one of
//! them and browsers load with `initExtras()`. Same conventions as [`crate::exports`].

use wasm_bindgen::prelude::*;

use crate::api::{self, BluxIssuers};
use crate::input::{
    MAX_CHAIN, MAX_KEYS, MAX_LEAVES, MAX_LEDGER_ENTRIES, MAX_MESSAGE_LEN, MAX_OBJECT_LEN, MAX_PROOF,
};
use crate::js::{self, finish, prop, prop_any};

type JsResult = core::result::Result<JsValue, JsValue>;

/// Verifies a blux-reg v1.0 capability token file. `options.trustedIssuers` pins issuers by
/// fingerprint (hex) or key; without it any embedded issuer key is accepted, as blux-reg does.
#[wasm_bindgen(js_name = bluxVerifyToken, unchecked_return_type = "BluxTokenVerification", skip_typescript)]
pub fn blux_verify_token(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] token: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BluxTokenOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let token = utf8(js::bytes(&token, "token", MAX_OBJECT_LEN)?, "token")?;
        let now = js::now(&prop(&options, "now")?)?;
        let revocations = prop(&options, "revocations")?;
        let revocations = if js::is_absent(&revocations) {
            None
        } else {
            Some(utf8(
                js::bytes(&revocations, "revocations", MAX_MESSAGE_LEN)?,
                "revocations",
            )?)
        };
        let trusted = prop_any(&options, &["trustedIssuers", "trusted_issuers"])?;
        let issuers = if js::is_absent(&trusted) {
            BluxIssuers::Any
        } else {
            BluxIssuers::Fingerprints(js::list(
                &trusted,
                "trustedIssuers",
                MAX_KEYS,
                |v, what| {
                    if v.is_string() && js::text(v, what, 128).is_ok_and(|t| t.trim().len() == 64) {
                        js::digest(v, what)
                    } else {
                        js::key(v, what).map(|k| cairn_core::blux::fingerprint(&k))
                    }
                },
            )?)
        };
        api::blux_verify_token(&token, now, revocations.as_deref(), &issuers)
    })())
}

/// Verifies a blux-reg v1.0 manifest file against the artifact (bytes, a digest object, or
/// its hex SHA-256) and trusted Ed25519 keys.
#[wasm_bindgen(js_name = bluxVerifyManifest, unchecked_return_type = "BluxManifestVerification", skip_typescript)]
pub fn blux_verify_manifest(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] manifest: JsValue,
    #[wasm_bindgen(unchecked_param_type = "ArtifactInput | string")] artifact: JsValue,
    #[wasm_bindgen(unchecked_param_type = "KeysInput")] keys: JsValue,
) -> JsResult {
    finish((|| {
        let manifest = utf8(
            js::bytes(&manifest, "manifest", MAX_OBJECT_LEN)?,
            "manifest",
        )?;
        let artifact = js::artifact(&artifact, "artifact", true)?;
        let keys = js::keys(&keys, "keys")?;
        api::blux_verify_manifest(&manifest, &artifact, &keys)
    })())
}

/// Verifies the hash chain of a blux-reg ledger file (JSON lines).
#[wasm_bindgen(js_name = bluxVerifyLedger, unchecked_return_type = "BluxLedgerVerification", skip_typescript)]
pub fn blux_verify_ledger(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] ledger: JsValue,
) -> JsResult {
    finish(
        js::bytes(&ledger, "ledger", MAX_MESSAGE_LEN)
            .and_then(|b| utf8(b, "ledger"))
            .and_then(|t| api::blux_verify_ledger(&t)),
    )
}

/// blux-reg's canonical JSON (Python's `json.dumps(sort_keys=True, separators=(",", ":"))`)
/// of a JSON text, and its SHA-256.
#[wasm_bindgen(js_name = bluxCanonicalJson, unchecked_return_type = "BluxCanonicalJson", skip_typescript)]
pub fn blux_canonical_json(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] json: JsValue,
) -> JsResult {
    finish(
        js::bytes(&json, "json", MAX_OBJECT_LEN)
            .and_then(|b| utf8(b, "json"))
            .and_then(|t| api::blux_canonical_json(&t)),
    )
}

fn utf8(bytes: Vec<u8>, what: &str) -> cairn_core::Result<String> {
    String::from_utf8(bytes)
        .map_err(|_| cairn_core::Error::malformed(format!("{what}: not UTF-8 text")))
}

/// Decodes any cairn object this build knows (envelope, bundle, checkpoint note, blux-reg
/// token or manifest) into a plain view tagged by `kind`, verifying nothing.
#[wasm_bindgen(unchecked_return_type = "InspectView", skip_typescript)]
pub fn inspect(#[wasm_bindgen(unchecked_param_type = "BytesInput")] object: JsValue) -> JsResult {
    finish(js::bytes(&object, "object", MAX_OBJECT_LEN).and_then(|b| api::inspect(&b)))
}

/// Verifies a registry's ledger export stream (`cairn ledger export`): every entry through
/// the ledger rule book, the Merkle tree and every checkpoint, and, from `options`, the
/// expected `origin` and a `checkpoint` note obtained from the source with its `checkpointKey`.
#[wasm_bindgen(js_name = verifyExport, unchecked_return_type = "ExportVerification", skip_typescript)]
pub fn verify_export(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] stream: JsValue,
    #[wasm_bindgen(unchecked_param_type = "ExportOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let stream = js::bytes(&stream, "stream", MAX_MESSAGE_LEN)?;
        let origin = js::optional_text(&prop(&options, "origin")?, "origin", 1024)?;
        let note = js::optional_text(&prop(&options, "checkpoint")?, "checkpoint", 64 * 1024)?;
        let checkpoint = match note {
            None => None,
            Some(n) => Some((
                n,
                js::key(
                    &prop_any(&options, &["checkpointKey", "checkpoint_key"])?,
                    "checkpointKey",
                )?,
            )),
        };
        api::verify_export(&stream, origin, checkpoint)
    })())
}

/// Verifies a checkpoint (as `verifyCheckpoint`) and, from tiles the caller fetched (C2SP
/// tlog-tiles), `request.entry` with its inclusion proof and the consistency proof from
/// `request.oldCheckpoint`. The package never fetches: the answer is `{complete: false,
/// missing}` until every tile needed is among `tiles` (`[{path, data}]`).
#[wasm_bindgen(js_name = verifyFromTiles, unchecked_return_type = "TilesVerification", skip_typescript)]
pub fn verify_from_tiles(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] note: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointVerifierInput | CheckpointVerifierInput[]")]
    verifiers: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointPolicyInput | string")] policy: JsValue,
    #[wasm_bindgen(unchecked_param_type = "TilesRequest")] request: Option<JsValue>,
    #[wasm_bindgen(unchecked_param_type = "TileInput[]")] tiles: Option<JsValue>,
) -> JsResult {
    let request = request.unwrap_or(JsValue::UNDEFINED);
    let tiles = tiles.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let note = js::bytes(&note, "note", MAX_OBJECT_LEN)?;
        let verifiers = js::checkpoint_verifiers(&verifiers)?;
        let policy = js::checkpoint_policy(&policy)?;
        let entry = prop(&request, "entry")?;
        let old = prop_any(&request, &["oldCheckpoint", "old_checkpoint"])?;
        let request = api::TileRequest {
            entry: (!js::is_absent(&entry))
                .then(|| js::integer(&entry, "entry"))
                .transpose()?,
            old_checkpoint: (!js::is_absent(&old))
                .then(|| js::bytes(&old, "oldCheckpoint", MAX_OBJECT_LEN))
                .transpose()?,
        };
        let tiles = if js::is_absent(&tiles) {
            Vec::new()
        } else {
            let mut total = 0;
            js::list(&tiles, "tiles", api::MAX_TILES, |v, what| {
                let path = js::text(&prop(v, "path")?, what, 256)?;
                api::tile_input(
                    path,
                    |limit| js::bytes(&prop(v, "data")?, what, limit),
                    &mut total,
                )
            })?
        };
        api::verify_from_tiles(&note, &verifiers, &policy, &request, &tiles)
    })())
}

/// The arguments both peer-key verifiers take: the message, the verifier's own peer id, the
/// time and the allowed clock skew (default 300 s).
fn peer_args(
    message: &JsValue,
    me: &JsValue,
    options: &JsValue,
) -> cairn_core::Result<(Vec<u8>, String, u64, u64)> {
    Ok((
        js::bytes(message, "message", MAX_OBJECT_LEN)?,
        js::text(me, "me", 1024)?,
        js::now(&prop(options, "now")?)?,
        js::optional_integer(
            &prop_any(options, &["maxSkew", "max_skew"])?,
            "maxSkew",
            300,
        )?,
    ))
}

/// Verifies a peer key request addressed to `me` (`options`: `now`, `maxSkew` in seconds).
#[wasm_bindgen(js_name = verifyKeyRequest, unchecked_return_type = "KeyRequestVerification", skip_typescript)]
pub fn verify_key_request(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] message: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] me: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PeerOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let (m, me, now, skew) = peer_args(&message, &me, &options)?;
        api::verify_key_request(&m, &me, now, skew)
    })())
}

/// Verifies a peer key response answering `me` (`options`: `now`, `maxSkew` in seconds, and
/// who vouches for the key: `bootstrapRoot`, `logRoots`, `pinnedKeyId`, `trustOnFirstUse`,
/// `requireHybridCheckpoint`, `maxAge`).
#[wasm_bindgen(js_name = verifyKeyResponse, unchecked_return_type = "KeyResponseVerification", skip_typescript)]
pub fn verify_key_response(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] message: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] me: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PeerOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let (m, me, now, skew) = peer_args(&message, &me, &options)?;
        let bootstrap = prop(&options, "bootstrapRoot")?;
        let mut asked = false;
        for name in api::VOUCH_OPTIONS {
            asked |= !js::is_absent(&prop(&options, name)?);
        }
        let vouch = api::PeerVouchOptions {
            asked,
            bootstrap_root: if js::is_absent(&bootstrap) {
                None
            } else {
                Some(js::bytes(&bootstrap, "bootstrapRoot", MAX_OBJECT_LEN)?)
            },
            log_roots: {
                let logs = prop(&options, "logRoots")?;
                if js::is_absent(&logs) {
                    Vec::new()
                } else {
                    let mut total = 0usize;
                    js::list(&logs, "logRoots", MAX_CHAIN, |v, what| {
                        let root = js::bytes(&prop(v, "root")?, what, MAX_OBJECT_LEN)?;
                        total = total.saturating_add(root.len());
                        crate::input::check_len(total, js::MAX_LIST_BYTES, "logRoots")?;
                        Ok((js::text(&prop(v, "peer")?, what, 256)?, root))
                    })?
                }
            },
            pinned_key_id: js::optional_text(&prop(&options, "pinnedKeyId")?, "pinnedKeyId", 128)?,
            trust_on_first_use: js::boolean(
                &prop(&options, "trustOnFirstUse")?,
                "trustOnFirstUse",
                false,
            )?,
            require_hybrid_checkpoint: js::boolean(
                &prop(&options, "requireHybridCheckpoint")?,
                "requireHybridCheckpoint",
                true,
            )?,
            max_age: js::maybe_integer(&prop(&options, "maxAge")?, "maxAge")?,
        };
        api::verify_key_response(&m, &me, now, skew, &vouch)
    })())
}

/// The option names of a witness policy in `verifyCosignatures` and
/// `verifyWitnessedCheckpoint`.
const WITNESS_OPTIONS: [&str; 4] = ["witnesses", "quorum", "maxAge", "maxFutureSkew"];

/// Verifies the witness cosignatures of a checkpoint note under `options` (`witnesses`: vkeys
/// or `{name, vkey}`; `quorum` (default: all), `now`, `maxAge`, `maxFutureSkew`) and reports
/// which witnesses cosigned and whether the quorum is met (not enforced).
#[wasm_bindgen(js_name = verifyCosignatures, unchecked_return_type = "WitnessVerdict", skip_typescript)]
pub fn verify_cosignatures(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] note: JsValue,
    #[wasm_bindgen(unchecked_param_type = "WitnessPolicyInput")] options: JsValue,
) -> JsResult {
    finish((|| {
        let note = js::bytes(&note, "note", MAX_OBJECT_LEN)?;
        let policy = js::required_witness_policy(&options, WITNESS_OPTIONS)?;
        let now = js::now(&prop(&options, "now")?)?;
        api::verify_cosignatures(&note, &policy, now)
    })())
}

/// Verifies a checkpoint note's log signature (as `verifyCheckpoint`) and that a quorum of the
/// witnesses in `options` cosigned it.
#[wasm_bindgen(js_name = verifyWitnessedCheckpoint, unchecked_return_type = "WitnessedCheckpointVerification", skip_typescript)]
pub fn verify_witnessed_checkpoint(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] note: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointVerifierInput | CheckpointVerifierInput[]")]
    verifiers: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointPolicyInput | string")] policy: JsValue,
    #[wasm_bindgen(unchecked_param_type = "WitnessPolicyInput")] options: JsValue,
) -> JsResult {
    finish((|| {
        let note = js::bytes(&note, "note", MAX_OBJECT_LEN)?;
        let verifiers = js::checkpoint_verifiers(&verifiers)?;
        let policy = js::checkpoint_policy(&policy)?;
        let witnesses = js::required_witness_policy(&options, WITNESS_OPTIONS)?;
        let now = js::now(&prop(&options, "now")?)?;
        api::verify_witnessed_checkpoint(&note, &verifiers, &policy, &witnesses, now)
    })())
}

/// Compares two signed checkpoint notes of one log (both must verify): `{split_view: null}`
/// when both can be true, else the split view (same size, different roots or revocation maps).
#[wasm_bindgen(js_name = detectSplitView, unchecked_return_type = "SplitViewDetection", skip_typescript)]
pub fn detect_split_view(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] first: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] second: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointVerifierInput | CheckpointVerifierInput[]")]
    verifiers: JsValue,
    #[wasm_bindgen(unchecked_param_type = "CheckpointPolicyInput | string")] policy: JsValue,
) -> JsResult {
    finish((|| {
        let first = js::bytes(&first, "first", MAX_OBJECT_LEN)?;
        let second = js::bytes(&second, "second", MAX_OBJECT_LEN)?;
        let verifiers = js::checkpoint_verifiers(&verifiers)?;
        let policy = js::checkpoint_policy(&policy)?;
        api::detect_split_view(&first, &second, &verifiers, &policy)
    })())
}

/// The revocation map's key of an object (`kind`: key, token, manifest; `id`: its 32-byte id).
#[wasm_bindgen(js_name = revocationMapKey, unchecked_return_type = "RevocationMapKey", skip_typescript)]
pub fn revocation_map_key(
    #[wasm_bindgen(unchecked_param_type = "RevocationKind")] kind: JsValue,
    #[wasm_bindgen(unchecked_param_type = "DigestInput")] id: JsValue,
) -> JsResult {
    finish((|| {
        let kind = js::text(&kind, "kind", 64)?;
        api::revocation_map_key(&kind, &js::digest(&id, "id")?)
    })())
}

/// The root of the revocation map holding `revoked` (`[{kind, id, seq}]`, any order).
#[wasm_bindgen(js_name = revocationMapRoot, unchecked_return_type = "RevocationsView", skip_typescript)]
pub fn revocation_map_root(
    #[wasm_bindgen(unchecked_param_type = "RevokedObjectInput[]")] revoked: JsValue,
) -> JsResult {
    finish((|| {
        let objects = js::list(&revoked, "revoked", api::MAX_MAP_OBJECTS, |v, what| {
            Ok((
                js::text(&prop(v, "kind")?, &format!("{what}.kind"), 64)?,
                js::digest(&prop(v, "id")?, &format!("{what}.id"))?,
                js::integer(&prop(v, "seq")?, &format!("{what}.seq"))?,
            ))
        })?;
        api::revocation_map_root(&objects)
    })())
}

/// The arguments of both revocation proof verifiers.
fn proof_args(
    root: &JsValue,
    kind: &JsValue,
    id: &JsValue,
    proof: &JsValue,
) -> cairn_core::Result<(
    cairn_core::encoding::Digest,
    String,
    cairn_core::encoding::Digest,
    Vec<u8>,
)> {
    Ok((
        js::digest(root, "root")?,
        js::text(kind, "kind", 64)?,
        js::digest(id, "id")?,
        js::binary(proof, "proof", MAX_OBJECT_LEN)?,
    ))
}

/// Moves a bundle to the newer checkpoint of the registry's refresh pieces (`CRFP`), after
/// checking they fit it; returns the refreshed (version 2) bundle's bytes. Verify the result
/// with `verifyBundle`.
#[wasm_bindgen(js_name = refreshBundle, unchecked_return_type = "Uint8Array", skip_typescript)]
pub fn refresh_bundle(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer | string")] bundle: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer | string")] pieces: JsValue,
) -> JsResult {
    let out = js::binary(&bundle, "bundle", cairn_core::bundle::MAX_BUNDLE_LEN).and_then(|b| {
        let p = js::binary(&pieces, "pieces", cairn_core::bundle::MAX_BUNDLE_LEN)?;
        api::refresh_bundle(&b, &p)
    });
    match out {
        Ok(bytes) => Ok(js_sys::Uint8Array::from(bytes.as_slice()).into()),
        Err(e) => Err(js::to_js_error(&e)),
    }
}

/// Verifies a revocation map non-membership proof: the object is not revoked as of the map
/// with `root` (`revoked` if the proof shows it is).
#[wasm_bindgen(js_name = verifyNotRevoked, unchecked_return_type = "NotRevokedVerification", skip_typescript)]
pub fn verify_not_revoked(
    #[wasm_bindgen(unchecked_param_type = "DigestInput")] root: JsValue,
    #[wasm_bindgen(unchecked_param_type = "RevocationKind")] kind: JsValue,
    #[wasm_bindgen(unchecked_param_type = "DigestInput")] id: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] proof: JsValue,
) -> JsResult {
    finish(
        proof_args(&root, &kind, &id, &proof)
            .and_then(|(root, kind, id, proof)| api::verify_not_revoked(&root, &kind, &id, &proof)),
    )
}

/// Verifies a revocation map membership proof: the object is revoked in the map with `root`,
/// by the ledger entry `seq`.
#[wasm_bindgen(js_name = verifyRevoked, unchecked_return_type = "RevokedVerification", skip_typescript)]
pub fn verify_revoked(
    #[wasm_bindgen(unchecked_param_type = "DigestInput")] root: JsValue,
    #[wasm_bindgen(unchecked_param_type = "RevocationKind")] kind: JsValue,
    #[wasm_bindgen(unchecked_param_type = "DigestInput")] id: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] proof: JsValue,
) -> JsResult {
    finish(
        proof_args(&root, &kind, &id, &proof)
            .and_then(|(root, kind, id, proof)| api::verify_revoked(&root, &kind, &id, &proof)),
    )
}

/// A checkpoint extension line read as a `cairn.revocations` line: `{count, root, line}`,
/// `null` for a line of another kind.
#[wasm_bindgen(js_name = parseRevocationsLine, unchecked_return_type = "RevocationsView | null", skip_typescript)]
pub fn parse_revocations_line(
    #[wasm_bindgen(unchecked_param_type = "string")] line: JsValue,
) -> JsResult {
    finish(js::text(&line, "line", 1024).and_then(|l| api::parse_revocations_line(&l)))
}

/// `verifyBundle`'s witness options (`witnesses`, `witnessQuorum`, `witnessMaxAge`,
/// `witnessMaxFutureSkew`), read and checked before the bundle is verified, as the native
/// addon reads them: the package's `verifyBundle` calls this first when `witnesses` is given.
/// Not API (the `__` prefix keeps it out of the package's exports).
#[wasm_bindgen(js_name = __checkBundleWitnessOptions, skip_typescript)]
pub fn check_bundle_witness_options(options: JsValue) -> core::result::Result<(), JsValue> {
    js::witness_policy(&options, api::BUNDLE_WITNESS_OPTIONS)
        .map(|_| ())
        .map_err(|e| js::to_js_error(&e))
}

/// `verifyBundle`'s witness verdict (`api::bundle_witnesses`), once the main module's
/// `verifyBundle` has accepted the bundle: the package's `verifyBundle` puts it in the
/// verdict's `witnessed`. Not API.
#[wasm_bindgen(js_name = __bundleWitnesses, skip_typescript)]
pub fn bundle_witnesses(bundle: JsValue, options: JsValue) -> JsResult {
    finish((|| {
        let bundle = js::bytes(&bundle, "bundle", MAX_OBJECT_LEN)?;
        let now = js::now(&prop(&options, "now")?)?;
        let policy = js::required_witness_policy(&options, api::BUNDLE_WITNESS_OPTIONS)?;
        api::bundle_witnesses(&bundle, &policy, now)
    })())
}

// Merkle proofs, trust-root chains and ledger entries on their own: `verifyBundle` (main module)
// checks all of them inside a bundle; called alone they are rarer, and 7 KB of gzip here.

/// Verifies an RFC 9162 inclusion proof of the leaf with hash `leafHash` at `index` in the
/// tree of `treeSize` leaves whose root is `root`.
#[wasm_bindgen(js_name = verifyInclusion, unchecked_return_type = "InclusionVerification", skip_typescript)]
pub fn verify_inclusion(
    #[wasm_bindgen(js_name = leafHash, unchecked_param_type = "DigestInput")] leaf_hash: JsValue,
    #[wasm_bindgen(unchecked_param_type = "IntegerInput")] index: JsValue,
    #[wasm_bindgen(js_name = treeSize, unchecked_param_type = "IntegerInput")] tree_size: JsValue,
    #[wasm_bindgen(unchecked_param_type = "DigestInput[]")] proof: JsValue,
    #[wasm_bindgen(unchecked_param_type = "DigestInput")] root: JsValue,
) -> JsResult {
    finish((|| {
        let leaf = js::digest(&leaf_hash, "leafHash")?;
        let index = js::integer(&index, "index")?;
        let size = js::integer(&tree_size, "treeSize")?;
        let proof = js::list(&proof, "proof", MAX_PROOF, js::digest)?;
        let root = js::digest(&root, "root")?;
        api::verify_inclusion(&leaf, index, size, &proof, &root)
    })())
}

/// Verifies an RFC 9162 consistency proof between two tree sizes and their roots.
#[wasm_bindgen(js_name = verifyConsistency, unchecked_return_type = "ConsistencyVerification", skip_typescript)]
pub fn verify_consistency(
    #[wasm_bindgen(js_name = oldSize, unchecked_param_type = "IntegerInput")] old_size: JsValue,
    #[wasm_bindgen(js_name = newSize, unchecked_param_type = "IntegerInput")] new_size: JsValue,
    #[wasm_bindgen(js_name = oldRoot, unchecked_param_type = "DigestInput")] old_root: JsValue,
    #[wasm_bindgen(js_name = newRoot, unchecked_param_type = "DigestInput")] new_root: JsValue,
    #[wasm_bindgen(unchecked_param_type = "DigestInput[]")] proof: JsValue,
) -> JsResult {
    finish((|| {
        let old_size = js::integer(&old_size, "oldSize")?;
        let new_size = js::integer(&new_size, "newSize")?;
        let old_root = js::digest(&old_root, "oldRoot")?;
        let new_root = js::digest(&new_root, "newRoot")?;
        let proof = js::list(&proof, "proof", MAX_PROOF, js::digest)?;
        api::verify_consistency(old_size, new_size, &old_root, &new_root, &proof)
    })())
}

/// The RFC 6962 Merkle root of `leaves` (raw leaf bytes), with each leaf's hash.
#[wasm_bindgen(js_name = merkleRoot, unchecked_return_type = "MerkleRoot", skip_typescript)]
pub fn merkle_root(
    #[wasm_bindgen(unchecked_param_type = "BytesInput[]")] leaves: JsValue,
) -> JsResult {
    finish(js::byte_list(&leaves, "leaves", MAX_LEAVES).and_then(|l| api::merkle_root(&l)))
}

/// Verifies a pinned trust root (signed by a threshold of its own root keys) and walks the
/// rotation `chain` (versions n+1, n+2, ...) to the newest version, unexpired at `now`.
#[wasm_bindgen(js_name = verifyTrustRootChain, unchecked_return_type = "TrustRootVerification", skip_typescript)]
pub fn verify_trust_root_chain(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] pinned: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BytesInput[]")] chain: Option<JsValue>,
    #[wasm_bindgen(unchecked_param_type = "TimeInput")] now: Option<JsValue>,
) -> JsResult {
    let chain = chain.unwrap_or(JsValue::UNDEFINED);
    let now = now.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let pinned = js::bytes(&pinned, "pinned", MAX_OBJECT_LEN)?;
        let chain = js::optional_byte_list(&chain, "chain", MAX_CHAIN)?;
        api::verify_trust_root_chain(&pinned, &chain, js::now(&now)?)
    })())
}

/// Verifies one signed ledger entry (envelope bytes or DSSE JSON) by `threshold` of `logKeys`.
#[wasm_bindgen(js_name = verifyLedgerEntry, unchecked_return_type = "LedgerEntryVerification", skip_typescript)]
pub fn verify_ledger_entry(
    #[wasm_bindgen(unchecked_param_type = "BytesInput")] entry: JsValue,
    #[wasm_bindgen(js_name = logKeys, unchecked_param_type = "KeysInput")] log_keys: JsValue,
    #[wasm_bindgen(unchecked_param_type = "IntegerInput")] threshold: Option<JsValue>,
) -> JsResult {
    let threshold = threshold.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let entry = js::bytes(&entry, "entry", MAX_OBJECT_LEN)?;
        let keys = js::keys(&log_keys, "logKeys")?;
        let threshold = js::usize_of(
            js::optional_integer(&threshold, "threshold", 1)?,
            "threshold",
        )?;
        api::verify_ledger_entry(&entry, &keys, threshold)
    })())
}

/// Verifies the hash chain of ledger entries (entry bytes, in order) from genesis or from
/// `start`, returning the head the next entry must continue.
#[wasm_bindgen(js_name = verifyLedgerChain, unchecked_return_type = "LedgerChainVerification", skip_typescript)]
pub fn verify_ledger_chain(
    #[wasm_bindgen(unchecked_param_type = "BytesInput[]")] entries: JsValue,
    #[wasm_bindgen(unchecked_param_type = "ChainHeadInput")] start: Option<JsValue>,
) -> JsResult {
    let start = start.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let entries = js::byte_list(&entries, "entries", MAX_LEDGER_ENTRIES)?;
        let start = js::chain_head(&start)?;
        api::verify_ledger_chain(&entries, start)
    })())
}
