//! What a connection must do to keep its place, before HTTP sees it: fit under
//! `limits.max_connections`, send its first byte (after the TLS handshake, when there is
//! one) within `limits.header_timeout_seconds` (and, within that time, a byte that departs
//! from the HTTP/2 preface), speak HTTP/1.1, and take what the server sends: a write that
//! makes no progress for `limits.request_timeout_seconds` fails, and the connection closes.
//!
//! Why the write deadline: nothing else bounds the time an answer takes to leave. hyper's
//! header timeout runs only while a request's head is read, the request timeout ends when the
//! answer's head is made, and a client that stops reading (a zero receive window) would hold
//! its connection, and its place among `max_connections`, for as long as it liked.
//!
//! Why here: hyper's header timeout starts once the server has told HTTP/1 from HTTP/2, which
//! takes the connection's first bytes, so a client that connects and stays silent was held
//! forever, and enough of them used up the process's file descriptors. The rate limiter cannot
//! help, as such a client never sends a request. A connection over the cap is closed at once;
//! the cap is the whole service's, as what it protects is the process's file descriptors.
//!
//! Why HTTP/1.1 only, enforced here: the HTTP server underneath also answers HTTP/2 to a client
//! that opens with its preface (in clear, or over TLS without ALPN), and none of the service's
//! connection limits reach HTTP/2: the header timeout is HTTP/1's, so an HTTP/2 connection that
//! sent its preface and then nothing was held forever. The service speaks HTTP/1.1 (TLS offers
//! only `http/1.1` by ALPN), so a connection opening with the HTTP/2 preface is closed before
//! the server reads it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// An acceptor wrapping `inner` (plain, or rustls): a connection takes a place among
/// `max_connections` before `inner` runs (so a TLS handshake is counted too) and holds it
/// until it closes; its stream must yield a first byte within `first_byte` of `inner`'s end,
/// and a write to it must make progress within `write_stall`.
#[derive(Clone)]
pub(crate) struct Guarded<A> {
    inner: A,
    places: Arc<Semaphore>,
    first_byte: Duration,
    write_stall: Duration,
}

impl<A> Guarded<A> {
    pub(crate) fn new(
        inner: A,
        max_connections: usize,
        first_byte: Duration,
        write_stall: Duration,
    ) -> Guarded<A> {
        Guarded {
            inner,
            places: Arc::new(Semaphore::new(max_connections)),
            first_byte,
            write_stall,
        }
    }
}

impl<A, I, S> Accept<I, S> for Guarded<A>
where
    A: Accept<WriteStall<I>, S> + Clone + Send + 'static,
    A::Future: Send,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = FirstByteDeadline<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let (inner, places, first_byte, write_stall) = (
            self.inner.clone(),
            self.places.clone(),
            self.first_byte,
            self.write_stall,
        );
        Box::pin(async move {
            let place = places.try_acquire_owned().map_err(|_| {
                tracing::warn!("limits.max_connections reached: a connection was closed at once");
                io::Error::other("limits.max_connections reached")
            })?;
            // The stall deadline on the socket itself, under TLS: what counts as progress is
            // bytes the peer took, whatever TLS keeps buffered above them (a flush that writes
            // a record at a time is progress), and TLS's own writes (its close_notify) are
            // bounded too.
            let raw = WriteStall {
                inner: stream,
                stall: write_stall,
                stalled_since: None,
            };
            let (stream, service) = inner.accept(raw, service).await?;
            Ok((
                FirstByteDeadline {
                    inner: stream,
                    deadline: Some(Box::pin(tokio::time::sleep(first_byte))),
                    h2_preface_seen: Some(0),
                    _place: place,
                },
                service,
            ))
        })
    }
}

/// A socket whose writes, flushes and shutdown fail with `TimedOut` once one has waited
/// `stall` without progress: a peer that takes nothing of what is sent (a zero receive
/// window) loses its connection. Reads are `inner`'s as they are.
pub(crate) struct WriteStall<S> {
    inner: S,
    stall: Duration,
    /// Set when a write could not go on, cleared when one does: the time the peer has left
    /// to take more of what is sent.
    stalled_since: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteStall<S> {
    /// `poll`'s outcome for a write, flush or shutdown, with the stall deadline applied:
    /// progress (or an error) clears it; waiting starts it, and past it the write fails.
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled_since = None;
            return poll;
        }
        let stall = self.stall;
        let deadline = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        if deadline.as_mut().poll(cx).is_ready() {
            tracing::debug!(
                "a client took nothing of its answer for limits.request_timeout_seconds: closing its connection"
            );
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took nothing of what was sent within limits.request_timeout_seconds",
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStall<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStall<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.bounded(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.bounded(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.bounded(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.bounded(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The start of the HTTP/2 connection preface (RFC 9113, section 3.4): no HTTP/1.1 request
/// begins with it.
const H2_PREFACE_START: &[u8] = b"PRI * HTTP/2.0\r\n";

/// A stream whose reads fail with `TimedOut` when, by its deadline, no byte has arrived or
/// every byte so far could still open the HTTP/2 preface, and with `InvalidData` once its
/// first bytes are the HTTP/2 preface's; after that it is `inner` as it is (hyper's own
/// timeouts take over, and [`WriteStall`] below bounds its writes). Holds its connection's
/// place until dropped.
pub(crate) struct FirstByteDeadline<S> {
    inner: S,
    deadline: Option<Pin<Box<Sleep>>>,
    /// How many of the connection's first bytes match [`H2_PREFACE_START`]; `None` once one
    /// does not (an HTTP/1 request).
    h2_preface_seen: Option<usize>,
    _place: OwnedSemaphorePermit,
}

impl<S> FirstByteDeadline<S> {
    /// Follows the connection's first bytes, `read`; true once they are the whole of
    /// [`H2_PREFACE_START`].
    fn opens_http2(&mut self, read: &[u8]) -> bool {
        let Some(mut seen) = self.h2_preface_seen else {
            return false;
        };
        for &b in read {
            if seen == H2_PREFACE_START.len() {
                break;
            }
            if b != H2_PREFACE_START[seen] {
                self.h2_preface_seen = None;
                return false;
            }
            seen += 1;
        }
        self.h2_preface_seen = Some(seen);
        seen == H2_PREFACE_START.len()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstByteDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    if this.opens_http2(&buf.filled()[before..]) {
                        // Not handed on: the server would answer in HTTP/2.
                        buf.set_filled(before);
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "HTTP/2 is not served: the service speaks HTTP/1.1",
                        )));
                    }
                    // While the bytes so far could still open the HTTP/2 preface, the server
                    // waits for more of them, with no timeout of its own: the deadline stands.
                    // Once one departs from it, the connection speaks HTTP/1 and hyper's
                    // header timeout takes over.
                    if this.h2_preface_seen.is_none() {
                        this.deadline = None;
                    }
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                let expired = match &mut this.deadline {
                    Some(d) => d.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if expired {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request began within limits.header_timeout_seconds",
                    )))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstByteDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
