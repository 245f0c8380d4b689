//! Group commit: concurrent writes share one registry transaction (one fsync), and each is
//! acknowledged only after that transaction is durable and its rollback anchor written.
//!
//! A writing request queues its operation and waits for its answer. The writer's committer
//! thread takes every operation queued (up to [`MAX_BATCH`]) and commits them as one
//! transaction; while it commits, the next operations queue up behind it, so under load the
//! batch grows with the number of waiting writers. An operation that fails is answered with
//! its error and the transaction is run again without it, so one refused request never fails
//! the others, nor costs them a commit each.
//!
//! A durable commit still owes its anchor (`<registry>.anchor`: a record written in place and
//! an fsync). The committer hands the batch to the writer's anchor thread and goes on with the
//! next transaction; the anchor thread writes the newest anchor owed
//! (one write covers every commit handed to it meanwhile) and only then answers the requests.
//! So an answer still means "durable, and anchored", and the anchor's fsync no longer stands
//! between one commit and the next.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

use cairn_core::crypto::KeyId;
use cairn_core::dsse::Envelope;
use cairn_core::encoding::Digest;
use cairn_core::manifest::ManifestClaims;
use cairn_core::peer::VouchPolicy;
use cairn_core::UnixTime;
use cairn_store::{
    AnchorDue, HandleInfo, ManifestInfo, NodeInfo, NodeSpec, Passphrase, PeerInfo, Received,
    Registry, StoreError, StoreResult, TokenInfo, TokenRequest, Txn,
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
    AcceptPeerKey(String, KeyId, cairn_store::WeakerAlgorithm),
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
    /// Panics when applied: how the tests reach the writer's answer to a panicking operation.
    #[cfg(test)]
    Panic,
}

/// What a write returned.
#[derive(Debug)]
enum Out {
    /// The node, and whether it replaced one registered before.
    Node(Box<NodeInfo>, bool),
    Token(Box<TokenInfo>),
    Manifest(Box<ManifestInfo>),
    Seq(u64),
    Size(u64),
    Envelope(Box<Envelope>),
    Message(Option<Vec<u8>>),
    Received(Box<ReceivedVerdict>),
    Peer(Box<PeerInfo>),
    Handle(Box<HandleInfo>),
    Handles(Vec<crate::handles::Registered>),
}

/// What receiving a key response did ([`Writer::receive_key_response`]).
#[derive(Debug)]
pub struct ReceivedVerdict {
    /// The verdict on the key (committed either way, with the replay state).
    pub verdict: Result<Received, StoreError>,
    /// The registry's own trust root had expired, so its bootstrap pins were not applied, nor
    /// first use (`[peer] bootstrap_from_trust_root`; [`cairn_store::OwnBootstrapPins`]).
    pub own_root_expired: bool,
}

/// Most operations one transaction holds (more queued wait for the next).
pub const MAX_BATCH: usize = 1024;

/// Most operations waiting for the committer: beyond, a write is refused at once (`503
/// unavailable`, `Retry-After: 1`) rather than queued behind work the committer cannot reach
/// in time.
pub const QUEUE_CAPACITY: usize = 8 * MAX_BATCH;

/// How many times a batch runs again without an operation refused after others: at the next
/// such refusal, the operations before it (known to succeed in that order) commit and the rest
/// go on as a batch of their own. So an operation is applied at most `RETRIES + 2` times
/// (which matters for one that unseals a key with Argon2), and refusals late in a full batch
/// do not cost quadratic work.
pub const RETRIES: usize = 1;

/// Where a write's answer goes: a one-shot channel its request waits on, blocking (a thread of
/// the blocking pool) or as a future (a request's task).
type Reply = tokio::sync::oneshot::Sender<ServiceResult<Out>>;

struct Job {
    op: Op,
    reply: Reply,
    /// The request a blocking-pool thread queued this for ([`for_request`]); `None` for a
    /// job queued as a future, whose waiting is its `reply`'s receiver.
    request: Option<Weak<()>>,
}

impl Job {
    /// Whether anyone still waits for this job's answer: its future is not dropped, and the
    /// request it was queued for (from the blocking pool) is still waited for.
    fn is_waited_for(&self) -> bool {
        !self.reply.is_closed() && self.request.as_ref().is_none_or(|r| r.strong_count() > 0)
    }
}

thread_local! {
    /// The request a blocking-pool thread works for while [`for_request`] runs: its handle is
    /// dead once nobody waits for that request's answer.
    static REQUEST: RefCell<Option<Weak<()>>> = const { RefCell::new(None) };
}

