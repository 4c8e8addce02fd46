//! A deadline for request heads. hyper reads a request head for as long as the client keeps
//! the connection open, and poem sets no header timeout, so a client that sends half a head
//! and stops (slowloris) holds a connection and its task forever. This acceptor wraps every
//! connection: whenever the client owes a request head — from the moment the connection
//! opened, or from the last write of the response to its last pending request — it has
//! `limit` to complete one (up to its blank line); after that the read fails and hyper closes
//! the connection. The timer is polled when a response is written, so an idle keep-alive
//! connection ends the same way even though hyper does not read from it.
//!
//! The scanner ([`scan`]) counts the heads read (also several in one read: pipelining) and
//! skips the bodies their `Content-Length` announces, so a request read or answered from
//! hyper's buffer is never cut off by the deadline: the request time limit in the hygiene
//! middleware covers bodies and handlers. Interim `100 Continue` responses answer nothing.
//! While a request is pending, the connection may stay quiet for the request time limit plus
//! `limit` (from the last head read or write), and no longer: whatever the scanner
//! miscounts (it cannot follow chunked bodies), nothing holds a connection for ever. A write
//! the client does not read stalls under the same deadline.
//! Plain-text HTTP/2 (prior knowledge) is refused: hyper would wait as long for its frames,
//! and the service is meant to sit behind a TLS-terminating proxy that speaks HTTP/1.1 to
//! it; while the first bytes may still be its preface, no head counts as read.
//!
//! The wrapper also keeps the contract's error shape where hyper answers by itself: the bare
//! `400`/`414`/`431` hyper writes for a head it cannot parse (or one over its buffer of about
//! 400 kB) is replaced by the same status with a JSON body (see
//! [`super::transport_errors`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::transport_errors::{json_reply, parser_error_status};

mod scan;
use scan::Scan;

/// Wraps `A`'s connections in a request-head deadline.
pub struct HeadDeadlineAcceptor<A> {
    inner: A,
    limit: Duration,
    busy: Duration,
}

impl<A> HeadDeadlineAcceptor<A> {
    /// Connections from `inner` get `limit` for each request head. `request_limit` is the
    /// longest a request may take (the hygiene middleware answers 503 then): a connection
    /// with a request pending that shows no activity for that and `limit` more is closed too,
    /// whatever the scanner counted.
    pub fn new(inner: A, limit: Duration, request_limit: Duration) -> Self {
        Self {
            inner,
            limit,
            busy: limit + request_limit,
        }
    }
}

impl<A: Acceptor> Acceptor for HeadDeadlineAcceptor<A> {
    type Io = HeadDeadline<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((
            HeadDeadline::new(io, self.limit, self.busy),
            local,
            remote,
            scheme,
        ))
    }
}

/// A connection with a request-head deadline (see the module documentation).
pub struct HeadDeadline<S> {
    inner: S,
    limit: Duration,
    /// Fires no later than `deadline`.
    sleep: Pin<Box<Sleep>>,
    /// How long a connection with a request pending may go without a head read or a
    /// response started: bounds what a miscount of the scanner could hold open.
    busy: Duration,
    /// When the connection is closed unless something happens first: the head the client
    /// owes must be complete, or a pending request must have progressed.
    deadline: Instant,
    scan: Scan,
    /// A response of ours being written in place of hyper's.
    reply: Option<Reply>,
}

/// A response being written on the connection by this wrapper.
struct Reply {
    bytes: Vec<u8>,
    sent: usize,
    /// How many bytes of hyper's own response it stands for (reported as written).
    replaces: usize,
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the request head (or the request's progress) did not come in time",
    )
}

impl<S> HeadDeadline<S> {
    /// Whether the current head's deadline has passed; if not, the timer (which fired for an
    /// earlier deadline) is moved on to it.
    fn expired(&mut self) -> bool {
        if Instant::now() >= self.deadline {
            return true;
        }
        let deadline = self.deadline;
        self.sleep.as_mut().reset(deadline);
        false
    }

    fn new(inner: S, limit: Duration, busy: Duration) -> Self {
        Self {
            inner,
            limit,
            busy,
            sleep: Box::pin(tokio::time::sleep(limit)),
            deadline: Instant::now() + limit,
            scan: Scan::default(),
            reply: None,
        }
    }

