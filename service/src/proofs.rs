//! Proof-of-possession signatures checked together.
//!
//! Every authorized write carries one holder signature (docs/SERVICE.md, "Who may write"),
//! and under load that check is the largest part of a request's CPU. Ed25519 signatures
//! checked together in one batch equation ([`cairn_core::crypto::batch`]) cost a fraction of
//! checking them one by one, so the service checks the signatures of concurrent requests
//! together.
//!
//! Only Ed25519 holders' signatures are batched: the others have no batch equation, and each
//! request checks its own, as before.
//!
//! No thread, no timer: the first request to arrive when no check runs *leads*. It takes every
//! signature queued meanwhile (at most [`MAX_BATCH`], its own first), checks them on its own
//! task, answers the others, and hands the lead to the first request that queued while it
//! worked. A request alone is checked at once, by itself, as before; batches form only when
//! requests arrive faster than their signatures are checked, and grow with the load.
//!
//! Invariants:
//! - `leading` is true exactly while one request holds the lead: it is set by the request that
//!   takes it, and cleared only by [`ProofBatcher::hand_over`] finding no request waiting. A
//!   request handed the lead whose future was dropped before it ran hands it on in `Drop`;
//!   a leader that panics hands it on while unwinding. So the lead is never lost and no
//!   signature waits for a leader that will not come.
//! - A leader checks its batch without awaiting: it cannot be cancelled halfway.
//! - The verdicts are single verification's: the same errors, the same first bad item. A
//!   failed batch equation costs one extra equation, never one per bad signature: after the
//!   first bad item the rest are checked one by one.
//!
//! What a batch accepts beyond single verification: two signatures crafted together by their
//! signer with torsion components can pass the equation where single verification refuses
//! them (the module docs of [`cairn_core::crypto::batch`]). Only the holder's private key makes
//! such a signature, so it still proves possession; docs/SECURITY.md records it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cairn_core::crypto::batch::verify_batch;
use cairn_core::crypto::PublicKey;
use cairn_core::http::{proof_signature_refused, PendingProof};
use tokio::sync::oneshot;

/// Most signatures one batch checks. A leader checks them on its request's task (tokio worker
/// thread), about 64 × 10–20 µs here: long enough to gain most of the batch equation's saving,
/// short enough not to hold a worker for more than a millisecond.
pub const MAX_BATCH: usize = 64;

/// A signature to check: the holder's key and the proof's pending part.
#[derive(Debug)]
struct Item {
    holder: PublicKey,
    proof: PendingProof,
}

/// The answer to one signature: its verdict, and its share of its batch's time.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Single verification's verdict (`signature_invalid` for a bad signature).
    pub verdict: cairn_core::Result<()>,
    /// The batch's checking time over its size (what the metrics count for this signature).
    pub cost: Duration,
    /// How many signatures the batch held.
    pub batch: usize,
}

/// What a queued request receives.
#[derive(Debug)]
enum Turn {
    Checked(Checked),
    /// The lead, with the request's own signature (taken off the queue by the last leader).
    Lead(Box<Item>),
}

#[derive(Debug)]
struct Waiter {
    item: Item,
    reply: oneshot::Sender<Turn>,
}

#[derive(Debug, Default)]
struct State {
    waiting: VecDeque<Waiter>,
    leading: bool,
}

/// Checks proof-of-possession signatures of concurrent requests in batches (module docs).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use cairn_core::crypto::{Algorithm, SigningKey};
/// use cairn_core::http::{check_request_proof, sign_request, RequestProof};
/// use cairn_service::proofs::ProofBatcher;
///
/// let holder = SigningKey::from_seed(Algorithm::Ed25519, &[1; 32]);
/// let header = sign_request(&holder, &[7; 32], "POST", "/x", b"{}", 1_700_000_000, "0123456789abcdef").unwrap();
/// let proof = RequestProof::parse(&header).unwrap();
/// let pending = check_request_proof(holder.public_key(), &[7; 32], "POST", "/x", b"{}", &proof, 1_700_000_000, 300).unwrap();
///
/// let batcher = ProofBatcher::default();
/// let checked = batcher.verify(holder.public_key().clone(), pending.clone()).await.unwrap();
/// assert!(checked.verdict.is_ok());
/// // Another holder's key: refused, as single verification refuses it.
/// let other = SigningKey::from_seed(Algorithm::Ed25519, &[2; 32]);
/// let checked = batcher.verify(other.public_key().clone(), pending).await.unwrap();
/// assert_eq!(checked.verdict.unwrap_err().code(), cairn_core::ErrorCode::SignatureInvalid);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct ProofBatcher {
    state: Mutex<State>,
    batches: AtomicU64,
    signatures: AtomicU64,
}