/// Runs `f` for a request that is waited for as long as `request` can be upgraded. A write
/// `f` submits (on this thread, which blocks until the answer) is then dropped, not applied,
/// if the request is no longer waited for when the committer reaches it (it timed out, or its
/// client went away), exactly as a write whose future was dropped: the blocked thread holds the
/// answer's receiver, so the receiver alone cannot tell.
pub(crate) fn for_request<T>(request: Weak<()>, f: impl FnOnce() -> T) -> T {
    /// Restores the thread's previous request, on return and on unwinding.
    struct Restore(Option<Weak<()>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            REQUEST.with(|r| *r.borrow_mut() = previous);
        }
    }
    let _restore = Restore(REQUEST.with(|r| r.replace(Some(request))));
    f()
}

/// A committed batch on its way to the anchor thread: each request's answer, sent once the
/// anchor its commit owes (or a newer one) is written.
type Settling = Vec<Answer>;

/// One request's answer, and the anchor its commit owes ([`AnchorDue::NONE`] for a refusal,
/// or a commit that signed no new head).
struct Answer {
    reply: Reply,
    out: StoreResult<Out>,
    anchor: AnchorDue,
}

impl Answer {
    fn refused(reply: Reply, e: StoreError) -> Answer {
        Answer {
            reply,
            out: Err(e),
            anchor: AnchorDue::NONE,
        }
    }
}

/// The newest anchor the commits of `answers` owe.
fn owed(answers: &[Answer]) -> AnchorDue {
    answers
        .iter()
        .map(|a| a.anchor)
        .max()
        .unwrap_or(AnchorDue::NONE)
}

/// Batches and operations committed, and the committer's time spent on them.
#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    ops: AtomicU64,
    /// Nanoseconds the committer spent from taking a batch to handing its answers on.
    busy_ns: AtomicU64,
}

/// What a [`Writer`] has done so far ([`Writer::stats`]).
///
/// The committer is the one serial stage of every write: `busy` over a stretch of wall time
/// says how close it ran to its limit (near 100%, writes go as fast as commits of
/// `operations / batches` writes follow each other, whatever the cores have left).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use std::sync::Arc;
/// use cairn_service::writer::Writer;
/// use cairn_store::{CreateOptions, Protection, Registry};
/// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.org/log", Protection::Insecure))?;
/// let writer = Writer::start(Arc::new(reg), None)?;
/// writer.checkpoint()?;
/// let stats = writer.stats();
/// assert_eq!((stats.batches, stats.operations), (1, 1));
/// assert!(stats.busy > std::time::Duration::ZERO);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: u64,
    /// Operations committed in them.
    pub operations: u64,
    /// Time the committer spent on batches (running and committing their transactions,
    /// refusals included), rather than waiting for work.
    pub busy: std::time::Duration,
}

/// The group-commit writer of one registry: a committer thread and an anchor thread, stopped
/// (after the operations already queued) when it is dropped.
///
/// # Panics
///
/// The methods that return once their write is durable block their thread until then: call
/// them from tokio's blocking pool (or outside a runtime). Called on an async task, they panic
/// (tokio refuses to block a runtime thread). [`Writer::register_node`] is a future instead.
pub struct Writer {
    jobs: Mutex<Option<SyncSender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Drop for Writer {
    /// Stops taking operations, lets the threads finish those queued, and waits for them: once
    /// this returns, the writer holds no reference to the registry.
    fn drop(&mut self) {
        drop(self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take());
        for t in std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner())) {
            let _ = t.join();
        }
    }
}

