//! tests/vectors/cosignature.json: C2SP tlog-cosignature witness cosignatures on cairn
//! checkpoints (Ed25519 type 0x04, ML-DSA-44 type 0x06), k-of-n quorums, the forked-log attack
//! and split-view detection, from fixed seeds (deterministic ML-DSA) and checked case by case.
//! `CAIRN_REGEN_VECTORS=1 cargo test -p cairn-core --test cosignature_vectors` rewrites the
//! file; otherwise the committed file must equal what the generator produces.
//!
//! One case is an outside known answer: the ML-DSA-44 (type 0x06) checkpoint signature of
//! torchwood v0.10.0's litewitness test (cmd/litewitness/testdata/mldsa.txt), made by Go's
//! crypto/mldsa.

mod support;

use cairn_core::checkpoint::*;
use cairn_core::crypto::{Algorithm, SigningKey};
use cairn_core::encoding::{b64_decode, b64_encode, Digest};
use cairn_core::merkle::{leaf_hash, root_of};
use cairn_core::note::Note;
use cairn_core::revocation::{map_key, MemoryMap, ObjectKind};
use cairn_core::witness::*;
use cairn_core::Result;
use serde_json::{json, Value};
use support::keys::{key_json, parse_key};
use support::vectors::{self, Case, Doc};

const LOG: &str = "example.test/log";
const NOW: u64 = 1_700_000_100;
const T: u64 = 1_700_000_000;

/// torchwood v0.10.0, cmd/litewitness/testdata/mldsa.txt: the log's vkey and its signed note.
const TORCHWOOD_VKEY: &str = "example.com/mldsa-log+b5df45c5+BuhtcL97l3dcitjZ8Y9J54gmQ1TWn/BMF0yePKpTzhlFCkN6ouJDf+9kT9wve4/Y+JGXBUjlRvktAynZ6XOQSO+fOaxyPOQAwrtbZKYXnZWSQj9gHPz18q6brnckUv87Rsk/m5GIBvH8J3ymxZjUQS+DnAUIbctLsG2DD6I/ou0JtXpPLvfGhPDTkwc9QeFyBLBa02Pr9uuWCMohciLqRiFUo5+leUUDKba1g5TYjOjK/VKfntpdbEwoqhTJTG4armjUeXdrYDHeaaMaCAnW5F0lMWYsHjqzRpKjeTjgItseaWKSm+ga/mzTAgqsbo5Ob/AwaXf4Av7/mN+ZM6vHON/NE7Ip5vpXpCiNb9YbEQavn+fjNucFxffCacvzXghvaaQ+3C/5h5lpR8jeajBFsFIOvdkYKizt29lCjqZDkYQgVfB9nWeH6rbayMkBdDpmRH03cI+urD0Eb5zvRuGJn3PgfwdyQJ3WcDH5Gqn5dkKs5NIVMBC+FfKeD47ruAIruda4JiiYCAxZbWgwzTI80N5lZFHEndmxKWaw6z/QyphuYkNyvZVZ0R3kH3JN4jdy9KKpNtFoQqnoBTGeEE/fXEEs5ByPlKnrrefRgWTqxssE4nPzHHr5GGgv/NKNTXNKI4LvNPH5yO3Vv/gIiDZxPPc1Jen8uKkmc0s3kT7XtcuWTlb+zdQeSme9ODj0IoVu29Eav2OsGJpReX7vZx9i2fVfHEMHY5nFew8L5RxcWmZFFiYhMFZnLvk/SWmHcwr3DhzZchrODhabHQ+S6S49Ws+5aoBBPM3mOrSSKHgobdI7BJrdzdT07kjzyiyS9Gyv8iylUHHMuuh1O05RNRcX5SXmenwGDPcT9HuLS+hoesO0FQgEt+jAR7vVyUUU2C6g6FC6QNfHL/EUsulvYIAS5fOK7acOeVnoJlpI57Bq+uzLZm6g7IZD0xxQwZPYyT4ek99l9HxDSrVnU0rAr+Tq5vVh5YxvDkQVWroYIWek/AI5awjmhgpW4LPapBhLk2ipkF5CmU3T0cm3ET5f14gYQZfz23nCsmZ7qyqiQilgOxJzVYacVoGAStGzJNY1wEf26MADW5McyQzYI/3Fpaa4Ay6p2yFmcJMfpqZnu4flgWMqN1UpMbbJ6I7hOrCFWryExK/nvSbRrErHTkPz2wvVfI+enbFz86c0iNb7naQKv6LoIZYEHFOCEsWGL/sCChn6BR4nk1qAakyXEQwi96CkIa3AX562F8lhw6CU4x7T+NWqi2AWfEXImJenORhMP69hGIFsiLAVIjHtsWtJOi8cu+Brg1bFERkB4ryUTrLf/jFeb6KifZ+s8PZWclDaOLMINZ3E78a5u6AzgXpigJsAJ1A4BY89muedrW2O8kFyh3TTTKyY4kedCW6L+8bFHV2Gce25ZulNC1mZs41XAI9CteeYaWaiL7uGMXgyQ73wr4ftwAEMdsoQVQsQriutS1AhpBGvjzPCwD5LC5p1fa0WXBQ1puuaNqr3IJodmDLhEIAsZcv1gdXMg8EQg9QLqgLLrBijU3GxFUQllS8lpQ4TLwFYUJ41+qt28JEeky/VzSEeQd/qob8cbyNM44o7INB+lbhEXEGWvVO8Ak+uWMY+PRKeY9OQcE6E27Nf3eUoHQXkwmXkjGgj0NKeXBIJc1k/Ws6WDbsU4graVKk5FQjwULcRngOpyiJQ/n8sObkAPXr+1rImK3lQJnxif/B6p5/tsh4rrcUht4yVIvFAaqsgAAE=";
const TORCHWOOD_TEXT: &str =
    "example.com/mldsa-log\n1\n+zoErtsZtGO6sfiSV/v4UJSIyowisE8hvjw0q5+bD38=\n";
