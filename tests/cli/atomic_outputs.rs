//! Every file the CLI writes goes through `cairn_store::fsio`: a temporary file beside the
//! destination, fsynced and renamed over it. Observable without a crash: a destination that
//! is a symbolic link is replaced (the file it pointed to is left alone, where a plain
//! `write` would write through it), a stale temporary of an interrupted earlier write is
//! cleaned up, and a write that cannot complete leaves what was there and no temporary.
//! Under strace (when it can trace here) each output command is also seen to fsync the
//! temporary, rename it over the destination and fsync the directory, in that order, and a
//! kill at the rename is seen to leave the old file whole.

use std::path::Path;

use super::Env;

/// A token issued by the usual registry's issuer to its agent.
const TOKEN_ISSUE: [&str; 10] = [
    "token",
    "issue",
    "--issuer",
    "issuer",
    "--holder",
    "agent",
    "--audience",
    "svc.example",
    "--capability",
    "read",
];

/// Names in `dir` that look like fsio temporaries.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".cairn-tmp."))
        .collect()
}

/// Prepares `name` in the test directory as a symbolic link to a file holding "old" and a
/// stale temporary beside it, runs `args` (which must write `name`), and checks the write
/// was atomic: the link was replaced by a regular file with new content, its old target is
/// intact, and no temporary remains.
fn writes_atomically(env: &Env, name: &str, args: &[&str]) {
    let dir = env.path("out");
    std::fs::create_dir_all(&dir).unwrap();
    let dest = dir.join(name);
    let victim = dir.join(format!("{name}.target"));
    std::fs::write(&victim, b"old").unwrap();
    let _ = std::fs::remove_file(&dest);
    std::os::unix::fs::symlink(&victim, &dest).unwrap();
    // (Process 99999999 cannot be running: Linux pids end at 4194304.)
    let stale = dir.join(format!(".{name}.cairn-tmp.99999999.0"));
    std::fs::write(&stale, b"half-written by an interrupted run").unwrap();

    let dest_s = dest.display().to_string();
    let full: Vec<&str> = args
        .iter()
        .map(|a| if *a == "DEST" { dest_s.as_str() } else { a })
        .collect();
    match super::durability::strace_usable(
        "the strace part of every_output_file_is_replaced_atomically",
    ) {
        true => sync_rename_sync(env, &full, &dest),
        false => {
            env.ok(&full);
        }
    }

    let meta = std::fs::symlink_metadata(&dest).unwrap();
    assert!(
        meta.file_type().is_file(),
        "{args:?}: {name} was not replaced by a new file"
    );
    let body = std::fs::read(&dest).unwrap();
    assert!(!body.is_empty() && body != b"old", "{args:?}: {name}");
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"old",
        "{args:?} wrote through the old link instead of replacing it"
    );
    assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
}

/// Runs `args` under strace, expecting success, and checks in the trace that `dest` was
/// written the fsio way: the temporary `.NAME.cairn-tmp.*` fsynced, then renamed over
/// `dest`, then `dest`'s directory fsynced.
fn sync_rename_sync(env: &Env, args: &[&str], dest: &Path) {
    let log = env.path("outputs.strace");
    let log_s = log.display().to_string();
    let mut a = args.to_vec();
    a.push("--json");
    let (status, stdout, stderr) = super::durability::cairn_under_strace(
        env,
        &[
            "-f",
            "-y",
            "-o",
            &log_s,
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2",
        ],
        &a,
    );
    assert!(
        status.success(),
        "{args:?}: {status}\nstdout: {stdout}\nstderr: {stderr}"
    );
    let trace = std::fs::read_to_string(&log).unwrap();
    // One line per call, even where the registry's anchor thread interleaves its own.
    let lines = super::durability::strace_calls(&trace);
    let name = dest.file_name().unwrap().to_string_lossy();
    let tmp = format!("/.{name}.cairn-tmp.");
    let dest_s = format!("\"{}\"", dest.display());
    let dir_s = format!("<{}>)", dest.parent().unwrap().display());
    let synced_tmp = lines
        .iter()
        .position(|l| l.contains("sync(") && l.contains(&tmp) && l.ends_with("= 0"));
    let renamed = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains(&tmp) && l.contains(&dest_s));
    let synced_dir = lines
        .iter()
        .rposition(|l| l.contains("fsync(") && l.contains(&dir_s) && l.ends_with("= 0"));
    match (synced_tmp, renamed, synced_dir) {
        (Some(a), Some(b), Some(c)) if a < b && b < c => {}
        other => panic!(
            "{args:?} did not fsync the temporary, rename it over {} and fsync the directory ({other:?}):\n{trace}",
            dest.display()
        ),
    }
}

