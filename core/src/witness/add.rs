//! The witness's side of C2SP `tlog-witness` `add-checkpoint`, as pure rules: the request
//! body, and what a witness may cosign given the checkpoint it cosigned last for the log.
//!
//! A request body is `old <size>\n`, up to 63 lines of one base64 hash each (the consistency
//! proof), an empty line, then the signed checkpoint note. The witness answers:
//!
//! | refusal | HTTP status | when |
//! |---|---|---|
//! | [`RefusalKind::BadRequest`] | 400 | the body does not parse; `old` is larger than the checkpoint's size |
//! | [`RefusalKind::UnknownLog`] | 404 | the origin is not a log the witness follows |
//! | [`RefusalKind::Forbidden`] | 403 | no signature of a trusted log key, or one that does not verify |
//! | [`RefusalKind::Conflict`] | 409 | `old` is not the size the witness cosigned last (the body is that size) |
//! | [`RefusalKind::Unprocessable`] | 422 | a bad consistency proof; a proof from size 0; the same size with another root; a size-0 checkpoint without the empty root |
//!
//! The one rule a witness must never break: it never cosigns two different roots for one size
//! of a log. [`AddCheckpoint::check_against`] only accepts a checkpoint that extends (or
//! repeats) the latest cosigned one, so sizes never go down and a size is cosigned only with
//! the root the state holds; a witness that records the new state durably and atomically with
//! the check (compare-and-swap on `old`) before it answers keeps the rule across crashes.

use alloc::string::String;
use alloc::vec::Vec;

use crate::checkpoint::Checkpoint;
use crate::encoding::{b64_decode, b64_encode, Digest};
use crate::merkle::{verify_consistency, EMPTY_ROOT};
use crate::note::{Note, NoteVerifier};
use crate::ErrorCode;

/// Most consistency proof lines a request may carry (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// Why a witness refuses an `add-checkpoint` request (each maps to one HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// 400: the request is malformed, or `old` exceeds the checkpoint's size.
    BadRequest,
    /// 403: no valid signature of a trusted key of the log.
    Forbidden,
    /// 404: the origin is not a log this witness follows.
    UnknownLog,
    /// 409: `old` is not the size of the latest cosigned checkpoint, which is given.
    Conflict(u64),
    /// 422: the checkpoint is not consistent with the latest cosigned one.
    Unprocessable,
}

impl RefusalKind {
    /// The HTTP status code.
    pub const fn status(self) -> u16 {
        match self {
            RefusalKind::BadRequest => 400,
            RefusalKind::Forbidden => 403,
            RefusalKind::UnknownLog => 404,
            RefusalKind::Conflict(_) => 409,
            RefusalKind::Unprocessable => 422,
        }
    }
}

/// A refused `add-checkpoint`: its kind and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What kind of refusal (the HTTP status).
    pub kind: RefusalKind,
    /// Why, for logs and the response body.
    pub detail: String,
}

impl Refusal {
    fn new(kind: RefusalKind, detail: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            detail: detail.into(),
        }
    }

    /// The response body: the size and a newline for a conflict (`text/x.tlog.size`), else
    /// the detail and a newline.
    pub fn body(&self) -> String {
        match self.kind {
            RefusalKind::Conflict(size) => alloc::format!("{size}\n"),
            _ => alloc::format!("{}\n", self.detail),
        }
    }
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {}", self.kind.status(), self.detail)
    }
}

/// A parsed `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness cosigned last.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Digest>,
    /// The signed note, as sent.
    pub note: Note,
    /// The checkpoint the note's text states.
    pub checkpoint: Checkpoint,
    /// The checkpoint is of size 0 with another root than the empty tree's: refused (422) by
    /// [`AddCheckpoint::check_against`], so that an unknown log (404) or a bad signature (403)
    /// is told first, as tlog-witness orders them.
    bad_empty_root: bool,
}

fn bad(detail: impl Into<String>) -> Refusal {
    Refusal::new(RefusalKind::BadRequest, detail)
}