fn apply(tx: &mut Txn<'_>, op: &Op) -> StoreResult<Out> {
    match op {
        #[cfg(test)]
        Op::Panic => panic!("an operation that panics"),
        Op::Register(spec) => {
            let (info, replaced) = tx.register_or_replace_node(spec)?;
            Ok(Out::Node(Box::new(info), replaced))
        }
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
            // The bootstrap pins come from the root this very transaction sees, by the rule
            // `cairn peer receive` follows too (`OwnBootstrapPins`: an expired root pins
            // nothing and turns first use off).
            let own = if peer.bootstrap_from_trust_root {
                tx.own_bootstrap_pins()?
            } else {
                cairn_store::OwnBootstrapPins::default()
            };
            let policy = VouchPolicy {
                bootstrap: own.root(),
                transparency: &peer.logs,
                require_hybrid_checkpoint: peer.require_hybrid_checkpoint,
                trust_on_first_use: own.trust_on_first_use(peer.trust_on_first_use),
                max_age: peer.max_checkpoint_age,
            };
            let verdict = tx.receive_key_response(response, &peer.exchange, &policy)?;
            Ok(Out::Received(Box::new(ReceivedVerdict {
                verdict,
                own_root_expired: own.expired(),
            })))
        }
        Op::AcceptPeerKey(id, key, weaker) => {
            Ok(Out::Peer(Box::new(tx.accept_peer_key(id, key, *weaker)?)))
        }
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
    /// Starts the writer of `reg`, reporting each commit's latency and size to `metrics`.
    pub fn start(reg: Arc<Registry>, metrics: Option<Arc<Metrics>>) -> ServiceResult<Writer> {
        Writer::start_with_capacity(reg, metrics, QUEUE_CAPACITY)
    }

    /// [`Writer::start`] with at most `capacity` operations waiting for the committer.
    fn start_with_capacity(
        reg: Arc<Registry>,
        metrics: Option<Arc<Metrics>>,
        capacity: usize,
    ) -> ServiceResult<Writer> {
        let (jobs, queued) = sync_channel::<Job>(capacity);
        let (settle, settling) = channel::<Settling>();
        let counts = Arc::new(Counts::default());
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(f)
                .map_err(|e| ServiceError::internal(format!("cannot start the writer: {e}")))
        };
        let (r, c) = (reg.clone(), counts.clone());
        let committer = spawn(
            "cairn-writer",
            Box::new(move || commit_loop(&r, &queued, &settle, &c, metrics.as_deref())),
        )?;
        let anchorer = spawn(
            "cairn-anchor",
            Box::new(move || anchor_loop(&reg, &settling)),
        )?;
        Ok(Writer {
            jobs: Mutex::new(Some(jobs)),
            threads: Mutex::new(vec![committer, anchorer]),
            counts,
        })
    }

    /// Registers (or replaces) a node; returns it, and whether it replaced a registered one,
    /// once the commit holding it is durable. A future: the request waiting for it holds no
    /// thread.
    pub async fn register_node(&self, spec: NodeSpec) -> ServiceResult<(NodeInfo, bool)> {
        match self.queue(Op::Register(Box::new(spec)))?.await? {
            Out::Node(n, replaced) => Ok((*n, replaced)),
            _ => Err(ServiceError::internal(
                "the writer answered another operation",
            )),
        }
    }

    /// Deregisters a node; returns the ledger entry's sequence number once durable.
    pub fn deregister_node(&self, id: String) -> ServiceResult<u64> {
        match self.submit(Op::Deregister(id))? {
            Out::Seq(s) => Ok(s),
            _ => Err(ServiceError::internal(
                "the writer answered another operation",
            )),
        }
    }

    /// Signs and stores a checkpoint of the tree at its place in its batch (covering every
    /// write committed before this call, and those queued before it in the same batch);
    /// returns its size once durable.
    pub fn checkpoint(&self) -> ServiceResult<u64> {
        match self.submit(Op::Checkpoint)? {
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
        issuer: KeyId,
        request: TokenRequest,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<TokenInfo> {
        match self.submit(Op::IssueToken(issuer, Box::new(request), passphrase))? {
            Out::Token(t) => Ok(*t),
            _ => Err(other()),
        }
    }

    /// Revokes token `id` by the registry key `revoker`; returns the entry's sequence number.
    pub fn revoke_token(
        &self,
        id: Digest,
        reason: String,
        revoker: KeyId,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<u64> {
        match self.submit(Op::RevokeToken(id, reason, revoker, passphrase))? {
            Out::Seq(s) => Ok(s),
            _ => Err(other()),
        }
    }

    /// Signs and records a manifest with the registry key `signer`.
    pub fn sign_manifest(
        &self,
        signer: KeyId,
        claims: ManifestClaims,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<ManifestInfo> {
        match self.submit(Op::SignManifest(signer, Box::new(claims), passphrase))? {
            Out::Manifest(m) => Ok(*m),
            _ => Err(other()),
        }
    }

    /// Revokes manifest `digest` by the registry key `revoker`; returns the entry's sequence
    /// number.
    pub fn revoke_manifest(
        &self,
        digest: Digest,
        reason: String,
        revoker: KeyId,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<u64> {
        match self.submit(Op::RevokeManifest(digest, reason, revoker, passphrase))? {
            Out::Seq(s) => Ok(s),
            _ => Err(other()),
        }
    }

    /// Answers a peer's key request as this registry's peer identity; returns the signed
    /// response envelope once the replay state that accepted the request is durable.
    pub fn respond_to_key_request(
        &self,
        request: Vec<u8>,
        peer: Arc<PeerSettings>,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<Envelope> {
        match self.submit(Op::RespondKeyRequest(request, peer, passphrase))? {
            Out::Envelope(e) => Ok(*e),
            _ => Err(other()),
        }
    }

    /// A key request to peer `id` (`None` when its keys are verified and `again` is false),
    /// returned once its pending nonce is durable.
    pub fn request_peer_keys(
        &self,
        id: String,
        again: bool,
        peer: Arc<PeerSettings>,
        passphrase: Option<Passphrase>,
    ) -> ServiceResult<Option<Vec<u8>>> {
        match self.submit(Op::RequestPeerKeys(id, again, peer, passphrase))? {
            Out::Message(m) => Ok(m),
            _ => Err(other()),
        }
    }

    /// Receives a peer's key response. Fails when nothing was committed; otherwise the verdict
    /// on the key (the replay state is committed either way).
    pub fn receive_key_response(
        &self,
        response: Vec<u8>,
        peer: Arc<PeerSettings>,
    ) -> ServiceResult<ReceivedVerdict> {
        match self.submit(Op::ReceiveKeyResponse(response, peer))? {
            Out::Received(r) => Ok(*r),
            _ => Err(other()),
        }
    }

    /// An operator accepts peer `id`'s key `key` (one of a weaker algorithm only when
    /// `weaker` allows it: [`cairn_store::Txn::accept_peer_key`]).
    pub fn accept_peer_key(
        &self,
        id: String,
        key: KeyId,
        weaker: cairn_store::WeakerAlgorithm,
    ) -> ServiceResult<PeerInfo> {
        match self.submit(Op::AcceptPeerKey(id, key, weaker))? {
            Out::Peer(p) => Ok(*p),
            _ => Err(other()),
        }
    }

    /// Removes peer `id`; returns the ledger entry's sequence number.
    pub fn remove_peer(&self, id: String, reason: String) -> ServiceResult<u64> {
        match self.submit(Op::RemovePeer(id, reason))? {
            Out::Seq(s) => Ok(s),
            _ => Err(other()),
        }
    }

    /// Registers a handle (blind index, identity sealed at rest); returns once durable.
    pub fn register_handle(&self, index: Digest, sealed: Vec<u8>) -> ServiceResult<HandleInfo> {
        match self.submit(Op::RegisterHandle(index, sealed))? {
            Out::Handle(h) => Ok(*h),
            _ => Err(other()),
        }
    }

    /// Re-registers a handle: `previous` is the identity digest it must hold now (a
    /// compare-and-swap); returns once durable.
    pub fn reregister_handle(
        &self,
        index: Digest,
        previous: Digest,
        sealed: Vec<u8>,
    ) -> ServiceResult<HandleInfo> {
        match self.submit(Op::ReregisterHandle(index, previous, sealed))? {
            Out::Handle(h) => Ok(*h),
            _ => Err(other()),
        }
    }

    /// Removes a handle; returns its `handle_removed` entry once durable.
    pub fn remove_handle(&self, index: Digest, reason: String) -> ServiceResult<u64> {
        match self.submit(Op::RemoveHandle(index, reason))? {
            Out::Seq(seq) => Ok(seq),
            _ => Err(other()),
        }
    }

    /// Registers handles in one commit; each result says whether it was registered or
    /// already held (`already_exists`).
    pub fn register_handles(
        &self,
        items: Vec<(Digest, Vec<u8>)>,
    ) -> ServiceResult<Vec<crate::handles::Registered>> {
        match self.submit(Op::RegisterHandles(items))? {
            Out::Handles(h) => Ok(h),
            _ => Err(other()),
        }
    }

    /// Batches and operations committed so far, and the committer's busy time.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counts.batches.load(Relaxed),
            operations: self.counts.ops.load(Relaxed),
            busy: std::time::Duration::from_nanos(self.counts.busy_ns.load(Relaxed)),
        }
    }

    /// Queues `op` and waits until it is committed (durable, its anchor written) or refused.
    /// Blocking: for threads of the blocking pool (or outside a runtime). Inside
    /// [`for_request`], the write is dropped if its request is no longer waited for when the
    /// committer reaches it.
    fn submit(&self, op: Op) -> ServiceResult<Out> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = REQUEST.with(|r| r.borrow().clone());
        self.send(Job { op, reply, request })?;
        settled(answer.blocking_recv())
    }

    /// Queues `op`; the future resolves once it is committed (durable, its anchor written) or
    /// refused.
    fn queue(
        &self,
        op: Op,
    ) -> ServiceResult<impl std::future::Future<Output = ServiceResult<Out>>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Job {
            op,
            reply,
            request: None,
        })?;
        Ok(async move { settled(answer.await) })
    }

    fn send(&self, job: Job) -> ServiceResult<()> {
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .ok_or_else(stopped)?
            .try_send(job);
        match sent {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ServiceError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "{QUEUE_CAPACITY} writes are already waiting for the registry; retry later"
                ),
            )
            .with_details(serde_json::json!({"retry_after_seconds": 1}))),
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }

    /// Whether the writer's threads are running (false once one has stopped: every write
    /// then fails).
    pub fn is_running(&self) -> bool {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
            && self
                .threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .all(|t| !t.is_finished())
    }
}