/// Batches checked so far, and the signatures they held ([`ProofBatcher::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProofStats {
    /// Batches checked (a signature checked alone is a batch of one).
    pub batches: u64,
    /// Signatures checked.
    pub signatures: u64,
}

impl ProofBatcher {
    /// Checks `proof`'s signature by `holder`, alone or in a batch with those of concurrent
    /// requests. Dropping the future before it ends drops the check, never another's. `None`
    /// only when the request leading its batch panicked (a bug) before answering it.
    pub async fn verify(&self, holder: PublicKey, proof: PendingProof) -> Option<Checked> {
        let item = Item { holder, proof };
        if holder_algorithm_has_no_batch(&item.holder) {
            // Nothing to gain from a batch: checked here, in parallel with the others.
            return check(&[&item]).pop();
        }
        let rx = {
            let mut state = self.lock();
            if state.leading {
                let (reply, rx) = oneshot::channel();
                state.waiting.push_back(Waiter { item, reply });
                rx
            } else {
                state.leading = true;
                drop(state);
                return Some(self.lead(item));
            }
        };
        let mut waiting = Waiting {
            batcher: self,
            rx: Some(rx),
        };
        let turn = match waiting.rx.as_mut() {
            Some(rx) => rx.await,
            None => unreachable!("set above"),
        };
        waiting.rx = None;
        match turn {
            Ok(Turn::Checked(checked)) => Some(checked),
            Ok(Turn::Lead(item)) => Some(self.lead(*item)),
            // The leader panicked before answering (and handed the lead on while unwinding).
            Err(_) => None,
        }
    }

    /// Batches checked so far, and their signatures (Ed25519 holders' only: the others are
    /// checked alone, uncounted).
    pub fn stats(&self) -> ProofStats {
        ProofStats {
            batches: self.batches.load(Relaxed),
            signatures: self.signatures.load(Relaxed),
        }
    }

    /// Holding the lead: checks `own` with the signatures queued (up to [`MAX_BATCH`] in all),
    /// answers their requests, hands the lead on, and returns `own`'s answer.
    fn lead(&self, own: Item) -> Checked {
        let _lead = Leading(self);
        let others: Vec<Waiter> = {
            let mut state = self.lock();
            let n = state.waiting.len().min(MAX_BATCH - 1);
            state.waiting.drain(..n).collect()
        };
        let mut items = Vec::with_capacity(others.len() + 1);
        items.push(&own);
        items.extend(others.iter().map(|w| &w.item));
        self.batches.fetch_add(1, Relaxed);
        self.signatures.fetch_add(items.len() as u64, Relaxed);
        let mut answers = check(&items).into_iter();
        let own_answer = answers.next().expect("one answer per item");
        for (waiter, answer) in others.into_iter().zip(answers) {
            // A request gone meanwhile (timed out, client away) no longer needs its answer.
            let _ = waiter.reply.send(Turn::Checked(answer));
        }
        own_answer
        // `_lead` hands the lead on here.
    }

    /// Gives the lead to the first request still waiting, or clears it when none is.
    fn hand_over(&self) {
        let mut state = self.lock();
        while let Some(Waiter { item, reply }) = state.waiting.pop_front() {
            match reply.send(Turn::Lead(Box::new(item))) {
                Ok(()) => return,
                // Its request is gone; so is its check.
                Err(_) => continue,
            }
        }
        state.leading = false;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement that changes it: a panic elsewhere
        // while holding the lock leaves nothing half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `holder`'s signatures have no batch equation (ML-DSA, hybrids): a leader would
/// check them one by one, on one worker, where each request checking its own spreads them.
fn holder_algorithm_has_no_batch(holder: &PublicKey) -> bool {
    holder.algorithm() != cairn_core::crypto::Algorithm::Ed25519
}

/// The lead, held by one request: handed on when it ends, by return or by panic.
struct Leading<'a>(&'a ProofBatcher);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.0.hand_over();
    }
}

