//! The peer key exchange over a real transport: two registries in two processes exchanging
//! keys over loopback TCP (tokio). The responder is this test binary started again as a child
//! process running `peer_tcp::responder_process`; frames are a 4-byte big-endian length, then
//! the bytes (replies: a status byte, 0 for a message, 1 for an error code).
//!
//! Covered: an exchange pinned by first use, a man in the middle substituting keys (refused,
//! re-signed or not), a replayed request and a replayed response (refused), a reordered nonce
//! (refused), and a restart of the requester between its request and the response.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::peer::{verify_key_response, ExchangeConfig, VouchPolicy, VouchRule};
use cairn_core::trust::{Role, RoleSet};
use cairn_store::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DIR_VAR: &str = "CAIRN_TEST_PEER_RESPONDER_DIR";

async fn write_frame(s: &mut TcpStream, status: Option<u8>, bytes: &[u8]) -> std::io::Result<()> {
    let extra = usize::from(status.is_some());
    s.write_all(&u32::try_from(bytes.len() + extra).unwrap().to_be_bytes())
        .await?;
    if let Some(b) = status {
        s.write_all(&[b]).await?;
    }
    s.write_all(bytes).await
}

async fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    assert!(len <= 2 * 1024 * 1024, "frame of {len} bytes");
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

/// The responder: peer "bob" in its own process, answering key requests until stdin closes.
#[test]
#[ignore = "the responder process of peer_tcp::two_processes_exchange_keys_over_loopback_tcp"]
fn responder_process() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let path = std::path::Path::new(&dir).join("bob.redb");
    let reg = if path.exists() {
        Registry::open(&path, None).unwrap()
    } else {
        let reg = Registry::create(
            &path,
            CreateOptions::new("bob.example.test/log", Protection::Insecure),
        )
        .unwrap();
        let key = reg
            .generate_key(
                Algorithm::MlDsa65,
                &KeySpec::new("bob", RoleSet::of(&[Role::Peer])),
                &Protection::Insecure,
            )
            .unwrap();
        reg.set_peer_identity("bob", &key.key_id, &crate::peer::kem(2))
            .unwrap();
        reg
    };
    let me = reg.peer_identity().unwrap().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!(
            "LISTENING {} {}",
            listener.local_addr().unwrap().port(),
            me.key_id
        );
        let cfg = ExchangeConfig::default();
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            while let Ok(req) = read_frame(&mut s).await {
                if req.is_empty() {
                    return;
                }
                match reg.respond_to_key_request(&req, &cfg, None, false) {
                    Ok(resp) => write_frame(&mut s, Some(0), &resp).await.unwrap(),
                    Err(e) => write_frame(&mut s, Some(1), e.code().as_str().as_bytes())
                        .await
                        .unwrap(),
                }
            }
        }
    });
}

struct Responder {
    child: Child,
    port: u16,
    key_id: String,
}

impl Drop for Responder {
    /// A failing test must not leave the responder process behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn start_responder(dir: &std::path::Path) -> Responder {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "peer_tcp::responder_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(DIR_VAR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest prints "test <name> ... " on the same line first.
    let line = lines
        .find_map(|l| {
            l.ok()
                .and_then(|l| l.find("LISTENING ").map(|i| l[i..].to_owned()))
        })
        .expect("the responder announces its port");
    // Keep reading what it prints, so it never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let mut parts = line.split_whitespace().skip(1);
    let port = parts.next().unwrap().parse().unwrap();
    let key_id = parts.next().unwrap().to_owned();
    Responder {
        child,
        port,
        key_id,
    }
}

/// Sends a request over `s`; the responder's reply: its response, or the error code.
async fn ask(s: &mut TcpStream, request: &[u8]) -> Result<Vec<u8>, String> {
    write_frame(s, None, request).await.unwrap();
    let reply = read_frame(s).await.unwrap();
    match reply.split_first() {
        Some((0, resp)) => Ok(resp.to_vec()),
        Some((1, code)) => Err(String::from_utf8(code.to_vec()).unwrap()),
        other => panic!("bad reply {other:?}"),
    }
}

fn alice(path: &std::path::Path) -> Registry {
    if path.exists() {
        return Registry::open(path, None).unwrap();
    }
    let reg = Registry::create(
        path,
        CreateOptions::new("alice.example.test/log", Protection::Insecure),
    )
    .unwrap();
    let key = reg
        .generate_key(
            Algorithm::Ed25519MlDsa65,
            &KeySpec::new("alice", RoleSet::of(&[Role::Peer])),
            &Protection::Insecure,
        )
        .unwrap();
    reg.set_peer_identity("alice", &key.key_id, &crate::peer::kem(1))
        .unwrap();
    reg
}

