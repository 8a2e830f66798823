//! HTTP/1.1 response framing for the upstream client: the response head and chunked bodies.
//!
//! Pure byte work for the Python protocol that owns the socket: it asks `parse_response_head`
//! whether its buffer holds a whole head and how the body that follows is delimited
//! (RFC 9112 §6.3), then feeds body bytes to a `ChunkedDecoder` when the body is chunked.
//! Responses to HEAD carry no body whatever their head says: the caller knows its method and
//! handles that itself. Interim 1xx heads come back like any other head (`Framing::Empty`); the
//! caller parses again after them.

use crate::error::{CoreError, CoreResult};

/// Largest response head accepted, status line and final empty line included.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields accepted in one head.
pub const MAX_HEADERS: usize = 128;
/// Longest chunk-size line (size, extensions, line end): extensions are skipped, not stored,
/// but a size line that never ends is a broken upstream, not a slow one.
pub const MAX_CHUNK_LINE_BYTES: usize = 4096;
/// Largest trailer section after the last chunk (skipped, not stored).
pub const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// How the body after a response head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many body bytes follow the head.
    Length(u64),
    /// Chunked transfer coding: feed the body to a `ChunkedDecoder` until it is done.
    Chunked,
    /// The body runs until the server closes the connection.
    UntilClose,
    /// No body at all: 1xx, 204 and 304 responses.
    Empty,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// `None` when the status line has no reason phrase or one that is not plain ASCII.
    pub reason: Option<String>,
    /// In arrival order; names lowercased, values decoded as lossy UTF-8 without surrounding
    /// spaces and tabs.
    pub headers: Vec<(String, String)>,
    /// Bytes of the head in the buffer, final empty line included: the body starts there.
    pub head_len: usize,
    pub framing: Framing,
    /// The connection may carry another request after this response's body.
    pub keep_alive: bool,
}

/// Parses the response head at the start of `buf`.
///
/// `Ok(None)` while the head is incomplete: call again when more bytes arrived. Bytes after
/// the head (the body) are left alone. A malformed head, more than `MAX_HEADERS` fields, a
/// head longer than `MAX_HEAD_BYTES`, a status below 100, or contradictory or invalid
/// `content-length` values are `CoreError::UpstreamProtocol`.
pub fn parse_response_head(buf: &[u8]) -> CoreResult<Option<ResponseHead>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        // Whatever arrives next, a head that has not ended within the limit is too large.
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => return Ok(None),
        Ok(httparse::Status::Partial) => return Err(head_too_large()),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(CoreError::upstream(format!("response head has more than {MAX_HEADERS} header fields")))
        }
        Err(e) => return Err(CoreError::upstream(format!("malformed response head: {e}"))),
    };
    if head_len > MAX_HEAD_BYTES {
        return Err(head_too_large());
    }
    let status = response.code.unwrap_or(0);
    if status < 100 {
        return Err(CoreError::upstream(format!("invalid response status code {status:03}")));
    }
    let http11 = response.version == Some(1);
    let reason = response.reason.filter(|r| !r.is_empty()).map(str::to_owned);
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(trim_ows(h.value)).into_owned()))
        .collect();
    let (framing, keep_alive) = framing_of(status, http11, &headers)?;
    Ok(Some(ResponseHead { status, reason, headers, head_len, framing, keep_alive }))
}

fn head_too_large() -> CoreError {
    CoreError::upstream(format!("response head larger than {MAX_HEAD_BYTES} bytes"))
}

