//! A deadline for request heads. hyper reads a request head for as long as the client keeps
//! the connection open, and poem sets no header timeout, so a client that sends half a head
//! and stops (slowloris) holds a connection and its task forever. This acceptor wraps every
//! connection: from the first read after the connection opened or a response was written,
//! the client has `limit` to complete a request head (up to its blank line); after that the read fails
//! and hyper closes the connection. Bodies are not covered here: the request time limit in
//! the hygiene middleware covers them. Idle keep-alive connections end the same way.
//! Interim `100 Continue` responses do not count as responses. Plain-text HTTP/2 (prior
//! knowledge) is refused: hyper would wait as long for its frames, and the service is meant
//! to sit behind a TLS-terminating proxy that speaks HTTP/1.1 to it.
//! A request pipelined behind another in one read gets its deadline from the previous
//! response, like the next head would.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

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
        for &byte in bytes {
            match byte {
                b'\r' => {}
                b'\n' if !self.started => {}
                b'\n' if self.line_start => {
                    self.started = false;
                    self.line_start = false;
                    self.phase = Phase::Request;
                    return;
                }
                b'\n' => self.line_start = true,
                _ => {
                    self.started = true;
                    self.line_start = false;
                }
            }
        }
    }

    /// Bytes written: unless an interim (1xx) response, a response is going out, and the
    /// next head gets a fresh deadline from its first read.
    fn wrote(&mut self, first: &[u8]) {
        let interim = first.starts_with(b"HTTP/1.1 1") || first.starts_with(b"HTTP/1.0 1");
        if self.phase == Phase::Request && !interim {
            self.phase = Phase::Head { armed: false };
        }
    }
}

impl<S> HeadDeadline<S> {
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
        }
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
        if let Phase::Head { armed } = this.scan.phase {
            if !armed {
                this.deadline = Instant::now() + this.limit;
                this.scan.phase = Phase::Head { armed: true };
            }
            // The timer is not reset for every request (that would touch the timer wheel
            // each time): it runs to an earlier head's deadline, and when it fires before
            // the current one it moves on to it.
            while this.sleep.as_mut().poll(cx).is_ready() {
                if Instant::now() >= this.deadline {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request head did not arrive in time",
                    )));
                }
                let deadline = this.deadline;
                this.sleep.as_mut().reset(deadline);
            }
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
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
        let this = &mut *self;
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        this.scan.wrote(data);
        Poll::Ready(Ok(written))
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
        let this = &mut *self;
        let written = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        this.scan.wrote(first);
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(chunks: &[&[u8]]) -> Phase {
        let mut io = HeadDeadline::new((), Duration::from_secs(1));
        for chunk in chunks {
            io.scan.bytes(chunk);
        }
        io.scan.phase
    }

    #[tokio::test]
    async fn a_head_ends_at_the_first_blank_line_even_across_reads() {
        assert_eq!(
            scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]),
            Phase::Request
        );
        assert_eq!(
            scanned(&[b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n"]),
            Phase::Request
        );
        assert!(matches!(
            scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]),
            Phase::Head { .. }
        ));
        assert!(matches!(
            scanned(&[b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n"]),
            Phase::Head { .. }
        ));
        assert_eq!(scanned(&[b"GET / HTTP/1.1\nHost: x\n\n"]), Phase::Request);
        // Blank lines before the request line do not end a head.
        assert!(matches!(scanned(&[b"\r\n\r\n\n\n"]), Phase::Head { .. }));
        assert_eq!(
            scanned(&[b"\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n"]),
            Phase::Request
        );
        // The whole h2 preface, not a prefix of it.
        assert_eq!(
            scanned(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]),
            Phase::Http2
        );
        assert_eq!(
            scanned(&[b"PRI * HT", b"TP/2.0\r\n\r\nSM", b"\r\n\r\n"]),
            Phase::Http2
        );
        assert!(matches!(scanned(&[b"PRI * HTTP/2.0"]), Phase::Head { .. }));
    }

    #[tokio::test]
    async fn interim_responses_do_not_end_a_request() {
        let mut io = HeadDeadline::new((), Duration::from_secs(1));
        io.scan
            .bytes(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
        io.scan.wrote(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(io.scan.phase, Phase::Request);
        // Body bytes are not read as a head.
        io.scan.bytes(b"a\r\n\r\nb");
        assert_eq!(io.scan.phase, Phase::Request);
        io.scan.wrote(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(io.scan.phase, Phase::Head { armed: false });
    }
}
