//! Artifacts that never end: devices, FIFOs and directories are refused before a byte is
//! read; stdin (`-`) is read up to a limit. Every run here is bounded by a watchdog, so a
//! regression fails the test instead of hanging it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Env, Out};

/// Runs cairn with `stdin` piped in (write errors ignored: cairn may stop reading early),
/// killing it if it runs longer than a minute.
fn run_bounded(env: &Env, args: &[&str], stdin: Option<Vec<u8>>) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .current_dir(env.dir.path())
        .env("CAIRN_HOME", env.home())
        .env_remove("CAIRN_PASSPHRASE")
        .env_remove("CAIRN_KEY_PASSPHRASE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn cairn");
    let feeder = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cairn {args:?} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_fails(out: &Out, code: i32, error: &str) -> Value {
    assert_eq!(
        out.code, code,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    let v = out.json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"], error, "{v}");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    v
}

#[cfg(unix)]
#[test]
fn devices_fifos_and_directories_are_refused_before_reading() {
    let env = Env::new();
    env.insecure_registry();
    let artifact = env.write("app.bin", b"release 1");
    env.ok(&["sign", &artifact, "--key", "release"]);
    let digest = env.ok(&["verify", &artifact])["manifest"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let bundle = env.p("app.bundle");
    env.ok(&["bundle", "export", "--manifest", &digest, "--out", &bundle]);
    let root = env.p("root.json");

    let zero = env.path("zero.bin");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = env.path("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let dir = env.path("a-dir");
    std::fs::create_dir(&dir).unwrap();

    for (what, path) in [
        ("/dev/zero", &zero),
        ("a FIFO", &fifo),
        ("a directory", &dir),
    ] {
        let p = path.display().to_string();
        for args in [
            vec!["sign", p.as_str(), "--key", "release", "--json"],
            vec!["verify", p.as_str(), "--json"],
            vec![
                "bundle",
                "verify",
                &bundle,
                "--trust-root",
                &root,
                "--artifact",
                p.as_str(),
                "--json",
            ],
        ] {
            let out = run_bounded(&env, &args, None);
            let v = json_fails(&out, 2, "usage");
            let msg = v["message"].as_str().unwrap();
            assert!(
                msg.contains("regular file") || msg.contains("directory"),
                "{what}: {msg}"
            );
            assert!(msg.contains('-'), "the message names the stdin way: {msg}");
        }
    }
    // The registry is unchanged by the refused sign.
    env.ok(&["ledger", "audit"]);
}

#[test]
fn stdin_is_an_artifact_up_to_a_limit() {
    let env = Env::new();
    env.insecure_registry();
    let body = b"streamed release bytes\n".repeat(1000);

    // `sign -` needs a name; then the manifest describes exactly the bytes piped in.
    let out = run_bounded(
        &env,
        &["sign", "-", "--key", "release", "--json"],
        Some(body.clone()),
    );
    json_fails(&out, 2, "usage");
    let out = run_bounded(
        &env,
        &[
            "sign", "-", "--name", "app.bin", "--key", "release", "--json",
        ],
        Some(body.clone()),
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let m = out.json()["manifest"].clone();
    assert_eq!(m["claims"]["size"], body.len() as u64, "{m}");
    let file = env.write("app.bin", &body);
    let by_file = env.ok(&["verify", &file]);
    assert_eq!(by_file["manifest"]["digest"], m["digest"]);

    // verify - finds the manifest of the piped bytes; other bytes are not found.
    let out = run_bounded(&env, &["verify", "-", "--json"], Some(body.clone()));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.json()["artifact_checked"], true);
    let out = run_bounded(&env, &["verify", "-", "--json"], Some(b"other".to_vec()));
    json_fails(&out, 2, "not_found");

    // bundle verify --artifact -: the digest is checked against what came in.
    let digest = m["digest"].as_str().unwrap().to_owned();
    let bundle = env.p("app.bundle");
    env.ok(&["bundle", "export", "--manifest", &digest, "--out", &bundle]);
    let root = env.p("root.json");
    let args = [
        "bundle",
        "verify",
        &bundle,
        "--trust-root",
        &root,
        "--artifact",
        "-",
        "--json",
    ];
    let out = run_bounded(&env, &args, Some(body.clone()));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let mut changed = body.clone();
    changed[0] ^= 1;
    json_fails(
        &run_bounded(&env, &args, Some(changed)),
        1,
        "digest_mismatch",
    );

    // Over --max-size: too_large, after reading no more than the limit (a stream far
    // longer than the limit ends the run at once).
    let out = run_bounded(
        &env,
        &["verify", "-", "--max-size", "1K", "--json"],
        Some(vec![0u8; 64 << 20]),
    );
    let v = json_fails(&out, 2, "too_large");
    assert!(v["message"].as_str().unwrap().contains("1024"), "{v}");
    let out = run_bounded(
        &env,
        &[
            "sign",
            "-",
            "--name",
            "big",
            "--key",
            "release",
            "--max-size",
            "100",
            "--json",
        ],
        Some(vec![1u8; 101]),
    );
    json_fails(&out, 2, "too_large");
    // Exactly at the limit is fine.
    let out = run_bounded(
        &env,
        &[
            "sign",
            "-",
            "--name",
            "edge",
            "--key",
            "release",
            "--max-size",
            "100",
            "--json",
        ],
        Some(vec![1u8; 100]),
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // A regular file over --max-size is refused too.
    env.fails(&["verify", &file, "--max-size", "10"], 2, "too_large");
    env.fails(&["verify", &file, "--max-size", "ten"], 2, "usage");

    // No progress output when stderr is not a terminal, with or without --json.
    let other = env.write("other.bin", &vec![7u8; 1 << 20]);
    let out = env.run(&["sign", &other, "--key", "release"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{:?}", out.stderr);
}

#[cfg(unix)]
#[test]
fn import_blux_refuses_fifos_and_devices_instead_of_waiting() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let config = env.path("blux");
    std::fs::create_dir_all(config.join("trust")).unwrap();
    std::fs::create_dir_all(config.join("keys")).unwrap();
    let dir = config.display().to_string();
    let before = env.ok(&["status"])["entries"].clone();
    for name in [
        "trust/ledger.jsonl",
        "trust/token_revocations.jsonl",
        "keys/signer.pub.pem",
    ] {
        let p = config.join(name);
        let made = Command::new("mkfifo").arg(&p).status().expect("mkfifo");
        assert!(made.success());
        let out = run_bounded(&env, &["import", "blux", &dir, "--json"], None);
        let v = json_fails(&out, 2, "malformed");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("not a regular file"),
            "{name}: {v}"
        );
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
        let out = run_bounded(&env, &["import", "blux", &dir, "--json"], None);
        json_fails(&out, 2, "malformed");
        std::fs::remove_file(&p).unwrap();
    }
    assert_eq!(env.ok(&["status"])["entries"], before);
}
