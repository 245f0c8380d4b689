//! Proof-of-possession signatures checked together.
//!
//! Every authorized write carries one holder signature (docs/SERVICE.md, "Who may write"),
//! and that check is about a fifth of a served write's CPU, the largest part of its handler's
//! own work (docs/PERFORMANCE.md, "Where a served write's CPU goes"). Ed25519 signatures
//! checked together in one batch equation ([`cairn_core::crypto::batch`]) cost a fraction of
//! checking them one by one, so the service checks the signatures of concurrent requests
//! together.
//!
//! Only Ed25519 holders' signatures are batched: the others have no batch equation, and each
//! request checks its own, as before.
//!
//! No thread, no timer: a request whose proof is ready when fewer checks run than the limit (one
//! per two cores, at least one) *leads*. It takes every signature queued meanwhile (at most
//! [`MAX_BATCH`], its own first), checks them on its own task, answers the others, and hands
//! the lead to the first request that queued while it worked. A request that finds a lead free
//! is checked at once, by itself; batches form only when requests arrive faster than the
//! leaders check them, and grow with the load; on a larger machine several batches run at once.
//!
//! Invariants:
//! - `leaders` counts the requests holding a lead: one takes it when fewer than the limit are
//!   held, and it is given back only by `ProofBatcher::hand_over` finding no request waiting
//!   (a lead handed over moves from one request to the next, the count unchanged). A request
//!   handed the lead whose future was dropped before it ran hands it on in `Drop`; a leader
//!   that panics hands it on while unwinding. So no lead is lost and no signature waits for
//!   a leader that will not come.
//! - A leader checks its batch without awaiting: it cannot be cancelled halfway.
//! - The verdicts are single verification's, the same errors for every signature
//!   ([`cairn_core::crypto::batch::verify_each`]), but for the one case below. A batch whose
//!   equation fails is searched with equations over its halves, within a bound (three times
//!   the batch), and what they do not clear is checked alone: one or two bad signatures cost
//!   their batch a few smaller equations and at most four single checks; many bad ones cost a
//!   single check each, as unbatched, plus equations over at most four times the batch.
//! - A request gone while queued (its future dropped) is skipped by the leader: its signature
//!   is not checked.
//!
//! What a batch accepts beyond single verification: two signatures crafted together by their
//! signer with torsion components can pass the equation where single verification refuses
//! them (the module docs of [`cairn_core::crypto::batch`]). Only the holder's private key makes
//! such a signature, so it still proves possession; docs/SECURITY.md records it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cairn_core::crypto::batch::verify_each;
use cairn_core::crypto::PublicKey;
use cairn_core::http::{proof_signature_refused, PendingProof};
use tokio::sync::oneshot;

/// Most signatures one batch checks. A leader checks them on its request's task (a tokio
/// worker thread), 64 in about 1–1.5 ms on the 2-core machines of docs/PERFORMANCE.md: most of
/// the batch equation's saving, without holding a worker much longer.
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
    /// Requests holding a lead (module docs, invariants).
    leaders: usize,
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
#[derive(Debug)]
pub struct ProofBatcher {
    state: Mutex<State>,
    /// Most leads held at once.
    max_leaders: usize,
    batches: AtomicU64,
    signatures: AtomicU64,
}

impl Default for ProofBatcher {
    /// One lead per two cores ([`std::thread::available_parallelism`]), at least one. With one
    /// per core the leads are never all taken (no more requests run at once than there are
    /// workers) and no batch forms: measured on 2 cores, batches of 1.0 signatures against 2.5–2.9
    /// with one lead (docs/PERFORMANCE.md). Half the cores still check batches in parallel on a
    /// larger machine.
    fn default() -> ProofBatcher {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ProofBatcher::with_leaders(cores / 2)
    }
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
    /// A batcher running at most `leaders` batches at once (at least one).
    pub fn with_leaders(leaders: usize) -> ProofBatcher {
        ProofBatcher {
            state: Mutex::default(),
            max_leaders: leaders.max(1),
            batches: AtomicU64::new(0),
            signatures: AtomicU64::new(0),
        }
    }

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
            if state.leaders < self.max_leaders {
                state.leaders += 1;
                drop(state);
                return Some(self.lead(item));
            }
            let (reply, rx) = oneshot::channel();
            state.waiting.push_back(Waiter { item, reply });
            rx
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
        let mut others: Vec<Waiter> = Vec::new();
        {
            let mut state = self.lock();
            while others.len() < MAX_BATCH - 1 {
                match state.waiting.pop_front() {
                    // Its request is gone (timed out, client away): nothing to check.
                    Some(w) if w.reply.is_closed() => continue,
                    Some(w) => others.push(w),
                    None => break,
                }
            }
        }
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

