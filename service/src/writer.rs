//! Group commit: concurrent writes share one registry transaction (one fsync), and each is
//! acknowledged only after that transaction is durable.
//!
//! A writing request queues its operation and then either finds it already committed by
//! another request's batch, or takes the commit lock, drains the whole queue and commits it as
//! one transaction. While one batch commits, the next queues up behind it, so under load the
//! batch grows with the number of waiting writers. If the batch's transaction fails, each of
//! its operations is retried alone, so one bad request never fails the others.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cairn_core::crypto::KeyId;
use cairn_core::encoding::Digest;
use cairn_core::manifest::ManifestClaims;
use cairn_store::{
    ManifestInfo, NodeInfo, NodeSpec, Passphrase, Registry, StoreResult, TokenInfo, TokenRequest,
    Txn,
};

use crate::error::{ServiceError, ServiceResult};
use crate::metrics::Metrics;

/// A queued write.
#[derive(Debug, Clone)]
enum Op {
    Register(Box<NodeSpec>),
    Deregister(String),
    Checkpoint,
    /// Issue a token signed by a registry key.
    IssueToken(KeyId, Box<TokenRequest>, Option<Passphrase>),
    /// Revoke a token (id, reason) by a registry key.
    RevokeToken(Digest, String, KeyId, Option<Passphrase>),
    /// Sign a manifest with a registry key.
    SignManifest(KeyId, Box<ManifestClaims>, Option<Passphrase>),
    /// Revoke a manifest (digest, reason) by a registry key.
    RevokeManifest(Digest, String, KeyId, Option<Passphrase>),
}

/// What a write returned.
#[derive(Debug)]
enum Out {
    Node(Box<NodeInfo>),
    Token(Box<TokenInfo>),
    Manifest(Box<ManifestInfo>),
    Seq(u64),
    Size(u64),
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
    metrics: Option<Arc<Metrics>>,
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
        Op::Checkpoint => Ok(Out::Size(tx.create_checkpoint()?.size)),
        Op::IssueToken(issuer, req, pass) => Ok(Out::Token(Box::new(tx.issue_token(
            issuer,
            pass.as_ref(),
            req,
        )?))),
        Op::RevokeToken(id, reason, revoker, pass) => Ok(Out::Seq(tx.revoke_token(
            id,
            reason,
            revoker,
            pass.as_ref(),
        )?)),
        Op::SignManifest(signer, claims, pass) => Ok(Out::Manifest(Box::new(tx.sign_manifest(
            signer,
            pass.as_ref(),
            claims,
        )?))),
        Op::RevokeManifest(digest, reason, revoker, pass) => Ok(Out::Seq(tx.revoke_manifest(
            digest,
            reason,
            revoker,
            pass.as_ref(),
        )?)),
    }
}

fn other() -> ServiceError {
    ServiceError::internal("the writer answered another operation")
}

impl Writer {
    /// A writer reporting each commit's latency and size to `metrics`.
    pub fn with_metrics(metrics: Arc<Metrics>) -> Writer {
        Writer {
            metrics: Some(metrics),
            ..Writer::default()
        }
    }

    fn committed(&self, operations: usize, started: Instant) {
        use std::sync::atomic::Ordering::Relaxed;
        self.batches.fetch_add(1, Relaxed);
        self.ops.fetch_add(operations as u64, Relaxed);
        if let Some(m) = &self.metrics {
            m.commit(operations, started.elapsed());
        }
    }

    /// Registers (or replaces) a node; returns once the commit holding it is durable.
    pub fn register_node(&self, reg: &Registry, spec: NodeSpec) -> ServiceResult<NodeInfo> {
        match self.submit(reg, Op::Register(Box::new(spec)))? {
            Out::Node(n) => Ok(*n),
            _ => Err(ServiceError::internal(
                "the writer answered another operation",
            )),
        }
    }

    /// Deregisters a node; returns the ledger entry's sequence number once durable.
    pub fn deregister_node(&self, reg: &Registry, id: String) -> ServiceResult<u64> {
        match self.submit(reg, Op::Deregister(id))? {
            Out::Seq(s) => Ok(s),
            _ => Err(ServiceError::internal(
                "the writer answered another operation",
            )),
        }
    }

    /// Signs and stores a checkpoint of the tree as its batch leaves it (covering every
    /// write committed before this call); returns its size once durable.
    pub fn checkpoint(&self, reg: &Registry) -> ServiceResult<u64> {
        match self.submit(reg, Op::Checkpoint)? {
            Out::Size(s) => Ok(s),
            _ => Err(ServiceError::internal(
                "the writer answered another operation",
            )),
        }
    }

    /// Issues a token signed by the registry key `issuer` (`passphrase` opens it when sealed);
    /// returns it once the commit holding it is durable.
    pub fn issue_token(
        &self,
        reg: &Registry,
        issuer: KeyId,
        request: TokenRequest,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<TokenInfo> {
        match self.submit(reg, Op::IssueToken(issuer, Box::new(request), passphrase))? {
            Out::Token(t) => Ok(*t),
            _ => Err(other()),
        }
    }

    /// Revokes token `id` by the registry key `revoker`; returns the entry's sequence number.
    pub fn revoke_token(
        &self,
        reg: &Registry,
        id: Digest,
        reason: String,
        revoker: KeyId,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<u64> {
        match self.submit(reg, Op::RevokeToken(id, reason, revoker, passphrase))? {
            Out::Seq(s) => Ok(s),
            _ => Err(other()),
        }
    }

    /// Signs and records a manifest with the registry key `signer`.
    pub fn sign_manifest(
        &self,
        reg: &Registry,
        signer: KeyId,
        claims: ManifestClaims,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<ManifestInfo> {
        match self.submit(reg, Op::SignManifest(signer, Box::new(claims), passphrase))? {
            Out::Manifest(m) => Ok(*m),
            _ => Err(other()),
        }
    }

    /// Revokes manifest `digest` by the registry key `revoker`; returns the entry's sequence
    /// number.
    pub fn revoke_manifest(
        &self,
        reg: &Registry,
        digest: Digest,
        reason: String,
        revoker: KeyId,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<u64> {
        match self.submit(reg, Op::RevokeManifest(digest, reason, revoker, passphrase))? {
            Out::Seq(s) => Ok(s),
            _ => Err(other()),
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
        if batch.is_empty() {
            return;
        }
        let ops: Vec<&Op> = batch.iter().map(|j| &j.op).collect();
        let started = Instant::now();
        let together = reg.write(|tx| {
            ops.iter()
                .map(|op| apply(tx, op))
                .collect::<StoreResult<Vec<Out>>>()
        });
        match together {
            Ok(outs) => {
                self.committed(outs.len(), started);
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
                    let started = Instant::now();
                    let r = reg.write(|tx| apply(tx, &job.op));
                    if r.is_ok() {
                        self.committed(1, started);
                    }
                    let _ = job.reply.send(r);
                }
            }
        }
    }
}
