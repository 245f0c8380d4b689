//! `import blux` streams `trust/ledger.jsonl`: memory stays at about one line whatever the
//! file's size. Measured as the peak resident set of the cairn process (VmHWM), sampled
//! while it runs; nothing about time is asserted.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_core::encoding::{hex_encode, sha256};

use super::Env;

/// Writes a valid blux-reg ledger of about `target` bytes (entries of about 1 KiB).
fn write_ledger(path: &std::path::Path, target: usize) -> usize {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let summary = "x".repeat(900);
    let mut prev: Option<String> = None;
    let (mut written, mut n) = (0usize, 0usize);
    while written < target {
        let prev_json = prev
            .as_ref()
            .map_or_else(|| "null".to_owned(), |p| format!("\"{p}\""));
        // Keys in code-point order: blux-reg's canonical JSON of the entry without
        // entry_hash, then the line with entry_hash in its sorted place.
        let body = |hash: Option<&str>| {
            format!(
                "{{\"action\":\"event\",\"actor\":\"anonymous\",\"artifact_hash\":null,{}\"manifest_hash\":null,\"payload_summary\":\"{n} {summary}\",\"prev_hash\":{prev_json},\"ts\":\"2026-01-20T14:00:00+00:00\"}}",
                hash.map_or_else(String::new, |h| format!("\"entry_hash\":\"{h}\","))
            )
        };
        let hash = hex_encode(&sha256(&[body(None).as_bytes()]));
        let line = body(Some(&hash));
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        written += line.len() + 1;
        prev = Some(hash);
        n += 1;
    }
    out.flush().unwrap();
    n
}

/// Peak resident set (KiB) of the process, sampled from /proc until it exits.
fn run_measuring(env: &Env, args: &[&str]) -> (i32, String, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .current_dir(env.dir.path())
        .env("CAIRN_HOME", env.home())
        .env_remove("CAIRN_PASSPHRASE")
        .env_remove("CAIRN_KEY_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let code = loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    (code, stdout, peak)
}

#[cfg(target_os = "linux")]
#[test]
fn a_large_blux_ledger_is_streamed_in_bounded_memory() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let config = env.path("blux");
    std::fs::create_dir_all(config.join("trust")).unwrap();
    let ledger = config.join("trust/ledger.jsonl");
    let dir = config.display().to_string();

    // 50 MB of valid short lines: imported, with every entry counted.
    let size = 50_000_000;
    let n = write_ledger(&ledger, size);
    let (code, stdout, peak_kib) = run_measuring(&env, &["import", "blux", &dir, "--json"]);
    assert_eq!(code, 0, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ledger_entries"], n as u64, "{v}");
    let file = std::fs::read(&ledger).unwrap();
    let recorded = env.ok(&["ledger", "tail", "-n", "1"])["entries"][0]["event"].to_string();
    assert!(
        recorded.contains(&hex_encode(&sha256(&[&file]))),
        "the entry records the file's SHA-256: {recorded}"
    );
    drop(file);
    eprintln!("import of a {size}-byte ledger: peak RSS {peak_kib} KiB");
    // Holding the file would take at least its 48 MiB; streaming takes a few MiB above the
    // process's baseline. A generous bound that reading it whole cannot meet:
    assert!(
        peak_kib < 30 * 1024,
        "peak RSS {peak_kib} KiB for a {size}-byte ledger"
    );

    // A 5 MiB line: refused with too_large, without reading it whole.
    let mut f = std::fs::File::create(&ledger).unwrap();
    f.write_all(&vec![b'{'; 5 << 20]).unwrap();
    f.write_all(b"\n").unwrap();
    drop(f);
    let (code, stdout, peak_kib) = run_measuring(&env, &["import", "blux", &dir, "--json"]);
    assert_eq!(code, 2, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["error"], "too_large", "{v}");
    assert!(v["message"].as_str().unwrap().contains("line 1"), "{v}");
    eprintln!("refusal of a 5 MiB line: peak RSS {peak_kib} KiB");
}
