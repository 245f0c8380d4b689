//! `cairn bundle verify --last-seen / --min-size / --update-last-seen`: an offline verifier
//! that remembers the newest checkpoint it accepted refuses an older one (replayed, exit 1)
//! and another root at the same size (a split view: proof_invalid, exit 1).

use super::*;

/// A registry with two signed artifacts and a bundle exported after each: the first bundle's
/// checkpoint is older than the second's. Returns (old bundle, new bundle, root file).
fn two_bundles(env: &Env) -> (String, String, String) {
    env.insecure_registry();
    let mut bundles = Vec::new();
    for name in ["one.bin", "two.bin"] {
        let artifact = env.write(name, name.as_bytes());
        env.ok(&["sign", &artifact, "--key", "release"]);
        let digest = env.ok(&["verify", &artifact])["manifest"]["digest"]
            .as_str()
            .unwrap()
            .to_owned();
        let bundle = env.p(&format!("{name}.bundle"));
        env.ok(&["bundle", "export", "--manifest", &digest, "--out", &bundle]);
        bundles.push(bundle);
    }
    let new = bundles.pop().unwrap();
    let old = bundles.pop().unwrap();
    (old, new, env.p("root.json"))
}

fn verify<'a>(bundle: &'a str, root: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["bundle", "verify", bundle, "--trust-root", root];
    a.extend_from_slice(extra);
    a
}

#[test]
fn an_older_checkpoint_than_the_last_seen_one_is_refused() {
    let env = Env::new();
    let (old, new, root) = two_bundles(&env);
    let seen = env.p("seen.checkpoint");

    // First use: nothing remembered yet; the newer bundle's checkpoint is written down.
    let v = env.ok(&verify(
        &new,
        &root,
        &["--last-seen", &seen, "--update-last-seen"],
    ));
    assert_eq!(v["last_seen_updated"], true, "{v}");
    assert_eq!(v["last_seen_size"], Value::Null, "{v}");
    let new_size = v["verdict"]["checkpoint"]["size"].as_u64().unwrap();
    let remembered = std::fs::read_to_string(&seen).unwrap();
    assert!(remembered.starts_with(&format!("test.example/log\n{new_size}\n")));

    // The older bundle verifies on its own, and is refused against the memory.
    let alone = env.ok(&verify(&old, &root, &[]));
    let old_size = alone["verdict"]["checkpoint"]["size"].as_u64().unwrap();
    assert!(old_size < new_size, "{old_size} < {new_size}");
    let e = env.fails(&verify(&old, &root, &["--last-seen", &seen]), 1, "replayed");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains(&format!("size {old_size}")), "{msg}");
    assert!(msg.contains(&format!("size {new_size}")), "{msg}");
    // --update-last-seen never makes an older bundle pass, nor rewrites the memory.
    env.fails(
        &verify(&old, &root, &["--last-seen", &seen, "--update-last-seen"]),
        1,
        "replayed",
    );
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), remembered);

    // A minimum size says the same; at or below the bundle's size it passes.
    let above = (old_size + 1).to_string();
    env.fails(&verify(&old, &root, &["--min-size", &above]), 1, "replayed");
    let at = old_size.to_string();
    let v = env.ok(&verify(&old, &root, &["--min-size", &at]));
    assert_eq!(v["last_seen_size"], old_size);
    assert!(v["verdict"]["checks"]
        .as_array()
        .unwrap()
        .contains(&json_str("checkpoint_freshness")));

    // The same checkpoint again is fine; the text output says what was compared.
    let out = env.run(&verify(&new, &root, &["--last-seen", &seen]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "checkpoint size {new_size}, last seen {new_size}: not older"
        )),
        "{}",
        out.stdout
    );
}

fn json_str(s: &str) -> Value {
    Value::String(s.into())
}

#[test]
fn the_memory_moves_forward_only() {
    let env = Env::new();
    let (old, new, root) = two_bundles(&env);
    let seen = env.p("seen.checkpoint");
    let v = env.ok(&verify(
        &old,
        &root,
        &["--last-seen", &seen, "--update-last-seen"],
    ));
    assert_eq!(v["last_seen_updated"], true);
    let v = env.ok(&verify(
        &new,
        &root,
        &["--last-seen", &seen, "--update-last-seen"],
    ));
    assert_eq!(v["last_seen_updated"], true);
    let new_size = v["verdict"]["checkpoint"]["size"].as_u64().unwrap();
    assert!(v["last_seen_size"].as_u64().unwrap() < new_size, "{v}");
    // The same checkpoint again: verified, the file is left as it is.
    let v = env.ok(&verify(
        &new,
        &root,
        &["--last-seen", &seen, "--update-last-seen"],
    ));
    assert_eq!(v["last_seen_updated"], false);
    env.fails(&verify(&old, &root, &["--last-seen", &seen]), 1, "replayed");
}

