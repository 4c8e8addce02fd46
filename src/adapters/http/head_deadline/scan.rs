//! What the bytes of a connection say about it: where request heads end, how many requests
//! are waiting for their responses, and whether it opened with the HTTP/2 preface.

/// The HTTP/2 connection preface, which starts a prior-knowledge h2 connection.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How much of each line is kept to recognise the framing headers.
const LINE_PREFIX: usize = 96;

/// The request framing read so far (see the module documentation).
#[derive(Debug)]
pub(super) struct Scan {
    /// The current head has a byte other than CR and LF (blank lines before the request line
    /// are skipped, as httparse does).
    started: bool,
    /// The last line break read was followed only by `\r`s: one more `\n` ends the head.
    line_start: bool,
    /// Bytes of the connection read so far, while fewer than the h2 preface.
    seen: usize,
    /// The connection opened with the whole HTTP/2 preface.
    http2: bool,
    /// Complete request heads read whose responses have not started.
    pending: u32,
    /// Body bytes of the last complete head still to come (its `Content-Length`): skipped, so
    /// that a request pipelined behind a body is found.
    body_left: u64,
    /// Where we are in the chunked body of the last complete head, followed as hyper reads
    /// it so that a request pipelined behind it is found.
    chunk: Option<Chunk>,
    /// The size of the chunk whose size line is being read.
    chunk_size: u64,
    /// The last complete head announced a body we cannot follow (a transfer coding other
    /// than plain `chunked`, conflicting lengths), or a chunked body broke hyper's rules:
    /// what follows cannot be told apart from a next head, so nothing more is scanned until
    /// the response starts.
    opaque: bool,
    /// The current head's `Content-Length`, whether its `Transfer-Encoding` is `chunked`, and
    /// whether its framing is something else (a `Content-Length` that is repeated with
    /// another value or unreadable, another transfer coding, both headers: hyper refuses or
    /// cannot be followed there).
    length: Option<u64>,
    chunked: bool,
    unframed: bool,
    /// The first bytes of the current line, across reads, and whether it was longer.
    line: [u8; LINE_PREFIX],
    line_len: usize,
    line_cut: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Self {
            started: false,
            line_start: false,
            seen: 0,
            http2: false,
            pending: 0,
            body_left: 0,
            chunk: None,
            chunk_size: 0,
            opaque: false,
            length: None,
            chunked: false,
            unframed: false,
            line: [0; LINE_PREFIX],
            line_len: 0,
            line_cut: false,
        }
    }
}

impl Scan {
    /// The client owes us a request head: no request is being read or answered.
    pub(super) fn waiting_for_head(&self) -> bool {
        !self.http2
            && self.pending == 0
            && self.body_left == 0
            && self.chunk.is_none()
            && !self.opaque
    }

    /// The connection opened with the HTTP/2 preface.
    pub(super) fn http2(&self) -> bool {
        self.http2
    }

    /// Complete heads read whose responses have not started.
    pub(super) fn pending(&self) -> u32 {
        self.pending
    }

    /// Looks through bytes just read for ends of heads (a blank line, CRLF or bare LF as
    /// httparse accepts), skipping the bodies their `Content-Length` announces, and at the
    /// start of the connection for the h2 preface. While the bytes so far may still be the
    /// preface, a head end does not count: hyper is still deciding which protocol it speaks.
    pub(super) fn bytes(&mut self, mut bytes: &[u8]) {
        if self.seen < H2_PREFACE.len() {
            let take = (H2_PREFACE.len() - self.seen).min(bytes.len());
            if bytes[..take] == H2_PREFACE[self.seen..self.seen + take] {
                self.seen += take;
                if self.seen == H2_PREFACE.len() {
                    self.http2 = true;
                    return;
                }
            } else {
                self.seen = usize::MAX;
            }
        }
        let maybe_preface = self.seen < H2_PREFACE.len();
        loop {
            if self.opaque {
                return;
            }
            if self.body_left > 0 {
                let skip =
                    usize::try_from(self.body_left).map_or(bytes.len(), |n| n.min(bytes.len()));
                self.body_left -= skip as u64;
                bytes = &bytes[skip..];
            }
            if self.chunk.is_some() {
                bytes = &bytes[self.chunk_bytes(bytes)..];
                if self.chunk.is_some() || self.opaque {
                    return;
                }
            }
            match self.head_end(bytes) {
                Some(end) => {
                    if !maybe_preface {
                        self.pending = self.pending.saturating_add(1);
                        if self.unframed || (self.chunked && self.length.is_some()) {
                            self.opaque = true;
                        } else if self.chunked {
                            self.chunk = Some(Chunk::Size {
                                digits: 0,
                                after: false,
                            });
                        } else {
                            self.body_left = self.length.unwrap_or(0);
                        }
                    }
                    self.length = None;
                    self.chunked = false;
                    self.unframed = false;
                    bytes = &bytes[end..];
                }
                None => return,
            }
        }
    }