/// A request waiting in the queue. Dropped before its answer came (its request timed out or
/// its client went away), it makes sure a lead handed to it is passed on.
struct Waiting<'a> {
    batcher: &'a ProofBatcher,
    rx: Option<oneshot::Receiver<Turn>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // Closed first, so no lead can arrive after the look below.
            rx.close();
            if let Ok(Turn::Lead(_)) = rx.try_recv() {
                self.batcher.hand_over();
            }
        }
    }
}

/// Single verification's verdicts for `items`, one equation for all when there are several.
fn check(items: &[&Item]) -> Vec<Checked> {
    let started = Instant::now();
    let mut verdicts: Vec<cairn_core::Result<()>> = vec![Ok(()); items.len()];
    if let [only] = items {
        // Alone, the holder's prepared key checks faster than an equation of one.
        verdicts[0] = only.proof.verify(&only.holder);
    } else {
        let batch: Vec<_> = items
            .iter()
            .map(|i| i.proof.batch_item(&i.holder))
            .collect();
        if let Err(failure) = verify_batch(&batch) {
            // The items before the first bad one verified. Those after are checked one by one:
            // a client sending bad signatures costs every batch it joins one equation, not one
            // per bad signature.
            verdicts[failure.index] = Err(proof_signature_refused(failure.error));
            for (verdict, item) in verdicts.iter_mut().zip(items).skip(failure.index + 1) {
                *verdict = item.proof.verify(&item.holder);
            }
        }
    }
    let n = items.len();
    let cost = started.elapsed() / u32::try_from(n).unwrap_or(u32::MAX);
    verdicts
        .into_iter()
        .map(|verdict| Checked {
            verdict,
            cost,
            batch: n,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::crypto::{Algorithm, SigningKey};
    use cairn_core::http::{check_request_proof, sign_request, RequestProof};
    use std::future::Future;
    use std::sync::Arc;

    const NOW: u64 = 1_700_000_000;

    /// A holder's pending proof over path `/p{i}`.
    fn pending(holder: &SigningKey, i: usize) -> PendingProof {
        let path = format!("/p{i}");
        let header = sign_request(
            holder,
            &[7; 32],
            "POST",
            &path,
            b"{}",
            NOW,
            "0123456789abcdef",
        )
        .expect("sign");
        let proof = RequestProof::parse(&header).expect("proof");
        check_request_proof(
            holder.public_key(),
            &[7; 32],
            "POST",
            &path,
            b"{}",
            &proof,
            NOW,
            300,
        )
        .expect("pending")
    }

    fn key(seed: u8, algorithm: Algorithm) -> SigningKey {
        SigningKey::from_seed(algorithm, &[seed; 32])
    }

    /// Each signature of a batch gets single verification's verdict, wherever the bad ones
    /// stand: good, bad (another path's signature), bad key, and an ML-DSA holder mixed in.
    #[test]
    fn a_batch_gives_single_verifications_verdicts() {
        let holders: Vec<SigningKey> = (1..=6)
            .map(|s| key(s, Algorithm::Ed25519))
            .chain([key(9, Algorithm::MlDsa44)])
            .collect();
        let cases: &[&[bool]] = &[
            &[true; 7],
            &[false, true, true, true, true, true, true],
            &[true, true, true, false, true, false, true],
            &[true, true, true, true, true, true, false],
            &[false; 7],
        ];
        for good in cases {
            let items: Vec<Item> = holders
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let mut proof = pending(h, i);
                    if !good[i] {
                        // Signed over another request: the message no longer matches.
                        proof.message = pending(h, i + 100).message;
                    }
                    Item {
                        holder: h.public_key().clone(),
                        proof,
                    }
                })
                .collect();
            let refs: Vec<&Item> = items.iter().collect();
            let got = check(&refs);
            for (i, (c, item)) in got.iter().zip(&items).enumerate() {
                let single = item.proof.verify(&item.holder);
                assert_eq!(c.verdict, single, "item {i} of {good:?}");
                assert_eq!(c.verdict.is_ok(), good[i], "item {i} of {good:?}");
                assert_eq!(c.batch, 7);
            }
        }
    }

    /// Concurrent requests share batches; every one gets its own verdict, the lead is
    /// released at the end, and requests dropped while queued do not stall the others.
    #[test]
    fn concurrent_requests_are_answered_and_the_lead_released() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("runtime");
        let batcher = Arc::new(ProofBatcher::default());
        let holders: Vec<SigningKey> = (1..=8).map(|s| key(s, Algorithm::Ed25519)).collect();
        let requests: Vec<(bool, PublicKey, PendingProof)> = (0..320)
            .map(|n| {
                let h = &holders[n % 8];
                let mut proof = pending(h, n);
                let bad = n % 5 == 0;
                if bad {
                    proof.message.push(b'!');
                }
                (bad, h.public_key().clone(), proof)
            })
            .collect();
        // Another request holds the lead while these queue, so they form full batches.
        batcher.lock().leading = true;
        let (sizes, refused) = rt.block_on(async {
            let mut tasks = Vec::new();
            for (n, (bad, holder, proof)) in requests.into_iter().enumerate() {
                let b = batcher.clone();
                let task = tokio::spawn(async move { (bad, b.verify(holder, proof).await) });
                // Some requests go away while they wait.
                if n % 7 == 3 {
                    task.abort();
                } else {
                    tasks.push(task);
                }
            }
            while batcher.lock().waiting.len() < tasks.len() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            batcher.hand_over();
            let (mut sizes, mut refused) = (Vec::new(), 0);
            for t in tasks {
                let (bad, checked) = t.await.expect("task");
                let checked = checked.expect("answered");
                assert_eq!(checked.verdict.is_err(), bad);
                if bad {
                    assert_eq!(
                        checked.verdict.unwrap_err().code(),
                        cairn_core::ErrorCode::SignatureInvalid
                    );
                    refused += 1;
                }
                sizes.push(checked.batch);
            }
            (sizes, refused)
        });
        assert!(refused > 0);
        assert_eq!(sizes.iter().max(), Some(&MAX_BATCH), "{sizes:?}");
        let stats = batcher.stats();
        assert!(stats.signatures >= sizes.len() as u64);
        assert!(stats.batches < stats.signatures, "{stats:?}");
        let state = batcher.lock();
        assert!(!state.leading, "the lead is released once nothing waits");
        assert!(state.waiting.is_empty());
    }

    /// A request handed the lead after its future was dropped passes the lead on, so the
    /// request queued behind it is still answered.
    #[test]
    fn a_dropped_waiter_hands_its_lead_on() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let holder = key(1, Algorithm::Ed25519);
        let batcher = ProofBatcher::default();
        rt.block_on(async {
            // As if another request held the lead.
            batcher.lock().leading = true;
            let first = batcher.verify(holder.public_key().clone(), pending(&holder, 1));
            let second = batcher.verify(holder.public_key().clone(), pending(&holder, 2));
            let (mut first, mut second) = (Box::pin(first), Box::pin(second));
            // Both queue.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(first.as_mut().poll(&mut cx).is_pending());
            assert!(second.as_mut().poll(&mut cx).is_pending());
            assert_eq!(batcher.lock().waiting.len(), 2);
            // The lead is handed to the first, which goes away before it runs.
            batcher.hand_over();
            drop(first);
            // The second received the lead and checks its own signature.
            let checked = second.await.expect("answered");
            assert!(checked.verdict.is_ok());
            assert_eq!(checked.batch, 1);
        });
        assert!(!batcher.lock().leading);
    }

    /// An ML-DSA holder's signature has no batch equation: it is checked at once on its own
    /// request's task, even while a lead is held, and never queues.
    #[test]
    fn signatures_without_a_batch_equation_do_not_queue() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let holder = key(3, Algorithm::MlDsa44);
        let batcher = ProofBatcher::default();
        batcher.lock().leading = true;
        let (good, bad) = rt.block_on(async {
            let good = batcher.verify(holder.public_key().clone(), pending(&holder, 1));
            let mut forged = pending(&holder, 2);
            forged.message.push(b'!');
            let bad = batcher.verify(holder.public_key().clone(), forged);
            (good.await, bad.await)
        });
        assert!(good.expect("answered").verdict.is_ok());
        assert_eq!(
            bad.expect("answered").verdict.unwrap_err().code(),
            cairn_core::ErrorCode::SignatureInvalid
        );
        assert!(batcher.lock().waiting.is_empty());
        assert_eq!(batcher.stats(), ProofStats::default());
    }
}