fn stopped() -> ServiceError {
    ServiceError::internal("the registry's writer has stopped")
}

/// A write's answer as its request sees it.
fn settled(
    answer: Result<ServiceResult<Out>, tokio::sync::oneshot::error::RecvError>,
) -> ServiceResult<Out> {
    answer.map_err(|_| stopped())?
}

/// The code of [`not_anchored`]'s answer.
const NOT_ANCHORED: &str = "not_anchored";

/// Whether a write answered `e` is committed nonetheless (`not_anchored`, 500: durable, its
/// rollback anchor written with a later commit): what goes with the write (a handle's devices
/// hidden, say) must follow it as for an answered one.
///
/// ```
/// use cairn_service::{writer::committed_anyway, ServiceError};
/// assert!(!committed_anyway(&ServiceError::bad_request("refused before the commit")));
/// ```
pub fn committed_anyway(e: &ServiceError) -> bool {
    e.code == NOT_ANCHORED
}

/// The answer to a write whose commit is durable but whose rollback anchor could not be
/// written: a failure of the service (500), whose code and details say the write itself is
/// committed, so a client does not send it again.
fn not_anchored(e: &StoreError) -> ServiceError {
    tracing::error!("a commit is durable but its rollback anchor could not be written: {e}");
    ServiceError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        NOT_ANCHORED,
        format!(
            "the write is committed and durable, but the rollback anchor could not be written: {e}"
        ),
    )
    .with_details(serde_json::json!({"committed": true}))
}