fn unprocessable(detail: impl Into<String>) -> Refusal {
    Refusal::new(RefusalKind::Unprocessable, detail)
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A size-0 checkpoint text with another root than the empty tree's (the one checkpoint text
/// error that is 422, not 400), parsed as if it carried the empty root and then given its own.
fn bad_empty_root(text: &str) -> Option<Checkpoint> {
    let mut lines = text.splitn(4, '\n');
    let (origin, size, root, rest) = (lines.next()?, lines.next()?, lines.next()?, lines.next());
    let root = Digest::try_from(b64_decode(root).ok()?.as_slice()).ok()?;
    if size != "0" || root == EMPTY_ROOT {
        return None;
    }
    let empty = alloc::format!(
        "{origin}\n0\n{}\n{}",
        b64_encode(&EMPTY_ROOT),
        rest.unwrap_or("")
    );
    let mut checkpoint = Checkpoint::parse_text(&empty).ok()?;
    checkpoint.root = root;
    Some(checkpoint)
}

impl AddCheckpoint {
    /// Parses a request body (400 on any syntax error). A size-0 checkpoint whose root is not
    /// SHA-256 of the empty string parses, and [`AddCheckpoint::check_against`] refuses it
    /// (422) once the log and its signature are known good.
    ///
    /// ```
    /// use cairn_core::checkpoint::Checkpoint;
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::merkle::EMPTY_ROOT;
    /// use cairn_core::witness::add::AddCheckpoint;
    /// let key = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    /// let note = Checkpoint::new("example.test/log", 0, EMPTY_ROOT).sign(&[("example.test/log", &key)])?;
    /// let req = AddCheckpoint::parse(format!("old 0\n\n{note}").as_bytes()).map_err(|r| r.to_string())?;
    /// assert_eq!((req.old, req.proof.len(), req.checkpoint.size), (0, 0, 0));
    /// assert_eq!(AddCheckpoint::body(0, &[], &note), format!("old 0\n\n{note}"));
    /// assert_eq!(AddCheckpoint::parse(b"old 00\n\n").unwrap_err().kind.status(), 400);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, Refusal> {
        let text = core::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
        let split = text
            .find("\n\n")
            .ok_or_else(|| bad("no empty line after the old size and the proof"))?;
        let (head, note) = (&text[..split], &text[split + 2..]);
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(parse_decimal)
            .ok_or_else(|| {
                bad("the first line must be `old <size>` in decimal without leading zeros")
            })?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(alloc::format!(
                    "more than {MAX_PROOF_LINES} consistency proof lines"
                )));
            }
            let h = b64_decode(line)
                .ok()
                .and_then(|h| Digest::try_from(h.as_slice()).ok())
                .ok_or_else(|| bad("a consistency proof line is not the base64 of 32 bytes"))?;
            proof.push(h);
        }
        let note = Note::parse(note.as_bytes())
            .map_err(|e| bad(alloc::format!("the checkpoint note: {}", e.detail())))?;
        let (checkpoint, bad_empty_root) = match Checkpoint::parse_text(note.text()) {
            Ok(c) => (c, false),
            Err(e) => match bad_empty_root(note.text()) {
                Some(c) => (c, true),
                None => return Err(bad(alloc::format!("the checkpoint: {}", e.detail()))),
            },
        };
        Ok(AddCheckpoint {
            old,
            proof,
            note,
            checkpoint,
            bad_empty_root,
        })
    }

    /// The request body a client sends: `old`, the proof lines, an empty line, the note.
    pub fn body(old: u64, proof: &[Digest], note: &str) -> String {
        let mut s = alloc::format!("old {old}\n");
        for h in proof {
            s.push_str(&b64_encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(note);
        s
    }

    /// Checks the log's signature with the log's trusted note verifiers: lines of other keys
    /// are ignored; every line of a trusted key must verify, repeated ones included
    /// ([`Note::verify_strict`]), and at least one must be present (403 otherwise).
    pub fn check_signature(&self, log_keys: &[NoteVerifier]) -> Result<(), Refusal> {
        match self.note.verify_strict(log_keys) {
            Ok(ok) if !ok.is_empty() => Ok(()),
            Ok(_) => Err(Refusal::new(
                RefusalKind::Forbidden,
                "no signature of a trusted key of the log",
            )),
            Err(e) if e.code() == ErrorCode::UnknownKey => Err(Refusal::new(
                RefusalKind::Forbidden,
                "no signature of a trusted key of the log",
            )),
            Err(e) => Err(Refusal::new(RefusalKind::Forbidden, e.detail())),
        }
    }

    /// Judges the checkpoint against `latest`, the (size, root) of the checkpoint this witness
    /// cosigned last for the log (`None`: never). `Ok` means the witness may record the
    /// checkpoint as its latest and cosign it.
    ///
    /// In order: a size-0 checkpoint without the empty tree's root (422); `old` above the
    /// checkpoint's size (400); `old` other than the latest size, 0
    /// when none (409 with the latest size); a non-empty proof from size 0 (422); the same
    /// size with another root, or a consistency proof from the latest root that does not
    /// verify (422).
    ///
    /// ```
    /// use cairn_core::checkpoint::Checkpoint;
    /// use cairn_core::crypto::{Algorithm, SigningKey};
    /// use cairn_core::merkle::{leaf_hash, root_of};
    /// use cairn_core::witness::add::{AddCheckpoint, RefusalKind};
    /// let key = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
    /// let leaves: Vec<_> = (0..4u8).map(|i| leaf_hash(&[i])).collect();
    /// let note = Checkpoint::new("example.test/log", 4, root_of(&leaves)).sign(&[("example.test/log", &key)])?;
    /// let proof = [root_of(&leaves[2..])];
    /// let req = AddCheckpoint::parse(AddCheckpoint::body(2, &proof, &note).as_bytes()).map_err(|r| r.to_string())?;
    /// assert!(req.check_against(Some((2, root_of(&leaves[..2])))).is_ok());
    /// assert_eq!(req.check_against(Some((3, root_of(&leaves[..3])))).unwrap_err().kind, RefusalKind::Conflict(3));
    /// assert_eq!(req.check_against(Some((2, [7; 32]))).unwrap_err().kind, RefusalKind::Unprocessable);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_against(&self, latest: Option<(u64, Digest)>) -> Result<(), Refusal> {
        if self.bad_empty_root {
            return Err(unprocessable(
                "a checkpoint of size 0 must carry the root of the empty tree",
            ));
        }
        let size = self.checkpoint.size;
        if self.old > size {
            return Err(bad(alloc::format!(
                "old size {} is larger than the checkpoint's size {size}",
                self.old
            )));
        }
        let (latest_size, latest_root) = latest.unwrap_or((0, EMPTY_ROOT));
        if self.old != latest_size {
            return Err(Refusal::new(
                RefusalKind::Conflict(latest_size),
                alloc::format!(
                    "old size {} is not the size {latest_size} this witness cosigned last",
                    self.old
                ),
            ));
        }
        if self.old == 0 {
            return if self.proof.is_empty() {
                Ok(())
            } else {
                Err(unprocessable(
                    "a consistency proof from size 0 must be empty",
                ))
            };
        }
        if self.old == size && self.checkpoint.root != latest_root {
            return Err(unprocessable(alloc::format!(
                "this witness cosigned another root for size {size}"
            )));
        }
        verify_consistency(
            self.old,
            size,
            &latest_root,
            &self.checkpoint.root,
            &self.proof,
        )
        .map_err(|e| {
            unprocessable(alloc::format!(
                "the consistency proof from size {} to {size}: {}",
                self.old,
                e.detail()
            ))
        })
    }
}

