//! Native timing of the code behind the wasm `verifySignature` export, for the JavaScript
//! bench (`benches/js/run.mjs`), which feeds it the very keys, messages and signatures it times
//! in Node, so both sides measure the same inputs in the same run.
//!
//! Reads one JSON object from standard input:
//! `{"ms": 400, "rounds": 7, "cases": [{"label", "algorithm", "public_key", "message",
//! "signature", "context"}]}` (byte fields in standard base64), and prints one JSON object per
//! case: `{"label", "best_us", "median_us", "runs"}`, where each round runs the case for
//! `ms / rounds` milliseconds and the figures are per call. A call is what the wasm export runs
//! after reading its arguments: parse the key (`PublicKey::from_bytes`, with the Ed25519 point
//! checks) and `api::verify_signature` (signature parse, verify, the JSON view).
//!
//! `cargo run --release -p cairn-wasm --example native_verify < cases.json`

use std::io::Read;
use std::time::Instant;

use cairn_core::crypto::{Algorithm, PublicKey};
use cairn_core::encoding::b64_decode;
use serde_json::{json, Value};

fn field<'a>(case: &'a Value, name: &str) -> Result<&'a str, String> {
    case[name]
        .as_str()
        .ok_or_else(|| format!("case field {name} is missing or not a string"))
}

fn bytes(case: &Value, name: &str) -> Result<Vec<u8>, String> {
    b64_decode(field(case, name)?).map_err(|e| format!("{name}: {e}"))
}

fn run() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| e.to_string())?;
    let spec: Value = serde_json::from_str(&input).map_err(|e| e.to_string())?;
    let ms = spec["ms"].as_f64().unwrap_or(400.0);
    let rounds = spec["rounds"].as_u64().unwrap_or(7).max(1);
    let slice_ns = ms * 1e6 / rounds as f64;
    let cases = spec["cases"].as_array().ok_or("cases is not an array")?;
    for case in cases {
        let label = field(case, "label")?;
        let alg = Algorithm::parse(field(case, "algorithm")?).map_err(|e| e.to_string())?;
        let (pk, msg, sig, ctx) = (
            bytes(case, "public_key")?,
            bytes(case, "message")?,
            bytes(case, "signature")?,
            bytes(case, "context")?,
        );
        let call = || -> Result<Value, String> {
            let key = PublicKey::from_bytes(alg, &pk).map_err(|e| e.to_string())?;
            cairn_wasm::api::verify_signature(&key, &msg, &sig, &ctx).map_err(|e| e.to_string())
        };
        // A case that does not verify would time an early rejection: refuse it.
        call().map_err(|e| format!("{label}: {e}"))?;
        for _ in 0..3 {
            std::hint::black_box(call()).ok();
        }
        let mut per_call = Vec::new();
        let mut runs = 0u64;
        for _ in 0..rounds {
            let start = Instant::now();
            let mut n = 0u64;
            loop {
                std::hint::black_box(call()).ok();
                n += 1;
                let elapsed = start.elapsed().as_nanos() as f64;
                if elapsed >= slice_ns {
                    per_call.push(elapsed / n as f64);
                    break;
                }
            }
            runs += n;
        }
        per_call.sort_by(f64::total_cmp);
        let best = per_call.first().copied().unwrap_or(f64::NAN);
        let median = per_call
            .get(per_call.len() / 2)
            .copied()
            .unwrap_or(f64::NAN);
        println!(
            "{}",
            json!({"label": label, "best_us": best / 1e3, "median_us": median / 1e3, "runs": runs})
        );
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("native_verify: {e}");
        std::process::exit(1);
    }
}
