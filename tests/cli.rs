//! End-to-end tests of the `cairn` binary: every command's success and failure paths against
//! real registry files in temporary directories, with exit codes and `--json` shapes.
//!
//! Each test gets its own `CAIRN_HOME`; the passphrase variables of the calling environment
//! are removed and stdin is closed, so nothing ever prompts. Sealed keys use the cheapest
//! Argon2 cost (`--insecure-fast-kdf`), the rest insecure mode.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

const PASS: &str = "correct horse battery staple";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not one JSON document ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

struct Env {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            vars: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn home(&self) -> PathBuf {
        self.path("home")
    }

    fn with_var(mut self, k: &str, v: &str) -> Env {
        self.vars.push((k.to_owned(), v.to_owned()));
        self
    }

    fn run_in(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("CAIRN_HOME", self.home())
            .env_remove("CAIRN_PASSPHRASE")
            .env_remove("CAIRN_KEY_PASSPHRASE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        let out = match stdin {
            None => cmd.stdin(Stdio::null()).output().expect("run cairn"),
            Some(text) => {
                use std::io::Write;
                let mut child = cmd.stdin(Stdio::piped()).spawn().expect("spawn cairn");
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(text.as_bytes())
                    .expect("write stdin");
                child.wait_with_output().expect("wait cairn")
            }
        };
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_in(args, None)
    }

    /// Runs and expects exit 0; returns the JSON document (adds --json).
    fn ok(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        assert_eq!(
            out.code, 0,
            "cairn {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        let v = out.json();
        assert_eq!(v["ok"], true, "{v}");
        v
    }

    /// Runs with --json and expects `code` with error `error`; returns the JSON document.
    fn fails(&self, args: &[&str], code: i32, error: &str) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        assert_eq!(
            out.code, code,
            "cairn {args:?}: want exit {code}\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        let v = out.json();
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["error"], error, "{v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(
            out.stderr.is_empty(),
            "--json keeps stderr quiet: {}",
            out.stderr
        );
        v
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).expect("write");
        self.p(name)
    }

    /// A registry in insecure mode with the usual keys and a trust root.
    fn insecure_registry(&self) {
        self.ok(&[
            "init",
            "--origin",
            "test.example/log",
            "--insecure-no-passphrase",
        ]);
        self.insecure_registry_keys_only();
        self.ok(&["root", "create", "--out", &self.p("root.json")]);
    }

    /// The usual keys, insecure: root, issuer, release (manifest signer), agent (peer).
    fn insecure_registry_keys_only(&self) {
        for (label, role, alg) in [
            ("root", "root", "ed25519"),
            ("issuer", "token-issuer", "ed25519"),
            ("release", "manifest-signer", "ed25519"),
            ("agent", "peer", "ed25519"),
        ] {
            self.ok(&[
                "key",
                "generate",
                "--label",
                label,
                "--role",
                role,
                "--algorithm",
                alg,
                "--insecure-no-passphrase",
            ]);
        }
    }
}

fn ids(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|x| x[field].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn demo_runs_twice_against_the_default_store_and_rejects_tampering() {
    let env = Env::new();
    let v = env.ok(&["demo"]);
    assert_eq!(v["created"], true);
    assert_eq!(v["insecure_keys"], true);
    assert!(
        env.home().join("registry.redb").exists(),
        "the default path under CAIRN_HOME"
    );
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for want in [
        "keys",
        "node registered",
        "capability token issued",
        "artifact manifest signed",
        "bundles exported",
        "token bundle verified offline",
        "manifest bundle verified offline with the artifact",
    ] {
        assert!(steps.contains(&want), "{want} missing from {steps:?}");
    }
    assert!(steps.contains(&"trust root v1 created"), "{steps:?}");
    assert_eq!(
        steps.iter().filter(|s| s.starts_with("tampered:")).count(),
        4
    );
    assert!(v["checkpoint"]
        .as_str()
        .unwrap()
        .contains("\n\u{2014} cairn.local/registry "));

    // Again: the store, the keys and the trust root are reused; the ledger grows.
    let size1 = env.ok(&["status"])["entries"].as_u64().unwrap();
    let text = env.run(&["demo"]);
    assert_eq!(text.code, 0, "{}{}", text.stdout, text.stderr);
    assert!(text.stdout.contains("reusing"));
    assert!(text.stdout.contains("trust root v1 reused"));
    assert!(text.stdout.contains("WITHOUT passphrase protection"));
    assert!(text
        .stdout
        .contains("rejected as expected: digest_mismatch"));
    assert!(text.stdout.contains("all checks behaved as expected."));
    let size2 = env.ok(&["status"])["entries"].as_u64().unwrap();
    assert!(size2 > size1, "{size1} -> {size2}");
    assert_eq!(env.ok(&["ledger", "audit"])["entries"], size2);

    // The files it leaves verify offline with the CLI (no --store needed), and the tampered
    // artifact fails with exit 1.
    let demo = env.home().join("demo");
    let f = |n: &str| demo.join(n).display().to_string();
    let ok = env.ok(&[
        "bundle",
        "verify",
        &f("hello.sh.bundle"),
        "--trust-root",
        &f("trust-root.json"),
        "--artifact",
        &f("hello.sh"),
        "--store",
        "/nonexistent/never-opened.redb",
    ]);
    assert_eq!(ok["verdict"]["kind"], "manifest");
    env.fails(
        &[
            "bundle",
            "verify",
            &f("hello.sh.bundle"),
            "--trust-root",
            &f("trust-root.json"),
            "--artifact",
            &f("hello.sh.tampered"),
        ],
        1,
        "digest_mismatch",
    );
}

#[test]
fn demo_appends_to_an_insecure_registry_and_leaves_a_sealed_one_alone() {
    // A registry whose keys are sealed: the demo refuses, writing nothing.
    let sealed = Env::new().with_var("CAIRN_PASSPHRASE", PASS);
    sealed.ok(&["init", "--insecure-fast-kdf"]);
    let v = sealed.fails(&["demo"], 2, "invalid_state");
    assert!(
        v["message"].as_str().unwrap().contains("CAIRN_HOME="),
        "{v}"
    );
    assert_eq!(sealed.ok(&["status"])["entries"], 1);

    // An insecure (test) registry made by `init`: the demo appends to it, and after a
    // log-key rotation it rotates the trust root to list the new log key.
    let env = Env::new();
    env.ok(&[
        "init",
        "--origin",
        "mine.example/log",
        "--insecure-no-passphrase",
    ]);
    let v = env.ok(&["demo"]);
    assert_eq!(v["created"], false);
    assert!(v["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with("mine.example/log\n"));
    env.ok(&["key", "rotate", "log", "--insecure-no-passphrase"]);
    let v = env.ok(&["demo"]);
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"trust root v2 rotated"), "{steps:?}");
    env.ok(&["ledger", "audit"]);
}

#[test]
fn usage_errors_exit_2_and_every_command_has_examples() {
    let env = Env::new();
    assert_eq!(env.run(&["no-such-command"]).code, 2);
    assert_eq!(env.run(&[]).code, 2);
    let v = env.fails(&["key", "generate", "--label", "x"], 2, "usage");
    assert!(v["message"].as_str().unwrap().contains("--role"), "{v}");
    env.fails(&["token", "issue", "--issuer", "x"], 2, "usage");
    env.fails(
        &["key", "generate", "--label", "x", "--role", "wizard"],
        2,
        "usage",
    );
    let help = env.run(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Examples:"));
    assert!(help.stdout.contains("Exit status"));
    // Every command, found by walking the help's "Commands:" lists, has examples.
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    let mut leaves = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let h = env.run(&args);
        assert_eq!(h.code, 0, "{args:?}");
        let subcommands: Vec<String> = h
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| *c != "help")
            .map(str::to_owned)
            .collect();
        if subcommands.is_empty() {
            leaves += 1;
            assert!(h.stdout.contains("Examples:"), "{path:?} has no examples");
        }
        for c in subcommands {
            let mut sub = path.clone();
            sub.push(c);
            todo.push(sub);
        }
    }
    assert!(leaves > 60, "only {leaves} commands found");
    // Commands that need a registry say how to make one.
    let v = env.fails(&["status"], 2, "not_found");
    assert!(v["message"].as_str().unwrap().contains("cairn init"));
}