#[cfg(unix)]
#[test]
fn a_kill_between_writing_and_renaming_leaves_the_old_output() {
    if !super::durability::strace_usable(
        "a_kill_between_writing_and_renaming_leaves_the_old_output",
    ) {
        return;
    }
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    env.ok(&["checkpoint", "create"]);
    for (name, args) in [
        ("export.cairnlog", vec!["ledger", "export", "--out"]),
        ("cp.txt", vec!["checkpoint", "latest", "--out"]),
        (
            "log.pub.json",
            vec!["key", "export", "log", "--format", "json", "--out"],
        ),
    ] {
        let dir = env.path("killed");
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join(name);
        std::fs::write(&dest, b"old").unwrap();
        let dest_s = dest.display().to_string();
        let mut a = args.clone();
        a.extend([dest_s.as_str(), "--json"]);
        // Killed as it enters its first rename: the output is complete in the temporary.
        let (status, stdout, stderr) = super::durability::cairn_under_strace(
            &env,
            &[
                "-f",
                "-o",
                "/dev/null",
                "-e",
                "trace=rename,renameat,renameat2",
                "-e",
                "inject=rename,renameat,renameat2:signal=KILL:when=1",
            ],
            &a,
        );
        assert!(
            super::durability::killed(&status),
            "{args:?} was not killed at a rename ({status}): it did not write through a rename\nstdout: {stdout}\nstderr: {stderr}"
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"old", "{args:?}");
        let left = temporaries(&dir);
        assert_eq!(left.len(), 1, "{args:?}: {left:?}");
        let written = std::fs::read(dir.join(&left[0])).unwrap();
        assert!(
            written.len() > 3,
            "{args:?}: the temporary holds {written:?}"
        );
        // The next run replaces the old file with the same output and removes the leftover.
        env.ok(&a[..a.len() - 1]);
        assert_eq!(std::fs::read(&dest).unwrap(), written, "{args:?}");
        assert!(
            temporaries(&dir).is_empty(),
            "{args:?}: {:?}",
            temporaries(&dir)
        );
    }
}

#[cfg(unix)]
#[test]
fn every_output_file_is_replaced_atomically() {
    let env = Env::new();
    env.ok(&[
        "init",
        "--origin",
        "test.example/log",
        "--insecure-no-passphrase",
    ]);
    env.insecure_registry_keys_only();
    writes_atomically(&env, "root.json", &["root", "create", "--out", "DEST"]);
    writes_atomically(&env, "root-v1.json", &["root", "show", "--out", "DEST"]);
    writes_atomically(
        &env,
        "release.pem",
        &["key", "export", "release", "--out", "DEST"],
    );
    writes_atomically(
        &env,
        "release.pub.json",
        &[
            "key", "export", "release", "--format", "json", "--out", "DEST",
        ],
    );
    writes_atomically(
        &env,
        "release.key.pem",
        &["key", "export", "release", "--private", "--out", "DEST"],
    );
    let token = env.ok(&TOKEN_ISSUE)["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    writes_atomically(
        &env,
        "token.json",
        &[&TOKEN_ISSUE[..], &["--out", "DEST"]].concat(),
    );
    writes_atomically(
        &env,
        "token-show.json",
        &["token", "show", &token, "--out", "DEST"],
    );
    let artifact = env.write("app.bin", b"an artifact");
    writes_atomically(
        &env,
        "app.manifest.json",
        &["sign", &artifact, "--key", "release", "--out", "DEST"],
    );
    let digest = env.ok(&["verify", &artifact])["manifest"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    writes_atomically(
        &env,
        "app.bundle",
        &["bundle", "export", "--manifest", &digest, "--out", "DEST"],
    );
    let bundle = env.p("plain.bundle");
    writes_atomically(
        &env,
        "bundle-root.json",
        &[
            "bundle",
            "export",
            "--manifest",
            &digest,
            "--out",
            &bundle,
            "--trust-root-out",
            "DEST",
        ],
    );
    writes_atomically(&env, "cp.txt", &["checkpoint", "create", "--out", "DEST"]);
    writes_atomically(
        &env,
        "latest.txt",
        &["checkpoint", "latest", "--out", "DEST"],
    );
    writes_atomically(
        &env,
        "registry.cairnlog",
        &["ledger", "export", "--out", "DEST"],
    );
}

#[test]
fn a_write_that_cannot_complete_leaves_the_destination_and_no_temporary() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    // A directory where the file should go: the rename over it fails after the whole
    // output was written to the temporary, which must then be gone.
    for (name, args) in [
        ("export.cairnlog", vec!["ledger", "export", "--out"]),
        ("cp.txt", vec!["checkpoint", "latest", "--out"]),
        (
            "log.pub.json",
            vec!["key", "export", "log", "--format", "json", "--out"],
        ),
    ] {
        let dest = env.path(name);
        std::fs::create_dir_all(dest.join("keep")).unwrap();
        let dest_s = dest.display().to_string();
        let mut a = args.clone();
        a.push(&dest_s);
        env.fails(&a, 2, "io");
        assert!(dest.join("keep").is_dir(), "{args:?}");
        assert!(
            temporaries(env.dir.path()).is_empty(),
            "{args:?}: {:?}",
            temporaries(env.dir.path())
        );
    }
}

