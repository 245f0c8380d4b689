//! Durability of the registry file itself: an interrupted `cairn init` leaves no registry or a
//! complete one, an older version's half-created file is reported with how to recover, read
//! commands never write to the registry, and they work on a read-only copy.
//!
//! The crash points are made with strace's fault injection (`-e inject=SYSCALL:signal=KILL`):
//! the process is killed as it enters its Nth fsync or fdatasync, the points at which a power
//! loss would lose whatever had not yet been flushed. The tests that need strace say so on
//! stderr and skip when it is not installed or cannot trace here (scripts/test.sh installs it).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use super::Env;

/// Whether strace is installed and may trace a child here (a container can forbid ptrace).
/// Probed once; when it is not, says so on stderr with `test`'s name, which then skips (or,
/// when strace is not installed and `CAIRN_TEST_STRICT=1`, fails: [`super::tool_missing`]).
pub(crate) fn strace_usable(test: &str) -> bool {
    /// Why strace cannot be used: not installed (scripts/test.sh installs it), or installed
    /// but not allowed to trace (a container without ptrace: the machine's rule, not a gap).
    enum Missing {
        Tool(String),
        Permission(String),
    }
    static PROBE: std::sync::OnceLock<Result<(), Missing>> = std::sync::OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        match Command::new("strace")
            .args(["-f", "-o", "/dev/null", "-e", "trace=fsync", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
        {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(Missing::Permission(format!(
                "strace cannot trace here ({}); tracing needs ptrace",
                String::from_utf8_lossy(&o.stderr).trim()
            ))),
            Err(e) => Err(Missing::Tool(format!(
                "strace is not available ({e}); install it (scripts/test.sh does) to run this test"
            ))),
        }
    });
    match probe {
        Ok(()) => true,
        Err(Missing::Tool(why)) => {
            super::tool_missing(test, why);
            false
        }
        Err(Missing::Permission(why)) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

/// The `cairn` binary run under strace with `strace_args`, in `env`'s directory and
/// environment (the same as `Env::run`). Returns the exit status, stdout and stderr.
pub(crate) fn cairn_under_strace(
    env: &Env,
    strace_args: &[&str],
    args: &[&str],
) -> (ExitStatus, String, String) {
    let mut cmd = Command::new("strace");
    cmd.args(strace_args)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .current_dir(env.dir.path())
        .env("CAIRN_HOME", env.home())
        .env_remove("CAIRN_PASSPHRASE")
        .env_remove("CAIRN_KEY_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run strace");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether strace's child died of SIGKILL (strace re-raises the tracee's fatal signal on
/// itself; some versions exit 128 + signal instead).
pub(crate) fn killed(status: &ExitStatus) -> bool {
    status.signal() == Some(9) || status.code() == Some(128 + 9)
}

/// Names in `dir` that look like temporaries of fsio (or of registry creation).
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".cairn-tmp."))
        .collect()
}

/// What an interrupted init left behind, as the test saw it.
#[derive(Debug, Default)]
struct Outcomes {
    /// Kills after which no registry file existed.
    absent: u32,
    /// ... of which a temporary file was left beside it.
    absent_with_temporary: u32,
    /// Kills after which a complete registry existed.
    complete: u32,
    /// ... of which the file was not closed cleanly (reads needed `cairn check` first).
    complete_needing_check: u32,
}

