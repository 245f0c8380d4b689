//! `cairn tiles export` and `cairn tiles verify`: the ledger as C2SP tlog-tiles static files,
//! exported incrementally and atomically, and verified from a directory and through a real
//! web server (Debian's nginx, which scripts/test.sh installs; the HTTP test says so on stderr
//! and skips when nginx is missing, or fails under `CAIRN_TEST_STRICT=1`).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_store::{NodeSpec, Registry};

use super::serve::free_port;
use super::Env;

/// An insecure registry with `n` node registrations beyond `init`'s entries, written in one
/// transaction through the store (hundreds of CLI runs would be slow).
fn registry_with_nodes(env: &Env, from: usize, n: usize) {
    if from == 0 {
        env.ok(&[
            "init",
            "--origin",
            "tiles.example/log",
            "--insecure-no-passphrase",
        ]);
    }
    let reg = Registry::open(env.home().join("registry.redb"), None).expect("open");
    reg.write(|tx| {
        for i in from..from + n {
            let spec = NodeSpec::from_json(&format!(
                r#"{{"id": "node-{i}", "name": "Node {i}", "version": "1.0.0",
                "capabilities": ["cap.{i}"], "signals": ["sig"],
                "endpoints": [], "provenance": {{"source": "https://git.example.test/{i}"}}}}"#
            ))?;
            tx.register_node(&spec)?;
        }
        Ok(())
    })
    .expect("register nodes");
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A registry of 600 nodes (and `init`'s entries), its log key exported to `log.json`; with
/// the paths of that file and of the tile directory to export into.
fn exported_registry() -> (Env, String, String) {
    let env = Env::new();
    registry_with_nodes(&env, 0, 600);
    let log_key = env.p("log.json");
    env.ok(&[
        "key", "export", "log", "--format", "json", "--out", &log_key,
    ]);
    let dir = env.p("tiles");
    (env, log_key, dir)
}

#[test]
fn export_is_incremental_and_verifies_from_a_directory() {
    let (env, log_key, dir) = exported_registry();
    let first = env.ok(&["tiles", "export", &dir]);
    let size = first["size"].as_u64().unwrap();
    assert!(size > 600, "{first}");
    assert_eq!(first["previous_size"], 0);
    let files = files_under(&env.path("tiles"));
    // Two full level-0 tiles and bundles, the partial ones, and a level-1 tile of width 2;
    // and the partial tile and bundle of the checkpoint `init` made at size 1 (tlog-tiles: a
    // log serves the partial tiles of every size it made a checkpoint at).
    let w = size % 256;
    assert_eq!(first["checkpoint_tiles"], 2, "{first}");
    for f in [
        ".cairn-export.lock".to_owned(),
        "checkpoint".to_owned(),
        "tile/0/000.p/1".to_owned(),
        "tile/entries/000.p/1".to_owned(),
        "tile/0/000".to_owned(),
        "tile/0/001".to_owned(),
        format!("tile/0/002.p/{w}"),
        "tile/1/000.p/2".to_owned(),
        "tile/entries/000".to_owned(),
        "tile/entries/001".to_owned(),
        format!("tile/entries/002.p/{w}"),
    ] {
        assert!(files.contains(&f), "{f} missing from {files:?}");
    }
    assert_eq!(files.len(), 11, "{files:?}");
    assert_eq!(
        std::fs::metadata(env.path("tiles/tile/0/001"))
            .unwrap()
            .len(),
        8192
    );

    // Exporting again with nothing new writes no tile.
    let cp_before = std::fs::metadata(env.path("tiles/checkpoint"))
        .unwrap()
        .modified()
        .unwrap();
    let again = env.ok(&["tiles", "export", &dir]);
    assert_eq!(again["tiles_written"], 0);
    assert_eq!(again["entry_bundles_written"], 0);
    assert_eq!(again["tiles_repaired"], 0);
    // The same checkpoint is not written again (a web server's ETag stays).
    assert_eq!(again["checkpoint_written"], false);
    assert_eq!(
        std::fs::metadata(env.path("tiles/checkpoint"))
            .unwrap()
            .modified()
            .unwrap(),
        cp_before
    );

    // Growth: only the changed right edge is written; full tiles are left alone.
    let old_cp = env.p("old-checkpoint.txt");
    std::fs::copy(env.path("tiles/checkpoint"), &old_cp).unwrap();
    let full_before = std::fs::metadata(env.path("tiles/tile/0/000"))
        .unwrap()
        .modified()
        .unwrap();
    registry_with_nodes(&env, 600, 10);
    let grown = env.ok(&["tiles", "export", &dir]);
    assert_eq!(grown["previous_size"], size);
    assert_eq!(grown["tiles_written"], 1, "{grown}");
    assert_eq!(grown["entry_bundles_written"], 1, "{grown}");
    assert_eq!(
        std::fs::metadata(env.path("tiles/tile/0/000"))
            .unwrap()
            .modified()
            .unwrap(),
        full_before
    );

    let last = grown["size"].as_u64().unwrap() - 1;
    let v = env.ok(&[
        "tiles",
        "verify",
        &dir,
        "--log-key",
        &log_key,
        "--entry",
        "0",
        "--entry",
        "300",
        "--entry",
        &last.to_string(),
        "--old-checkpoint",
        &old_cp,
    ]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["size"], last + 1);
    assert_eq!(v["entries"][1]["kind"], "node_registered");
    assert_eq!(v["consistency"]["old_size"], size);
    // A log that serves a smaller checkpoint than one it signed before rolled back: a failed
    // verification (exit 1), not bad input.
    let new_cp = env.p("new-checkpoint.txt");
    std::fs::copy(env.path("tiles/checkpoint"), &new_cp).unwrap();
    std::fs::copy(&old_cp, env.path("tiles/checkpoint")).unwrap();
    let e = env.fails(
        &[
            "tiles",
            "verify",
            &dir,
            "--log-key",
            &log_key,
            "--old-checkpoint",
            &new_cp,
        ],
        1,
        "proof_invalid",
    );
    assert!(
        e["message"].as_str().unwrap().contains("rolled back"),
        "{e}"
    );
    std::fs::copy(&new_cp, env.path("tiles/checkpoint")).unwrap();
    // A trust root names the key too.
    env.ok(&[
        "key",
        "generate",
        "--label",
        "root",
        "--role",
        "root",
        "--insecure-no-passphrase",
    ]);
    let root = env.p("root.json");
    env.ok(&["root", "create", "--out", &root]);
    env.ok(&["tiles", "export", &dir]);
    env.ok(&["tiles", "verify", &dir, "--trust-root", &root]);

    // Negative: no key named, another key, a damaged full tile, a damaged entry bundle,
    // a truncated tile, a missing tile, a foreign old checkpoint.
    env.fails(&["tiles", "verify", &dir], 2, "usage");
    env.ok(&[
        "key",
        "generate",
        "--label",
        "other",
        "--role",
        "peer",
        "--insecure-no-passphrase",
    ]);
    let other = env.p("other.json");
    env.ok(&[
        "key", "export", "other", "--format", "json", "--out", &other,
    ]);
    env.fails(
        &["tiles", "verify", &dir, "--log-key", &other],
        1,
        "unknown_key",
    );

    let t1 = env.path("tiles/tile/0/001");
    let good = std::fs::read(&t1).unwrap();
    let mut bad = good.clone();
    bad[32 * 45] ^= 1; // leaf 301's hash: the first hash of leaf 300's proof
    std::fs::write(&t1, &bad).unwrap();
    env.fails(
        &[
            "tiles",
            "verify",
            &dir,
            "--log-key",
            &log_key,
            "--entry",
            "300",
        ],
        1,
        "proof_invalid",
    );
    std::fs::write(&t1, &good[..good.len() - 1]).unwrap();
    env.fails(
        &[
            "tiles",
            "verify",
            &dir,
            "--log-key",
            &log_key,
            "--entry",
            "300",
        ],
        2,
        "malformed",
    );
    std::fs::remove_file(&t1).unwrap();
    env.fails(
        &[
            "tiles",
            "verify",
            &dir,
            "--log-key",
            &log_key,
            "--entry",
            "300",
        ],
        2,
        "not_found",
    );
    std::fs::write(&t1, &good).unwrap();
    let b0 = env.path("tiles/tile/entries/000");
    let mut bundle = std::fs::read(&b0).unwrap();
    let n = bundle.len();
    bundle[n - 1] ^= 1;
    std::fs::write(&b0, &bundle).unwrap();
    env.fails(
        &[
            "tiles",
            "verify",
            &dir,
            "--log-key",
            &log_key,
            "--entry",
            "255",
        ],
        1,
        "proof_invalid",
    );
    env.ok(&[
        "tiles",
        "verify",
        &dir,
        "--log-key",
        &log_key,
        "--entry",
        "256",
    ]);
    // A partial tile of the wrong length, whose full tile does not exist yet: the failure
    // reported is the partial tile's, not the full one's absence.
    let note = std::fs::read_to_string(env.path("tiles/checkpoint")).unwrap();
    let w = note.lines().nth(1).unwrap().parse::<u64>().unwrap() % 256;
    let partial = env.path(&format!("tiles/tile/0/002.p/{w}"));
    let good_partial = std::fs::read(&partial).unwrap();
    for (bad, error) in [
        ([&good_partial[..], &[0; 32]].concat(), "too_large"),
        (good_partial[..32].to_vec(), "malformed"),
    ] {
        std::fs::write(&partial, bad).unwrap();
        let v = env.fails(&["tiles", "verify", &dir, "--log-key", &log_key], 2, error);
        let said = v["message"].as_str().unwrap();
        assert!(said.contains(&format!("002.p/{w}")), "{v}");
    }
    std::fs::write(&partial, &good_partial).unwrap();
    let foreign = env.write("foreign.txt", b"another.example/log\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 another.example/log AAAAAA==\n");
    let e = env.run(&[
        "tiles",
        "verify",
        &dir,
        "--log-key",
        &log_key,
        "--old-checkpoint",
        &foreign,
        "--json",
    ]);
    assert_ne!(e.code, 0, "{}", e.stdout);
    env.fails(
        &[
            "tiles",
            "verify",
            &dir,
            "--log-key",
            &log_key,
            "--entry",
            "99999",
        ],
        2,
        "malformed",
    );
}

/// A checkpoint the registry made between two exports (`checkpoint create`, a bundle's) finds
/// its own partial tiles in the directory: a tile client holding only that checkpoint proves
/// an entry's inclusion and the root from them.
#[test]
fn export_serves_the_partial_tiles_of_every_checkpoint_made() {
    use cairn_core::checkpoint::VerifiedCheckpoint;
    use cairn_core::tiles::{Tile, TileClient};
    let env = Env::new();
    registry_with_nodes(&env, 0, 10);
    let dir = env.p("tiles");
    env.ok(&["tiles", "export", &dir]);
    registry_with_nodes(&env, 10, 20);
    let made = env.ok(&["checkpoint", "create"]);
    let mid = made["checkpoint"]["size"].as_u64().unwrap();
    registry_with_nodes(&env, 30, 5);
    let second = env.ok(&["tiles", "export", &dir]);
    assert!(second["size"].as_u64().unwrap() > mid, "{second}");
    assert_eq!(second["checkpoint_tiles"], 2, "{second}");
    for f in [
        format!("tile/0/000.p/{mid}"),
        format!("tile/entries/000.p/{mid}"),
    ] {
        assert!(env.path("tiles").join(&f).is_file(), "{f} missing");
    }
    // Only the checkpoint at `mid`, and the directory's tiles.
    let reg = Registry::open(env.home().join("registry.redb"), None).expect("open");
    let root = reg.root(mid).unwrap();
    drop(reg);
    let cp = VerifiedCheckpoint {
        origin: "tiles.example/log".to_owned(),
        size: mid,
        root,
        extensions: Vec::new(),
        signers: Vec::new(),
    };
    let base = env.path("tiles");
    let client = TileClient::new(&cp, |t: &Tile| {
        std::fs::read(base.join(t.path())).map_err(|e| {
            cairn_core::Error::new(
                cairn_core::ErrorCode::Malformed,
                format!("{}: {e}", t.path()),
            )
        })
    });
    client
        .verify_root()
        .expect("the tiles at the checkpoint's size give its root");
    let (entry, proof) = client.entry(mid - 1).expect("the checkpoint's last entry");
    assert!(!entry.is_empty());
    assert_eq!(proof.tree_size, mid);
}

#[test]
fn export_repairs_what_its_checkpoint_promises_and_runs_one_at_a_time() {
    let (env, log_key, dir) = exported_registry();
    env.ok(&["tiles", "export", &dir]);
    // An entry bundle emptied, cut inside an entry, or with bytes after its last entry: the
    // checkpoint promises it whole, so the next export writes it again.
    let bundle = env.path("tiles/tile/entries/000");
    let entries = std::fs::read(&bundle).unwrap();
    let damaged = [
        Vec::new(),
        entries[..entries.len() - 1].to_vec(),
        [&entries[..], b"\0\x01x"].concat(),
    ];
    for (i, bad) in damaged.iter().enumerate() {
        std::fs::write(&bundle, bad).unwrap();
        let v = env.ok(&["tiles", "export", &dir]);
        assert_eq!(v["tiles_repaired"], 1, "damage {i}: {v}");
        assert_eq!(std::fs::read(&bundle).unwrap(), entries, "damage {i}");
    }
    // A FIFO where a bundle belongs is no bundle: written again, never read (which would
    // wait for a writer forever).
    std::fs::remove_file(&bundle).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&bundle).status();
    assert!(made.unwrap().success(), "mkfifo");
    let v = env.ok(&["tiles", "export", &dir]);
    assert_eq!(v["tiles_repaired"], 1, "{v}");
    assert_eq!(std::fs::read(&bundle).unwrap(), entries);
    // A pruned copy: a full tile gone, a bundle gone, a tile cut short, a bundle cut short.
    // The checkpoint still promises them all.
    std::fs::remove_file(env.path("tiles/tile/0/000")).unwrap();
    std::fs::remove_file(env.path("tiles/tile/entries/001")).unwrap();
    let short = env.path("tiles/tile/0/001");
    let bytes = std::fs::read(&short).unwrap();
    std::fs::write(&short, &bytes[..100]).unwrap();
    std::fs::write(&bundle, &damaged[1]).unwrap();
    registry_with_nodes(&env, 600, 10);
    let v = env.ok(&["tiles", "export", &dir]);
    assert_eq!(v["tiles_repaired"], 4, "{v}");
    assert_eq!(std::fs::read(&bundle).unwrap(), entries);
    assert_eq!(std::fs::read(&short).unwrap(), bytes);
    assert!(env.path("tiles/tile/0/000").exists());
    assert!(env.path("tiles/tile/entries/001").exists());
    env.ok(&[
        "tiles",
        "verify",
        &dir,
        "--log-key",
        &log_key,
        "--entry",
        "0",
        "--entry",
        "300",
    ]);

    // Damage in place, at the right length. A tile the root is computed from (the level-1
    // tile over the level-0 ones): the export finds its tiles do not give the head's root,
    // compares every tile with the registry's, and writes the damaged one again.
    let flip = |rel: &str| {
        let path = env.path(rel);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        bad[5] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        (path, good)
    };
    let level1 = files_under(&env.path("tiles"))
        .into_iter()
        .filter(|f| f.starts_with("tile/1/"))
        .max()
        .unwrap();
    let (path, good) = flip(&format!("tiles/{level1}"));
    let v = env.ok(&["tiles", "export", &dir]);
    assert_eq!(v["tiles_repaired"], 1, "{v}");
    assert_eq!(std::fs::read(&path).unwrap(), good);
    // A full level-0 tile, which the root does not need: a plain export does not read it;
    // --check compares every tile and writes it again.
    let (path, good) = flip("tiles/tile/0/000");
    let v = env.ok(&["tiles", "export", &dir]);
    assert_eq!(v["tiles_repaired"], 0, "{v}");
    let v = env.ok(&["tiles", "export", &dir, "--check"]);
    assert_eq!(v["tiles_repaired"], 1, "{v}");
    assert_eq!(std::fs::read(&path).unwrap(), good);
    let v = env.ok(&["tiles", "export", &dir, "--check"]);
    assert_eq!(v["tiles_repaired"], 0, "{v}");
    // The partial tile of the checkpoint `init` made (size 1): checked too.
    let (path, good) = flip("tiles/tile/0/000.p/1");
    let v = env.ok(&["tiles", "export", &dir, "--check"]);
    assert_eq!(v["tiles_repaired"], 1, "{v}");
    assert_eq!(std::fs::read(&path).unwrap(), good);

    // While another export holds the directory's lock, an export is refused and writes nothing.
    let lock = std::fs::File::options()
        .write(true)
        .open(env.path("tiles/.cairn-export.lock"))
        .unwrap();
    lock.lock().unwrap();
    registry_with_nodes(&env, 610, 5);
    let before = std::fs::read(env.path("tiles/checkpoint")).unwrap();
    env.fails(&["tiles", "export", &dir], 2, "locked");
    assert_eq!(std::fs::read(env.path("tiles/checkpoint")).unwrap(), before);
    drop(lock);
    let v = env.ok(&["tiles", "export", &dir]);
    assert_eq!(v["checkpoint_written"], true);
}

