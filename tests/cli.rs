//! End-to-end tests of the `cairn` binary.

use std::process::Command;

fn cairn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .output()
        .expect("run cairn")
}

#[test]
fn demo_runs_the_whole_story_and_rejects_tampering() {
    let out = cairn(&["demo", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("demo --json prints JSON");
    assert_eq!(v["ok"], true);
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"token bundle verified offline"));
    assert!(steps.contains(&"manifest bundle verified offline with the artifact"));
    assert_eq!(
        steps.iter().filter(|s| s.starts_with("tampered:")).count(),
        4
    );
    let text = cairn(&["demo"]);
    assert_eq!(text.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("rejected as expected: digest_mismatch"));
    assert!(
        stdout.contains("\u{2014} example.test/registry "),
        "checkpoint signature lines are printed"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(cairn(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(cairn(&[]).status.code(), Some(2));
    let help = cairn(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}
