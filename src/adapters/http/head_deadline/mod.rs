//! A deadline for request heads. hyper reads a request head for as long as the client keeps
//! the connection open, and poem sets no header timeout, so a client that sends half a head
//! and stops (slowloris) holds a connection and its task forever. This acceptor wraps every
//! connection: from the moment the connection opened or a response started, the client has
//! `limit` to complete a request head (up to its blank line); after that the read fails and
//! hyper closes the connection. The timer is polled when a response starts, so an idle
//! keep-alive connection ends the same way even though hyper does not read from it. Bodies
//! are not covered here: the request time limit in the hygiene middleware covers them.
//! Interim `100 Continue` responses do not count as responses. Plain-text HTTP/2 (prior
//! knowledge) is refused: hyper would wait as long for its frames, and the service is meant
//! to sit behind a TLS-terminating proxy that speaks HTTP/1.1 to it.
//! A request pipelined behind another in one read gets its deadline from the previous
//! response, like the next head would.
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

/// Wraps `A`'s connections in a request-head deadline.
pub struct HeadDeadlineAcceptor<A> {
    inner: A,
    limit: Duration,
}

impl<A> HeadDeadlineAcceptor<A> {
    /// Connections from `inner` get `limit` for each request head.
    pub fn new(inner: A, limit: Duration) -> Self {
        Self { inner, limit }
    }
}

impl<A: Acceptor> Acceptor for HeadDeadlineAcceptor<A> {
    type Io = HeadDeadline<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((HeadDeadline::new(io, self.limit), local, remote, scheme))
    }
}

/// Where a connection is in its request/response cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request head; the deadline runs once armed.
    Head { armed: bool },
    /// A head arrived; until a response is written, no deadline.
    Request,
    /// The client opened with the HTTP/2 preface: refused.
    Http2,
}

/// The HTTP/2 connection preface, which starts a prior-knowledge h2 connection.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A connection with a request-head deadline (see the module documentation).
pub struct HeadDeadline<S> {
    inner: S,
    limit: Duration,
    /// Fires no later than `deadline`.
    sleep: Pin<Box<Sleep>>,
    /// When the current request head must be complete (once armed).
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

/// What the bytes read so far say about the connection.
#[derive(Debug)]
struct Scan {
    phase: Phase,
    /// The current head has a byte other than CR and LF (blank lines before the request line
    /// are skipped, as httparse does).
    started: bool,
    /// The last line break read was followed only by `\r`s: one more `\n` ends the head.
    line_start: bool,
    /// Bytes of the connection read so far, while fewer than the h2 preface.
    seen: usize,
}

impl Scan {
    /// Looks through bytes just read for the end of a head (a blank line, CRLF or bare LF as
    /// httparse accepts) and, at the start of the connection, for the h2 preface.
    fn bytes(&mut self, bytes: &[u8]) {
        if self.seen < H2_PREFACE.len() {
            let take = (H2_PREFACE.len() - self.seen).min(bytes.len());
            if bytes[..take] == H2_PREFACE[self.seen..self.seen + take] {
                self.seen += take;
                if self.seen == H2_PREFACE.len() {
                    self.phase = Phase::Http2;
                    return;
                }
            } else {
                self.seen = usize::MAX;
            }
        }
        if !matches!(self.phase, Phase::Head { .. }) {
            return;
        }
        // Line by line (memchr finds the breaks): a line with anything but `\r` starts the
        // head; a line break right after another (only `\r` between) ends it.
        let content = |line: &[u8]| line.iter().any(|&b| b != b'\r');
        let mut rest = bytes;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            if content(&rest[..at]) {
                self.started = true;
                self.line_start = false;
            }
            if self.started {
                if self.line_start {
                    self.started = false;
                    self.line_start = false;
                    self.phase = Phase::Request;
                    return;
                }
                self.line_start = true;
            }
            rest = &rest[at + 1..];
        }
        if content(rest) {
            self.started = true;
            self.line_start = false;
        }
    }

    /// Bytes written, `first` being the first of them: when they start a response (other
    /// than an interim 1xx one), the next head is awaited and its deadline runs from now.
    /// Continuations of a response (body chunks, the rest of a partly written head) change
    /// nothing. Returns whether a response started.
    fn wrote(&mut self, first: &[u8]) -> bool {
        let starts = first.len() > 9
            && (first.starts_with(b"HTTP/1.1 ") || first.starts_with(b"HTTP/1.0 "))
            && first[9] != b'1';
        if starts && self.phase != Phase::Http2 {
            self.phase = Phase::Head { armed: true };
        }
        starts
    }
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the request head did not arrive in time",
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

    fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
            deadline: Instant::now() + limit,
            scan: Scan {
                phase: Phase::Head { armed: false },
                started: false,
                line_start: false,
                seen: 0,
            },
            reply: None,
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
    fn poll_response_bytes(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
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
            ready!(write(Pin::new(&mut self.inner), cx))?
        };
        if self.scan.wrote(data) {
            // A response started: the next head's deadline runs from now, and the timer is
            // polled here because hyper may not read again until the client sends something
            // (an idle keep-alive connection). When it fires, hyper's next read fails.
            self.deadline = Instant::now() + self.limit;
            while self.sleep.as_mut().poll(cx).is_ready() {
                if self.expired() {
                    break;
                }
            }
        }
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
        if this.scan.phase == Phase::Http2 {
            return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
        }
        // The timer is not reset for every request (that would touch the timer wheel each
        // time): it runs to an earlier head's deadline, and when it fires before the current
        // one it moves on to it. It is polled (its waker registered) only when the read has
        // to wait; a read with data at hand just checks whether it fired.
        let waiting_for_head = if let Phase::Head { armed } = this.scan.phase {
            if !armed {
                this.deadline = Instant::now() + this.limit;
                this.scan.phase = Phase::Head { armed: true };
            }
            if this.sleep.is_elapsed() && this.expired() {
                return Poll::Ready(Err(timed_out()));
            }
            true
        } else {
            false
        };
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => {
                if waiting_for_head {
                    while this.sleep.as_mut().poll(cx).is_ready() {
                        if this.expired() {
                            return Poll::Ready(Err(timed_out()));
                        }
                    }
                }
                return Poll::Pending;
            }
            Poll::Ready(result) => result?,
        }
        this.scan.bytes(&buf.filled()[before..]);
        if this.scan.phase == Phase::Http2 {
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
        self.poll_response_bytes(cx, data, |inner, cx| inner.poll_write(cx, data))
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
        self.poll_response_bytes(cx, first, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests;