#[test]
fn init_status_and_passphrases() {
    let env = Env::new();
    let pass = env.write("pass.txt", format!("{PASS}\n").as_bytes());
    // No passphrase source and no terminal: refused, nothing created.
    env.fails(&["init"], 2, "passphrase_required");
    assert!(!env.home().join("registry.redb").exists());
    let v = env.ok(&[
        "init",
        "--origin",
        "test.example/log",
        "--passphrase-file",
        &pass,
        "--insecure-fast-kdf",
    ]);
    assert_eq!(v["insecure"], false);
    assert_eq!(v["log_key"]["private"], "sealed");
    assert_eq!(v["checkpoint"]["size"], 1);
    // The registry holds its keys: no other user may read the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(env.home().join("registry.redb")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    env.fails(&["init", "--insecure-no-passphrase"], 2, "already_exists");

    // Reads need no passphrase; writes do.
    let s = env.ok(&["status"]);
    assert_eq!(s["origin"], "test.example/log");
    assert_eq!(s["entries"], 1);
    assert_eq!(s["log_key"]["private"], "sealed");
    assert_eq!(s["trust_root"], Value::Null);
    env.fails(&["checkpoint", "create"], 2, "passphrase_required");
    let wrong = env.write("wrong.txt", b"not it\n");
    env.fails(
        &["checkpoint", "create", "--passphrase-file", &wrong],
        2,
        "bad_passphrase",
    );
    env.ok(&["checkpoint", "create", "--passphrase-file", &pass]);
    let env = env.with_var("CAIRN_PASSPHRASE", PASS);
    env.ok(&["checkpoint", "create"]);
    let empty = env.write("empty.txt", b"\n");
    env.fails(
        &["checkpoint", "create", "--passphrase-file", &empty],
        2,
        "usage",
    );

    // A key with its own passphrase.
    let kp = env.write("key-pass.txt", b"another secret");
    let k = env.ok(&[
        "key",
        "generate",
        "--label",
        "release",
        "--role",
        "manifest-signer",
        "--algorithm",
        "ed25519",
        "--key-passphrase-file",
        &kp,
        "--insecure-fast-kdf",
    ]);
    assert_eq!(k["key"]["private"], "sealed");
    let art = env.write("a.txt", b"artifact");
    // The registry passphrase does not open it.
    env.fails(&["sign", &art, "--key", "release"], 2, "bad_passphrase");
    let env = env.with_var("CAIRN_KEY_PASSPHRASE", "another secret");
    env.ok(&["sign", &art, "--key", "release"]);
    // Insecure keys say so.
    let k = env.ok(&[
        "key",
        "generate",
        "--label",
        "demo",
        "--role",
        "peer",
        "--insecure-no-passphrase",
    ]);
    assert_eq!(k["key"]["private"], "insecure");
    let shown = env.run(&["key", "show", "demo"]);
    assert!(
        shown.stdout.contains("WITHOUT passphrase protection"),
        "{}",
        shown.stdout
    );

    // Two passphrases set: the log key is the registry's, opened and sealed with the registry
    // passphrase when it rotates (with the key passphrase it would not open, and its successor
    // sealed so would lock the registry out).
    let rotated = env.ok(&["key", "rotate", "log", "--insecure-fast-kdf"]);
    assert_eq!(rotated["key"]["private"], "sealed", "{rotated}");
    env.ok(&["checkpoint", "create"]);
    let only_registry = Env {
        vars: vec![("CAIRN_PASSPHRASE".into(), PASS.into())],
        ..env
    };
    only_registry.ok(&["checkpoint", "create"]);
    // A rotation refused for a weaker algorithm is refused before any passphrase is asked for.
    let none = Env {
        vars: vec![],
        ..only_registry
    };
    none.fails(
        &["key", "rotate", "log", "--algorithm", "ed25519"],
        2,
        "usage",
    );
}