/// The committer thread: takes what is queued, commits it as one transaction, hands the
/// answers to the anchor thread, and goes on; returns when the writer is dropped.
fn commit_loop(
    reg: &Registry,
    queued: &Receiver<Job>,
    settle: &Sender<Settling>,
    counts: &Counts,
    metrics: Option<&Metrics>,
) {
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A request that stopped waiting (its client went away, or it timed out) is not
        // applied: nobody would learn its outcome, and under overload this sheds the work of
        // requests already answered with a timeout.
        batch.retain(Job::is_waited_for);
        if batch.is_empty() {
            continue;
        }
        let started = Instant::now();
        let settling = commit_batch(reg, batch, counts, metrics);
        let busy = started.elapsed();
        counts
            .busy_ns
            .fetch_add(u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        if let Some(m) = metrics {
            m.writer_busy(busy);
        }
        if let Err(unsent) = settle.send(settling) {
            // The anchor thread is gone (only when it panicked): answer from here.
            answer(reg, vec![unsent.0]);
        }
    }
}

/// The anchor thread: writes the newest anchor owed by the batches handed to it, then answers
/// their requests; returns when the committer is gone.
fn anchor_loop(reg: &Registry, settling: &Receiver<Settling>) {
    while let Ok(first) = settling.recv() {
        let mut group = vec![first];
        while let Ok(more) = settling.try_recv() {
            group.push(more);
        }
        answer(reg, group);
    }
}

/// Writes the anchor `group` owes (the newest covers the others), then sends its answers; a
/// write whose commit is durable but whose anchor could not be written is answered
/// `not_anchored` (500, `details.committed`: true), not as a write that failed.
fn answer(reg: &Registry, group: Vec<Settling>) {
    let answers: Vec<Answer> = group.into_iter().flatten().collect();
    let anchored = reg.write_anchor(owed(&answers));
    for a in answers {
        let out = match (&anchored, a.out) {
            (Err(e), Ok(_)) if a.anchor != AnchorDue::NONE => Err(not_anchored(e)),
            (_, out) => out.map_err(ServiceError::from),
        };
        let _ = a.reply.send(out);
    }
}

fn committed(counts: &Counts, metrics: Option<&Metrics>, operations: usize, started: Instant) {
    counts.batches.fetch_add(1, Relaxed);
    counts.ops.fetch_add(operations as u64, Relaxed);
    if let Some(m) = metrics {
        m.commit(operations, started.elapsed());
    }
}

/// Commits `batch` as one transaction. Its operations run in queue order; one that fails is
/// answered with its error (what it meets after those before it) and the transaction runs
/// again without it, so a refused request costs the others one aborted pass, not a commit
/// each. After [`RETRIES`] such passes, the next refusal commits the operations before it
/// (known to succeed in that order) and the rest go on as a batch of their own. Every pass
/// reads the clock once for the whole batch, so an operation run again meets the same time
/// and reaches the same verdict. A commit that fails with every operation applied is retried
/// one operation at a time.
fn commit_batch(
    reg: &Registry,
    batch: Vec<Job>,
    counts: &Counts,
    metrics: Option<&Metrics>,
) -> Settling {
    let now = reg.now();
    let mut settling = Settling::with_capacity(batch.len());
    let mut pending = batch;
    let mut retries = 0;
    while !pending.is_empty() {
        match run(reg, &pending, now, counts, metrics) {
            Ok((anchor, outs)) => {
                settle(&mut settling, pending, anchor, outs);
                break;
            }
            Err((e, Some(i))) => {
                let refused = pending.remove(i);
                settling.push(Answer::refused(refused.reply, e));
                // A refusal of the first operation left nothing applied to run again.
                if i == 0 {
                    continue;
                }
                if retries < RETRIES {
                    retries += 1;
                    continue;
                }
                let rest = pending.split_off(i);
                let known_good = std::mem::replace(&mut pending, rest);
                retries = 0;
                match run(reg, &known_good, now, counts, metrics) {
                    Ok((anchor, outs)) => settle(&mut settling, known_good, anchor, outs),
                    Err(_) => each_alone(reg, known_good, now, &mut settling, counts, metrics),
                }
            }
            Err((e, None)) if pending.len() == 1 => {
                let job = pending.remove(0);
                settling.push(Answer::refused(job.reply, e));
            }
            Err((_, None)) => {
                each_alone(reg, pending, now, &mut settling, counts, metrics);
                break;
            }
        }
    }
    if let Some(m) = metrics {
        m.refusals(settling.iter().filter(|a| a.out.is_err()).count());
    }
    settling
}