#[cfg(test)]
#[cfg(feature = "std")]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, SigningKey};
    use crate::merkle::{leaf_hash, root_of};
    use alloc::format;

    const O: &str = "example.test/log";

    fn leaves(n: u8) -> Vec<Digest> {
        (0..n).map(|i| leaf_hash(&[i])).collect()
    }

    fn signed(size: u64, root: Digest) -> String {
        let key = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
        Checkpoint::new(O, size, root).sign(&[(O, &key)]).unwrap()
    }

    fn req(old: u64, proof: &[Digest], size: u64, root: Digest) -> AddCheckpoint {
        AddCheckpoint::parse(AddCheckpoint::body(old, proof, &signed(size, root)).as_bytes())
            .unwrap()
    }

    fn status(body: &str) -> u16 {
        AddCheckpoint::parse(body.as_bytes())
            .unwrap_err()
            .kind
            .status()
    }

    #[test]
    fn body_syntax() {
        let note = signed(0, EMPTY_ROOT);
        let h = b64_encode(&[1; 32]);
        for bad in [
            format!("old 0\n{note}"),
            format!("old 01\n\n{note}"),
            format!("old -1\n\n{note}"),
            format!("old  1\n\n{note}"),
            format!("Old 1\n\n{note}"),
            format!("old 1\nnot-base64\n\n{note}"),
            format!("old 1\n{}\n\n{note}", b64_encode(&[1; 31])),
            format!(
                "old 1\n{}\n\n{note}",
                format!("{h}\n").repeat(64).trim_end()
            ),
            "old 0\n\nexample.test/log\n0\n".into(),
            String::from("old 0\n\n\u{0}"),
        ] {
            assert_eq!(status(&bad), 400, "{bad:?}");
        }
        let ok = format!(
            "old 1\n{}\n\n{note}",
            format!("{h}\n").repeat(63).trim_end()
        );
        assert_eq!(AddCheckpoint::parse(ok.as_bytes()).unwrap().proof.len(), 63);
        // A size-0 checkpoint with another root parses, and is 422 once judged, as the spec
        // says (after the origin and the signature, which the caller checks in between).
        let zero = format!(
            "{O}\n0\n{}\n\n\u{2014} {O} AAAAAAE=\n",
            b64_encode(&[1; 32])
        );
        let parsed = AddCheckpoint::parse(format!("old 0\n\n{zero}").as_bytes()).unwrap();
        assert_eq!(parsed.checkpoint.root, [1; 32]);
        assert_eq!(parsed.check_against(None).unwrap_err().kind.status(), 422);
        // Its other lines are checked as any checkpoint's: a bad origin line is still 400.
        let bad_origin = zero.replacen(O, "", 1);
        assert_eq!(status(&format!("old 0\n\n{bad_origin}")), 400);
    }

    #[test]
    fn consistency_rules() {
        let l = leaves(8);
        let r = |n: usize| root_of(&l[..n]);
        // First checkpoint: old 0, no proof.
        assert!(req(0, &[], 5, r(5)).check_against(None).is_ok());
        assert_eq!(
            req(0, &[[1; 32]], 5, r(5))
                .check_against(None)
                .unwrap_err()
                .kind,
            RefusalKind::Unprocessable
        );
        assert_eq!(
            req(3, &[], 5, r(5)).check_against(None).unwrap_err().kind,
            RefusalKind::Conflict(0)
        );
        assert_eq!(
            req(0, &[], 5, r(5))
                .check_against(Some((5, r(5))))
                .unwrap_err()
                .kind,
            RefusalKind::Conflict(5)
        );
        // old above the size: 400 before anything else.
        assert_eq!(
            req(6, &[], 5, r(5))
                .check_against(Some((6, r(6))))
                .unwrap_err()
                .kind,
            RefusalKind::BadRequest
        );
        // Same size: same root only, no proof.
        assert!(req(5, &[], 5, r(5)).check_against(Some((5, r(5)))).is_ok());
        assert_eq!(
            req(5, &[], 5, r(4))
                .check_against(Some((5, r(5))))
                .unwrap_err()
                .kind,
            RefusalKind::Unprocessable
        );
        // Growth: a real proof verifies; a damaged one, or one to a forked root, does not.
        struct T<'a>(&'a [Digest]);
        impl crate::merkle::TreeHashes for T<'_> {
            fn tree_size(&self) -> u64 {
                self.0.len() as u64
            }
            fn subtree_hash(&self, level: u8, index: u64) -> crate::Result<Digest> {
                let lo = (index << level) as usize;
                Ok(root_of(&self.0[lo..lo + (1usize << level)]))
            }
        }
        let proof = crate::merkle::prove_consistency(&T(&l), 5, 8).unwrap();
        assert!(req(5, &proof, 8, r(8))
            .check_against(Some((5, r(5))))
            .is_ok());
        let mut damaged = proof.clone();
        damaged[0][0] ^= 1;
        for bad in [
            req(5, &damaged, 8, r(8)),
            req(5, &proof, 8, [9; 32]),
            req(5, &[], 8, r(8)),
        ] {
            assert_eq!(
                bad.check_against(Some((5, r(5)))).unwrap_err().kind,
                RefusalKind::Unprocessable
            );
        }
        // From a forked state the honest proof does not verify.
        assert_eq!(
            req(5, &proof, 8, r(8))
                .check_against(Some((5, [3; 32])))
                .unwrap_err()
                .kind,
            RefusalKind::Unprocessable
        );
    }

    #[test]
    fn signatures() {
        let key = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
        let other = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
        let trusted = NoteVerifier::for_key(O, key.public_key()).unwrap();
        let untrusted = NoteVerifier::for_key(O, other.public_key()).unwrap();
        let r = req(0, &[], 0, EMPTY_ROOT);
        assert!(r.check_signature(&trusted).is_ok());
        assert_eq!(
            r.check_signature(&untrusted).unwrap_err().kind,
            RefusalKind::Forbidden
        );
        // A damaged line of the trusted key: 403 too.
        let note = signed(0, EMPTY_ROOT);
        let mut n = Note::parse(note.as_bytes()).unwrap();
        let mut sig = n.signatures()[0].clone();
        sig.signature[10] ^= 1;
        n.push_signature(sig).unwrap();
        let body = AddCheckpoint::body(0, &[], &n.encode().unwrap());
        let r = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(
            r.check_signature(&trusted).unwrap_err().kind,
            RefusalKind::Forbidden
        );
    }
}