#[test]
fn keys_generate_import_export_rotate_revoke() {
    let env = Env::new();
    env.insecure_registry();
    let list = env.ok(&["key", "list"]);
    assert_eq!(list["keys"].as_array().unwrap().len(), 5);
    let log = env.ok(&["key", "show", "log"]);
    assert_eq!(log["key"]["log_key"], true);
    assert_eq!(log["key"]["roles"], serde_json::json!(["checkpoint"]));

    // Export: PEM for Ed25519, JSON for hybrids (PEM refused), private PEM.
    let pem = env.ok(&["key", "export", "release"]);
    assert!(pem["data"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    env.fails(&["key", "export", "log"], 2, "unsupported_algorithm");
    env.ok(&[
        "key",
        "export",
        "log",
        "--format",
        "json",
        "--out",
        &env.p("log.pub.json"),
    ]);
    env.ok(&[
        "key",
        "export",
        "agent",
        "--private",
        "--out",
        &env.p("agent.pem"),
    ]);
    // The private key file is the owner's alone; the public ones follow the umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| {
            std::fs::metadata(env.path(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("agent.pem"), 0o600);
        assert_ne!(
            mode("log.pub.json") & 0o044,
            0,
            "a public key stays readable"
        );
    }
    let agent_id = env.ok(&["key", "show", "agent"])["key"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Import into a second registry: public (PEM and JSON) and private.
    let other = Env::new();
    other.ok(&["init", "--insecure-no-passphrase"]);
    let v = other.ok(&[
        "key",
        "import",
        "--private",
        &env.p("agent.pem"),
        "--label",
        "agent",
        "--role",
        "peer",
        "--insecure-no-passphrase",
    ]);
    assert_eq!(v["key"]["key_id"], agent_id.as_str());
    assert_eq!(v["key"]["private"], "insecure");
    other.ok(&[
        "key",
        "import",
        "--public",
        &env.p("log.pub.json"),
        "--label",
        "their log",
        "--role",
        "peer",
    ]);
    let pem_file = other.write("rel.pem", pem["data"].as_str().unwrap().as_bytes());
    let v = other.ok(&[
        "key",
        "import",
        "--public",
        &pem_file,
        "--label",
        "their release",
        "--role",
        "peer",
        "--expires-in",
        "30d",
    ]);
    assert_eq!(v["key"]["private"], "none");
    assert!(v["key"]["expires_at"].as_u64().is_some());
    other.fails(
        &[
            "key", "import", "--public", &pem_file, "--label", "again", "--role", "peer",
        ],
        2,
        "already_exists",
    );
    let junk = other.write(
        "junk.pem",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    );
    let e = other.run(&[
        "key", "import", "--public", &junk, "--label", "j", "--role", "peer", "--json",
    ]);
    assert_eq!(e.code, 2, "{}", e.stdout);
    // A public-only key cannot sign.
    other.fails(
        &["key", "export", "their release", "--private"],
        2,
        "invalid_state",
    );

    // Selectors: id prefix, unknown label, too-short prefix.
    env.ok(&["key", "show", &agent_id[..8]]);
    env.fails(&["key", "show", "nobody"], 2, "not_found");
    env.fails(&["key", "show", "ab"], 2, "not_found");

    // Rotate a listed key: the trust root needs a rotation; rotate the log key too.
    let r = env.ok(&["key", "rotate", "release", "--insecure-no-passphrase"]);
    assert_eq!(r["trust_root_needs_rotation"], true);
    let r = env.ok(&["key", "rotate", "log", "--insecure-no-passphrase"]);
    assert_eq!(r["log_key_rotated"], true);
    let s = env.ok(&["status"]);
    assert_eq!(s["trust_root"]["lists_log_key"], false);
    let v = env.ok(&["root", "rotate", "--out", &env.p("root-v2.json")]);
    assert_eq!(v["trust_root"]["version"], 2);
    assert_eq!(env.ok(&["status"])["trust_root"]["lists_log_key"], true);
    // The old release key is rotated: it signs nothing new; its label now names the new key.
    let keys = env.ok(&["key", "list"]);
    let statuses: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["label"] == "release")
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"rotated") && statuses.contains(&"active"));

    // Revoke: by a root key; the log key cannot be revoked; not twice.
    let v = env.ok(&[
        "key",
        "revoke",
        "agent",
        "--reason",
        "lost",
        "--revoker",
        "root",
    ]);
    assert!(v["seq"].as_u64().is_some());
    env.fails(
        &["key", "revoke", agent_id.as_str(), "--reason", "again"],
        2,
        "invalid_state",
    );
    env.fails(
        &["key", "revoke", "log", "--reason", "no"],
        2,
        "invalid_state",
    );
    assert_eq!(
        env.ok(&["key", "show", agent_id.as_str()])["key"]["status"],
        "revoked"
    );
    env.ok(&["ledger", "audit"]);
}