const TORCHWOOD_SIG: &str = "td9FxQAAAAAAAAAAkjFvCxC6244QGemHL0hurmk5M3Hj6noQQtBM1TiwnC1lFmT+t+cUG9W0ENlRQtV20lJFLKCzoJ08ulQEkfiVueKHeMyURh97Iup0R9d41Monv472jkyfDoX3ILyX/kEOuSV4Ed2tU4VmtDSbP0rofMWAbKJRMnzCpNIT5xMe3tRbWLVTvAtnX9OB4UMKL1dvGS/uuhqW9Ddjik2D8veitBvk3TbQcT8fanSyZqCbDZ5zzw5JS3Gu5oD1zK7z+KiyqbzKUhglESs7YXFbeU0E03FrXdAPYS6GAuZtBWTJp4DEm4rL+NqU6Xp0n2ehhqd1rFAJUAcsE5CFakQdlmKkkzVMy3VZYll5ptS0amlYfGqX6/N9bJAYdAoWWpdgCep5eXCutQcTQXc69UocKT99/vholeAP1097GfS+hNL2ndNS2ieMnj8XLD1LCHVoBjKZUIObB0lx3leGRe9VjYgTRAY2WlE+K32b6Iz1rKzzDD8YBNQdkHgdx44uPOU3I+8szYS6NzQ2Z0QlqAtz0j9vZu9yEUUxCEORAiMAHLtV5oWZ/RvSE7qq5B0b8WrHGPGoR/qUNK4ECmlIe/SRo6M7yRrPs3das3ox1bkC3f92c98ewHLeQtLwwsqQJny6rlYaiaiPMxgdT2CVcJEcKOfaK8pdy2fucBDxHrQitpGkeLJLmWk6LLxR/Ut6s6xNyyKSuZlVslS40n9MJ837uMmJFyecKPliwAj8HzTWQywSkMpEQfJyr4i2Kfa2paOZ4izmotRTfdvbFWlWFwuGLWOQ0X/pKaExpdNDwqahAwbfGkw/iHbsV7ZIlNIuSNs2ccQvnjM8xqkT6sYYVxYiHpmk5sOwGsdeiMdwQqn7Q/Lz+uc3F6k/r0Ox7MJTX6fPhFdhe8RJg/77USR/MIGiT4YZHV+XgrtbV0jvMEgB4yEOircsScaBmLv18tTn1GiGlzFjK/s7gOzjk70jf1qCZ1MNgDAPstd/5sXdwYON0FnA5zPUp9yMkq1/wZq+DuePQDT6nj8zgFrkrvl8s7nibKKaL2bKcje5YP3CFcXLZoESZnC3BJkV85VqXlAKl+dctM3vNfMVrqk3/boBARw27mdKLsysIREkWR4caByW0csjL3Js9tn1hB0yf6hIGo8mvPIUjPIXn1rFSSKWkQlq15wu2gwEo9FdVF5beMdF4LVwuO9PZ1Y4oXuRE2pIzMWq/jEzHAZ7GucP7yzU78X767ucrwO/AXjMlLUsLLFZaQcHHBsrQJLpy5w1Jn/L7XFyR2g0lBOdT+lSOhx7j33oIlzxmqdR47ovtkg+LJpbAJG7n/JiQ/h/xffe3VdqSsrB8S4ltKz+rq51swoZ59zmRzWaoNkyWX0eu0E7y6EfpfrKEmr0H+fYtVnJvCznWFKzbv7oDXKC0pOyKZsNctvFwhSGEEURCs1G+4IrAEWG2Y231thQ8HdMvaMcm+ocvBGhZjmE7bXFkdiJ7S09csFjljFDGCiGRiU+flxkyiqpa1DDgeFRWOEyNAdMeY2iQMTJU9ApqNVrPpjGbg7kL0HrfKCQM236d16DKfXIiUmZw/NONKnrliAIs6/WSzKdW/JUyTLiKfPV1ItODmw5eNz7lV36dR8g3us/bpWp4OaDIInrLxYZRfkLHLvXGGg5ogY2k/FMno/3UBbS0QfstK+ByB/pFVYCHWgDjctwpOHaqAAXAiWHAUh1KOpXBMv8qndpzhsYhvKbrL371aBST0e3iPW/K4x+kFfgdeClsftS9RnE8KDCf4Uz+9QMP9sxj4+ZACztE19eBVaSvCqv54wO6n5248UzbqPXzA1dweKQziw/FnPWC7qMrcs3jDi6PBPhpruk1xBy08MQg58l4YzuXrPm5gAyiUAyfNszvhTotaU02oljhvg24CycDo/2PvQY7sBmisIsVVeHssiRxg23CMgWHaPMDn6OM+IhF2xaAqJOjfnsFBWlvMg8LxsrBnOQ1YABVLLtMvCSaIvgBjPt8XtLn9gZ0HL9OvGsR3efWHTR5p4nZyuHH2Nm8F3nWKVkEI4p4H6Yo5O0hkzCi1ZB7QT3uEIeR0Hq3g/bLTzmm6XzsjWSmQ8CtPapmXX476QT44wU0CWJ096SqUGUq2ZCDg3kFkV0BuKPIfLCt4sYK9bjj8UZCqkhyHbVm2x+HQwk8mNnDbUd7PK89riPjA33KX0Sw32RE0uKtB0sC8m7t028aEupsRx56/M0jBgeYmEHuRrXpW9nuOkQPTBaHdmYBHNkzTF2arPzZK3diFuhKPvmSQh2CN6g8r0p3EN+dmps1fIUfHM6emkEuaod+ZG83vyJsyd5B2oPMTVP12z8VJtDRAYfA5bRj+HEw2aD4f23u/Zq3PHk2C9T5LTAu28WCuO/EpXGSIkq1/hRpyE0qhJSnPN9/iE74PoU1OgjGBv6uSUsNhNZJeMe2W23s8EAyStB5+u83IBgUctrGwXzNdoC9LY1p+kNFSAZXIggNB3alVzoS+D9rcCYTUAafpkdwLaYq5/w0wRchljkG61rl+gZCiwtqZv3SHVxO7kRTAzfHsGDB1yc/9Sz++IMGyFHYvuqtclhpHPPToFByaVl687b1P4t2i/U4fWPZ4BBhN5Q7HGTxubspw1GY2MjBYU5OXvEJu9aWeibkM/fg6QrxPRYNsJBNJQRywMjYHj6AefrZeGXGxSNgS50kCNBvV7XTli/17y3MFgR4WfNmBK3BqKb87v3DBMVnLHcqvw1ZVjFPv91q0XYaDdVFHqOnS4Fh5nfwh1qfuvKrUZlwFPcwW+pG4YDyjx90MTFugpQ6KfEusmUhB5Dqr79nYWbOhW3e0PCEZtxmVrH9EtCHEgO6wnkWjPke6XULARu0ECF1gZvQczEjKfzxCt6Rknz+27lXyzgzRyHWxr0kB/pFty+8IebrDfIW9757d+1QLonDTmkLQiirF0ygsgQALmk1KljcHD/qiAZPHh5YX+Q2VdDfIfGeMXmCg3nX5r5DINcx47fNHtgWeGn8MjF8Hnff6x+ZU/7YqcBrDOvGqn46FBvuRY0+mWkRo576207vQR/023owl7pXZ5p/75V5yDkTZWDtXsfKjpypcxrWIBsg5GC25nZdjQQGBtFUF1pfn+xvunq9AEIFidYY2Vyc3mYw8TW7PkVKis5PENhdbfJHDtIdIiQsLe+1Nr+/wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA4eKDU=";