/// Body framing and connection reuse per RFC 9112 §6.3 and §9.3.
fn framing_of(status: u16, http11: bool, headers: &[(String, String)]) -> CoreResult<(Framing, bool)> {
    let mut close = false;
    let mut keep_alive_token = false;
    let mut has_transfer_encoding = false;
    let mut has_content_length = false;
    let mut final_coding_chunked = false;
    for (name, value) in headers {
        match name.as_str() {
            "connection" => {
                for token in list_items(value) {
                    close |= token.eq_ignore_ascii_case("close");
                    keep_alive_token |= token.eq_ignore_ascii_case("keep-alive");
                }
            }
            "transfer-encoding" => {
                has_transfer_encoding = true;
                // The codings of every field line form one list; only the last one matters.
                if let Some(last) = list_items(value).last() {
                    let coding = last.split(';').next().map(trim_ows_str).unwrap_or_default();
                    final_coding_chunked = coding.eq_ignore_ascii_case("chunked");
                }
            }
            "content-length" => has_content_length = true,
            _ => {}
        }
    }
    let mut keep_alive = !close && (http11 || keep_alive_token);
    // 1xx, 204 and 304 end at the head whatever their framing fields say.
    if status < 200 || status == 204 || status == 304 {
        return Ok((Framing::Empty, keep_alive));
    }
    if has_transfer_encoding {
        // Transfer-Encoding overrides Content-Length, but both at once (or Transfer-Encoding
        // in HTTP/1.0) smells of smuggling: read this body, then drop the connection.
        if has_content_length || !http11 {
            keep_alive = false;
        }
        if final_coding_chunked {
            return Ok((Framing::Chunked, keep_alive));
        }
        return Ok((Framing::UntilClose, false));
    }
    match content_length(headers)? {
        Some(length) => Ok((Framing::Length(length), keep_alive)),
        None => Ok((Framing::UntilClose, false)),
    }
}

/// The body length from every `content-length` value (several lines, or one comma list, are
/// accepted when all values agree); `None` when there is none.
fn content_length(headers: &[(String, String)]) -> CoreResult<Option<u64>> {
    let mut found: Option<u64> = None;
    for (_, value) in headers.iter().filter(|(name, _)| name == "content-length") {
        for item in value.split(',') {
            let length = parse_decimal(trim_ows_str(item))?;
            match found {
                Some(previous) if previous != length => {
                    return Err(CoreError::upstream(format!(
                        "conflicting content-length values {previous} and {length}"
                    )))
                }
                _ => found = Some(length),
            }
        }
    }
    Ok(found)
}

fn parse_decimal(text: &str) -> CoreResult<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoreError::upstream(format!("invalid content-length {text:?}")));
    }
    text.parse::<u64>().map_err(|_| CoreError::upstream(format!("content-length {text} is too large")))
}

/// The non-empty items of a comma-separated field value.
fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(trim_ows_str).filter(|item| !item.is_empty())
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn trim_ows_str(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// Where a `ChunkedDecoder` is in the chunked body grammar (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size.
    Size,
    /// Spaces after the size digits; then extensions or the line end.
    SizeSpace,
    /// Inside chunk extensions, skipped up to the line end.
    Extension,
    /// A CR ended the size line: LF must follow.
    SizeLf,
    /// Copying chunk payload.
    Data,
    /// The payload is complete: CR must follow.
    DataCr,
    /// LF must follow the CR after the payload.
    DataLf,
    /// At the start of a trailer field line or of the final empty line.
    TrailerStart,
    /// Inside a trailer field line, skipped up to LF.
    TrailerLine,
    /// A CR started the final empty line: LF must follow.
    FinalLf,
    /// The whole body has been read.
    Done,
    /// An error was reported; the body cannot be resumed.
    Failed,
}