#[test]
fn trust_roots_nodes_and_tokens() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    // No root key yet.
    env.fails(&["root", "create"], 2, "usage");
    env.fails(&["root", "show"], 2, "not_found");
    env.insecure_registry_keys_only();
    let v = env.ok(&[
        "root",
        "create",
        "--out",
        &env.p("root.json"),
        "--threshold",
        "root=1",
    ]);
    assert_eq!(v["trust_root"]["version"], 1);
    assert_eq!(
        v["trust_root"]["keys"].as_array().unwrap().len(),
        4,
        "root, issuer, release and the log key"
    );
    env.fails(&["root", "create"], 2, "already_exists");
    env.fails(&["root", "rotate", "--threshold", "root=2"], 2, "malformed");
    let shown = env.ok(&[
        "root",
        "show",
        "--version",
        "1",
        "--out",
        &env.p("root-again.json"),
    ]);
    assert_eq!(shown["trust_root"]["root_id"], v["trust_root"]["root_id"]);
    env.fails(&["root", "show", "--version", "9"], 2, "not_found");

    // Nodes.
    let spec = r#"{"id": "mem-01", "name": "Memory adapter", "version": "1.2.0",
        "capabilities": ["memory.store", "memory.query"], "signals": ["memory_stored"],
        "endpoints": [{"name": "api", "url": "https://mem.example.test/v1"}],
        "provenance": {"source": "https://git.example.test/mem"}}"#;
    let file = env.write("node.json", spec.as_bytes());
    let n = env.ok(&["node", "register", &file]);
    assert_eq!(n["node"]["spec"]["id"], "mem-01");
    assert_eq!(n["replaced"], false);
    let out = env.run_in(&["node", "register", "-", "--json"], Some(spec));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["replaced"], true);
    assert_eq!(
        ids(
            &env.ok(&["node", "query", "--capability", "memory.query"]),
            "nodes",
            "digest"
        )
        .len(),
        1
    );
    assert_eq!(
        env.ok(&["node", "query", "--signal", "nothing"])["nodes"],
        serde_json::json!([])
    );
    // Both: the nodes declaring both.
    let both = |cap: &str| {
        env.ok(&[
            "node",
            "query",
            "--signal",
            "memory_stored",
            "--capability",
            cap,
        ])["nodes"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((both("memory.query"), both("memory.recall")), (1, 0));
    env.fails(&["node", "query"], 2, "usage");
    assert_eq!(
        env.ok(&["node", "get", "mem-01"])["node"]["spec"]["version"],
        "1.2.0"
    );
    assert_eq!(
        env.ok(&["node", "list"])["nodes"].as_array().unwrap().len(),
        1
    );
    let bad = env.write("bad.json", br#"{"id": "x", "extra": 1}"#);
    let e = env.fails(&["node", "register", &bad], 2, "malformed");
    assert_eq!(e["field"], "extra");
    let bad = env.write("bad2.json", spec.replace("https://mem", "mem").as_bytes());
    let e = env.fails(&["node", "register", &bad], 2, "malformed");
    assert_eq!(e["field"], "endpoints[0].url");
    let huge = env.write("huge.json", &vec![b' '; 70 * 1024]);
    env.fails(&["node", "register", &huge], 2, "too_large");
    env.ok(&["node", "deregister", "mem-01", "--reason", "retired"]);
    env.fails(&["node", "get", "mem-01"], 2, "not_found");
    env.fails(&["node", "deregister", "mem-01"], 2, "not_found");

    // Tokens: issue, show, verify (stored and presented), delegate, revoke.
    let t = env.ok(&[
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
        "--capability",
        "write",
        "--constraint",
        "max_bytes=max:1000",
        "--ttl",
        "1h",
        "--out",
        &env.p("tok.json"),
    ]);
    let id = t["token"]["id"].as_str().unwrap().to_owned();
    assert_eq!(t["token"]["claims"]["audience"], "svc.example");
    assert_eq!(
        t["token"]["claims"]["constraints"]["max_bytes"]["max"],
        1000
    );
    assert_eq!(
        ids(&env.ok(&["token", "list"]), "tokens", "id"),
        vec![id.clone()]
    );
    assert_eq!(
        env.ok(&["token", "show", &id[..6]])["token"]["id"],
        id.as_str()
    );
    let v = env.ok(&[
        "token",
        "verify",
        &id,
        "--audience",
        "svc.example",
        "--capability",
        "read",
    ]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["token"]["id"], id.as_str());
    env.ok(&["token", "verify", "--file", &env.p("tok.json")]);
    env.fails(
        &["token", "verify", &id, "--capability", "admin"],
        1,
        "unauthorized",
    );
    env.fails(
        &["token", "verify", &id, "--audience", "other"],
        1,
        "domain_mismatch",
    );
    env.fails(
        &["token", "verify", &id, "--at", "2100-01-01T00:00:00Z"],
        1,
        "expired",
    );
    env.fails(
        &["token", "verify", &id, "--at", "1000"],
        1,
        "not_yet_valid",
    );
    env.fails(&["token", "verify", &id, "--at", "tomorrow"], 2, "usage");
    let garbage = env.write("garbage.json", b"{\"payload\": 1}");
    env.fails(&["token", "verify", "--file", &garbage], 2, "malformed");
    // A presented token signed by a key this registry does not know.
    let other = Env::new();
    other.insecure_registry();
    let ot = other.ok(&[
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
        "--out",
        &other.p("other.json"),
    ]);
    assert!(ot["file"].is_string());
    env.fails(
        &["token", "verify", "--file", &other.p("other.json")],
        1,
        "unknown_key",
    );
    // Delegation must narrow.
    env.fails(
        &[
            "token",
            "issue",
            "--issuer",
            "agent",
            "--holder",
            "root",
            "--parent",
            &id[..8],
            "--capability",
            "admin",
        ],
        1,
        "delegation_invalid",
    );
    let d = env.ok(&[
        "token",
        "issue",
        "--issuer",
        "agent",
        "--holder",
        "root",
        "--parent",
        &id[..8],
        "--capability",
        "read",
        "--constraint",
        "max_bytes=max:10",
    ]);
    let child = d["token"]["id"].as_str().unwrap().to_owned();
    assert_eq!(d["token"]["claims"]["parent"], id.as_str());
    env.ok(&["token", "verify", &child]);
    env.fails(
        &[
            "token",
            "issue",
            "--issuer",
            "root",
            "--holder",
            "agent",
            "--audience",
            "a",
            "--capability",
            "x",
        ],
        1,
        "unauthorized",
    );
    env.fails(
        &[
            "token",
            "issue",
            "--issuer",
            "issuer",
            "--holder",
            "agent",
            "--audience",
            "a",
            "--capability",
            "x",
            "--constraint",
            "n=range:9..1",
        ],
        2,
        "malformed",
    );
    env.fails(
        &[
            "token",
            "issue",
            "--issuer",
            "issuer",
            "--holder",
            "agent",
            "--audience",
            "a",
            "--capability",
            "x",
            "--ttl",
            "5y",
        ],
        2,
        "usage",
    );
    // Revoking the parent revokes the child.
    env.fails(
        &[
            "token",
            "revoke",
            &id,
            "--reason",
            "x",
            "--revoker",
            "agent",
        ],
        1,
        "unauthorized",
    );
    env.ok(&[
        "token",
        "revoke",
        &id,
        "--reason",
        "holder left",
        "--revoker",
        "issuer",
    ]);
    env.fails(&["token", "verify", &id], 1, "revoked");
    env.fails(&["token", "verify", &child], 1, "revoked");
    env.fails(
        &[
            "token",
            "revoke",
            &id,
            "--reason",
            "again",
            "--revoker",
            "issuer",
        ],
        2,
        "invalid_state",
    );
    env.fails(&["token", "show", "ffffffff"], 2, "not_found");
    env.ok(&["ledger", "audit"]);
}

#[test]
fn sign_verify_bundles_offline() {
    let env = Env::new();
    env.insecure_registry();
    // A few MiB, hashed as a stream.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let art = env.write("app.bin", &big);
    let m = env.ok(&[
        "sign",
        &art,
        "--key",
        "release",
        "--meta",
        "version=1.2",
        "--out",
        &env.p("app.manifest.json"),
    ]);
    let digest = m["manifest"]["digest"].as_str().unwrap().to_owned();
    assert_eq!(m["manifest"]["claims"]["size"], 3_000_000);
    assert_eq!(m["manifest"]["claims"]["name"], "app.bin");
    assert_eq!(m["manifest"]["claims"]["metadata"]["version"], "1.2");
    assert!(std::fs::read_to_string(env.path("app.manifest.json"))
        .unwrap()
        .contains("payloadType"));
    env.fails(&["sign", &art, "--key", "agent"], 1, "unauthorized");
    env.fails(
        &["sign", &art, "--key", "release", "--meta", "novalue"],
        2,
        "usage",
    );
    env.fails(
        &["sign", &env.p("missing.bin"), "--key", "release"],
        2,
        "not_found",
    );

    let v = env.ok(&["verify", &art]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["artifact_checked"], true);
    env.fails(
        &["verify", &art, "--threshold", "2"],
        1,
        "threshold_not_met",
    );
    // A second signer meets a threshold of two.
    env.ok(&[
        "key",
        "generate",
        "--label",
        "second",
        "--role",
        "manifest-signer",
        "--algorithm",
        "ml-dsa-44",
        "--insecure-no-passphrase",
    ]);
    let c = env.ok(&["sign", "--cosign", &digest[..10], "--key", "second"]);
    assert_eq!(c["manifest"]["signers"].as_array().unwrap().len(), 2);
    env.fails(
        &["sign", "--cosign", &digest, "--key", "second"],
        2,
        "already_exists",
    );
    env.ok(&["verify", &art, "--threshold", "2"]);
    let v = env.ok(&["verify", "--manifest", &digest]);
    assert_eq!(v["artifact_checked"], false);

    // Modified bytes: by manifest, digest_mismatch (1); by content, no manifest (2).
    let mut bad = big.clone();
    bad[1_234_567] ^= 1;
    let bad_art = env.write("app-bad.bin", &bad);
    env.fails(
        &["verify", &bad_art, "--manifest", &digest],
        1,
        "digest_mismatch",
    );
    env.fails(&["verify", &bad_art], 2, "not_found");

    // Bundles: export (a checkpoint is signed first), verify offline with only the root file.
    let b = env.ok(&[
        "bundle",
        "export",
        "--manifest",
        &digest[..8],
        "--out",
        &env.p("app.bundle"),
        "--trust-root-out",
        &env.p("pinned.json"),
    ]);
    assert_eq!(b["kind"], "manifest");
    assert!(b["checkpoint_size"].as_u64().unwrap() > b["entry"].as_u64().unwrap());
    // Move the registry away: verification must not need it.
    std::fs::rename(env.home(), env.path("moved-home")).unwrap();
    let (bundle_file, pinned) = (env.p("app.bundle"), env.p("pinned.json"));
    let good = [
        "bundle",
        "verify",
        &bundle_file,
        "--trust-root",
        &pinned,
        "--artifact",
        &art,
    ];
    let v = env.ok(&good);
    assert_eq!(v["valid"], true);
    assert_eq!(v["verdict"]["kind"], "manifest");
    // The trust root lists `release` only (`second` came later): one trusted signer.
    assert_eq!(v["verdict"]["signers"].as_array().unwrap().len(), 1);
    assert_eq!(v["verdict"]["checkpoint"]["origin"], "test.example/log");
    env.fails(
        &[
            "bundle",
            "verify",
            &bundle_file,
            "--trust-root",
            &pinned,
            "--artifact",
            &bad_art,
        ],
        1,
        "digest_mismatch",
    );
    let text = env.run(&good);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.starts_with("VERIFIED manifest"),
        "{}",
        text.stdout
    );
    // The bundle (version 2) proves non-revocation as of its checkpoint.
    let size = v["verdict"]["checkpoint"]["size"].as_u64().unwrap();
    assert_eq!(v["verdict"]["not_revoked_as_of"]["size"], size);
    assert!(
        text.stdout
            .contains(&format!("revocation not revoked as of checkpoint {size} (")),
        "{}",
        text.stdout
    );
    // --max-age: the checkpoint is dated by its newest entry.
    let dated = v["verdict"]["not_revoked_as_of"]["time"].as_u64().unwrap();
    let at = (dated + 100).to_string();
    let aged = |max: &'static str| {
        let mut a = good.to_vec();
        a.extend(["--at", at.as_str(), "--max-age", max]);
        a
    };
    env.ok(&aged("100"));
    env.fails(&aged("99"), 1, "stale");
    // Without the artifact: the signatures verify, the output says the bytes were not checked.
    let v = env.ok(&[
        "bundle",
        "verify",
        &env.p("app.bundle"),
        "--trust-root",
        &env.p("pinned.json"),
    ]);
    assert_eq!(v["artifact_checked"], false);
    // A list of revoked tokens says nothing of a manifest: refused, not dropped.
    let mut revoked = good.to_vec();
    let token_id = "ab".repeat(32);
    revoked.extend(["--revoked", token_id.as_str()]);
    env.fails(&revoked, 1, "domain_mismatch");
    // Tampered bundles: the signed claims, the checkpoint note, truncation. (Bytes the
    // verifier does not rely on, such as a signature by a key the root does not list, may
    // change without effect; these are the ones it does rely on.)
    let bytes = std::fs::read(env.path("app.bundle")).unwrap();
    let find = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("bundle contains it")
    };
    let mut claims = bytes.clone();
    claims[find(b"app.bin") + 6] ^= 0x01;
    let mut note = bytes.clone();
    let origin_at = find(b"test.example/log\n");
    note[origin_at + "test.example/log\n".len()] ^= 0x01;
    let cases: [(&str, &[u8], i32, &str); 3] = [
        ("claims", &claims, 1, "proof_invalid"),
        ("note", &note, 1, "signature_invalid"),
        ("cut", &bytes[..bytes.len() - 7], 2, "malformed"),
    ];
    for (name, t, code, error) in cases {
        let f = env.write(&format!("{name}.bundle"), t);
        env.fails(
            &[
                "bundle",
                "verify",
                &f,
                "--trust-root",
                &pinned,
                "--artifact",
                &art,
            ],
            code,
            error,
        );
    }
    // Another registry's trust root does not vouch for this bundle: its checkpoint keys
    // signed no line of the note.
    let other = Env::new();
    other.insecure_registry();
    env.fails(
        &[
            "bundle",
            "verify",
            &env.p("app.bundle"),
            "--trust-root",
            &other.p("root.json"),
            "--artifact",
            &art,
        ],
        1,
        "unknown_key",
    );
    // Unreadable inputs are input errors.
    env.fails(
        &["bundle", "verify", &art, "--trust-root", &pinned],
        2,
        "too_large",
    );
    let small = env.write("small.txt", b"not a bundle");
    env.fails(
        &["bundle", "verify", &small, "--trust-root", &pinned],
        2,
        "malformed",
    );
    env.fails(
        &[
            "bundle",
            "verify",
            &env.p("app.bundle"),
            "--trust-root",
            &small,
        ],
        2,
        "malformed",
    );
    env.fails(
        &[
            "bundle",
            "verify",
            &env.p("nope.bundle"),
            "--trust-root",
            &env.p("pinned.json"),
        ],
        2,
        "not_found",
    );
    let classical = env.run(&[
        "bundle",
        "verify",
        &env.p("app.bundle"),
        "--trust-root",
        &env.p("pinned.json"),
        "--allow-classical-checkpoint",
    ]);
    assert_eq!(classical.code, 0);
    std::fs::rename(env.path("moved-home"), env.home()).unwrap();

    // Token bundles: audience, capability, revocation list, time.
    let t = env.ok(&[
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
        "--ttl",
        "1h",
    ]);
    let tid = t["token"]["id"].as_str().unwrap().to_owned();
    env.ok(&[
        "bundle",
        "export",
        "--token",
        &tid,
        "--out",
        &env.p("tok.bundle"),
    ]);
    let tb = env.p("tok.bundle");
    let root = env.p("root.json");
    let v = env.ok(&[
        "bundle",
        "verify",
        &tb,
        "--trust-root",
        &root,
        "--audience",
        "svc.example",
        "--capability",
        "read",
    ]);
    assert_eq!(v["verdict"]["kind"], "token");
    // A token bundle swapped in for an artifact's does not pass the artifact's check.
    let art = env.write("some-artifact.bin", b"any bytes");
    let e = env.fails(
        &[
            "bundle",
            "verify",
            &tb,
            "--trust-root",
            &root,
            "--artifact",
            &art,
        ],
        1,
        "domain_mismatch",
    );
    assert!(
        e["message"].as_str().unwrap().contains("token bundle"),
        "{e}"
    );
    env.fails(
        &[
            "bundle",
            "verify",
            &tb,
            "--trust-root",
            &root,
            "--capability",
            "write",
        ],
        1,
        "unauthorized",
    );
    env.fails(
        &[
            "bundle",
            "verify",
            &tb,
            "--trust-root",
            &root,
            "--revoked",
            &tid,
        ],
        1,
        "revoked",
    );
    env.fails(
        &[
            "bundle",
            "verify",
            &tb,
            "--trust-root",
            &root,
            "--revoked",
            "abc",
        ],
        2,
        "usage",
    );
    env.fails(
        &[
            "bundle",
            "verify",
            &tb,
            "--trust-root",
            &root,
            "--at",
            "2200-01-01T00:00:00Z",
        ],
        1,
        "expired",
    );
    env.fails(
        &[
            "bundle",
            "export",
            "--token",
            "0000",
            "--out",
            &env.p("x.bundle"),
        ],
        2,
        "not_found",
    );
    env.ok(&["ledger", "audit"]);
}

