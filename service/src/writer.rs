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
use cairn_core::dsse::Envelope;
use cairn_core::encoding::Digest;
use cairn_core::manifest::ManifestClaims;
use cairn_core::peer::VouchPolicy;
use cairn_store::{
    HandleInfo, ManifestInfo, NodeInfo, NodeSpec, Passphrase, PeerInfo, Received, Registry,
    StoreError, StoreResult, TokenInfo, TokenRequest, Txn,
};

use crate::error::{ServiceError, ServiceResult};
use crate::metrics::Metrics;
use crate::peer::PeerSettings;

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
    /// Answer a peer's key request (its wire bytes) as this registry's peer identity.
    RespondKeyRequest(Vec<u8>, Arc<PeerSettings>, Option<Passphrase>),
    /// Ask a peer for its keys (peer id; `again`: even when they are verified).
    RequestPeerKeys(String, bool, Arc<PeerSettings>, Option<Passphrase>),
    /// Receive a peer's key response (its wire bytes).
    ReceiveKeyResponse(Vec<u8>, Arc<PeerSettings>),
    /// An operator accepts a peer's key (peer id, key id).
    AcceptPeerKey(String, KeyId),
    /// Remove a peer (peer id, reason).
    RemovePeer(String, String),
    /// Register a handle (blind index, identity sealed at rest).
    RegisterHandle(Digest, Vec<u8>),
    /// Register many handles (sync); one already held is reported, not an error.
    RegisterHandles(Vec<(Digest, Vec<u8>)>),
    /// Re-register a handle (blind index, the identity digest it replaces, new sealed identity).
    ReregisterHandle(Digest, Digest, Vec<u8>),
    /// Remove a handle (blind index, reason).
    RemoveHandle(Digest, String),
}

