//! Incremental Server-Sent Events codec.
//!
//! The decoder takes bytes in whatever pieces the network delivers them and yields whole
//! events, following the WHATWG event-stream rules: lines end in LF, CRLF or a lone CR (also
//! when the CR and LF arrive in different chunks), `:` starts a comment, `data` lines of one
//! event are joined with `\n`, one space after the colon is dropped, and a leading BOM is
//! ignored. Lines are split on bytes before decoding, so a UTF-8 character split across two
//! chunks is reassembled. The encoder writes the framing back, one event at a time.

use memchr::memchr2;

/// One dispatched event. `event` is `None` when the stream gave no `event:` field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
    pub retry: Option<u64>,
}

/// Streaming decoder; feed it chunks, collect events.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of a line not yet terminated.
    partial: Vec<u8>,
    /// The previous chunk ended with CR: a LF at the start of the next chunk belongs to it.
    after_cr: bool,
    /// Still at the very start of the stream (for BOM stripping).
    at_start: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    retry: Option<u64>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseDecoder {
    pub fn new() -> Self {
        SseDecoder { at_start: true, ..Default::default() }
    }

    /// Feeds one chunk and appends every event it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) {
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(pos) = memchr2(b'\n', b'\r', chunk) {
            let (line_part, rest) = chunk.split_at(pos);
            let terminator = rest.first().copied();
            let mut rest = rest.get(1..).unwrap_or_default();
            if terminator == Some(b'\r') {
                match rest.first() {
                    Some(b'\n') => rest = rest.get(1..).unwrap_or_default(),
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if self.partial.is_empty() {
                self.process_line(line_part, out);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(line_part);
                self.process_line(&line, out);
                line.clear();
                self.partial = line;
            }
            chunk = rest;
        }
        self.partial.extend_from_slice(chunk);
    }

    /// Ends the stream. An event without its closing blank line is not dispatched (the
    /// specification discards it), but the caller can tell with `has_pending`.
    pub fn has_pending(&self) -> bool {
        self.has_data || !self.partial.is_empty()
    }

    fn process_line(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) {
        if self.at_start {
            self.at_start = false;
            if let Some(rest) = line.strip_prefix(BOM) {
                line = rest;
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.first() == Some(&b':') {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let (field, value) = line.split_at(colon);
                let value = value.get(1..).unwrap_or_default();
                (field, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        let retry = self.retry.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent { event, data: std::mem::take(&mut self.data), id: self.id.clone(), retry });
    }
}

/// Appends one event in SSE framing to `out`. Multi-line data becomes several `data:` lines.
pub fn encode_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        // A line break inside the name would start a new field: drop CR and LF.
        out.extend_from_slice(b"event: ");
        out.extend(name.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
        out.push(b'\n');
    }
    for line in data.split("\r\n").flat_map(|l| l.split(['\r', '\n'])) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut out);
        }
        out
    }

    fn data(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_owned), data: data.to_owned(), ..Default::default() }
    }

    #[test]
    fn decodes_plain_data_events() {
        let events = decode_all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(events, vec![data(None, "{\"a\":1}"), data(None, "[DONE]")]);
    }

    #[test]
    fn decodes_named_events_with_crlf() {
        let events = decode_all(&[b"event: ping\r\ndata: {}\r\n\r\n"]);
        assert_eq!(events, vec![data(Some("ping"), "{}")]);
    }

    #[test]
    fn lone_cr_terminates_lines_even_across_chunks() {
        let events = decode_all(&[b"data: a\r", b"\r", b"data: b\r", b"\n\r\n"]);
        assert_eq!(events, vec![data(None, "a"), data(None, "b")]);
    }

    #[test]
    fn comments_are_ignored_and_multiline_data_joined() {
        let events = decode_all(&[b": keep-alive\n\ndata: one\ndata:two\ndata\n\n"]);
        assert_eq!(events, vec![data(None, "one\ntwo\n")]);
    }

    #[test]
    fn utf8_split_mid_character_is_reassembled() {
        let bytes = "data: h\u{e9}llo \u{1F600}\n\n".as_bytes();
        let events = decode_all(&[&bytes[..8], &bytes[8..16], &bytes[16..]]);
        assert_eq!(events, vec![data(None, "h\u{e9}llo \u{1F600}")]);
    }

    #[test]
    fn bom_at_start_is_skipped_and_id_retry_parsed() {
        let events = decode_all(&[b"\xEF\xBB\xBFid: 7\nretry: 1500\ndata: x\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[0].retry, Some(1500));
    }

    #[test]
    fn event_without_data_is_not_dispatched_and_pending_is_reported() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(b"event: x\n\ndata: partial", &mut out);
        assert!(out.is_empty());
        assert!(decoder.has_pending());
    }

    #[test]
    fn empty_chunk_between_cr_and_lf_does_not_split_the_crlf() {
        let events = decode_all(&[b"data: a\r", b"", b"\ndata: b\n\n"]);
        assert_eq!(events, vec![data(None, "a\nb")]);
    }

    #[test]
    fn encoder_treats_lone_cr_as_a_line_break() {
        let mut bytes = Vec::new();
        encode_event(&mut bytes, None, "x\revent: evil\r\ny\r");
        assert_eq!(bytes, b"data: x\ndata: event: evil\ndata: y\ndata: \n\n");
        assert_eq!(decode_all(&[&bytes]), vec![data(None, "x\nevent: evil\ny\n")]);
    }

    #[test]
    fn encoder_strips_line_breaks_from_event_names() {
        let mut bytes = Vec::new();
        encode_event(&mut bytes, Some("a\r\ndata: evil\nb"), "x");
        assert_eq!(decode_all(&[&bytes]), vec![data(Some("adata: evilb"), "x")]);
    }

    #[test]
    fn encoder_round_trips_through_decoder() {
        let mut bytes = Vec::new();
        encode_event(&mut bytes, Some("message_start"), "line1\nline2");
        encode_event(&mut bytes, None, "[DONE]");
        assert_eq!(decode_all(&[&bytes]), vec![data(Some("message_start"), "line1\nline2"), data(None, "[DONE]")]);
    }
}