    /// Gives a lead on to the first request still waiting, or back when none is.
    fn hand_over(&self) {
        let mut state = self.lock();
        while let Some(Waiter { item, reply }) = state.waiting.pop_front() {
            match reply.send(Turn::Lead(Box::new(item))) {
                Ok(()) => return,
                // Its request is gone; so is its check.
                Err(_) => continue,
            }
        }
        // Never below zero, even were a lead handed back twice (a bug, which tests catch):
        // wrapping would leave every later request queued for a leader that never comes.
        debug_assert!(state.leaders > 0, "a lead handed back twice");
        state.leaders = state.leaders.saturating_sub(1);
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

/// Single verification's verdicts for `items` ([`verify_each`]).
fn check(items: &[&Item]) -> Vec<Checked> {
    let started = Instant::now();
    let verdicts = match items {
        // Alone, the holder's prepared key checks faster than the batch's preparation.
        [only] => vec![only.proof.verify(&only.holder)],
        _ => {
            let batch: Vec<_> = items
                .iter()
                .map(|i| i.proof.batch_item(&i.holder))
                .collect();
            verify_each(&batch)
                .into_iter()
                .map(|v| v.map_err(proof_signature_refused))
                .collect()
        }
    };
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
        pending_as(holder, i, i)
    }

    /// A proof signed by `holder` for path `/p{signed}` and presented for `/p{presented}`:
    /// good when they are the same, refused (`signature_invalid`) otherwise.
    fn pending_as(holder: &SigningKey, signed: usize, presented: usize) -> PendingProof {
        let header = sign_request(
            holder,
            &[7; 32],
            "POST",
            &format!("/p{signed}"),
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
            &format!("/p{presented}"),
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
    /// stand: good, bad (signed over another path), and an ML-DSA holder mixed in.
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
                    // A bad one was signed over another request.
                    let proof = pending_as(h, i, if good[i] { i } else { i + 100 });
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
        let batcher = Arc::new(ProofBatcher::with_leaders(2));
        let holders: Vec<SigningKey> = (1..=8).map(|s| key(s, Algorithm::Ed25519)).collect();
        let requests: Vec<(bool, PublicKey, PendingProof)> = (0..320)
            .map(|n| {
                let h = &holders[n % 8];
                let bad = n % 5 == 0;
                let proof = pending_as(h, n, if bad { n + 1000 } else { n });
                (bad, h.public_key().clone(), proof)
            })
            .collect();
        // Other requests hold both leads while these queue, so they form full batches.
        batcher.lock().leaders = 2;
        let (sizes, refused) = rt.block_on(async {
            let (mut tasks, mut gone) = (Vec::new(), Vec::new());
            for (n, (bad, holder, proof)) in requests.into_iter().enumerate() {
                let b = batcher.clone();
                let task = tokio::spawn(async move { (bad, b.verify(holder, proof).await) });
                if n % 7 == 3 {
                    gone.push(task);
                } else {
                    tasks.push(task);
                }
            }
            while batcher.lock().waiting.len() < 320 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            // Some requests go away while they wait (their futures dropped, still queued).
            for task in gone {
                task.abort();
                assert!(task.await.unwrap_err().is_cancelled());
            }
            assert_eq!(batcher.lock().waiting.len(), 320);
            // Both leads come back, each to a queued request.
            batcher.hand_over();
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
        assert_eq!(
            state.leaders, 0,
            "the leads are given back once nothing waits"
        );
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
        let batcher = ProofBatcher::with_leaders(1);
        rt.block_on(async {
            // As if another request held the lead.
            batcher.lock().leaders = 1;
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
        assert_eq!(batcher.lock().leaders, 0);
    }

    /// An ML-DSA holder's signature has no batch equation: it is checked at once on its own
    /// request's task, even while a lead is held, and never queues.
    #[test]
    fn signatures_without_a_batch_equation_do_not_queue() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let holder = key(3, Algorithm::MlDsa44);
        let batcher = ProofBatcher::with_leaders(1);
        batcher.lock().leaders = 1;
        let (good, bad) = rt.block_on(async {
            let good = batcher.verify(holder.public_key().clone(), pending(&holder, 1));
            let bad = batcher.verify(holder.public_key().clone(), pending_as(&holder, 2, 3));
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
