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

    /// Bytes written: unless an interim (1xx) response, a response is going out, and the
    /// next head gets a fresh deadline from its first read.
    fn wrote(&mut self, first: &[u8]) {
        let interim = first.starts_with(b"HTTP/1.1 1") || first.starts_with(b"HTTP/1.0 1");
        if self.phase == Phase::Request && !interim {
            self.phase = Phase::Head { armed: false };
        }
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

    /// The byte-at-a-time definition the line-based scanner must agree with: `\r` is
    /// ignored, line breaks before the first other byte are skipped, and a line break right
    /// after another ends the head.
    fn reference(bytes: &[u8]) -> Option<usize> {
        let (mut started, mut line_start) = (false, false);
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\r' => {}
                b'\n' if !started => {}
                b'\n' if line_start => return Some(i),
                b'\n' => line_start = true,
                _ => {
                    started = true;
                    line_start = false;
                }
            }
        }
        None
    }

    #[tokio::test]
    async fn the_line_scanner_agrees_with_the_byte_definition_however_reads_split() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5000 {
            let len = (next() % 24) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| [b'\r', b'\n', b'a'][(next() % 3) as usize])
                .collect();
            let mut io = HeadDeadline::new((), Duration::from_secs(1));
            let mut rest = &bytes[..];
            let mut ended_by = None;
            let mut offset = 0;
            while !rest.is_empty() {
                let take = 1 + (next() as usize) % rest.len();
                io.scan.bytes(&rest[..take]);
                offset += take;
                rest = &rest[take..];
                if io.scan.phase == Phase::Request {
                    ended_by = Some(offset);
                    break;
                }
            }
            match reference(&bytes) {
                // Ended within the read that held the terminating line break.
                Some(at) => assert!(ended_by.is_some_and(|end| at < end), "{bytes:?}"),
                None => assert_eq!(ended_by, None, "{bytes:?}"),
            }
        }
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