/// Kills `cairn init` at its 1st, 2nd, ... `syscall` until one run completes; after every
/// kill the directory must hold no registry or a complete one, and `cairn init` must then
/// succeed (or, over a complete one, refuse with `already_exists`) and clean up any
/// temporary. Returns how many `syscall` calls a complete init makes.
fn kill_init_at_each(env: &Env, syscall: &str, seen: &mut Outcomes) -> u32 {
    for n in 1..=200u32 {
        let dir = env.path(&format!("{syscall}-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let store = dir.join("registry.redb");
        let store_s = store.display().to_string();
        let inject = format!("inject={syscall}:signal=KILL:when={n}");
        let (status, stdout, stderr) = cairn_under_strace(
            env,
            &[
                "-f",
                "-o",
                "/dev/null",
                "-e",
                "trace=fdatasync,fsync",
                "-e",
                &inject,
            ],
            &[
                "--store",
                &store_s,
                "init",
                "--origin",
                "crash.example/log",
                "--insecure-no-passphrase",
                "--json",
            ],
        );
        if status.success() {
            // This run did not reach an Nth call: N - 1 is the number of calls.
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(v["ok"], true, "{stdout}");
            assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
            env.ok(&["ledger", "audit", "--store", &store_s]);
            return n - 1;
        }
        assert!(
            killed(&status),
            "init with {inject} failed without being killed ({status}):\nstdout: {stdout}\nstderr: {stderr}"
        );
        if store.exists() {
            // A complete registry: it audits and shows its origin, and init refuses to
            // overwrite it.
            seen.complete += 1;
            // Killed while it had the final file open for writing: redb marks such a file
            // as not closed cleanly, which a read-only open cannot recover. The read says
            // so and how to recover; `cairn check` recovers it.
            let out = env.run(&["ledger", "audit", "--store", &store_s, "--json"]);
            if out.code != 0 {
                seen.complete_needing_check += 1;
                let v = out.json();
                assert_eq!(v["error"], "database", "{syscall} #{n}: {v}");
                let msg = v["message"].as_str().unwrap();
                assert!(
                    msg.contains("not closed cleanly") && msg.contains("run `cairn check`"),
                    "{syscall} #{n}: {msg}"
                );
                env.ok(&["check", "--store", &store_s]);
            }
            let a = env.ok(&["ledger", "audit", "--store", &store_s]);
            assert_eq!(a["valid"], true, "{syscall} #{n}: {a}");
            let s = env.ok(&["status", "--store", &store_s]);
            assert_eq!(s["origin"], "crash.example/log", "{syscall} #{n}: {s}");
            env.fails(
                &["init", "--store", &store_s, "--insecure-no-passphrase"],
                2,
                "already_exists",
            );
        } else {
            seen.absent += 1;
            if !temporaries(&dir).is_empty() {
                seen.absent_with_temporary += 1;
            }
            // Nothing to open, and a fresh init succeeds and removes the leftover.
            env.fails(&["status", "--store", &store_s], 2, "not_found");
            env.ok(&["init", "--store", &store_s, "--insecure-no-passphrase"]);
            env.ok(&["ledger", "audit", "--store", &store_s]);
        }
        assert!(
            temporaries(&dir).is_empty(),
            "{syscall} #{n}: a temporary survived the next init: {:?}",
            temporaries(&dir)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    panic!("cairn init was still being killed at {syscall} #200");
}

#[test]
fn an_interrupted_init_leaves_no_registry_or_a_complete_one() {
    if !strace_usable("an_interrupted_init_leaves_no_registry_or_a_complete_one") {
        return;
    }
    let env = Env::new();
    let mut seen = Outcomes::default();
    let mut points = BTreeMap::new();
    for syscall in ["fdatasync", "fsync"] {
        points.insert(syscall, kill_init_at_each(&env, syscall, &mut seen));
    }
    eprintln!("cairn init sync points: {points:?}; outcomes of the kills: {seen:?}");
    // The database's own commits flush with fdatasync; the rename into place is made
    // durable with fsync of the directory. Both must be there, or a power loss could lose
    // the new registry.
    assert!(points["fdatasync"] >= 1, "{points:?}");
    assert!(points["fsync"] >= 1, "{points:?}");
    // Kills before the rename leave a temporary and no registry; kills after it leave the
    // complete registry. Both kinds happened, so both checks above were exercised.
    assert!(seen.absent_with_temporary >= 1, "{seen:?}");
    assert!(seen.complete >= 1, "{seen:?}");
}

#[test]
fn a_half_created_file_of_an_older_version_says_how_to_recover() {
    // Older versions created the database in place, so a kill during `cairn init` could leave
    // a redb file with none of cairn's tables (here: made with redb directly, one commit).
    let env = Env::new();
    let path = env.path("registry.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        db.begin_write().unwrap().commit().unwrap();
    }
    let store = path.display().to_string();
    for args in [
        vec!["status", "--store", &store],
        vec!["ledger", "audit", "--store", &store],
        vec!["key", "list", "--store", &store],
    ] {
        let v = env.fails(&args, 2, "not_a_registry");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.contains("interrupted `cairn init`")
                && msg.contains("delete it")
                && msg.contains("run `cairn init`"),
            "{args:?}: {msg}"
        );
        // Without --json: the same on stderr, exit status 2.
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("delete it and run `cairn init` again"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // A write command opens read-write: the same error.
    env.fails(
        &[
            "node",
            "deregister",
            "x",
            "--store",
            &store,
            "--insecure-no-passphrase",
        ],
        2,
        "not_a_registry",
    );
    // init refuses to overwrite it; following the advice works.
    env.fails(
        &["init", "--store", &store, "--insecure-no-passphrase"],
        2,
        "already_exists",
    );
    std::fs::remove_file(&path).unwrap();
    env.ok(&["init", "--store", &store, "--insecure-no-passphrase"]);
    env.ok(&["status", "--store", &store]);
}

/// A registry with something in every table a read command shows: keys, a trust root, a
/// node, a token, a manifest and two checkpoints. Returns the token id.
fn populated(env: &Env) -> String {
    env.insecure_registry();
    env.ok(&[
        "node",
        "register",
        &env.write(
            "node.json",
            br#"{"id": "mem-01", "name": "Memory", "version": "1.0.0",
                "capabilities": ["memory.store"], "signals": ["memory_stored"], "endpoints": [],
                "provenance": {"source": "https://git.example.test/mem"}}"#,
        ),
    ]);
    let token = env.ok(&[
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
    ])["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let artifact = env.write("app.bin", b"an artifact");
    env.ok(&["sign", &artifact, "--key", "release"]);
    env.ok(&["checkpoint", "create"]);
    env.ok(&[
        "bundle",
        "export",
        "--token",
        &token,
        "--out",
        &env.p("token.bundle"),
    ]);
    env.ok(&["checkpoint", "create"]);
    token
}

/// Every read command, with `OUT` standing for a fresh output file where it writes one.
fn read_commands(env: &Env, token: &str) -> Vec<Vec<String>> {
    let bundle = env.p("token.bundle");
    let root = env.p("root.json");
    let cmds: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["key", "list"],
        vec!["key", "show", "log"],
        vec!["key", "export", "release", "--out", "OUT"],
        vec!["root", "show"],
        vec!["node", "list"],
        vec!["node", "get", "mem-01"],
        vec!["node", "query", "--capability", "memory.store"],
        vec!["token", "list"],
        vec!["token", "show", token],
        vec![
            "token",
            "verify",
            token,
            "--audience",
            "svc.example",
            "--capability",
            "read",
        ],
        vec!["verify", "app.bin"],
        vec!["ledger", "tail"],
        vec!["ledger", "get", "0"],
        vec!["ledger", "audit"],
        vec!["ledger", "export", "--out", "OUT"],
        vec!["proof", "inclusion", "1"],
        vec!["proof", "consistency", "2"],
        vec!["checkpoint", "latest"],
        vec!["checkpoint", "latest", "--out", "OUT"],
        vec!["checkpoint", "history"],
        vec!["checkpoint", "consistency"],
        vec![
            "bundle",
            "verify",
            &bundle,
            "--trust-root",
            &root,
            "--audience",
            "svc.example",
            "--capability",
            "read",
        ],
    ];
    cmds.into_iter()
        .map(|c| c.into_iter().map(str::to_owned).collect())
        .collect()
}

/// Replaces `OUT` in `cmd` with a fresh path in `out_dir` (removed first).
fn with_out(cmd: &[String], out_dir: &Path, i: usize) -> (Vec<String>, Option<PathBuf>) {
    let mut out = None;
    let args = cmd
        .iter()
        .map(|a| {
            if a == "OUT" {
                let p = out_dir.join(format!("out-{i}"));
                let _ = std::fs::remove_file(&p);
                let s = p.display().to_string();
                out = Some(p);
                s
            } else {
                a.clone()
            }
        })
        .collect();
    (args, out)
}

/// The lines of `strace -f` output, each call on one line: where two threads' calls overlap,
/// strace splits one into `PID call(args <unfinished ...>` and, later,
/// `PID <... call resumed>rest`; those are joined back into `PID call(argsrest`.
pub(crate) fn strace_calls(trace: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Index in `out` of each thread's unfinished call.
    let mut open: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for line in trace.lines() {
        let pid = line.split_once(' ').map_or("", |(p, _)| p);
        if let Some(head) = line.strip_suffix(" <unfinished ...>") {
            open.insert(pid, out.len());
            out.push(head.to_owned());
        } else if let Some((_, rest)) = line.split_once(" resumed>") {
            match open.remove(pid) {
                Some(i) => out[i].push_str(rest),
                None => out.push(line.to_owned()),
            }
        } else {
            out.push(line.to_owned());
        }
    }
    out
}

#[test]
fn strace_calls_joins_the_halves_of_an_interrupted_call() {
    let trace = "7 fsync(5</d/.f.tmp> <unfinished ...>\n9 fdatasync(4</a>) = 0\n7 <... fsync resumed>) = 0\n7 rename(\"x\", \"y\") = 0";
    assert_eq!(
        strace_calls(trace),
        [
            "7 fsync(5</d/.f.tmp>) = 0",
            "9 fdatasync(4</a>) = 0",
            "7 rename(\"x\", \"y\") = 0"
        ]
    );
}

/// The system call a line of `strace -f` output shows (`1234 fsync(3</p>) = 0` -> `fsync`).
fn syscall(line: &str) -> &str {
    let call = line
        .split_once(' ')
        .map_or(line, |(_, rest)| rest.trim_start());
    call.split_once('(').map_or("", |(name, _)| name)
}

/// The registry file's bytes and modification time.
fn snapshot(path: &Path) -> (Vec<u8>, i64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (std::fs::read(path).unwrap(), m.mtime(), m.mtime_nsec())
}

#[test]
fn read_commands_never_write_to_the_registry() {
    if !strace_usable("read_commands_never_write_to_the_registry") {
        return;
    }
    let env = Env::new();
    let token = populated(&env);
    let registry = env.home().join("registry.redb");
    // strace -y prints a descriptor as `3</path/of/file>`: this is the registry's.
    let reg_name = format!("<{}>", registry.display());
    let out_dir = env.path("outputs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let log = env.path("strace.log");
    let log_s = log.display().to_string();
    // Every syscall that writes to or flushes a file descriptor, with paths (-y).
    let watched = "trace=fdatasync,fsync,sync_file_range,syncfs,write,pwrite64,writev,pwritev,pwritev2,ftruncate,fallocate";
    for (i, cmd) in read_commands(&env, &token).iter().enumerate() {
        let (mut args, out) = with_out(cmd, &out_dir, i);
        args.push("--json".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let before = snapshot(&registry);
        let (status, stdout, stderr) =
            cairn_under_strace(&env, &["-f", "-y", "-o", &log_s, "-e", watched], &args);
        assert!(
            status.success(),
            "{args:?}: {status}\nstdout: {stdout}\nstderr: {stderr}"
        );
        let trace = std::fs::read_to_string(&log).unwrap();
        // The registry file is never written or flushed...
        let on_registry: Vec<&str> = trace.lines().filter(|l| l.contains(&reg_name)).collect();
        assert!(
            on_registry.is_empty(),
            "{args:?} wrote to the registry: {on_registry:?}"
        );
        // ...and nothing at all is flushed, except the output file a command was asked to
        // write (its temporary and its directory, through fsio).
        let out_dir_s = out_dir.display().to_string();
        let flushes: Vec<&str> = trace
            .lines()
            .filter(|l| syscall(l).contains("sync"))
            .filter(|l| out.is_none() || !l.contains(&out_dir_s))
            .collect();
        assert!(flushes.is_empty(), "{args:?} flushed: {flushes:?}");
        if let Some(p) = &out {
            assert!(p.is_file(), "{args:?} wrote no {}", p.display());
        }
        assert!(
            snapshot(&registry) == before,
            "{args:?} changed the registry file (bytes or mtime)"
        );
    }
    // The same trace of a write does show its commit on the registry file: the filters
    // above would have seen one.
    let before = snapshot(&registry);
    let (status, _, stderr) = cairn_under_strace(
        &env,
        &["-f", "-y", "-o", &log_s, "-e", watched],
        &["checkpoint", "create", "--json"],
    );
    assert!(status.success(), "{stderr}");
    let trace = std::fs::read_to_string(&log).unwrap();
    let synced = trace
        .lines()
        .filter(|l| l.contains(&reg_name) && syscall(l).contains("sync"))
        .count();
    let written = trace
        .lines()
        .filter(|l| l.contains(&reg_name) && syscall(l).contains("write"))
        .count();
    assert!(synced >= 1 && written >= 1, "{trace}");
    assert!(snapshot(&registry) != before);
}

/// Copies `src_dir`'s registry into `dir`, returning its path.
fn copy_registry(src: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let dest = dir.join("registry.redb");
    std::fs::copy(src, &dest).unwrap();
    dest
}

/// Runs cairn with `args` and `--json`, as `Env::run` does, or through `prefix` (a command
/// that runs the rest as another user). Returns the exit status and the JSON document.
fn run_json(env: &Env, prefix: &[&str], args: &[&str]) -> (i32, serde_json::Value) {
    let out = match prefix.split_first() {
        None => {
            let mut a = args.to_vec();
            a.push("--json");
            let o = env.run(&a);
            (o.code, o.stdout, o.stderr)
        }
        Some((cmd, rest)) => {
            let o = Command::new(cmd)
                .args(rest)
                .arg(env!("CARGO_BIN_EXE_cairn"))
                .args(args)
                .arg("--json")
                .current_dir(env.dir.path())
                .env("CAIRN_HOME", env.home())
                .env_remove("CAIRN_PASSPHRASE")
                .env_remove("CAIRN_KEY_PASSPHRASE")
                .stdin(Stdio::null())
                .output()
                .expect("run cairn as another user");
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        }
    };
    let (code, stdout, stderr) = out;
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{stdout}\nstderr: {stderr}"));
    (code, v)
}

/// Runs every read command against `store` (expected to succeed, leaving it unchanged) and
/// a few writes (expected, when `check_writes`, to fail with `io` and a message naming the
/// file and saying it cannot be written). `prefix` runs the commands as another user.
fn reads_work_writes_fail(
    env: &Env,
    prefix: &[&str],
    store: &Path,
    token: &str,
    check_writes: bool,
) {
    let store_s = store.display().to_string();
    let out_dir = env.path("ro-outputs");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = snapshot(store);
    for (i, cmd) in read_commands(env, token).iter().enumerate() {
        let (mut args, _) = with_out(cmd, &out_dir, i);
        args.extend(["--store".to_owned(), store_s.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, v) = run_json(env, prefix, &args);
        assert!(code == 0 && v["ok"] == true, "{prefix:?} {args:?}: {v}");
    }
    assert!(snapshot(store) == before, "a read changed {store_s}");
    if !check_writes {
        return;
    }
    for args in [
        vec!["checkpoint", "create", "--store", &store_s],
        vec!["node", "deregister", "mem-01", "--store", &store_s],
        vec!["check", "--store", &store_s],
    ] {
        let (code, v) = run_json(env, prefix, &args);
        assert!(code == 2 && v["error"] == "io", "{prefix:?} {args:?}: {v}");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.contains(&store_s)
                && msg.contains("cannot be opened for writing")
                && msg.contains("read-only"),
            "{args:?}: {msg}"
        );
    }
    assert!(
        snapshot(store) == before,
        "a failed write changed {store_s}"
    );
}

/// Whether this process runs as root (root ignores permission bits): the owner of a file it
/// creates.
fn running_as_root(env: &Env) -> bool {
    let p = env.path("whoami");
    std::fs::write(&p, b"").unwrap();
    std::fs::metadata(&p).unwrap().uid() == 0
}

#[test]
fn reads_work_on_a_read_only_copy_and_writes_fail_clearly() {
    let env = Env::new();
    let token = populated(&env);
    let src = env.home().join("registry.redb");

    // Read-only permissions on the file and its directory.
    let dir = env.path("ro-perm");
    let store = copy_registry(&src, &dir);
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let root = running_as_root(&env);
    if !root {
        reads_work_writes_fail(&env, &[], &store, &token, true);
    } else {
        // Root writes through permission bits: the reads are checked as root, and reads and
        // writes again as an unprivileged user where setpriv can switch to one; the
        // read-only mount below checks the writes in any case.
        reads_work_writes_fail(&env, &[], &store, &token, false);
        let nobody = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        let usable = Command::new(nobody[0])
            .args(&nobody[1..])
            .arg("true")
            .status()
            .is_ok_and(|s| s.success());
        if usable {
            std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            reads_work_writes_fail(&env, &nobody, &store, &token, true);
        } else {
            eprintln!(
                "note: running as root without a usable setpriv: writes on the 0444 copy are checked only on the read-only mount"
            );
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

    if !root {
        return;
    }
    // A genuinely read-only medium: a read-only bind mount of a directory holding a copy.
    let backing = env.path("ro-backing");
    copy_registry(&src, &backing);
    let mnt = env.path("ro-mount");
    std::fs::create_dir_all(&mnt).unwrap();
    let mount = |args: &[&str]| {
        Command::new("mount")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    };
    let bind = mount(&["--bind", backing.to_str().unwrap(), mnt.to_str().unwrap()]);
    match bind {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "SKIPPED the read-only mount part of reads_work_on_a_read_only_copy_and_writes_fail_clearly: mount is not permitted here ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!(
                "SKIPPED the read-only mount part of reads_work_on_a_read_only_copy_and_writes_fail_clearly: no mount command ({e})"
            );
            return;
        }
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let ro = mount(&["-o", "remount,bind,ro", mnt.to_str().unwrap()]).unwrap();
    assert!(
        ro.status.success(),
        "remount read-only: {}",
        String::from_utf8_lossy(&ro.stderr)
    );
    assert!(
        std::fs::write(mnt.join("probe"), b"x").is_err(),
        "the mount is not read-only"
    );
    reads_work_writes_fail(&env, &[], &mnt.join("registry.redb"), &token, true);
}