struct Keys {
    log: SigningKey,
    w1: SigningKey,
    w2: SigningKey,
    w3: SigningKey,
    other: SigningKey,
}

fn keys() -> Keys {
    Keys {
        log: SigningKey::from_seed(Algorithm::Ed25519, &[0x01; 32]),
        w1: SigningKey::from_seed(Algorithm::Ed25519, &[0x11; 32]),
        w2: SigningKey::from_seed(Algorithm::Ed25519, &[0x12; 32]),
        w3: SigningKey::from_seed(Algorithm::MlDsa44, &[0x13; 32]),
        other: SigningKey::from_seed(Algorithm::Ed25519, &[0x14; 32]),
    }
}

fn root(n: u64, salt: &str) -> Digest {
    let leaves: Vec<Digest> = (0..n)
        .map(|i| leaf_hash(format!("{salt}leaf-{i}").as_bytes()))
        .collect();
    root_of(&leaves)
}

/// The witnessed checkpoint: size 10, the leaves leaf-0..leaf-9, committing to a revocation map
/// of one revoked token.
fn checkpoint(size: u64, salt: &str) -> Checkpoint {
    let mut map = MemoryMap::new();
    map.insert(map_key(ObjectKind::Token, &[7; 32]), 3).unwrap();
    Checkpoint::new(LOG, size, root(size, salt)).with_revocations(RevocationsRef {
        count: map.len(),
        root: map.root(),
    })
}

fn wname(i: usize) -> String {
    format!("example.test/w{i}")
}

fn vkey(name: &str, key: &SigningKey) -> String {
    CosignerKey::new(name, key.public_key()).unwrap().vkey()
}

/// The policy list of witnesses: [{name (in the policy), vkey}].
fn witnesses(list: &[(&str, String)]) -> Value {
    Value::from(
        list.iter()
            .map(|(n, v)| json!({"name": n, "vkey": v}))
            .collect::<Vec<_>>(),
    )
}

fn all_witnesses(k: &Keys) -> Value {
    witnesses(&[
        ("w1", vkey(&wname(1), &k.w1)),
        ("w2", vkey(&wname(2), &k.w2)),
        ("w3", vkey(&wname(3), &k.w3)),
    ])
}

/// A log-signed note of `cp` with the cosignature lines of `cosigners` at their times.
fn note(k: &Keys, cp: &Checkpoint, cosigners: &[(usize, &SigningKey, u64)]) -> String {
    let text = cp.to_text().unwrap();
    let mut n = Note::new(&text).unwrap();
    n.sign_deterministic(LOG, &k.log).unwrap();
    for (i, key, t) in cosigners {
        n.push_signature(cosign_deterministic(&text, &wname(*i), key, *t).unwrap())
            .unwrap();
    }
    n.encode().unwrap()
}

fn line_of(note: &str, index: usize) -> String {
    let i = note.rfind("\n\n").unwrap();
    note[i + 2..].lines().nth(index).unwrap().to_string() + "\n"
}