    /// Scans for the end of the current head; the offset just past it, if it is in `bytes`.
    /// Line by line (memchr finds the breaks): a line with anything but `\r` starts the head;
    /// a line break right after another (only `\r` between) ends it.
    fn head_end(&mut self, bytes: &[u8]) -> Option<usize> {
        let content = |line: &[u8]| line.iter().any(|&b| b != b'\r');
        let mut offset = 0;
        while let Some(at) = memchr::memchr(b'\n', &bytes[offset..]) {
            let segment = &bytes[offset..offset + at];
            self.keep(segment);
            if content(segment) {
                self.started = true;
                self.line_start = false;
            }
            offset += at + 1;
            if self.started {
                if self.line_start {
                    self.started = false;
                    self.line_start = false;
                    self.line_len = 0;
                    self.line_cut = false;
                    return Some(offset);
                }
                self.header_line();
                self.line_start = true;
            }
            self.line_len = 0;
            self.line_cut = false;
        }
        let rest = &bytes[offset..];
        self.keep(rest);
        if content(rest) {
            self.started = true;
            self.line_start = false;
        }
        None
    }

    /// Keeps the start of the current line.
    fn keep(&mut self, segment: &[u8]) {
        let take = (LINE_PREFIX - self.line_len).min(segment.len());
        self.line[self.line_len..self.line_len + take].copy_from_slice(&segment[..take]);
        self.line_len += take;
        self.line_cut |= take < segment.len();
    }

