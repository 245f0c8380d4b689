//! The third module's exports (feature `handle`): the handle registry's client side
//! ([`crate::handle`]): handle normalisation and blind index, envelope keys, sealing and
//! opening envelopes, proof-of-work challenges. Its HPKE and Unicode tables are about as large
//! as the second module, and only handle-registry clients need them, so they ship apart
//! (`cairn_wasm_handle`): the Node entry loads it at the first call of one of them, browsers
//! with `initHandle()`. Same conventions as [`crate::exports`].

use wasm_bindgen::prelude::*;

use crate::handle::{self as handle_api, SecretKeyArg};
use crate::input::{MAX_MESSAGE_LEN, MAX_OBJECT_LEN};
use crate::js::{self, finish, prop, prop_any};

type JsResult = core::result::Result<JsValue, JsValue>;

/// Bytes given as a Uint8Array / ArrayBuffer or as a hex string (how seed 003's configuration
/// writes peppers, secrets and nonces).
fn hex_or_bytes(v: &JsValue, what: &str, max: usize) -> cairn_core::Result<Vec<u8>> {
    if v.is_string() {
        cairn_core::encoding::hex_decode(&js::text(v, what, max.saturating_mul(2))?)
            .map_err(|e| e.context(what))
    } else {
        js::bytes(v, what, max)
    }
}

fn optional_hex_or_bytes(v: &JsValue, what: &str, max: usize) -> cairn_core::Result<Vec<u8>> {
    if js::is_absent(v) {
        Ok(Vec::new())
    } else {
        hex_or_bytes(v, what, max)
    }
}

/// A recipient's public key: a Uint8Array / ArrayBuffer, hex or base64
/// ([`handle_api::public_key_text`]).
fn public_key(v: &JsValue, what: &str) -> cairn_core::Result<Vec<u8>> {
    if js::is_binary(v) {
        js::bytes(v, what, handle_api::MAX_ENVELOPE_PUBLIC_KEY_LEN)
    } else {
        let max = 4 * handle_api::MAX_ENVELOPE_PUBLIC_KEY_LEN;
        handle_api::public_key_text(&js::text(v, what, max)?, what)
    }
}

fn secret_key_arg(v: &JsValue, what: &str) -> cairn_core::Result<SecretKeyArg> {
    Ok(SecretKeyArg {
        secret: js::digest(&prop(v, "secret")?, &format!("{what}.secret"))?,
        kid: js::optional_text(&prop(v, "kid")?, &format!("{what}.kid"), 64)?,
        suite: js::optional_text(&prop(v, "suite")?, &format!("{what}.suite"), 64)?,
    })
}

/// The handle as the registry stores and compares it (NFKC, lowercase, limits).
#[wasm_bindgen(js_name = normaliseHandle, unchecked_return_type = "NormalisedHandle", skip_typescript)]
pub fn normalise_handle(
    #[wasm_bindgen(unchecked_param_type = "string")] input: JsValue,
) -> JsResult {
    finish(js::text(&input, "input", 1024).and_then(|t| handle_api::normalise_handle(&t)))
}

/// The normalised handle and its peppered blind index.
#[wasm_bindgen(js_name = handleBlindIndex, unchecked_return_type = "HandleBlindIndex", skip_typescript)]
pub fn handle_blind_index(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] pepper: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] input: JsValue,
) -> JsResult {
    finish((|| {
        let pepper = hex_or_bytes(&pepper, "pepper", 4096)?;
        handle_api::blind_index(&pepper, &js::text(&input, "input", 1024)?)
    })())
}

/// The public half of an envelope secret key, with its kid and suite.
#[wasm_bindgen(js_name = envelopeKey, unchecked_return_type = "EnvelopeKey", skip_typescript)]
pub fn envelope_key(
    #[wasm_bindgen(unchecked_param_type = "EnvelopeSecretKeyInput")] key: JsValue,
) -> JsResult {
    finish(secret_key_arg(&key, "key").and_then(|k| handle_api::envelope_key(&k)))
}