fn replace_line(note: &str, index: usize, new: &str) -> String {
    let i = note.rfind("\n\n").unwrap();
    let mut lines: Vec<String> = note[i + 2..].lines().map(|l| format!("{l}\n")).collect();
    lines[index] = new.to_string();
    format!("{}{}", &note[..i + 2], lines.concat())
}

/// A signature line with its raw bytes (after base64) edited by `f`.
fn edit_line(line: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let (prefix, b64) = line.trim_end().rsplit_once(' ').unwrap();
    let mut raw = b64_decode(b64).unwrap();
    f(&mut raw);
    format!("{prefix} {}\n", b64_encode(&raw))
}

struct Gen {
    cases: Vec<Case>,
}

impl Gen {
    fn push(&mut self, name: &str, op: &str, args: Value, expect: Value) {
        self.cases.push(Case {
            name: name.into(),
            op: op.into(),
            args,
            expect,
        });
    }
    fn ok(&mut self, name: &str, op: &str, args: Value, fields: Value) {
        let mut expect = json!({"ok": true});
        for (k, v) in fields.as_object().unwrap() {
            expect[k] = v.clone();
        }
        self.push(name, op, args, expect);
    }
    fn err(&mut self, name: &str, op: &str, args: Value, code: &str) {
        self.push(name, op, args, json!({ "error": code }));
    }
}

fn log_json(k: &Keys) -> Value {
    let mut v = key_json(k.log.public_key());
    v["name"] = json!(LOG);
    json!([v])
}

fn witnessed_args(k: &Keys, note: &str, ws: Value, quorum: usize, max_age: Option<u64>) -> Value {
    json!({
        "note": note, "log": log_json(k), "origin": LOG, "witnesses": ws, "quorum": quorum,
        "now": NOW, "max_age": max_age, "max_future_skew": DEFAULT_MAX_FUTURE_SKEW,
    })
}

fn cosigned(list: &[(&str, &str, u64, &str)]) -> Value {
    Value::from(
        list.iter()
            .map(|(w, t, ts, s)| json!({"witness": w, "type": t, "timestamp": ts, "standing": s}))
            .collect::<Vec<_>>(),
    )
}

fn witnessed_ok(k: &Keys, cp: &Checkpoint, cos: Value) -> Value {
    json!({
        "origin": cp.origin, "size": cp.size, "root": b64_encode(&cp.root),
        "extensions": cp.extensions, "signers": [k.log.public_key().key_id().to_hex()],
        "cosigned": cos,
    })
}

