//! `cairn demo`: the whole story in memory. Fresh keys, a trust root, a ledger with a token
//! and a signed artifact, a hybrid-signed checkpoint, bundles verified offline against the
//! pinned root, and tampered copies rejected with their reasons.

use cairn::core::bundle::example::{MemoryRegistry, NOW};
use cairn::core::bundle::{verify_bundle, Bundle, BundlePolicy};
use cairn::core::crypto::{Algorithm, SigningKey};
use cairn::core::encoding::hex_encode;
use cairn::core::manifest::ArtifactCheck;
use cairn::core::trust::VerifiedRoot;
use cairn::{Error, ErrorCode};
use serde_json::{json, Value};

const ARTIFACT: &[u8] = b"#!/bin/sh\necho 'hello from a release signed by cairn'\n";

struct Report {
    json: bool,
    steps: Vec<Value>,
}

impl Report {
    fn say(&mut self, title: &str, body: &str) {
        if !self.json {
            println!("\n== {title}\n{body}");
        }
        self.steps.push(json!({"step": title, "detail": body}));
    }
}

/// Runs the demo; an unexpected outcome (a valid object rejected, or a tampered one
/// accepted) is an error.
pub fn run(json_out: bool) -> Result<(), Error> {
    let mut r = Report {
        json: json_out,
        steps: Vec::new(),
    };
    let root_key = SigningKey::generate(Algorithm::Ed25519MlDsa65);
    let log_key = SigningKey::generate(Algorithm::Ed25519MlDsa44);
    let signer = SigningKey::generate(Algorithm::Ed25519);
    let holder = SigningKey::generate(Algorithm::Ed25519);
    r.say(
        "keys generated",
        &format!(
            "root     {} {}\nlog      {} {}\nsigner   {} {}\nholder   {} {}",
            root_key.algorithm(),
            root_key.public_key().key_id(),
            log_key.algorithm(),
            log_key.public_key().key_id(),
            signer.algorithm(),
            signer.public_key().key_id(),
            holder.algorithm(),
            holder.public_key().key_id()
        ),
    );

    let mut reg = MemoryRegistry::with_keys(root_key, log_key, signer);
    let pinned: VerifiedRoot = reg.pinned();
    r.say(
        "trust root v1 signed",
        &format!(
            "origin {}\nid     {}",
            pinned.origin,
            hex_encode(&pinned.id())
        ),
    );

    let (token, token_seq) = reg.issue_token(&holder, "publish", 3600)?;
    r.say(
        "capability token issued",
        &format!("id {}\n{}", hex_encode(&token.id()), token.to_json()),
    );

    let (manifest, manifest_seq) = reg.sign_artifact("hello.sh", ARTIFACT)?;
    r.say("artifact manifest signed", &manifest.to_json());

    let checkpoint = reg.checkpoint()?;
    r.say(
        "checkpoint signed (Ed25519 + ML-DSA-44 lines)",
        checkpoint.trim_end(),
    );

    let token_bundle = reg.bundle(token_seq, token, vec![])?;
    let manifest_bundle = reg.bundle(manifest_seq, manifest, vec![])?;
    let tb = Bundle::from_bytes(&token_bundle.to_bytes())?;
    let mb = Bundle::from_bytes(&manifest_bundle.to_bytes())?;

    let v = verify_bundle(&tb, &pinned, NOW, &BundlePolicy::default())?;
    r.say("token bundle verified offline", &summary(&v.to_json()));
    let with_artifact = BundlePolicy {
        artifact: ArtifactCheck::Bytes(ARTIFACT),
        ..Default::default()
    };
    let v = verify_bundle(&mb, &pinned, NOW, &with_artifact)?;
    r.say(
        "manifest bundle verified offline with the artifact",
        &summary(&v.to_json()),
    );

    // Tampered copies must fail, each with its own reason.
    let mut tampered_artifact = ARTIFACT.to_vec();
    tampered_artifact[12] ^= 0x20;
    let policy = BundlePolicy {
        artifact: ArtifactCheck::Bytes(&tampered_artifact),
        ..Default::default()
    };
    expect_failure(
        &mut r,
        "modified artifact",
        verify_bundle(&mb, &pinned, NOW, &policy),
        ErrorCode::DigestMismatch,
    )?;

    let mut forged = tb.clone();
    let last = forged.subject.payload.len() - 1;
    forged.subject.payload[last] ^= 1;
    let res = verify_bundle(&forged, &pinned, NOW, &BundlePolicy::default());
    expect_failure(
        &mut r,
        "token with one bit flipped",
        res,
        ErrorCode::ProofInvalid,
    )?;

    let mut bad_cp = mb.clone();
    bad_cp.checkpoint = bad_cp.checkpoint.replacen('\n', "\n1", 1);
    let res = verify_bundle(&bad_cp, &pinned, NOW, &with_artifact);
    expect_failure(
        &mut r,
        "checkpoint with an altered tree size",
        res,
        ErrorCode::SignatureInvalid,
    )?;

    let res = verify_bundle(&tb, &pinned, NOW + 7200, &BundlePolicy::default());
    expect_failure(&mut r, "token two hours later", res, ErrorCode::Expired)?;

    if json_out {
        println!("{}", json!({"ok": true, "steps": r.steps}));
    } else {
        println!("\nall checks behaved as expected.");
    }
    Ok(())
}

fn summary(v: &Value) -> String {
    format!(
        "valid {} | kind {} | signers {} | checkpoint {} size {} | checks {}",
        v["valid"],
        v["kind"],
        v["signers"].as_array().map_or(0, |s| s.len()),
        v["checkpoint"]["origin"],
        v["checkpoint"]["size"],
        v["checks"]
            .as_array()
            .map(|c| c
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    )
}

fn expect_failure<T>(
    r: &mut Report,
    what: &str,
    res: Result<T, Error>,
    want: ErrorCode,
) -> Result<(), Error> {
    match res {
        Err(e) if e.code() == want => {
            r.say(
                &format!("tampered: {what}"),
                &format!("rejected as expected: {e}"),
            );
            Ok(())
        }
        Err(e) => Err(Error::new(
            e.code(),
            format!("{what}: rejected for an unexpected reason: {e}"),
        )),
        Ok(_) => Err(Error::new(
            ErrorCode::SignatureInvalid,
            format!("{what} was accepted"),
        )),
    }
}