/// What a write returned.
#[derive(Debug)]
enum Out {
    Node(Box<NodeInfo>),
    Token(Box<TokenInfo>),
    Manifest(Box<ManifestInfo>),
    Seq(u64),
    Size(u64),
    Envelope(Box<Envelope>),
    Message(Option<Vec<u8>>),
    Received(Box<Result<Received, StoreError>>),
    Peer(Box<PeerInfo>),
    Handle(Box<HandleInfo>),
    Handles(Vec<crate::handles::Registered>),
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
        Op::RespondKeyRequest(request, peer, pass) => {
            let (env, _) = tx.respond_to_key_request(request, &peer.exchange, pass.as_ref())?;
            Ok(Out::Envelope(Box::new(env)))
        }
        Op::RequestPeerKeys(id, again, peer, pass) => Ok(Out::Message(tx.request_peer_keys(
            id,
            &peer.exchange,
            pass.as_ref(),
            *again,
        )?)),
        Op::ReceiveKeyResponse(response, peer) => {
            // The bootstrap pins come from the root this very transaction sees.
            let root = if peer.bootstrap_from_trust_root {
                tx.current_trust_root()?.map(|r| r.root)
            } else {
                None
            };
            let policy = VouchPolicy {
                bootstrap: root.as_ref(),
                transparency: &peer.logs,
                require_hybrid_checkpoint: peer.require_hybrid_checkpoint,
                trust_on_first_use: peer.trust_on_first_use,
            };
            let verdict = tx.receive_key_response(response, &peer.exchange, &policy)?;
            Ok(Out::Received(Box::new(verdict)))
        }
        Op::AcceptPeerKey(id, key) => Ok(Out::Peer(Box::new(tx.accept_peer_key(id, key)?))),
        Op::RemovePeer(id, reason) => Ok(Out::Seq(tx.remove_peer(id, reason)?)),
        Op::RegisterHandle(index, sealed) => {
            Ok(Out::Handle(Box::new(tx.register_handle(index, sealed)?)))
        }
        Op::ReregisterHandle(index, previous, sealed) => Ok(Out::Handle(Box::new(
            tx.reregister_handle(index, previous, sealed)?,
        ))),
        Op::RemoveHandle(index, reason) => Ok(Out::Seq(tx.remove_handle(index, reason)?)),
        Op::RegisterHandles(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, sealed) in items {
                if tx.handle(index)?.is_some() {
                    out.push(Err(StoreError::new(
                        cairn_store::StoreCode::AlreadyExists,
                        "this handle is already registered",
                    )));
                } else {
                    out.push(Ok(tx.register_handle(index, sealed)?));
                }
            }
            Ok(Out::Handles(out))
        }
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

    /// Answers a peer's key request as this registry's peer identity; returns the signed
    /// response envelope once the replay state that accepted the request is durable.
    pub fn respond_to_key_request(
        &self,
        reg: &Registry,
        request: Vec<u8>,
        peer: Arc<PeerSettings>,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<Envelope> {
        match self.submit(reg, Op::RespondKeyRequest(request, peer, passphrase))? {
            Out::Envelope(e) => Ok(*e),
            _ => Err(other()),
        }
    }

    /// A key request to peer `id` (`None` when its keys are verified and `again` is false),
    /// returned once its pending nonce is durable.
    pub fn request_peer_keys(
        &self,
        reg: &Registry,
        id: String,
        again: bool,
        peer: Arc<PeerSettings>,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<Option<Vec<u8>>> {
        match self.submit(reg, Op::RequestPeerKeys(id, again, peer, passphrase))? {
            Out::Message(m) => Ok(m),
            _ => Err(other()),
        }
    }

    /// Receives a peer's key response. The outer result fails when nothing was committed; the
    /// inner one is the verdict on the key (the replay state is committed either way).
    pub fn receive_key_response(
        &self,
        reg: &Registry,
        response: Vec<u8>,
        peer: Arc<PeerSettings>,
    ) -> ServiceResult<Result<Received, StoreError>> {
        match self.submit(reg, Op::ReceiveKeyResponse(response, peer))? {
            Out::Received(r) => Ok(*r),
            _ => Err(other()),
        }
    }

    /// An operator accepts peer `id`'s key `key`.
    pub fn accept_peer_key(
        &self,
        reg: &Registry,
        id: String,
        key: KeyId,
    ) -> ServiceResult<PeerInfo> {
        match self.submit(reg, Op::AcceptPeerKey(id, key))? {
            Out::Peer(p) => Ok(*p),
            _ => Err(other()),
        }
    }

    /// Removes peer `id`; returns the ledger entry's sequence number.
    pub fn remove_peer(&self, reg: &Registry, id: String, reason: String) -> ServiceResult<u64> {
        match self.submit(reg, Op::RemovePeer(id, reason))? {
            Out::Seq(s) => Ok(s),
            _ => Err(other()),
        }
    }

    /// Registers a handle (blind index, identity sealed at rest); returns once durable.
    pub fn register_handle(
        &self,
        reg: &Registry,
        index: Digest,
        sealed: Vec<u8>,
    ) -> ServiceResult<HandleInfo> {
        match self.submit(reg, Op::RegisterHandle(index, sealed))? {
            Out::Handle(h) => Ok(*h),
            _ => Err(other()),
        }
    }

    /// Re-registers a handle: `previous` is the identity digest it must hold now (a
    /// compare-and-swap); returns once durable.
    pub fn reregister_handle(
        &self,
        reg: &Registry,
        index: Digest,
        previous: Digest,
        sealed: Vec<u8>,
    ) -> ServiceResult<HandleInfo> {
        match self.submit(reg, Op::ReregisterHandle(index, previous, sealed))? {
            Out::Handle(h) => Ok(*h),
            _ => Err(other()),
        }
    }

    /// Removes a handle; returns its `handle_removed` entry once durable.
    pub fn remove_handle(
        &self,
        reg: &Registry,
        index: Digest,
        reason: String,
    ) -> ServiceResult<u64> {
        match self.submit(reg, Op::RemoveHandle(index, reason))? {
            Out::Seq(seq) => Ok(seq),
            _ => Err(other()),
        }
    }

    /// Registers handles in one commit; each result says whether it was registered or
    /// already held (`already_exists`).
    pub fn register_handles(
        &self,
        reg: &Registry,
        items: Vec<(Digest, Vec<u8>)>,
    ) -> ServiceResult<Vec<crate::handles::Registered>> {
        match self.submit(reg, Op::RegisterHandles(items))? {
            Out::Handles(h) => Ok(h),
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
