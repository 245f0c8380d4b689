//! Group commit: concurrent writes share one registry transaction (one fsync), and each is
//! acknowledged only after that transaction is durable.
//!
//! A writing request queues its operation and then either finds it already committed by
//! another request's batch, or takes the commit lock, drains the whole queue and commits it as
//! one transaction. While one batch commits, the next queues up behind it, so under load the
//! batch grows with the number of waiting writers. If the batch's transaction fails, each of
//! its operations is retried alone, so one bad request never fails the others.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use cairn_store::{NodeInfo, NodeSpec, Registry, StoreResult, Txn};

use crate::error::{ServiceError, ServiceResult};

/// A queued write.
#[derive(Debug, Clone)]
enum Op {
    Register(Box<NodeSpec>),
    Deregister(String),
}

/// What a write returned.
#[derive(Debug)]
enum Out {
    Node(Box<NodeInfo>),
    Seq(u64),
}

struct Job {
    op: Op,
    reply: SyncSender<StoreResult<Out>>,
}

/// The group-commit writer of one registry.
#[derive(Default)]
pub struct Writer {
    queue: Mutex<Vec<Job>>,
    commit: Mutex<()>,
    batches: std::sync::atomic::AtomicU64,
    ops: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

fn apply(tx: &mut Txn<'_>, op: &Op) -> StoreResult<Out> {
    match op {
        Op::Register(spec) => Ok(Out::Node(Box::new(tx.register_node(spec)?))),
        Op::Deregister(id) => Ok(Out::Seq(tx.deregister_node(id, "deregistered over HTTP")?)),
    }
}

impl Writer {
    /// Registers (or replaces) a node; returns once the commit holding it is durable.
    pub fn register_node(&self, reg: &Registry, spec: NodeSpec) -> ServiceResult<NodeInfo> {
        match self.submit(reg, Op::Register(Box::new(spec)))? {
            Out::Node(n) => Ok(*n),
            Out::Seq(_) => Err(ServiceError::internal(
                "the writer answered another operation",
            )),
        }
    }

    /// Deregisters a node; returns the ledger entry's sequence number once durable.
    pub fn deregister_node(&self, reg: &Registry, id: String) -> ServiceResult<u64> {
        match self.submit(reg, Op::Deregister(id))? {
            Out::Seq(s) => Ok(s),
            Out::Node(_) => Err(ServiceError::internal(
                "the writer answered another operation",
            )),
        }
    }

    /// (batches committed, operations committed) so far.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.batches.load(Relaxed), self.ops.load(Relaxed))
    }

    fn submit(&self, reg: &Registry, op: Op) -> ServiceResult<Out> {
        let (reply, rx): (_, Receiver<StoreResult<Out>>) = sync_channel(1);
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Job { op, reply });
        loop {
            if let Ok(r) = rx.try_recv() {
                return r.map_err(ServiceError::from);
            }
            let _leader = self.commit.lock().unwrap_or_else(|p| p.into_inner());
            // A batch committed while this request waited may hold its operation.
            if let Ok(r) = rx.try_recv() {
                return r.map_err(ServiceError::from);
            }
            let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
            self.commit_batch(reg, batch);
        }
    }

    fn commit_batch(&self, reg: &Registry, batch: Vec<Job>) {
        use std::sync::atomic::Ordering::Relaxed;
        if batch.is_empty() {
            return;
        }
        let ops: Vec<&Op> = batch.iter().map(|j| &j.op).collect();
        let together = reg.write(|tx| {
            ops.iter()
                .map(|op| apply(tx, op))
                .collect::<StoreResult<Vec<Out>>>()
        });
        match together {
            Ok(outs) => {
                self.batches.fetch_add(1, Relaxed);
                self.ops.fetch_add(outs.len() as u64, Relaxed);
                for (job, out) in batch.into_iter().zip(outs) {
                    let _ = job.reply.send(Ok(out));
                }
            }
            Err(e) if batch.len() == 1 => {
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
            Err(_) => {
                // One of them failed: each alone, so the others still commit.
                for job in batch {
                    let r = reg.write(|tx| apply(tx, &job.op));
                    if r.is_ok() {
                        self.batches.fetch_add(1, Relaxed);
                        self.ops.fetch_add(1, Relaxed);
                    }
                    let _ = job.reply.send(r);
                }
            }
        }
    }
}