    /// Moves the deadline to `after` from now and makes sure the timer will wake the task
    /// (hyper may not read again until the client sends something).
    fn push_deadline(&mut self, after: Duration, cx: &mut Context<'_>) {
        self.deadline = Instant::now() + after;
        // Usually the timer lags behind (it moves on when it fires); when it is set later
        // than the new deadline (a long request's bound before), it is brought forward.
        if self.sleep.deadline() > self.deadline {
            let deadline = self.deadline;
            self.sleep.as_mut().reset(deadline);
        }
        while self.sleep.as_mut().poll(cx).is_ready() {
            if self.expired() {
                break;
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> HeadDeadline<S> {
    /// Writes the pending reply; ready with the number of bytes of hyper's response it
    /// replaces once all of it is written.
    fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(reply) = self.reply.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while reply.sent < reply.bytes.len() {
            match ready!(Pin::new(&mut self.inner).poll_write(cx, &reply.bytes[reply.sent..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => reply.sent += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(reply.replaces))
    }

    /// Writes `data` (the start of a response), or the JSON reply standing in for it when it
    /// is hyper's bare answer to a head it could not parse.
    fn poll_response_bytes<'a>(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        bufs: impl IntoIterator<Item = &'a [u8]>,
        write: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        // No response of the application has that shape, and no body of ours starts with
        // one, so a match is hyper's own answer (also to a request pipelined behind another).
        if self.reply.is_none()
            && let Some(status) = parser_error_status(data)
        {
            self.reply = Some(Reply {
                bytes: json_reply(status),
                sent: 0,
                replaces: data.len(),
            });
        }
        let written = if self.reply.is_some() {
            let replaced = ready!(self.poll_reply(cx))?;
            self.reply = None;
            replaced
        } else {
            match write(Pin::new(&mut self.inner), cx) {
                Poll::Ready(result) => result?,
                Poll::Pending => {
                    // A client that does not read stalls the write (and hyper, with requests
                    // pipelined in its buffer, stops reading): no progress until the
                    // deadline ends the connection too.
                    while self.sleep.as_mut().poll(cx).is_ready() {
                        if self.expired() {
                            return Poll::Ready(Err(timed_out()));
                        }
                    }
                    return Poll::Pending;
                }
            }
        };
        self.scan.wrote_all(bufs);
        // Every write is progress. Once the last pending request's response is going out,
        // the next head's deadline runs from its last write (a response read slowly does
        // not eat into it); an idle keep-alive connection ends when it passes (the timer
        // wakes the task, and hyper's next read fails). While requests are pending, the
        // connection may be quiet for as long as a request may take.
        let after = if self.scan.waiting_for_head() {
            self.limit
        } else {
            self.busy
        };
        self.push_deadline(after, cx);
        Poll::Ready(Ok(written))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.scan.http2() {
            return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
        }
        // The timer is not reset for every deadline (that would touch the timer wheel each
        // time): it runs to an earlier deadline, and when it fires before the current one it
        // moves on to it. It is polled (its waker registered) only when the read has to wait;
        // a read with data at hand just checks whether it fired.
        if this.sleep.is_elapsed() && this.expired() {
            return Poll::Ready(Err(timed_out()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => {
                while this.sleep.as_mut().poll(cx).is_ready() {
                    if this.expired() {
                        return Poll::Ready(Err(timed_out()));
                    }
                }
                return Poll::Pending;
            }
            Poll::Ready(result) => result?,
        }
        let pending = this.scan.pending();
        this.scan.bytes(&buf.filled()[before..]);
        if this.scan.pending() > pending {
            // A request is in: until its response starts, the connection may be quiet for as
            // long as a request may take.
            this.deadline = Instant::now() + this.busy;
        }
        if this.scan.http2() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "plain-text HTTP/2 is not served",
            )));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_response_bytes(cx, data, [data], |inner, cx| inner.poll_write(cx, data))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        let all = bufs.iter().map(|b| &b[..]);
        self.poll_response_bytes(cx, first, all, |inner, cx| {
            inner.poll_write_vectored(cx, bufs)
        })
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests;