#[tokio::test(flavor = "current_thread")]
async fn two_processes_exchange_keys_over_loopback_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let mut bob = start_responder(dir.path());
    let alice_path = dir.path().join("alice.redb");
    let mut reg = alice(&alice_path);
    let cfg = ExchangeConfig::default();
    let tofu = VouchPolicy {
        trust_on_first_use: true,
        ..Default::default()
    };
    let mut s = TcpStream::connect(("127.0.0.1", bob.port)).await.unwrap();

    // A request, then the requester restarts before the response arrives.
    let req = reg.request_peer_keys("bob", &cfg, None).unwrap().unwrap();
    drop(reg);
    reg = alice(&alice_path);
    let resp = ask(&mut s, &req).await.unwrap();
    let got = reg.receive_key_response(&resp, &cfg, &tofu).unwrap();
    assert_eq!(got.vouch.unwrap().rule, VouchRule::FirstUse);
    assert_eq!(got.peer.key_id().to_hex(), bob.key_id);

    // The same request again: bob refuses it. The same response again: alice refuses it.
    assert_eq!(ask(&mut s, &req).await.unwrap_err(), "replayed");
    assert_eq!(
        code(&reg.receive_key_response(&resp, &cfg, &tofu).unwrap_err()),
        "replayed"
    );

    // Reordered: two requests answered in order, the responses received out of order.
    let r1 = reg.request_peer_keys_again("bob", &cfg, None).unwrap();
    let r2 = reg.request_peer_keys_again("bob", &cfg, None).unwrap();
    let s1 = ask(&mut s, &r1).await.unwrap();
    let s2 = ask(&mut s, &r2).await.unwrap();
    reg.receive_key_response(&s2, &cfg, &tofu).unwrap();
    assert_eq!(
        code(&reg.receive_key_response(&s1, &cfg, &tofu).unwrap_err()),
        "replayed"
    );

    // The responder serves one connection at a time: this one ends here.
    drop(s);

    // A man in the middle: forwards the request, then substitutes his keys in the response.
    let (proxy_port, proxy) = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let bob_port = bob.port;
        let mallory = SigningKey::from_seed(Algorithm::MlDsa65, &[66; 32]);
        let task = tokio::spawn(async move {
            let (mut client, _) = listener.accept().await.unwrap();
            let mut upstream = TcpStream::connect(("127.0.0.1", bob_port)).await.unwrap();
            for resign in [true, false] {
                let req = read_frame(&mut client).await.unwrap();
                let resp = ask(&mut upstream, &req).await.unwrap();
                let v = verify_key_response(&resp, "alice", timestamp_of(&resp), 300).unwrap();
                let mut forged = v.response.clone();
                forged.signing_key = mallory.public_key().clone();
                forged.kem_key = crate::peer::kem(66);
                let bytes = if resign {
                    forged.sign(&mallory).unwrap().to_compact()
                } else {
                    let mut env = v.envelope.clone();
                    env.payload = forged.to_bytes();
                    env.to_compact()
                };
                write_frame(&mut client, Some(0), &bytes).await.unwrap();
            }
        });
        (port, task)
    };
    let mut via = TcpStream::connect(("127.0.0.1", proxy_port)).await.unwrap();
    let size = reg.tree_size().unwrap();
    let req = reg.request_peer_keys_again("bob", &cfg, None).unwrap();
    let forged = ask(&mut via, &req).await.unwrap();
    let e = reg.receive_key_response(&forged, &cfg, &tofu).unwrap_err();
    assert_eq!(code(&e), "key_changed", "{e}");
    assert!(e.to_string().contains(&bob.key_id), "{e}");
    let req = reg.request_peer_keys_again("bob", &cfg, None).unwrap();
    let forged = ask(&mut via, &req).await.unwrap();
    // Bob's signature kept over the substituted keys: signed by a key it does not carry.
    assert_eq!(
        code(&reg.receive_key_response(&forged, &cfg, &tofu).unwrap_err()),
        "key_mismatch"
    );
    proxy.await.unwrap();
    assert_eq!(
        reg.tree_size().unwrap(),
        size,
        "nothing the man in the middle sent was recorded"
    );
    assert_eq!(
        reg.peer_signing_key("bob").unwrap().key_id().to_hex(),
        bob.key_id
    );
    reg.audit().unwrap();

    // Shut the responder down.
    let mut s = TcpStream::connect(("127.0.0.1", bob.port)).await.unwrap();
    write_frame(&mut s, None, &[]).await.unwrap();
    assert!(bob.child.wait().unwrap().success());
}

fn timestamp_of(resp: &[u8]) -> u64 {
    let env = cairn_core::dsse::Envelope::from_compact(resp).unwrap();
    let r: cairn_core::peer::KeyResponse = postcard::from_bytes(&env.payload).unwrap();
    r.timestamp
}

fn code(e: &StoreError) -> &'static str {
    e.code().as_str()
}