#[test]
fn ledger_checkpoints_and_proofs() {
    let env = Env::new();
    env.insecure_registry();
    env.ok(&["node", "register", &env.write("n.json", br#"{"id": "n1", "name": "N", "version": "1", "capabilities": [], "signals": [], "endpoints": [], "provenance": {"source": "https://example.test/n1"}}"#)]);

    let tail = env.ok(&["ledger", "tail", "-n", "3"]);
    let entries = tail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2]["kind"], "node_registered");
    let text = env.run(&["ledger", "tail"]);
    assert!(
        text.stdout.contains("trust_root_updated"),
        "{}",
        text.stdout
    );
    let e = env.ok(&["ledger", "get", "0"]);
    assert_eq!(e["entry"]["kind"], "key_added");
    assert_eq!(e["entry"]["event"]["key_added"]["label"], "log");
    assert!(e["entry"]["envelope"]["signatures"].is_array());
    env.fails(&["ledger", "get", "999"], 2, "not_found");

    // Checkpoints.
    let first = env.ok(&["checkpoint", "latest"]);
    assert_eq!(first["checkpoint"]["size"], 1);
    let cp = env.ok(&["checkpoint", "create", "--out", &env.p("cp.txt")]);
    let size = cp["checkpoint"]["size"].as_u64().unwrap();
    assert_eq!(size, env.ok(&["status"])["entries"].as_u64().unwrap());
    assert!(std::fs::read_to_string(env.path("cp.txt"))
        .unwrap()
        .starts_with("test.example/log\n"));
    let h = env.ok(&["checkpoint", "history"]);
    assert_eq!(h["checkpoints"].as_array().unwrap().len(), 2);
    let c = env.ok(&["checkpoint", "consistency"]);
    assert_eq!(c["valid"], true);
    assert_eq!(c["from"]["size"], 1);
    assert_eq!(c["to"]["size"], size);
    env.ok(&[
        "checkpoint",
        "consistency",
        "--from",
        "1",
        "--to",
        &size.to_string(),
    ]);
    env.fails(
        &["checkpoint", "consistency", "--from", "2"],
        2,
        "not_found",
    );

    // Proofs from the stored tree.
    let p = env.ok(&["proof", "inclusion", "3"]);
    assert_eq!(p["size"], size);
    assert_eq!(
        p["checkpoint"].as_str().unwrap(),
        std::fs::read_to_string(env.path("cp.txt")).unwrap()
    );
    assert!(!p["proof"].as_array().unwrap().is_empty());
    env.ok(&["proof", "inclusion", "0", "--size", "1"]);
    env.fails(&["proof", "inclusion", "3", "--size", "2"], 2, "malformed");
    env.fails(&["proof", "inclusion", "500"], 2, "not_found");
    // A revocation-map proof of a key never revoked (revoked ones: service and npm tests).
    let log_id = env.ok(&["key", "show", "log"])["key"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = env.ok(&["proof", "revocation", "key", &log_id]);
    assert_eq!(
        (&kept["revoked"], &kept["seq"]),
        (&false.into(), &Value::Null)
    );
    assert!(kept["checkpoint"]
        .as_str()
        .unwrap()
        .contains("cairn.revocations 0 "));
    env.fails(&["proof", "revocation", "entry", &log_id], 2, "malformed");
    env.fails(&["proof", "revocation", "key", "abc"], 2, "usage");
    let pc = env.ok(&["proof", "consistency", "2", "5"]);
    assert_eq!(pc["old_size"], 2);
    assert_eq!(pc["new_size"], 5);
    env.fails(&["proof", "consistency", "0"], 2, "malformed");
    env.fails(&["proof", "consistency", "5", "2"], 2, "malformed");

    // Export, then verify the stream: alone, against the origin, anchored to a checkpoint.
    env.ok(&[
        "key",
        "generate",
        "--label",
        "late",
        "--role",
        "peer",
        "--insecure-no-passphrase",
    ]);
    let x = env.ok(&["ledger", "export", "--out", &env.p("reg.cairnlog")]);
    assert_eq!(
        x["entries"],
        size + 1,
        "the entry after the newest checkpoint is exported too: the signed head covers it"
    );
    let log = env.p("reg.cairnlog");
    let v = env.ok(&["ledger", "import-verify", &log]);
    assert_eq!(v["anchored"], false);
    assert_eq!(v["entries"], size + 1);
    let v = env.ok(&[
        "ledger",
        "import-verify",
        &log,
        "--origin",
        "test.example/log",
        "--checkpoint",
        &env.p("cp.txt"),
        "--trust-root",
        &env.p("root.json"),
    ]);
    assert_eq!(v["anchored"], true);
    env.ok(&[
        "key",
        "export",
        "log",
        "--format",
        "json",
        "--out",
        &env.p("log.json"),
    ]);
    env.ok(&[
        "ledger",
        "import-verify",
        &log,
        "--checkpoint",
        &env.p("cp.txt"),
        "--log-key",
        &env.p("log.json"),
    ]);
    env.fails(
        &[
            "ledger",
            "import-verify",
            &log,
            "--checkpoint",
            &env.p("cp.txt"),
        ],
        2,
        "usage",
    );
    env.fails(
        &[
            "ledger",
            "import-verify",
            &log,
            "--origin",
            "other.example/log",
        ],
        1,
        "domain_mismatch",
    );
    // A checkpoint the export does not reach.
    env.ok(&[
        "key",
        "generate",
        "--label",
        "later",
        "--role",
        "peer",
        "--insecure-no-passphrase",
    ]);
    env.ok(&["checkpoint", "create", "--out", &env.p("cp2.txt")]);
    env.fails(
        &[
            "ledger",
            "import-verify",
            &log,
            "--checkpoint",
            &env.p("cp2.txt"),
            "--trust-root",
            &env.p("root.json"),
        ],
        1,
        "chain_broken",
    );
    // Tampered streams.
    let bytes = std::fs::read(env.path("reg.cairnlog")).unwrap();
    let mut t = bytes.clone();
    let mid = t.len() / 2;
    t[mid] ^= 1;
    let out = env.run(&[
        "ledger",
        "import-verify",
        &env.write("t.cairnlog", &t),
        "--json",
    ]);
    assert!(out.code == 1 || out.code == 2, "{}", out.stdout);
    assert_eq!(out.json()["ok"], false);
    env.fails(
        &[
            "ledger",
            "import-verify",
            &env.write("cut.cairnlog", &bytes[..bytes.len() - 20]),
        ],
        2,
        "malformed",
    );
    env.fails(
        &[
            "ledger",
            "import-verify",
            &env.write("junk.cairnlog", b"hello"),
        ],
        2,
        "malformed",
    );

    let a = env.ok(&["ledger", "audit"]);
    assert_eq!(a["valid"], true);
    assert_eq!(a["trust_roots"], 1);
    assert_eq!(a["nodes"], 1);
}

#[test]
fn damaged_or_foreign_store_files_are_reported() {
    let env = Env::new();
    let junk = env.write("junk.redb", b"this is not a database");
    env.fails(&["status", "--store", &junk], 2, "not_a_registry");
    // Round-3 Dilithium verifies old signatures only: asking to create such a key is refused
    // cleanly, and no file is left behind.
    let legacy = env.p("legacy.redb");
    let args = [
        "init",
        "--store",
        &legacy,
        "--insecure-no-passphrase",
        "--log-algorithm",
        "dilithium2-r3",
    ];
    env.fails(&args, 2, "unsupported_algorithm");
    assert!(!env.path("legacy.redb").exists());
    env.fails(
        &["init", "--store", &junk, "--insecure-no-passphrase"],
        2,
        "already_exists",
    );
    // A registry whose file was altered outside cairn is refused, never silently read.
    let store = env.p("r.redb");
    env.ok(&["init", "--store", &store, "--insecure-no-passphrase"]);
    for i in 0..5 {
        env.ok(&[
            "key",
            "generate",
            "--store",
            &store,
            "--label",
            &format!("k{i}"),
            "--role",
            "peer",
            "--algorithm",
            "ed25519",
            "--insecure-no-passphrase",
        ]);
    }
    env.ok(&["ledger", "audit", "--store", &store]);
    let mut bytes = std::fs::read(env.path("r.redb")).unwrap();
    // Flip bits in every 4 KiB page after the header: whichever holds data is caught.
    let mut at = 4096 + 100;
    while at < bytes.len() {
        bytes[at] ^= 0x10;
        at += 4096;
    }
    std::fs::write(env.path("r.redb"), &bytes).unwrap();
    env.fails(&["ledger", "audit", "--store", &store], 1, "corrupt");
}

#[test]
fn import_blux_config_dir() {
    let env = Env::new();
    env.ok(&["init", "--insecure-no-passphrase"]);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("core/tests/fixtures/blux");
    let config = env.path("blux");
    std::fs::create_dir_all(config.join("keys")).unwrap();
    std::fs::create_dir_all(config.join("trust")).unwrap();
    // A private key (made by a second registry) and a public one.
    let other = Env::new();
    other.ok(&["init", "--insecure-no-passphrase"]);
    other.ok(&[
        "key",
        "generate",
        "--label",
        "mine",
        "--role",
        "peer",
        "--algorithm",
        "ed25519",
        "--insecure-no-passphrase",
    ]);
    let pem = config.join("keys/mine.pem").display().to_string();
    other.ok(&["key", "export", "mine", "--private", "--out", &pem]);
    std::fs::copy(
        fixtures.join("signer.pub.pem"),
        config.join("keys/signer.pub.pem"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("ledger.jsonl"),
        config.join("trust/ledger.jsonl"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("token_revocations.jsonl"),
        config.join("trust/token_revocations.jsonl"),
    )
    .unwrap();
    let dir = config.display().to_string();

    let size = env.ok(&["status"])["entries"].as_u64().unwrap();
    // A private key needs a passphrase (or the explicit insecure mode).
    env.fails(&["import", "blux", &dir], 2, "passphrase_required");
    let pass = env.write("pass.txt", PASS.as_bytes());
    let v = env.ok(&[
        "import",
        "blux",
        &dir,
        "--key-passphrase-file",
        &pass,
        "--insecure-fast-kdf",
    ]);
    let labels: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 2, "{v}");
    assert!(
        labels.contains(&"blux:mine") && labels.contains(&"blux:signer"),
        "{labels:?}"
    );
    assert!(v["ledger_entries"].as_u64().unwrap() > 0);
    assert!(v["revocations"].as_u64().unwrap() > 0);
    assert_eq!(v["imported_seqs"].as_array().unwrap().len(), 2);
    let mine = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "blux:mine")
        .unwrap();
    assert_eq!(mine["private"], "sealed");
    assert_eq!(
        mine["roles"],
        serde_json::json!(["token-issuer", "manifest-signer"])
    );
    // Again: the keys are skipped, the files recorded again.
    let again = env.ok(&[
        "import",
        "blux",
        &dir,
        "--key-passphrase-file",
        &pass,
        "--insecure-fast-kdf",
    ]);
    assert_eq!(again["keys"], serde_json::json!([]));
    assert_eq!(again["skipped"].as_array().unwrap().len(), 2);
    let after = env.ok(&["status"])["entries"].as_u64().unwrap();
    assert!(after > size);
    env.ok(&["ledger", "audit"]);

    // An edited ledger line fails the whole import (exit 1), writing nothing.
    let ledger = std::fs::read_to_string(config.join("trust/ledger.jsonl")).unwrap();
    let edited = ledger.replacen("\"action\":\"", "\"action\":\"x", 1);
    assert_ne!(edited, ledger);
    std::fs::write(config.join("trust/ledger.jsonl"), edited).unwrap();
    let out = env.run(&["import", "blux", &dir, "--insecure-no-passphrase", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(out.json()["ok"], false);
    assert_eq!(
        env.ok(&["status"])["entries"].as_u64().unwrap(),
        after,
        "nothing was written"
    );
    // Not a blux-reg directory.
    std::fs::create_dir_all(env.path("empty")).unwrap();
    env.fails(&["import", "blux", &env.p("empty")], 2, "not_found");
    env.fails(&["import", "blux", &env.p("missing")], 2, "not_found");
}

/// A test that needs a tool scripts/test.sh installs finds it missing: under
/// `CAIRN_TEST_STRICT=1` (which scripts/test.sh sets) a failure, so that a run meant to be
/// complete cannot pass by skipping `test`; otherwise a skip, said on stderr.
pub(crate) fn tool_missing(test: &str, why: &str) {
    assert!(
        std::env::var("CAIRN_TEST_STRICT").as_deref() != Ok("1"),
        "{test}: {why}, and CAIRN_TEST_STRICT=1 asks for every test to run"
    );
    eprintln!("SKIPPED {test}: {why}");
}

// Further suites of the same binary (one test binary keeps the build small).
#[path = "cli/atomic_outputs.rs"]
mod atomic_outputs;
#[path = "cli/blux_refusals.rs"]
mod blux_refusals;
#[path = "cli/blux_streaming.rs"]
mod blux_streaming;
#[path = "cli/blux_verify.rs"]
mod blux_verify;
#[cfg(unix)]
#[path = "cli/durability.rs"]
mod durability;
#[path = "cli/endless_inputs.rs"]
mod endless_inputs;
#[path = "cli/freshness.rs"]
mod freshness;
#[cfg(unix)]
#[path = "cli/handle.rs"]
mod handle;
#[path = "cli/interop.rs"]
mod interop;
#[path = "cli/key_lifecycle.rs"]
mod key_lifecycle;
#[path = "cli/peer.rs"]
mod peer;
#[cfg(unix)]
#[path = "cli/serve.rs"]
mod serve;
#[cfg(unix)]
#[path = "cli/tiles.rs"]
mod tiles;
#[cfg(unix)]
#[path = "cli/witness.rs"]
mod witness;
