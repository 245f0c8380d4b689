//! The registry's side of witnessing: ask witnesses (C2SP tlog-witness `add-checkpoint`) to
//! cosign a stored checkpoint and keep the cosignatures that verify under the keys the
//! registry trusts them by. `cairn checkpoint witness` does it by hand; `cairn serve` asks the
//! witnesses of its `[[witnesses]]` config after each checkpoint ([`crate::witnessing`]).

use cairn_core::checkpoint::Checkpoint;
use cairn_core::note::Note;
use cairn_core::witness::add::AddCheckpoint;
use cairn_core::witness::{CosignerKey, DEFAULT_MAX_FUTURE_SKEW};
use cairn_store::{Registry, StoredCheckpoint, StoredCosignature};

/// Largest add-checkpoint answer read.
const MAX_ANSWER: u64 = 64 * 1024;

/// One witness's answer.
pub struct Asked {
    /// The witness's base URL.
    pub url: String,
    /// The size the witness had cosigned before (from its 409), if it said.
    pub previous: Option<u64>,
    /// Its cosignatures that verify under the given keys, or why there are none.
    pub result: Result<Vec<StoredCosignature>, String>,
}

fn answer_text(resp: &mut ureq::http::Response<ureq::Body>) -> String {
    resp.body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .unwrap_or_default()
}