fn generate() -> String {
    let k = keys();
    let mut g = Gen { cases: vec![] };
    let cp = checkpoint(10, "");
    let op = "verify_witnessed_checkpoint";
    let full = note(
        &k,
        &cp,
        &[(1, &k.w1, T), (2, &k.w2, T + 1), (3, &k.w3, T + 2)],
    );
    let all3 = cosigned(&[
        ("w1", "ed25519", T, "counted"),
        ("w2", "ed25519", T + 1, "counted"),
        ("w3", "ml-dsa-44", T + 2, "counted"),
    ]);
    g.ok(
        "three witnesses cosigned, quorum 2 of 3",
        op,
        witnessed_args(&k, &full, all_witnesses(&k), 2, None),
        witnessed_ok(&k, &cp, all3.clone()),
    );
    g.ok(
        "three witnesses cosigned, quorum 3 of 3, recent enough",
        op,
        witnessed_args(&k, &full, all_witnesses(&k), 3, Some(3600)),
        witnessed_ok(&k, &cp, all3.clone()),
    );
    let w1w3 = note(&k, &cp, &[(1, &k.w1, T), (3, &k.w3, T)]);
    g.ok(
        "Ed25519 and ML-DSA-44 witnesses, quorum 2 of 3",
        op,
        witnessed_args(&k, &w1w3, all_witnesses(&k), 2, None),
        witnessed_ok(
            &k,
            &cp,
            cosigned(&[
                ("w1", "ed25519", T, "counted"),
                ("w3", "ml-dsa-44", T, "counted"),
            ]),
        ),
    );
    // An ML-DSA-44 cosignature of the bare three-line checkpoint is valid on the checkpoint
    // with extension lines: its message has no extension line.
    let bare = Checkpoint::new(LOG, 10, cp.root).to_text().unwrap();
    let pq_bare = cosign_deterministic(&bare, &wname(3), &k.w3, T).unwrap();
    let mut n = Note::parse(note(&k, &cp, &[(1, &k.w1, T)]).as_bytes()).unwrap();
    n.push_signature(pq_bare.clone()).unwrap();
    g.ok(
        "ML-DSA-44 cosignature made on the bare checkpoint counts on the one with extension lines",
        op,
        witnessed_args(&k, &n.encode().unwrap(), all_witnesses(&k), 2, None),
        witnessed_ok(
            &k,
            &cp,
            cosigned(&[
                ("w1", "ed25519", T, "counted"),
                ("w3", "ml-dsa-44", T, "counted"),
            ]),
        ),
    );
    let only_log = note(&k, &cp, &[]);
    g.ok(
        "quorum 0 requires no cosignature",
        op,
        witnessed_args(&k, &only_log, all_witnesses(&k), 0, None),
        witnessed_ok(&k, &cp, cosigned(&[])),
    );
    // A second line of w1 with a later time, appended (push_signature would replace the first).
    let two_lines = format!(
        "{}{}",
        full,
        cosign_deterministic(&cp.to_text().unwrap(), &wname(1), &k.w1, T + 50)
            .unwrap()
            .to_line()
    );
    g.ok(
        "two valid lines of one witness count once, with the newer time",
        op,
        witnessed_args(&k, &two_lines, all_witnesses(&k), 3, None),
        witnessed_ok(
            &k,
            &cp,
            cosigned(&[
                ("w1", "ed25519", T + 50, "counted"),
                ("w2", "ed25519", T + 1, "counted"),
                ("w3", "ml-dsa-44", T + 2, "counted"),
            ]),
        ),
    );

    // Quorum failures, and the forked log.
    let w1_only = note(&k, &cp, &[(1, &k.w1, T)]);
    g.err(
        "one cosignature, quorum 2 of 3",
        op,
        witnessed_args(&k, &w1_only, all_witnesses(&k), 2, None),
        "threshold_not_met",
    );
    let fork = checkpoint(10, "fork-");
    let fork_note = note(&k, &fork, &[(3, &k.w3, T + 5)]);
    g.err(
        "forked log: a second tree of size 10 that only the dishonest witness cosigned",
        op,
        witnessed_args(&k, &fork_note, all_witnesses(&k), 2, None),
        "threshold_not_met",
    );
    g.err(
        "all cosignatures older than the policy's maximum age",
        op,
        witnessed_args(&k, &full, all_witnesses(&k), 2, Some(60)),
        "stale",
    );
    let future = note(&k, &cp, &[(1, &k.w1, NOW + 1000), (2, &k.w2, NOW + 1000)]);
    g.err(
        "cosignatures dated beyond the allowed clock skew",
        op,
        witnessed_args(&k, &future, all_witnesses(&k), 2, None),
        "not_yet_valid",
    );
    g.err(
        "the witness key listed under its name is another key",
        op,
        witnessed_args(
            &k,
            &w1w3,
            witnesses(&[
                ("w1", vkey(&wname(1), &k.other)),
                ("w3", vkey(&wname(3), &k.w3)),
            ]),
            2,
            None,
        ),
        "threshold_not_met",
    );
    g.err(
        "the log's own Ed25519 line (type 0x01) is not a cosignature (type 0x04) of the same key",
        op,
        witnessed_args(
            &k,
            &only_log,
            witnesses(&[("log-as-witness", vkey(LOG, &k.log))]),
            1,
            None,
        ),
        "threshold_not_met",
    );

    // Tampering.
    g.err(
        "flipped bit in an Ed25519 cosignature",
        op,
        witnessed_args(
            &k,
            &replace_line(&full, 1, &edit_line(&line_of(&full, 1), |r| r[40] ^= 1)),
            all_witnesses(&k),
            2,
            None,
        ),
        "signature_invalid",
    );
    g.err(
        "flipped bit in an ML-DSA-44 cosignature",
        op,
        witnessed_args(
            &k,
            &replace_line(&full, 3, &edit_line(&line_of(&full, 3), |r| r[1000] ^= 1)),
            all_witnesses(&k),
            2,
            None,
        ),
        "signature_invalid",
    );
    g.err(
        "cosignature timestamp changed",
        op,
        witnessed_args(
            &k,
            &replace_line(&full, 2, &edit_line(&line_of(&full, 2), |r| r[11] ^= 1)),
            all_witnesses(&k),
            2,
            None,
        ),
        "signature_invalid",
    );
    g.err(
        "cosignature timestamp above 2^63 - 1",
        op,
        witnessed_args(
            &k,
            &replace_line(&full, 2, &edit_line(&line_of(&full, 2), |r| r[4] |= 0x80)),
            all_witnesses(&k),
            2,
            None,
        ),
        "signature_invalid",
    );
    g.err(
        "truncated cosignature (one byte short)",
        op,
        witnessed_args(
            &k,
            &replace_line(
                &full,
                1,
                &edit_line(&line_of(&full, 1), |r| r.truncate(r.len() - 1)),
            ),
            all_witnesses(&k),
            2,
            None,
        ),
        "signature_invalid",
    );
    g.err(
        "a second, bad line of a witness rejects the note (every line is checked)",
        op,
        witnessed_args(
            &k,
            &format!("{full}{}", edit_line(&line_of(&full, 1), |r| r[50] ^= 1)),
            all_witnesses(&k),
            2,
            None,
        ),
        "signature_invalid",
    );
    let cp11 = checkpoint(11, "");
    let moved = format!("{}{}", note(&k, &cp11, &[]), line_of(&full, 1));
    g.err(
        "cosignature moved to a checkpoint of another size",
        op,
        witnessed_args(&k, &moved, all_witnesses(&k), 1, None),
        "signature_invalid",
    );
    let mut other_ext = cp.clone();
    other_ext.extensions = vec!["cairn.example other extension".into()];
    let ext_moved = format!("{}{}", note(&k, &other_ext, &[]), line_of(&full, 1));
    g.err(
        "Ed25519 cosignature moved to the same tree with other extension lines",
        op,
        witnessed_args(&k, &ext_moved, all_witnesses(&k), 1, None),
        "signature_invalid",
    );
    let mut wrong_origin = witnessed_args(&k, &full, all_witnesses(&k), 2, None);
    wrong_origin["origin"] = json!("example.test/other-log");
    g.err(
        "policy expects another origin",
        op,
        wrong_origin,
        "domain_mismatch",
    );
    g.err(
        "truncated note",
        op,
        witnessed_args(&k, &full[..full.len() - 10], all_witnesses(&k), 2, None),
        "malformed",
    );

    // Policies.
    g.err(
        "quorum above the number of witnesses",
        op,
        witnessed_args(&k, &full, all_witnesses(&k), 4, None),
        "malformed",
    );
    g.err(
        "one key listed as two witnesses",
        op,
        witnessed_args(
            &k,
            &full,
            witnesses(&[
                ("w1", vkey(&wname(1), &k.w1)),
                ("w1-again", vkey("example.test/w1-alias", &k.w1)),
            ]),
            2,
            None,
        ),
        "malformed",
    );
    let bad_id = {
        // The key id's first hex digit changed.
        let v = vkey(&wname(1), &k.w1);
        let (name, rest) = v.split_once('+').unwrap();
        let c = if rest.starts_with('0') { '1' } else { '0' };
        format!("{name}+{c}{}", &rest[1..])
    };
    g.err(
        "vkey whose key id is not its key's",
        op,
        witnessed_args(&k, &full, witnesses(&[("w1", bad_id)]), 1, None),
        "key_mismatch",
    );
    let cairn_type = cairn_core::note::NoteVerifier::new(&wname(1), k.w1.public_key())
        .unwrap()
        .verifier_key();
    g.err(
        "vkey of signature type 0x01 is not a cosigner key",
        op,
        witnessed_args(&k, &full, witnesses(&[("w1", cairn_type)]), 1, None),
        "unsupported_algorithm",
    );

    // verify_cosignatures: the verdict without the quorum check, and an outside known answer.
    let vc = "verify_cosignatures";
    g.ok(
        "torchwood v0.10.0 litewitness test: ML-DSA-44 checkpoint signature (type 0x06, timestamp 0)",
        vc,
        json!({
            "note": format!("{TORCHWOOD_TEXT}\n\u{2014} example.com/mldsa-log {TORCHWOOD_SIG}\n"),
            "witnesses": witnesses(&[("mldsa-log", TORCHWOOD_VKEY.to_string())]),
            "quorum": 1, "now": NOW, "max_age": null, "max_future_skew": DEFAULT_MAX_FUTURE_SKEW,
        }),
        json!({"quorum_met": false, "cosigned": cosigned(&[("mldsa-log", "ml-dsa-44", 0, "undated")])}),
    );
    g.err(
        "torchwood known answer with the size changed",
        vc,
        json!({
            "note": format!("{}\n\u{2014} example.com/mldsa-log {TORCHWOOD_SIG}\n", TORCHWOOD_TEXT.replace("\n1\n", "\n2\n")),
            "witnesses": witnesses(&[("mldsa-log", TORCHWOOD_VKEY.to_string())]),
            "quorum": 1, "now": NOW, "max_age": null, "max_future_skew": DEFAULT_MAX_FUTURE_SKEW,
        }),
        "signature_invalid",
    );
    g.ok(
        "verdict of a note short of its quorum (not an error here)",
        vc,
        json!({
            "note": w1_only, "witnesses": all_witnesses(&k), "quorum": 2, "now": NOW,
            "max_age": 50, "max_future_skew": DEFAULT_MAX_FUTURE_SKEW,
        }),
        json!({"quorum_met": false, "cosigned": cosigned(&[("w1", "ed25519", T, "stale")])}),
    );

    // Split views.
    let sv = "detect_split_view";
    let split_args =
        |a: &str, b: &str| json!({"first": a, "second": b, "log": log_json(&k), "origin": LOG});
    g.ok(
        "two signed trees of size 10: a split view, both roots reported",
        sv,
        split_args(&full, &fork_note),
        json!({"split_view": {"origin": LOG, "size": 10,
            "roots": [b64_encode(&cp.root), b64_encode(&fork.root)],
            "revocations": [cp.extensions[0], fork.extensions[0]]}}),
    );
    let mut other_map = cp.clone();
    other_map.extensions = vec![RevocationsRef {
        count: 0,
        root: cairn_core::revocation::empty_root(),
    }
    .to_line()];
    g.ok(
        "one tree, two revocation maps: a split view of the map",
        sv,
        split_args(&full, &note(&k, &other_map, &[])),
        json!({"split_view": {"origin": LOG, "size": 10,
            "roots": [b64_encode(&cp.root), b64_encode(&cp.root)],
            "revocations": [cp.extensions[0], other_map.extensions[0]]}}),
    );
    g.ok(
        "the same checkpoint with other cosignatures is no split view",
        sv,
        split_args(&full, &w1_only),
        json!({"split_view": null}),
    );
    g.ok(
        "checkpoints of different sizes are not judged here",
        sv,
        split_args(&full, &note(&k, &cp11, &[])),
        json!({"split_view": null}),
    );
    let unsigned_fork = replace_line(
        &fork_note,
        0,
        &edit_line(&line_of(&fork_note, 0), |r| r[10] ^= 1),
    );
    g.err(
        "a fork whose log signature does not verify is no evidence",
        sv,
        split_args(&full, &unsigned_fork),
        "signature_invalid",
    );
    let other_log = Checkpoint::new("example.test/other-log", 10, fork.root);
    g.err(
        "a checkpoint of another log",
        sv,
        split_args(&full, &note(&k, &other_log, &[])),
        "domain_mismatch",
    );

    let doc = Doc {
        kind: "cosignature",
        version: 1,
        description: "C2SP tlog-cosignature witness cosignatures on cairn checkpoints (docs/FORMATS.md section 18): Ed25519 cosignature/v1 (type 0x04, message \"cosignature/v1\\ntime <t>\\n\" || checkpoint text) and ML-DSA-44 subtree/v1 (type 0x06, TLS-encoded cosigned_message, empty FIPS 204 context), line bytes = 4-byte key id || 8-byte big-endian timestamp || signature. Log key Ed25519 from seed 01 x 32 under example.test/log; witnesses w1, w2 Ed25519 from seeds 11, 12 x 32, w3 ML-DSA-44 from seed 13 x 32 (deterministic), key names example.test/w1..w3; the checkpoint is the RFC 6962 root of leaf-0..leaf-9 with a cairn.revocations line; now = 1700000100.",
        ops: json!({
            "verify_witnessed_checkpoint": "args {note, log: [{name, algorithm, public_key: base64}], origin, witnesses: [{name: the witness's name in the policy, vkey: cosigner vkey}], quorum, now, max_age: seconds or null, max_future_skew: seconds}; the log's signature (verify_checkpoint), then the cosignatures, then the quorum; expect {ok, origin, size, root: base64, extensions, signers: [hex key ids], cosigned: [{witness, type: ed25519|ml-dsa-44, timestamp, standing: counted|stale|future}]}",
            "verify_cosignatures": "args {note, witnesses, quorum, now, max_age, max_future_skew}; the cosignatures only, the quorum reported and not enforced; expect {ok, quorum_met, cosigned}",
            "detect_split_view": "args {first: note, second: note, log, origin}; both notes must verify under the log key; expect {ok, split_view: null or {origin, size, roots: [base64, base64], revocations: [line or null, line or null]}}"
        }),
        cases: g.cases,
    };
    vectors::render(&doc)
}