    /// Notes the framing headers of a complete line of the current head.
    fn header_line(&mut self) {
        let line = &self.line[..self.line_len];
        let named =
            |name: &[u8]| line.len() > name.len() && line[..name.len()].eq_ignore_ascii_case(name);
        if named(b"transfer-encoding:") {
            let value = line[b"transfer-encoding:".len()..].trim_ascii();
            if value.eq_ignore_ascii_case(b"chunked") && !self.chunked && !self.line_cut {
                self.chunked = true;
            } else {
                self.unframed = true;
            }
        } else if named(b"content-length:") {
            let value = line[b"content-length:".len()..].trim_ascii();
            let parsed = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok());
            match (self.length, parsed) {
                (None, Some(n)) if !self.line_cut => self.length = Some(n),
                // Repeated with the same value, as hyper accepts.
                (Some(known), Some(n)) if known == n && !self.line_cut => {}
                _ => self.unframed = true,
            }
        }
    }

    /// Bytes written, `first` being the first of them: whether they start a response.
    #[cfg(test)]
    pub(super) fn wrote(&mut self, first: &[u8]) -> bool {
        self.wrote_all([first])
    }

    /// Bytes written in one (vectored) write: whether a final response starts in them,
    /// possibly after an interim 1xx one written with it (hyper flushes a `100 Continue` and
    /// the final response together when the body came with the head). A response starting
    /// answers the oldest pending request; when none is left, what the client sends next is
    /// a head (a body the handler did not read is drained, or the connection closed, by
    /// hyper).
    pub(super) fn wrote_all<'a>(&mut self, bufs: impl IntoIterator<Item = &'a [u8]>) -> bool {
        let mut bufs = bufs.into_iter().filter(|b| !b.is_empty());
        let Some(mut data) = bufs.next() else {
            return false;
        };
        loop {
            let status_line = data.len() > 9
                && (data.starts_with(b"HTTP/1.1 ") || data.starts_with(b"HTTP/1.0 "));
            if !status_line {
                return false;
            }
            if data[9] != b'1' {
                break;
            }
            // An interim response: skip its head and look at what follows it.
            let Some(end) = memchr::memmem::find(data, b"\r\n\r\n") else {
                return false;
            };
            data = &data[end + 4..];
            if data.is_empty() {
                match bufs.next() {
                    Some(next) => data = next,
                    None => return false,
                }
            }
        }
        self.pending = self.pending.saturating_sub(1);
        if self.pending == 0 {
            self.body_left = 0;
            self.chunk = None;
            self.chunk_size = 0;
            self.opaque = false;
        }
        true
    }

    /// Follows a chunked body through `bytes` as hyper's decoder does (RFC 9112 §7.1: a hex
    /// size, optional whitespace and extensions, CRLF; the data; CRLF; after the zero-size
    /// chunk, trailer lines up to an empty one, all lines ending in CRLF). Returns how many
    /// bytes belong to the body: all of them while it goes on, fewer once it ended. Anything
    /// hyper would refuse makes the connection opaque.
    fn chunk_bytes(&mut self, bytes: &[u8]) -> usize {
        let mut at = 0;
        while let Some(state) = self.chunk {
            if let Chunk::Data(left) = state {
                let take =
                    usize::try_from(left).map_or(bytes.len() - at, |n| n.min(bytes.len() - at));
                at += take;
                let left = left - take as u64;
                self.chunk = Some(if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left)
                });
                if left > 0 {
                    return at;
                }
                continue;
            }
            let Some(&b) = bytes.get(at) else {
                return at;
            };
            at += 1;
            let next = match (state, b) {
                (
                    Chunk::Size {
                        digits,
                        after: false,
                    },
                    b,
                ) if b.is_ascii_hexdigit() => {
                    if self.chunk_size > u64::MAX >> 4 {
                        None // over 64 bits: hyper refuses (leading zeros are fine)
                    } else {
                        let size =
                            self.chunk_size << 4 | u64::from((b as char).to_digit(16).unwrap_or(0));
                        self.chunk_size = size;
                        Some(Chunk::Size {
                            digits: digits.saturating_add(1),
                            after: false,
                        })
                    }
                }
                (Chunk::Size { digits, .. }, b' ' | b'\t') if digits > 0 => Some(Chunk::Size {
                    digits,
                    after: true,
                }),
                (Chunk::Size { digits, .. }, b';') if digits > 0 => Some(Chunk::Extension),
                (Chunk::Size { digits, .. }, b'\r') if digits > 0 => Some(Chunk::SizeLf),
                (Chunk::Extension, b'\r') => Some(Chunk::SizeLf),
                (Chunk::Extension, b'\n') => None,
                (Chunk::Extension, _) => Some(Chunk::Extension),
                (Chunk::SizeLf, b'\n') => {
                    let size = std::mem::take(&mut self.chunk_size);
                    Some(if size == 0 {
                        Chunk::EndCr
                    } else {
                        Chunk::Data(size)
                    })
                }
                (Chunk::DataCr, b'\r') => Some(Chunk::DataLf),
                (Chunk::DataLf, b'\n') => Some(Chunk::Size {
                    digits: 0,
                    after: false,
                }),
                (Chunk::EndCr, b'\r') => Some(Chunk::EndLf),
                (Chunk::EndCr, b'\n') => None,
                (Chunk::Trailer, b'\r') => Some(Chunk::TrailerLf),
                (Chunk::Trailer, b'\n') => None,
                (Chunk::EndCr | Chunk::Trailer, _) => Some(Chunk::Trailer),
                (Chunk::TrailerLf, b'\n') => Some(Chunk::EndCr),
                (Chunk::EndLf, b'\n') => {
                    self.chunk = None;
                    return at;
                }
                _ => None,
            };
            match next {
                Some(next) => self.chunk = Some(next),
                None => {
                    self.chunk = None;
                    self.chunk_size = 0;
                    self.opaque = true;
                    return bytes.len();
                }
            }
        }
        at
    }
}

/// A position in a chunked body (see [`Scan::chunk_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// In a size line: how many hex digits so far (the value is `Scan::chunk_size`), and
    /// whether whitespace followed them.
    Size {
        digits: u8,
        after: bool,
    },
    /// In a chunk extension, up to the CR.
    Extension,
    /// The LF after a size line's CR.
    SizeLf,
    /// Data bytes still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataCr,
    DataLf,
    /// After the zero-size chunk: the CR of the empty line that ends the body, or a
    /// trailer line.
    EndCr,
    EndLf,
    Trailer,
    TrailerLf,
}