/// At most 512 characters of `text`, quoted and escaped as Rust's `{:?}` does.
fn quoted_excerpt(text: &str) -> String {
    const MAX: usize = 512;
    let cut: String = text.chars().take(MAX).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// The cosignatures in a 200 answer that verify under `keys`; lines of other keys are
/// ignored, and a line of a given key that does not verify, or is dated 0 or further after
/// `now` than verifiers allow, is an error.
fn cosignatures_in(
    answer: &str,
    cp: &StoredCheckpoint,
    keys: &[CosignerKey],
    now: u64,
) -> Result<Vec<StoredCosignature>, String> {
    let note = Note::parse(cp.note.as_bytes()).map_err(|e| e.to_string())?;
    let text = note.text();
    let checkpoint = Checkpoint::parse_text(text).map_err(|e| e.to_string())?;
    let lines = Note::parse(format!("{text}\n{answer}").as_bytes())
        .map_err(|e| format!("the answer is not signature lines: {}", e.detail()))?;
    let mut out = Vec::new();
    for line in lines.signatures() {
        let Some(key) = keys
            .iter()
            .find(|k| k.name() == line.name && k.key_id() == line.key_hash)
        else {
            continue;
        };
        let timestamp = key
            .verify(&checkpoint, text, &line.signature)
            .map_err(|e| format!("its cosignature does not verify: {}", e.detail()))?;
        // C2SP tlog-witness: a witness's cosignature of a checkpoint carries its time; a zero
        // makes no statement that the tree was the largest it had seen.
        if timestamp == 0 {
            return Err(format!(
                "its cosignature by {} is dated 0, which a witness's may not be (C2SP tlog-witness)",
                key.name()
            ));
        }
        // Verifiers do not count a line dated past their skew, and a stored line is replaced
        // only by a newer one: kept, a witness's wrong clock would leave its cosignature
        // uncounted from here on.
        if timestamp > now.saturating_add(DEFAULT_MAX_FUTURE_SKEW) {
            return Err(format!(
                "its cosignature by {} is dated {timestamp}, more than {DEFAULT_MAX_FUTURE_SKEW} s after this clock's {now}",
                key.name()
            ));
        }
        out.push(StoredCosignature {
            key: key.clone(),
            signature: line.clone(),
        });
    }
    if out.is_empty() {
        return Err("none of its cosignature lines is under a --witness-key".into());
    }
    Ok(out)
}

/// Asks the witness at `base` to cosign `cp` (C2SP tlog-witness `add-checkpoint`): first
/// with old size 0, then with the size its `409` names and a consistency proof from there,
/// at most three times. Only cosignature lines under `keys` are kept; one that does not
/// verify is a failure.
pub fn ask(
    agent: &ureq::Agent,
    base: &str,
    reg: &Registry,
    cp: &StoredCheckpoint,
    keys: &[CosignerKey],
) -> Asked {
    let url = format!("{}/add-checkpoint", base.trim_end_matches('/'));
    let mut old = 0u64;
    let mut previous = None;
    // First with old 0 (C2SP: a client that does not know the witness's size may), then with
    // the size its 409 names.
    for _ in 0..3 {
        let result = (|| -> Result<Option<Vec<StoredCosignature>>, String> {
            if old > cp.size {
                return Err(format!(
                    "the witness has cosigned size {old} of this log, beyond the newest checkpoint {}: it was shown another tree or a newer checkpoint",
                    cp.size
                ));
            }
            let proof = if old == 0 || old == cp.size {
                Vec::new()
            } else {
                reg.checkpoint_consistency(old, cp.size)
                    .map_err(|e| format!("consistency proof from {old}: {e}"))?
                    .hashes
            };
            let body = AddCheckpoint::body(old, &proof, &cp.note);
            let mut resp = agent
                .post(&url)
                .header("Content-Type", "text/plain; charset=utf-8")
                .send(body.as_bytes())
                .map_err(|e| format!("POST {url}: {e}"))?;
            let status = resp.status().as_u16();
            let answer = answer_text(&mut resp);
            match status {
                200 => cosignatures_in(&answer, cp, keys, reg.now()).map(Some),
                409 => {
                    let n = answer
                        .trim_end_matches('\n')
                        .parse::<u64>()
                        .map_err(|_| format!("409 without a size: {}", quoted_excerpt(&answer)))?;
                    if n == old {
                        return Err(format!("409 naming the size {n} that was sent"));
                    }
                    previous = Some(n);
                    old = n;
                    Ok(None)
                }
                // The witness's words, quoted (escaped) and cut short: they reach logs and
                // terminals, where raw control characters or line breaks could forge lines.
                s => Err(format!("{s}: {}", quoted_excerpt(answer.trim()))),
            }
        })();
        match result {
            Ok(None) => continue,
            Ok(Some(c)) => {
                return Asked {
                    url: base.to_owned(),
                    previous,
                    result: Ok(c),
                }
            }
            Err(e) => {
                return Asked {
                    url: base.to_owned(),
                    previous,
                    result: Err(e),
                }
            }
        }
    }
    Asked {
        url: base.to_owned(),
        previous,
        result: Err("the witness's size kept changing (3 conflicts in a row)".into()),
    }
}

/// Most witnesses [`ask_each`] asks at once.
pub const MAX_ASKED_AT_ONCE: usize = 16;

/// Asks each witness `(base URL, keys)` of `witnesses` as [`ask`] does, up to
/// [`MAX_ASKED_AT_ONCE`] at the same time, so a round takes about as long as its slowest
/// witness rather than the sum of them all (one that is down costs its timeout once, not once
/// per witness behind it). The answers come back in the order of `witnesses`.
pub fn ask_each(
    agent: &ureq::Agent,
    witnesses: &[(&str, &[CosignerKey])],
    reg: &Registry,
    cp: &StoredCheckpoint,
) -> Vec<Asked> {
    let mut out = Vec::with_capacity(witnesses.len());
    for group in witnesses.chunks(MAX_ASKED_AT_ONCE) {
        std::thread::scope(|scope| {
            let asking: Vec<_> = group
                .iter()
                .map(|&(base, keys)| scope.spawn(move || ask(agent, base, reg, cp, keys)))
                .collect();
            for (handle, &(base, _)) in asking.into_iter().zip(group) {
                out.push(handle.join().unwrap_or_else(|_| Asked {
                    url: base.to_owned(),
                    previous: None,
                    result: Err("asking it failed (a bug: the thread panicked)".into()),
                }));
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    /// A registry (in a directory the caller keeps) and a checkpoint of it.
    fn registry_with_checkpoint() -> (tempfile::TempDir, Registry, StoredCheckpoint) {
        let dir = tempfile::tempdir().expect("dir");
        let reg = Registry::create(
            dir.path().join("r.redb"),
            cairn_store::CreateOptions::new("example.test/log", cairn_store::Protection::Insecure),
        )
        .expect("registry");
        let cp = reg.create_checkpoint().expect("checkpoint");
        (dir, reg, cp)
    }

    /// What a witness answers with an error status is quoted and cut short before it reaches
    /// a log or a terminal.
    #[test]
    fn an_answers_words_are_quoted_and_cut_short() {
        assert_eq!(quoted_excerpt("busy"), "\"busy\"");
        assert_eq!(
            quoted_excerpt("a\nFAKE LOG LINE\u{1b}[31m"),
            "\"a\\nFAKE LOG LINE\\u{1b}[31m\""
        );
        let long = "x".repeat(600);
        let q = quoted_excerpt(&long);
        assert!(q.ends_with("\"…") && q.len() < 520, "{q}");
    }

    /// A witness's cosignature of a checkpoint must carry its time (C2SP tlog-witness): one
    /// dated 0 fails the witness, as does one dated past the verifiers' skew; one dated
    /// otherwise is kept.
    #[test]
    fn a_cosignature_dated_zero_or_ahead_fails_its_witness() {
        use cairn_core::crypto::{Algorithm, SigningKey};
        let (_dir, _reg, cp) = registry_with_checkpoint();
        let text = Note::parse(cp.note.as_bytes())
            .expect("note")
            .text()
            .to_owned();
        let sk = SigningKey::from_seed(Algorithm::Ed25519, &[9; 32]);
        let key = CosignerKey::new("w.example/w1", sk.public_key()).expect("key");
        let answer = |t| {
            cairn_core::witness::cosign(&text, "w.example/w1", &sk, t)
                .expect("cosign")
                .to_line()
        };
        const NOW: u64 = 1_700_000_000;
        let keys = std::slice::from_ref(&key);
        let e = cosignatures_in(&answer(0), &cp, keys, NOW).unwrap_err();
        assert!(e.contains("dated 0"), "{e}");
        let ahead = NOW + DEFAULT_MAX_FUTURE_SKEW + 1;
        let e = cosignatures_in(&answer(ahead), &cp, keys, NOW).unwrap_err();
        assert!(e.contains("s after this clock"), "{e}");
        for t in [1, NOW, NOW + DEFAULT_MAX_FUTURE_SKEW] {
            let kept = cosignatures_in(&answer(t), &cp, keys, NOW).expect("kept");
            assert_eq!(kept.len(), 1);
        }
    }

    /// Witnesses asked one after another would each wait alone: here every fake witness holds
    /// its answer until all of them have been asked (or 5 s have passed), and records whether
    /// it saw them all.
    #[test]
    fn witnesses_are_asked_at_the_same_time_and_answered_in_order() {
        const N: usize = 3;
        let (_dir, reg, cp) = registry_with_checkpoint();
        let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
        let mut urls = Vec::new();
        let mut fakes = Vec::new();
        for i in 0..N {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            urls.push(format!("http://{}", listener.local_addr().expect("addr")));
            let arrived = arrived.clone();
            fakes.push(std::thread::spawn(move || {
                let (mut conn, _) = listener.accept().expect("accept");
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = conn.read(&mut buf).expect("read");
                    assert!(n > 0, "the request ended early");
                    request.extend_from_slice(&buf[..n]);
                }
                let (count, wake) = &*arrived;
                let mut seen = count.lock().expect("lock");
                *seen += 1;
                wake.notify_all();
                let (seen, _) = wake
                    .wait_timeout_while(seen, Duration::from_secs(5), |n| *n < N)
                    .expect("wait");
                let all = *seen == N;
                drop(seen);
                let body = format!("fake witness {i}");
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(answer.as_bytes()).expect("write");
                all
            }));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let witnesses: Vec<(&str, &[CosignerKey])> =
            urls.iter().map(|u| (u.as_str(), &[][..])).collect();
        let answers = ask_each(&agent, &witnesses, &reg, &cp);
        // A fake witness never asked would wait in `accept` for good: a connection that sends
        // nothing ends its wait (and fails it) instead of hanging the test.
        for u in &urls {
            let _ = std::net::TcpStream::connect(u.trim_start_matches("http://"));
        }
        let all_seen: Vec<bool> = fakes.into_iter().map(|f| f.join().expect("fake")).collect();
        assert_eq!(all_seen, vec![true; N], "some witness was asked alone");
        assert_eq!(answers.len(), N);
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a.url, urls[i]);
            let e = a.result.as_ref().map(|_| ()).unwrap_err();
            assert!(e.contains(&format!("fake witness {i}")), "{e}");
        }
    }
}