#[test]
fn another_root_at_the_last_seen_size_is_a_split_view() {
    let env = Env::new();
    let (old, _, root) = two_bundles(&env);
    let v = env.ok(&verify(&old, &root, &[]));
    let size = v["verdict"]["checkpoint"]["size"].as_u64().unwrap();
    // The verifier's memory holds another tree of the same size (bare checkpoint text).
    let other_root = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let fork = env.write(
        "fork.checkpoint",
        format!("test.example/log\n{size}\n{other_root}\n").as_bytes(),
    );
    let e = env.fails(
        &verify(&old, &root, &["--last-seen", &fork]),
        1,
        "proof_invalid",
    );
    assert!(e["message"].as_str().unwrap().contains("split view"), "{e}");
    // A memory of a larger tree makes this bundle's checkpoint older, whatever the roots.
    let larger = env.write(
        "larger.checkpoint",
        format!("test.example/log\n{}\n{other_root}\n", size + 100).as_bytes(),
    );
    env.fails(
        &verify(&old, &root, &["--last-seen", &larger]),
        1,
        "replayed",
    );
    // Another log's checkpoint is not a memory of this one.
    let elsewhere = env.write(
        "elsewhere.checkpoint",
        format!("other.example/log\n{size}\n{other_root}\n").as_bytes(),
    );
    env.fails(
        &verify(&old, &root, &["--last-seen", &elsewhere]),
        1,
        "domain_mismatch",
    );
}

#[test]
fn unreadable_memories_and_misuse_are_input_errors() {
    let env = Env::new();
    let (old, _, root) = two_bundles(&env);
    let bad = env.write("bad.checkpoint", b"test.example/log\nten\nroot\n");
    env.fails(&verify(&old, &root, &["--last-seen", &bad]), 2, "malformed");
    let binary = env.write("binary.checkpoint", &[0xff, 0x00, 0x0a]);
    env.fails(
        &verify(&old, &root, &["--last-seen", &binary]),
        2,
        "malformed",
    );
    // A missing memory is an error unless it is to be created.
    let missing = env.p("missing.checkpoint");
    env.fails(
        &verify(&old, &root, &["--last-seen", &missing]),
        2,
        "not_found",
    );
    assert!(!env.path("missing.checkpoint").exists());
    // Usage: --update-last-seen needs --last-seen; --min-size and --last-seen exclude each other.
    let out = env.run(&verify(&old, &root, &["--update-last-seen"]));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let out = env.run(&verify(
        &old,
        &root,
        &["--last-seen", &bad, "--min-size", "3"],
    ));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let out = env.run(&verify(&old, &root, &["--min-size", "-1"]));
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}

/// `cairn bundle refresh`: the older bundle is moved to the newest checkpoint with pieces from
/// the registry, from a file, and from `cairn serve` (the same bytes each way); the refreshed
/// bundle then passes where the old one is replayed, and pieces that do not fit are refused.
#[test]
fn an_old_bundle_is_refreshed_from_the_registry_a_file_and_a_service() {
    let env = Env::new();
    let (old, new, root) = two_bundles(&env);
    let seen = env.p("seen.checkpoint");
    env.ok(&verify(
        &new,
        &root,
        &["--last-seen", &seen, "--update-last-seen"],
    ));
    env.fails(&verify(&old, &root, &["--last-seen", &seen]), 1, "replayed");

    let fresh = env.p("fresh.bundle");
    let pieces = env.p("fresh.pieces");
    let r = env.ok(&[
        "bundle",
        "refresh",
        &old,
        "--out",
        &fresh,
        "--pieces-out",
        &pieces,
    ]);
    assert_eq!(r["kind"], "manifest", "{r}");
    assert!(
        r["checkpoint_size"].as_u64() > r["from_size"].as_u64(),
        "{r}"
    );
    let v = env.ok(&verify(&fresh, &root, &["--last-seen", &seen]));
    assert_eq!(v["verdict"]["checkpoint"]["size"], r["checkpoint_size"]);
    assert!(!v["verdict"]["not_revoked_as_of"].is_null(), "{v}");

    // The same pieces from the file give the same bundle.
    let again = env.p("again.bundle");
    env.ok(&[
        "bundle", "refresh", &old, "--pieces", &pieces, "--out", &again,
    ]);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&fresh).unwrap()
    );

    // Pieces for another bundle (the newer one's entry) do not fit: nothing is written.
    let other = env.p("other.pieces");
    env.ok(&[
        "bundle",
        "refresh",
        &new,
        "--out",
        &env.p("n.bundle"),
        "--pieces-out",
        &other,
    ]);
    let misfit = env.p("misfit.bundle");
    env.fails(
        &[
            "bundle", "refresh", &old, "--pieces", &other, "--out", &misfit,
        ],
        1,
        "proof_invalid",
    );
    assert!(!std::path::Path::new(&misfit).exists());
    let mut bytes = std::fs::read(&pieces).unwrap();
    bytes.truncate(bytes.len() - 3);
    let cut = env.write("cut.pieces", &bytes);
    env.fails(
        &[
            "bundle", "refresh", &old, "--pieces", &cut, "--out", &misfit,
        ],
        2,
        "malformed",
    );

    // From `cairn serve` over the same registry: the same pieces, so the same bundle.
    let (cfg, base) = super::serve::loopback_config(&env);
    let _server = super::serve::start_server(&env, &cfg, &base);
    let served = env.p("served.bundle");
    env.ok(&["bundle", "refresh", &old, "--from", &base, "--out", &served]);
    assert_eq!(
        std::fs::read(&served).unwrap(),
        std::fs::read(&fresh).unwrap()
    );
    env.fails(
        &[
            "bundle", "refresh", &old, "--from", "ftp://x", "--out", &misfit,
        ],
        2,
        "usage",
    );
    // No answer says nothing about the bundle: an I/O failure (exit 2), not a misfit.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.fails(
        &[
            "bundle", "refresh", &old, "--from", &nobody, "--out", &misfit,
        ],
        2,
        "io",
    );
    assert!(!std::path::Path::new(&misfit).exists());
}