/// One transaction applying `jobs` in order at time `now`. On failure, the error and, when an
/// operation failed, its index (`None`: every operation applied, the commit failed).
fn run(
    reg: &Registry,
    jobs: &[Job],
    now: UnixTime,
    counts: &Counts,
    metrics: Option<&Metrics>,
) -> Result<(AnchorDue, Vec<Out>), (StoreError, Option<usize>)> {
    let started = Instant::now();
    let mut failed_at = None;
    let together = reg.write_deferring_anchor(|tx| {
        tx.set_time(now);
        let mut outs = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            // A panic inside one operation is that operation's failure: it is refused and the
            // batch runs again without it, like any refusal (the store's own guard would take
            // it for the commit's, and commit the whole batch one operation at a time).
            let applied =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(tx, &job.op)))
                    .unwrap_or_else(|payload| Err(panicked(payload.as_ref())));
            match applied {
                Ok(out) => outs.push(out),
                Err(e) => {
                    failed_at = Some(i);
                    return Err(e);
                }
            }
        }
        Ok(outs)
    });
    match together {
        Ok(done) => {
            committed(counts, metrics, done.value.len(), started);
            Ok((done.anchor, done.value))
        }
        Err(e) => {
            if let Some(m) = metrics {
                m.aborted_pass(started.elapsed());
            }
            Err((e, failed_at))
        }
    }
}

/// The error of an operation that panicked (a damaged page redb met, or a bug): `corrupt`,
/// as the store reports a panic, naming what it said.
fn panicked(payload: &(dyn std::any::Any + Send)) -> StoreError {
    StoreError::new(
        cairn_store::StoreCode::Corrupt,
        format!(
            "the operation failed inside the registry ({}) and was not applied; run `cairn check` on the registry file",
            cairn_store::panic_message(payload)
        ),
    )
}

/// Adds the answers of `jobs`, committed owing `anchor`, to `settling`.
fn settle(settling: &mut Settling, jobs: Vec<Job>, anchor: AnchorDue, outs: Vec<Out>) {
    settling.extend(jobs.into_iter().zip(outs).map(|(j, out)| Answer {
        reply: j.reply,
        out: Ok(out),
        anchor,
    }));
}