/// Incremental decoder of a chunked body. Feed it the bytes after the head in pieces of any
/// size; it appends the payload to `out` and stops consuming right after the body's final
/// empty line, so the caller knows where the next response starts.
///
/// Size lines may end in a bare LF, as may trailer lines and the final empty line; the two
/// bytes after chunk payload must be CRLF. Extensions and trailer fields are skipped.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being read on a size line, then the payload bytes left in the current chunk.
    size: u64,
    /// Whether the current size line has a digit yet.
    has_digit: bool,
    /// Bytes of the current size line, or of the trailer section, seen so far.
    line_len: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder { state: State::Size, size: 0, has_digit: false, line_len: 0 }
    }

    /// True once the terminal chunk, the trailers and the final empty line have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `data`, appending payload bytes to `out`; returns how many bytes of `data`
    /// belong to the body. That is all of them until the body ends; bytes after the body's
    /// end are not consumed (and once done, nothing is). After an error the decoder stays
    /// failed, and `out` may hold the payload decoded before the error.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> CoreResult<usize> {
        let mut rest = data;
        loop {
            match self.state {
                State::Done => break,
                State::Failed => return Err(CoreError::upstream("chunked body already failed to decode")),
                State::Data => {
                    let take = usize::try_from(self.size).map_or(rest.len(), |size| size.min(rest.len()));
                    if take == 0 {
                        break;
                    }
                    let (payload, tail) = rest.split_at(take);
                    out.extend_from_slice(payload);
                    rest = tail;
                    // `take` never exceeds `size`, so this cannot underflow.
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                }
                _ => {
                    let Some((&byte, tail)) = rest.split_first() else { break };
                    rest = tail;
                    if let Err(e) = self.step(byte) {
                        self.state = State::Failed;
                        return Err(e);
                    }
                }
            }
        }
        Ok(data.len() - rest.len())
    }

    /// Advances over one framing byte (every state but `Data`, `Done` and `Failed`).
    fn step(&mut self, byte: u8) -> CoreResult<()> {
        match self.state {
            State::Size | State::SizeSpace | State::Extension | State::SizeLf => {
                self.line_len += 1;
                if self.line_len > MAX_CHUNK_LINE_BYTES {
                    return Err(CoreError::upstream(format!(
                        "chunk size line longer than {MAX_CHUNK_LINE_BYTES} bytes"
                    )));
                }
                self.step_size_line(byte)
            }
            State::DataCr | State::DataLf => {
                let expected = if self.state == State::DataCr { b'\r' } else { b'\n' };
                if byte != expected {
                    return Err(CoreError::upstream("chunk data not followed by CRLF"));
                }
                self.state = if self.state == State::DataCr { State::DataLf } else { State::Size };
                Ok(())
            }
            State::TrailerStart | State::TrailerLine | State::FinalLf => {
                self.line_len += 1;
                if self.line_len > MAX_TRAILER_BYTES {
                    return Err(CoreError::upstream(format!("chunked trailers larger than {MAX_TRAILER_BYTES} bytes")));
                }
                self.state = match (self.state, byte) {
                    (State::TrailerStart, b'\r') => State::FinalLf,
                    (State::TrailerStart | State::FinalLf, b'\n') => State::Done,
                    (State::FinalLf, _) => return Err(CoreError::upstream("chunked body: bad final line end")),
                    (_, b'\n') => State::TrailerStart,
                    _ => State::TrailerLine,
                };
                Ok(())
            }
            State::Data | State::Done | State::Failed => Ok(()),
        }
    }

    fn step_size_line(&mut self, byte: u8) -> CoreResult<()> {
        match (self.state, byte) {
            (State::Size, _) if byte.is_ascii_hexdigit() => {
                let digit = u64::from(hex_value(byte));
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|size| size.checked_add(digit))
                    .ok_or_else(|| CoreError::upstream("chunk size overflows 64 bits"))?;
                self.has_digit = true;
            }
            (State::Size, _) if !self.has_digit => {
                return Err(CoreError::upstream(format!("chunk size line starts with byte 0x{byte:02x}")));
            }
            (State::Size | State::SizeSpace, b' ' | b'\t') => self.state = State::SizeSpace,
            (State::Size | State::SizeSpace, b';') => self.state = State::Extension,
            (State::Size | State::SizeSpace | State::Extension, b'\r') => self.state = State::SizeLf,
            (State::Size | State::SizeSpace | State::Extension | State::SizeLf, b'\n') => self.end_size_line(),
            (State::Extension, _) => {}
            (State::SizeLf, _) => return Err(CoreError::upstream("chunk size line: CR not followed by LF")),
            _ => return Err(CoreError::upstream(format!("invalid byte 0x{byte:02x} in chunk size"))),
        }
        Ok(())
    }

    fn end_size_line(&mut self) {
        self.has_digit = false;
        self.line_len = 0;
        self.state = if self.size == 0 { State::TrailerStart } else { State::Data };
    }
}

fn hex_value(byte: u8) -> u8 {
    match byte {
        b'0'..=b'9' => byte - b'0',
        b'a'..=b'f' => byte - b'a' + 10,
        b'A'..=b'F' => byte - b'A' + 10,
        _ => 0,
    }
}