/// An output that would replace the registry file or its anchor (whatever the command), the
/// artifact a manifest is written for, or the command's other output is refused (`usage`,
/// exit 2) before anything is written: a rename over it would destroy that file.
#[test]
fn an_output_over_the_registry_an_input_or_another_output_is_refused() {
    let env = Env::new();
    env.insecure_registry();
    let store = env.home().join("registry.redb");
    let before = std::fs::read(&store).unwrap();
    let store_s = store.display().to_string();
    let anchor_s = format!("{store_s}.anchor");
    for out in [&store_s, &anchor_s] {
        let v = env.fails(&["ledger", "export", "--out", out], 2, "usage");
        assert!(v["message"].as_str().unwrap().contains("registry"), "{v}");
    }
    assert_eq!(std::fs::read(&store).unwrap(), before);
    // Every other output too, refused before the command writes anything to the registry: a
    // checkpoint over the anchor (none is made, though an entry awaits one), a trust root, a
    // token, peer messages, a key export; both files stay what they are.
    env.ok(&["checkpoint", "create"]);
    let newest = |env: &Env| env.ok(&["checkpoint", "latest"])["checkpoint"]["size"].clone();
    let signed = newest(&env);
    env.ok(&[
        "key",
        "generate",
        "--label",
        "spare",
        "--role",
        "peer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    env.fails(&["checkpoint", "create", "--out", &anchor_s], 2, "usage");
    assert_eq!(newest(&env), signed, "no checkpoint made");
    let entries = |env: &Env| env.ok(&["status"])["entries"].clone();
    let before_refusals = entries(&env);
    for out in [&store_s, &anchor_s] {
        env.fails(&["root", "rotate", "--out", out], 2, "usage");
        env.fails(&["root", "create", "--out", out], 2, "usage");
        env.fails(&[&TOKEN_ISSUE[..], &["--out", out]].concat(), 2, "usage");
        env.fails(&["peer", "request", "node-b", "--out", out], 2, "usage");
        env.fails(
            &["peer", "respond", &env.p("absent.bin"), "--out", out],
            2,
            "usage",
        );
        env.fails(&["key", "export", "release", "--out", out], 2, "usage");
    }
    assert_eq!(entries(&env), before_refusals, "no entry written");
    env.ok(&["ledger", "audit"]);
    env.ok(&["status"]);
    // A manifest written over the artifact it signs.
    let art = env.write("app.sh", b"#!/bin/sh\necho hi\n");
    env.fails(
        &["sign", &art, "--key", "release", "--out", &art],
        2,
        "usage",
    );
    assert_eq!(std::fs::read(&art).unwrap(), b"#!/bin/sh\necho hi\n");
    // Two outputs of one command in one place.
    let m = env.ok(&["sign", &art, "--key", "release"]);
    let digest = m["manifest"]["digest"].as_str().unwrap().to_owned();
    let b = env.p("b.bundle");
    env.fails(
        &[
            "bundle",
            "export",
            "--manifest",
            &digest,
            "--out",
            &b,
            "--trust-root-out",
            &b,
        ],
        2,
        "usage",
    );
    assert!(!Path::new(&b).exists());
    env.ok(&["bundle", "export", "--manifest", &digest, "--out", &b]);
    // A refresh may replace the bundle it reads (read whole first).
    env.ok(&["bundle", "refresh", &b, "--out", &b]);
}