fn witness_policy(a: &Value) -> Result<WitnessPolicy> {
    let ws = a["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            Ok(Witness {
                name: w["name"].as_str().unwrap().into(),
                key: CosignerKey::from_vkey(w["vkey"].as_str().unwrap())?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(WitnessPolicy {
        witnesses: ws,
        quorum: a["quorum"].as_u64().unwrap() as usize,
        max_age: a["max_age"].as_u64(),
        max_future_skew: a["max_future_skew"].as_u64().unwrap(),
    })
}

fn log_verifiers(a: &Value) -> Vec<CheckpointVerifier> {
    a["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| CheckpointVerifier {
            name: v["name"].as_str().unwrap().into(),
            public_key: parse_key(v).unwrap(),
        })
        .collect()
}

fn verdict_json(v: &WitnessVerdict) -> Value {
    Value::from(
        v.cosigned
            .iter()
            .map(|c| {
                json!({"witness": c.witness, "type": c.cosignature_type.name(),
                       "timestamp": c.timestamp, "standing": c.standing.as_str()})
            })
            .collect::<Vec<_>>(),
    )
}

fn run(case: &Value) -> Result<Value> {
    let a = &case["args"];
    match case["op"].as_str().unwrap() {
        "verify_witnessed_checkpoint" => {
            let policy = witness_policy(a)?;
            let w = verify_witnessed_checkpoint(
                a["note"].as_str().unwrap().as_bytes(),
                &log_verifiers(a),
                &CheckpointPolicy::new(a["origin"].as_str().unwrap()),
                &policy,
                a["now"].as_u64().unwrap(),
            )?;
            let c = &w.checkpoint;
            Ok(json!({
                "origin": c.origin, "size": c.size, "root": b64_encode(&c.root),
                "extensions": c.extensions,
                "signers": c.signers.iter().map(|s| s.to_hex()).collect::<Vec<_>>(),
                "cosigned": verdict_json(&w.witnesses),
            }))
        }
        "verify_cosignatures" => {
            let policy = witness_policy(a)?;
            let note = Note::parse(a["note"].as_str().unwrap().as_bytes())?;
            let v = verify_cosignatures(&note, &policy, a["now"].as_u64().unwrap())?;
            Ok(json!({"quorum_met": v.quorum_met, "cosigned": verdict_json(&v)}))
        }
        "detect_split_view" => {
            let s = detect_split_view(
                a["first"].as_str().unwrap().as_bytes(),
                a["second"].as_str().unwrap().as_bytes(),
                &log_verifiers(a),
                &CheckpointPolicy::new(a["origin"].as_str().unwrap()),
            )?;
            Ok(json!({"split_view": s.map(|s| json!({
                "origin": s.origin, "size": s.size,
                "roots": [b64_encode(&s.first_root), b64_encode(&s.second_root)],
                "revocations": [s.first_revocations.map(|r| r.to_line()), s.second_revocations.map(|r| r.to_line())],
            }))}))
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn cosignature_vectors() {
    let cases = vectors::committed("cosignature", &generate());
    assert!(cases.len() > 30);
    vectors::assert_distinct_names(&cases);
    vectors::assert_both_verdicts(
        &cases,
        &[
            "verify_witnessed_checkpoint",
            "verify_cosignatures",
            "detect_split_view",
        ],
    );
    vectors::check(&cases, run);
}

/// The attack of issue 13 end to end: a log forks (two checkpoints of one size), three
/// witnesses under a 2-of-3 policy; the honest two cosign only the first fork, so the second
/// gets no quorum, and a verifier holding both detects the fork with both roots.
#[test]
fn forked_log_gets_no_quorum_and_is_detected() {
    let k = keys();
    let a = checkpoint(10, "");
    let b = checkpoint(10, "fork-");
    let policy = WitnessPolicy::new(
        (1..=3)
            .zip([&k.w1, &k.w2, &k.w3])
            .map(|(i, key)| Witness {
                name: format!("w{i}"),
                key: CosignerKey::new(&wname(i), key.public_key()).unwrap(),
            })
            .collect(),
        2,
    );
    let log = [CheckpointVerifier {
        name: LOG.into(),
        public_key: k.log.public_key().clone(),
    }];
    let lp = CheckpointPolicy::new(LOG);
    // Honest witnesses remember what they cosigned at a size and refuse another root there.
    let mut seen: [Option<Digest>; 3] = [None; 3];
    let mut witness = |i: usize, cp: &Checkpoint, honest: bool| -> bool {
        if honest && seen[i].is_some_and(|r| r != cp.root) {
            return false;
        }
        seen[i] = Some(cp.root);
        true
    };
    let mut cosigners_a = vec![];
    let mut cosigners_b = vec![];
    for (i, key) in [&k.w1, &k.w2, &k.w3].into_iter().enumerate() {
        if witness(i, &a, i < 2) {
            cosigners_a.push((i + 1, key, T));
        }
        if witness(i, &b, i < 2) {
            cosigners_b.push((i + 1, key, T));
        }
    }
    let na = note(&k, &a, &cosigners_a);
    let nb = note(&k, &b, &cosigners_b);
    assert!(verify_witnessed_checkpoint(na.as_bytes(), &log, &lp, &policy, NOW).is_ok());
    let e = verify_witnessed_checkpoint(nb.as_bytes(), &log, &lp, &policy, NOW).unwrap_err();
    assert_eq!(e.code(), cairn_core::ErrorCode::ThresholdNotMet);
    let split = detect_split_view(na.as_bytes(), nb.as_bytes(), &log, &lp)
        .unwrap()
        .unwrap();
    let err = split.to_error();
    assert_eq!(err.code().as_str(), "split_view");
    assert!(
        err.detail().contains(&b64_encode(&a.root)) && err.detail().contains(&b64_encode(&b.root))
    );
}

/// An ML-DSA-44 cosignature dated 0 (C2SP: consistency only, no statement of being the
/// newest; a witness's subtree signature has the same bytes) verifies, but counts toward no
/// quorum, whatever the maximum age: `undated`, and the quorum is not met.
#[test]
fn an_undated_ml_dsa_cosignature_counts_for_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let k = keys();
    let cp = checkpoint(10, "");
    let n = Note::parse(note(&k, &cp, &[(3, &k.w3, 0)]).as_bytes())?;
    let mut policy = WitnessPolicy::new(
        vec![Witness {
            name: "w3".into(),
            key: CosignerKey::new(&wname(3), k.w3.public_key())?,
        }],
        1,
    );
    for max_age in [None, Some(NOW), Some(NOW - 1)] {
        policy.max_age = max_age;
        let v = verify_cosignatures(&n, &policy, NOW)?;
        assert_eq!(
            (
                v.cosigned[0].timestamp,
                v.cosigned[0].standing,
                v.quorum_met
            ),
            (0, CosignatureStanding::Undated, false),
            "{max_age:?}"
        );
        let e = v.check().unwrap_err();
        assert_eq!(e.code().as_str(), "threshold_not_met");
        assert!(e.detail().contains("timestamp 0"), "{e}");
    }
    Ok(())
}

/// The worked example in docs/FORMATS.md (witness cosignatures section) is what the code
/// produces.
#[test]
fn worked_example_in_the_format_doc_is_current() {
    let doc = support::format_doc_without_whitespace();
    let k = keys();
    let cp = checkpoint(10, "");
    let text = cp.to_text().unwrap();
    let line = cosign_deterministic(&text, &wname(1), &k.w1, T).unwrap();
    let msg = mldsa44_message(&wname(3), T + 2, LOG, 0, 10, &cp.root).unwrap();
    for s in [
        vkey(&wname(1), &k.w1),
        line.to_line().replace([' ', '\n'], ""),
        cairn_core::encoding::hex_encode(&msg),
        cp.extensions[0].replace(' ', ""),
    ] {
        assert!(doc.contains(&s), "docs/FORMATS.md lacks {s}");
    }
    assert_eq!(
        CosignerKey::new(&wname(3), k.w3.public_key())
            .unwrap()
            .key_id(),
        0xc9a3d8bf
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Damaged notes and vkeys never panic; a damaged note that still verifies states the same
    /// tree, and a damaged vkey that still parses is the same key.
    #[test]
    fn damaged_inputs_are_refused_or_unchanged(m in support::mutate::mutation()) {
        let k = keys();
        let cp = checkpoint(10, "");
        let full = note(&k, &cp, &[(1, &k.w1, T), (2, &k.w2, T), (3, &k.w3, T)]);
        let bytes = support::mutate::apply(full.as_bytes(), &m);
        let a = witnessed_args(&k, &full, all_witnesses(&k), 2, None);
        let policy = witness_policy(&a).unwrap();
        let log = log_verifiers(&a);
        let lp = CheckpointPolicy::new(LOG);
        if let Ok(w) = verify_witnessed_checkpoint(&bytes, &log, &lp, &policy, NOW) {
            proptest::prop_assert!(w.witnesses.cosigned.len() <= 3);
            proptest::prop_assert_eq!(w.checkpoint.root, cp.root);
        }
        let v = vkey(&wname(3), &k.w3);
        if let Ok(text) = String::from_utf8(support::mutate::apply(v.as_bytes(), &m)) {
            if let Ok(key) = CosignerKey::from_vkey(&text) {
                // The key id covers the name and the key: only its hex case may change.
                proptest::prop_assert_eq!(key, CosignerKey::from_vkey(&v).unwrap());
            }
        }
    }
}