/// Commits each of `jobs` in a transaction of its own at time `now` (after a batch whose
/// commit failed), adding their answers to `settling`.
fn each_alone(
    reg: &Registry,
    jobs: Vec<Job>,
    now: UnixTime,
    settling: &mut Settling,
    counts: &Counts,
    metrics: Option<&Metrics>,
) {
    for job in jobs {
        match run(reg, core::slice::from_ref(&job), now, counts, metrics) {
            Ok((anchor, outs)) => settle(settling, vec![job], anchor, outs),
            Err((e, _)) => settling.push(Answer::refused(job.reply, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_store::{CreateOptions, Protection, StoreCode};

    fn register(id: &str) -> Op {
        let json = format!(
            r#"{{"id": "{id}", "name": "N", "version": "1", "provenance": {{"source": "https://example.test/{id}"}}}}"#
        );
        Op::Register(Box::new(NodeSpec::from_json(&json).expect("spec")))
    }

    fn deregister(id: &str) -> Op {
        Op::Deregister(id.to_owned())
    }

    /// What one batch of `ops` did to a new registry: each answer in short, the commits made,
    /// the times stamped on the nodes it registered, and the registry.
    struct Outcome {
        said: Vec<String>,
        commits: u64,
        times: Vec<UnixTime>,
        reg: Registry,
        _dir: tempfile::TempDir,
    }

    /// Runs `ops` as one batch on a new registry whose clock moves 1,000 seconds at every
    /// reading (so a pass that read it again would stamp another time).
    /// Holds the store's write lock on a thread of its own until the returned closure is
    /// called (which releases it and waits for the thread): writes queue behind it meanwhile.
    fn hold_write_lock(reg: &Arc<Registry>) -> impl FnOnce() {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = std::sync::mpsc::channel::<()>();
        let r = reg.clone();
        let holder = std::thread::spawn(move || {
            r.write(|_| {
                holding.send(()).expect("held");
                released.recv().expect("released");
                Ok(())
            })
            .expect("write");
        });
        held.recv().expect("lock held");
        move || {
            release.send(()).expect("release");
            holder.join().expect("holder");
        }
    }

    /// A fresh insecure registry at `path`.
    fn create(path: &std::path::Path) -> Registry {
        Registry::create(
            path,
            CreateOptions::new("example.test/log", Protection::Insecure),
        )
        .expect("registry")
    }

    fn batch(ops: Vec<Op>) -> Outcome {
        let dir = tempfile::tempdir().expect("dir");
        let mut reg = create(&dir.path().join("r.redb"));
        let tick = Arc::new(AtomicU64::new(2_000_000_000));
        reg.set_clock(Arc::new(move || tick.fetch_add(1_000, Relaxed)));
        let (jobs, answers): (Vec<Job>, Vec<_>) = ops
            .into_iter()
            .map(|op| {
                let (reply, answer) = tokio::sync::oneshot::channel();
                (
                    Job {
                        op,
                        reply,
                        request: None,
                    },
                    answer,
                )
            })
            .unzip();
        let counts = Counts::default();
        let settling = commit_batch(&reg, jobs, &counts, None);
        let owes = owed(&settling);
        answer(&reg, vec![settling]);
        let mut times = Vec::new();
        let said = answers
            .into_iter()
            .map(|mut a| match a.try_recv().expect("answered") {
                Ok(Out::Node(n, replaced)) => {
                    times.push(n.registered_at);
                    format!("{} {replaced}", n.spec.id)
                }
                Ok(Out::Seq(_)) => "deregistered".to_owned(),
                Ok(other) => format!("{other:?}"),
                Err(e) if e.code == StoreCode::NotFound.as_str() => "not_found".to_owned(),
                Err(e) => e.message.clone(),
            })
            .collect();
        let commits = counts.batches.load(Relaxed);
        assert_eq!(owes == AnchorDue::NONE, commits == 0);
        reg.audit().expect("audit");
        Outcome {
            said,
            commits,
            times,
            reg,
            _dir: dir,
        }
    }

    /// Refused operations are answered with the error they meet after those queued before
    /// them; the others commit together (one commit after one retry, then the known-good
    /// operations and the rest in turn), all at the batch's one time.
    #[test]
    fn refusals_are_answered_and_the_rest_commits() {
        let strs = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: Vec<(Vec<Op>, Vec<String>, u64)> = vec![
            (
                vec![register("a"), deregister("missing"), register("b")],
                strs(&["a false", "not_found", "b false"]),
                1,
            ),
            (
                vec![
                    register("a"),
                    deregister("missing"),
                    register("b"),
                    deregister("a"),
                    deregister("a"),
                    register("a"),
                    register("b"),
                ],
                strs(&[
                    "a false",
                    "not_found",
                    "b false",
                    "deregistered",
                    "not_found",
                    "a false",
                    "b true",
                ]),
                2,
            ),
            (
                (0..5)
                    .flat_map(|i| [register(&format!("n{i}")), deregister("missing")])
                    .collect(),
                (0..5)
                    .flat_map(|i| [format!("n{i} false"), "not_found".to_owned()])
                    .collect(),
                3,
            ),
            (
                vec![deregister("m0"), deregister("m1"), deregister("m2")],
                strs(&["not_found"; 3]),
                0,
            ),
        ];
        for (ops, said, commits) in cases {
            let out = batch(ops);
            assert_eq!(out.said, said);
            assert_eq!(out.commits, commits, "{said:?}");
            assert!(
                out.times.windows(2).all(|w| w[0] == w[1]),
                "one time for the batch: {:?}",
                out.times
            );
        }
    }

    /// An operation that panics is refused alone; the others still commit together.
    #[test]
    fn a_panicking_operation_is_refused_and_the_rest_commits_together() {
        let out = batch(vec![register("a"), Op::Panic, register("b")]);
        assert_eq!(out.said[0], "a false");
        assert!(
            out.said[1].contains("failed inside the registry (an operation that panics)"),
            "{}",
            out.said[1]
        );
        assert_eq!(out.said[2], "b false");
        assert_eq!(out.commits, 1, "one commit, not one per operation");
        assert!(out.reg.node("a").is_ok() && out.reg.node("b").is_ok());
    }

    /// A write whose requester stopped waiting is not applied; a full queue refuses at once
    /// (503), and what it had accepted is committed once the committer can go on.
    #[test]
    fn abandoned_writes_are_dropped_and_a_full_queue_refuses() {
        let dir = tempfile::tempdir().expect("dir");
        let reg = Arc::new(create(&dir.path().join("r.redb")));
        let w = Writer::start_with_capacity(reg.clone(), None, 2).expect("writer");
        let (reply, answer) = tokio::sync::oneshot::channel();
        drop(answer);
        w.send(Job {
            op: register("abandoned"),
            reply,
            request: None,
        })
        .expect("queued");
        match w.submit(register("kept")).expect("committed") {
            Out::Node(n, false) => assert_eq!(n.spec.id, "kept"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            reg.node("abandoned").unwrap_err().code(),
            StoreCode::NotFound
        );

        // Hold the store's write lock, so the committer blocks on the first job it takes.
        let release = hold_write_lock(&reg);
        let mut waiting = Vec::new();
        let mut refused = None;
        for i in 0..8 {
            let (reply, answer) = tokio::sync::oneshot::channel();
            match w.send(Job {
                op: register(&format!("q{i}")),
                reply,
                request: None,
            }) {
                Ok(()) => waiting.push(answer),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
            if i == 0 {
                // Let the committer take the first and block on the lock.
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        }
        let e = refused.expect("a full queue refuses");
        assert_eq!((e.status.as_u16(), e.code), (503, "unavailable"));
        assert_eq!(e.details["retry_after_seconds"], 1);
        assert!(waiting.len() <= 3, "{} accepted", waiting.len());
        release();
        for a in waiting {
            assert!(matches!(a.blocking_recv(), Ok(Ok(Out::Node(..)))));
        }
        assert!(w.is_running());
    }

    /// A write submitted from the blocking pool for a request nobody waits for any more (the
    /// request timed out while the write was queued) is dropped too, though the blocked thread
    /// still holds the answer's receiver; the same write for a request still waited for, and
    /// one submitted outside any request, are applied.
    #[test]
    fn a_blocking_write_whose_request_is_gone_is_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let reg = Arc::new(create(&dir.path().join("r.redb")));
        let w = Arc::new(Writer::start(reg.clone(), None).expect("writer"));
        // Hold the store's write lock, so that the writes below queue behind it.
        let release = hold_write_lock(&reg);
        let submit = |id: &'static str, request: Option<Weak<()>>| {
            let w = w.clone();
            std::thread::spawn(move || match request {
                Some(request) => for_request(request, || w.submit(register(id))),
                None => w.submit(register(id)),
            })
        };
        // The committer takes a first write and blocks on the lock; the others queue. (The
        // pauses are generous: a loaded machine may leave a thread waiting for a core.)
        let first = submit("first", None);
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let gone = Arc::new(());
        let waited = Arc::new(());
        let threads = [
            submit("gone", Some(Arc::downgrade(&gone))),
            submit("waited", Some(Arc::downgrade(&waited))),
            submit("outside", None),
        ];
        std::thread::sleep(std::time::Duration::from_millis(1000));
        drop(gone);
        release();
        let [gone_thread, waited_thread, outside_thread] = threads;
        assert!(matches!(first.join().expect("thread"), Ok(Out::Node(..))));
        assert!(gone_thread.join().expect("thread").is_err());
        assert!(matches!(
            waited_thread.join().expect("thread"),
            Ok(Out::Node(..))
        ));
        assert!(matches!(
            outside_thread.join().expect("thread"),
            Ok(Out::Node(..))
        ));
        assert_eq!(reg.node("gone").unwrap_err().code(), StoreCode::NotFound);
        assert!(reg.node("waited").is_ok() && reg.node("outside").is_ok());
        drop(waited);
    }

    /// A write whose commit is durable but whose anchor cannot be written is answered
    /// `not_anchored` with `committed: true` (so a client does not send it again), and the
    /// write is in the registry.
    #[test]
    fn a_durable_write_whose_anchor_fails_says_it_is_committed() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("r.redb");
        let reg = Arc::new(create(&path));
        let w = Writer::start(reg.clone(), None).expect("writer");
        w.submit(register("anchored"))
            .expect("committed and anchored");
        // The anchor's place taken by a directory: every anchor write now fails.
        let anchor = cairn_store::anchor_path(&path);
        std::fs::remove_file(&anchor).expect("anchor file");
        std::fs::create_dir(&anchor).expect("a directory in its place");
        let e = w.submit(register("durable")).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code),
            (500, "not_anchored"),
            "{}",
            e.message
        );
        assert_eq!(e.details["committed"], true);
        assert!(reg.node("durable").is_ok(), "the write is committed");
    }

    /// What the batch committed is what it answered.
    #[test]
    fn the_registry_holds_what_was_answered() {
        let out = batch(vec![
            register("a"),
            deregister("missing"),
            register("b"),
            deregister("a"),
            deregister("a"),
            register("c"),
        ]);
        let ids: Vec<String> = out
            .reg
            .list_nodes()
            .expect("nodes")
            .into_iter()
            .map(|n| n.spec.id)
            .collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(out.commits, 2);
    }
}