/// Seals `plaintext` to the recipient's envelope key (HPKE); `options.seed` is 32 random bytes.
#[wasm_bindgen(js_name = sealEnvelope, unchecked_return_type = "SealedEnvelope", skip_typescript)]
pub fn seal_envelope(
    #[wasm_bindgen(unchecked_param_type = "EnvelopeRecipient")] recipient: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] plaintext: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SealOptions")] options: JsValue,
) -> JsResult {
    finish((|| {
        let pk = public_key(
            &prop_any(&recipient, &["publicKey", "public_key"])?,
            "recipient.publicKey",
        )?;
        let kid = js::optional_text(&prop(&recipient, "kid")?, "recipient.kid", 64)?;
        let suite = js::optional_text(&prop(&recipient, "suite")?, "recipient.suite", 64)?;
        let plaintext = js::bytes(&plaintext, "plaintext", MAX_OBJECT_LEN)?;
        let purpose = js::text(&prop(&options, "purpose")?, "options.purpose", 256)?;
        let aad = optional_hex_or_bytes(&prop(&options, "aad")?, "options.aad", 4096)?;
        let seed = js::digest(&prop(&options, "seed")?, "options.seed")?;
        handle_api::seal_envelope(
            &pk,
            kid.as_deref(),
            suite.as_deref(),
            &purpose,
            &aad,
            &plaintext,
            &seed,
        )
    })())
}

/// Opens an envelope with one of `keys` (the first is the active one, the rest retired).
#[wasm_bindgen(js_name = openEnvelope, unchecked_return_type = "OpenedEnvelope", skip_typescript)]
pub fn open_envelope(
    #[wasm_bindgen(unchecked_param_type = "EnvelopeSecretKeyInput[]")] keys: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] envelope: JsValue,
    #[wasm_bindgen(unchecked_param_type = "OpenOptions")] options: JsValue,
) -> JsResult {
    finish((|| {
        let keys = js::list(&keys, "keys", handle_api::MAX_ENVELOPE_KEYS, |v, what| {
            secret_key_arg(v, what)
        })?;
        let envelope = js::binary(&envelope, "envelope", MAX_MESSAGE_LEN)?;
        let purpose = js::text(&prop(&options, "purpose")?, "options.purpose", 256)?;
        let aad = optional_hex_or_bytes(&prop(&options, "aad")?, "options.aad", 4096)?;
        handle_api::open_envelope(&keys, &envelope, &purpose, &aad)
    })())
}

/// Issues a proof-of-work challenge authenticated by the server's `secret` (server side).
#[wasm_bindgen(js_name = issuePowChallenge, unchecked_return_type = "PowChallenge", skip_typescript)]
pub fn issue_pow_challenge(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] secret: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PowChallengeOptions")] options: JsValue,
) -> JsResult {
    finish((|| {
        let secret = hex_or_bytes(&secret, "secret", 4096)?;
        let nonce = hex_or_bytes(&prop(&options, "nonce")?, "options.nonce", 4096)?;
        let difficulty = js::integer(&prop(&options, "difficulty")?, "options.difficulty")?;
        let expires = js::integer(&prop(&options, "expires")?, "options.expires")?;
        handle_api::issue_pow_challenge(&secret, &nonce, difficulty, expires)
    })())
}

/// Solves a proof-of-work challenge: `{counter, solution}`, both `null` when
/// `options.maxIterations` (default 2^28) ran out.
#[wasm_bindgen(js_name = solvePow, unchecked_return_type = "PowSolution", skip_typescript)]
pub fn solve_pow(
    #[wasm_bindgen(unchecked_param_type = "string")] challenge: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PowSolveOptions")] options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let challenge = js::text(&challenge, "challenge", 256)?;
        let max = js::optional_integer(
            &prop_any(&options, &["maxIterations", "max_iterations"])?,
            "options.maxIterations",
            handle_api::DEFAULT_POW_ITERATIONS,
        )?;
        handle_api::solve_pow(&challenge, max)
    })())
}

/// Checks a proof-of-work solution (server side): authentic, not expired, the work done, a
/// challenge asking at least `options.minDifficulty` bits (default 0).
#[wasm_bindgen(js_name = verifyPowSolution, unchecked_return_type = "PowVerification", skip_typescript)]
pub fn verify_pow_solution(
    #[wasm_bindgen(unchecked_param_type = "string")] solution: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] secret: JsValue,
    #[wasm_bindgen(
        unchecked_param_type = "{ now?: number | bigint | Date, minDifficulty?: number }"
    )]
    options: Option<JsValue>,
) -> JsResult {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    finish((|| {
        let solution = js::text(&solution, "solution", 256)?;
        let secret = hex_or_bytes(&secret, "secret", 4096)?;
        let now = js::now(&prop(&options, "now")?)?;
        let min = js::optional_integer(
            &prop_any(&options, &["minDifficulty", "min_difficulty"])?,
            "options.minDifficulty",
            0,
        )?;
        handle_api::verify_pow_solution(&solution, &secret, now, min)
    })())
}