#[test]
fn export_writes_the_checkpoint_last_and_refuses_another_log() {
    let env = Env::new();
    registry_with_nodes(&env, 0, 20);
    let dir = env.p("tiles");
    let first = env.ok(&["tiles", "export", &dir]);
    let before = std::fs::read(env.path("tiles/checkpoint")).unwrap();
    registry_with_nodes(&env, 20, 5);
    // Block the new partial tile's path: the export fails before the checkpoint moves on.
    let size = first["size"].as_u64().unwrap() + 5;
    std::fs::create_dir_all(env.path(&format!("tiles/tile/0/000.p/{size}/blocked"))).unwrap();
    let out = env.run(&["tiles", "export", &dir, "--json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(std::fs::read(env.path("tiles/checkpoint")).unwrap(), before);
    std::fs::remove_dir_all(env.path(&format!("tiles/tile/0/000.p/{size}"))).unwrap();
    let ok = env.ok(&["tiles", "export", &dir]);
    assert_eq!(ok["size"], size);
    // No temporary file is left behind.
    assert!(files_under(&env.path("tiles"))
        .iter()
        .all(|f| !f.contains("tmp")));

    // The directory of another log is refused, not overwritten.
    let other = Env::new();
    other.ok(&[
        "init",
        "--origin",
        "other.example/log",
        "--insecure-no-passphrase",
    ]);
    let e = other.fails(&["tiles", "export", &dir], 1, "domain_mismatch");
    assert!(
        e["message"].as_str().unwrap().contains("other.example/log"),
        "{e}"
    );
}

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// nginx serving `root` on a loopback port, as a non-daemon child with its own prefix, config,
/// pid and logs in `tmp`; one process (`master_process off`), so killing the child stops it.
/// Killed when dropped.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(bin: &Path, root: &Path, tmp: &Path) -> Nginx {
        let port = free_port();
        std::fs::create_dir_all(tmp).unwrap();
        let t = tmp.display();
        let conf = format!(
            r#"daemon off;
master_process off;
user root;
pid {t}/nginx.pid;
error_log {t}/error.log;
events {{ worker_connections 64; }}
http {{
    log_format encoding "$uri $sent_http_content_encoding";
    access_log {t}/access.log encoding;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = /checkpoint {{
            default_type "text/plain; charset=utf-8";
            add_header Cache-Control "no-store";
        }}
        location /tile/ {{
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
        # Entry bundles compressed, as tlog-tiles asks (for clients that accept gzip).
        location /tile/entries/ {{
            add_header Cache-Control "public, max-age=31536000, immutable";
            gzip on;
            gzip_types *;
            gzip_min_length 1;
        }}
    }}
}}
"#,
            root = root.display()
        );
        let conf_path = tmp.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(tmp)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(tmp.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut n = Nginx { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(tmp.join("error.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tiles_served_by_nginx_verify_over_http() {
    let Some(bin) = nginx_binary() else {
        super::tool_missing(
            "tiles_served_by_nginx_verify_over_http",
            "nginx is not installed (scripts/test.sh installs it)",
        );
        return;
    };
    let env = Env::new();
    registry_with_nodes(&env, 0, 300);
    let log_key = env.p("log.json");
    env.ok(&[
        "key", "export", "log", "--format", "json", "--out", &log_key,
    ]);
    let dir = env.p("www");
    env.ok(&["tiles", "export", &dir]);
    let old_cp = env.p("old.txt");
    std::fs::copy(env.path("www/checkpoint"), &old_cp).unwrap();
    registry_with_nodes(&env, 300, 40);
    let grown = env.ok(&["tiles", "export", &dir]);
    let size = grown["size"].as_u64().unwrap();

    let nginx = Nginx::start(&bin, &env.path("www"), &env.path("nginx"));
    let url = format!("http://127.0.0.1:{}/", nginx.port);
    let v = env.ok(&[
        "tiles",
        "verify",
        &url,
        "--log-key",
        &log_key,
        "--entry",
        "1",
        "--entry",
        "290",
        "--entry",
        &(size - 1).to_string(),
        "--old-checkpoint",
        &old_cp,
    ]);
    assert_eq!(v["size"], size);
    assert_eq!(v["entries"].as_array().unwrap().len(), 3);
    assert_eq!(v["consistency"]["new_size"], size);
    // The entry bundles came gzip-compressed (the client asked for it) and were read.
    let log = std::fs::read_to_string(env.path("nginx/access.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.starts_with("/tile/entries/") && l.ends_with(" gzip")),
        "{log}"
    );

    // Through the server, a damaged tile is caught and a missing one is a 404.
    let t0 = env.path("www/tile/0/000");
    let good = std::fs::read(&t0).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 0x80; // leaf 0's hash: the first hash of leaf 1's proof
    std::fs::write(&t0, &bad).unwrap();
    env.fails(
        &[
            "tiles",
            "verify",
            &url,
            "--log-key",
            &log_key,
            "--entry",
            "1",
        ],
        1,
        "proof_invalid",
    );
    std::fs::remove_file(&t0).unwrap();
    let e = env.fails(
        &[
            "tiles",
            "verify",
            &url,
            "--log-key",
            &log_key,
            "--entry",
            "1",
        ],
        2,
        "not_found",
    );
    assert!(e["message"].as_str().unwrap().contains("404"), "{e}");
    // A server that is not there.
    drop(nginx);
    let e = env.run(&["tiles", "verify", &url, "--log-key", &log_key, "--json"]);
    assert_eq!(e.code, 2, "{}", e.stdout);
    assert_eq!(e.json()["error"], "io");
}

/// `cairn verify ARTIFACT --from-tiles DIR`: the artifact's manifest verified, and its ledger
/// entry proven to be in the published log, byte for byte; `cairn verify --from-tiles` alone
/// verifies the log from its tiles. Negative: a manifest signed after the export (not yet
/// published), a log of another history under the same key (a copy of the registry that
/// went its own way), tile options without --from-tiles, no key for a log alone.
#[test]
fn verify_from_tiles_proves_a_manifest_is_published() {
    let env = Env::new();
    env.insecure_registry();
    let artifact = env.write("app.tar.gz", b"release 1");
    let signed = env.ok(&["sign", &artifact, "--key", "release"]);
    let seq = signed["manifest"]["signed_seq"].as_u64().unwrap();
    let dir = env.p("www");
    env.ok(&["tiles", "export", &dir]);

    let v = env.ok(&["verify", &artifact, "--from-tiles", &dir]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["published"]["manifest_entries"], serde_json::json!([seq]));
    assert_eq!(v["published"]["entries"][0]["kind"], "manifest_signed");
    assert_eq!(v["published"]["source"], dir.as_str());
    // The log alone, from its tiles, with its key.
    let log_key = env.p("log.json");
    env.ok(&[
        "key", "export", "log", "--format", "json", "--out", &log_key,
    ]);
    let alone = env.ok(&[
        "verify",
        "--from-tiles",
        &dir,
        "--log-key",
        &log_key,
        "--entry",
        &seq.to_string(),
    ]);
    assert_eq!(alone["entries"][0]["seq"], seq);
    env.fails(&["verify", "--from-tiles", &dir], 2, "usage");
    env.fails(&["verify", &artifact, "--entry", "0"], 2, "usage");

    // Signed after the export: not published yet (exit 1) until the next export.
    let second = env.write("app-2.tar.gz", b"release 2");
    env.ok(&["sign", &second, "--key", "release"]);
    let e = env.fails(
        &["verify", &second, "--from-tiles", &dir],
        1,
        "not_published",
    );
    assert!(e["message"].as_str().unwrap().contains("export"), "{e}");
    // Manifests of the same bytes whose signers were revoked since do not hide it, whichever
    // order the manifests are tried in: the one that verified says it is not published yet.
    for n in 0..3 {
        let label = format!("gone-{n}");
        env.ok(&[
            "key",
            "generate",
            "--label",
            &label,
            "--role",
            "manifest-signer",
            "--algorithm",
            "ed25519",
            "--insecure-no-passphrase",
        ]);
        let name = format!("app-2-{label}.tar.gz");
        env.ok(&["sign", &second, "--key", &label, "--name", &name]);
        env.ok(&["key", "revoke", &label, "--reason", "compromised"]);
    }
    env.fails(
        &["verify", &second, "--from-tiles", &dir],
        1,
        "not_published",
    );
    env.ok(&["tiles", "export", &dir]);
    env.ok(&["verify", &second, "--from-tiles", &dir]);

    // A copy of the registry (the same log key) that signs something else at the next
    // entry: its tiles verify under the key, but its entry is not this registry's.
    let copy = env.path("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in std::fs::read_dir(env.home()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
        }
    }
    let copy_store = copy.join("registry.redb").display().to_string();
    let third = env.write("app-3.tar.gz", b"release 3");
    env.ok(&["sign", &third, "--key", "release"]);
    let other = env.write("other.tar.gz", b"something else");
    env.ok(&["--store", &copy_store, "sign", &other, "--key", "release"]);
    let copy_dir = env.p("copy-www");
    env.ok(&["--store", &copy_store, "tiles", "export", &copy_dir]);
    let e = env.fails(
        &["verify", &third, "--from-tiles", &copy_dir],
        1,
        "proof_invalid",
    );
    assert!(
        e["message"].as_str().unwrap().contains("another history"),
        "{e}"
    );
}
