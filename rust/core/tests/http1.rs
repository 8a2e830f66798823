#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The HTTP/1.1 response codec: head parsing and framing rules (RFC 9112 §6.3), and the
//! chunked body decoder fed in every possible split.

use omniroute_core::http1::{
    parse_response_head, ChunkedDecoder, Framing, ResponseHead, MAX_CHUNK_LINE_BYTES, MAX_HEADERS, MAX_HEAD_BYTES,
    MAX_TRAILER_BYTES,
};
use omniroute_core::CoreError;

fn head(bytes: &[u8]) -> ResponseHead {
    parse_response_head(bytes).expect("valid head").expect("complete head")
}

fn head_error(bytes: &[u8]) -> String {
    match parse_response_head(bytes) {
        Err(CoreError::UpstreamProtocol { message }) => message,
        other => panic!("expected an upstream protocol error, got {other:?}"),
    }
}

fn framing(bytes: &[u8]) -> (Framing, bool) {
    let h = head(bytes);
    (h.framing, h.keep_alive)
}

// ---------------------------------------------------------------- response head

#[test]
fn test_head_fields_are_parsed_lowercased_and_trimmed() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Type:  text/event-stream \t\r\nX-Request-ID: abc\r\nContent-Length: 5\r\n\r\nhello";
    let h = head(raw);
    assert_eq!(h.status, 200);
    assert_eq!(h.reason.as_deref(), Some("OK"));
    assert_eq!(
        h.headers,
        vec![
            ("content-type".to_owned(), "text/event-stream".to_owned()),
            ("x-request-id".to_owned(), "abc".to_owned()),
            ("content-length".to_owned(), "5".to_owned()),
        ]
    );
    assert_eq!(h.head_len, raw.len() - 5);
    assert_eq!(h.framing, Framing::Length(5));
    assert!(h.keep_alive);
}

#[test]
fn test_head_without_reason_phrase_has_none() {
    let h = head(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.status, 200);
    assert_eq!(h.reason, None);
    assert_eq!(head(b"HTTP/1.1 404 \r\ncontent-length: 0\r\n\r\n").reason, None);
    assert_eq!(
        head(b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\n\r\n").reason.as_deref(),
        Some("Too Many Requests")
    );
}

#[test]
fn test_header_values_are_lossy_utf8() {
    let h = head(b"HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9 \xff!\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.headers[0], ("x-name".to_owned(), "caf\u{e9} \u{fffd}!".to_owned()));
}

#[test]
fn test_empty_header_value_is_kept() {
    let h = head(b"HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Spaces:   \r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.headers[0], ("x-empty".to_owned(), String::new()));
    assert_eq!(h.headers[1], ("x-spaces".to_owned(), String::new()));
}

#[test]
fn test_every_strict_prefix_of_a_head_is_incomplete() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let complete = head(raw);
    for end in 0..complete.head_len {
        assert_eq!(parse_response_head(&raw[..end]).unwrap(), None, "prefix of {end} bytes");
    }
    assert_eq!(head(&raw[..complete.head_len]), complete);
}

#[test]
fn test_head_without_terminator_beyond_limit_is_an_error() {
    let mut raw = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
    raw.resize(MAX_HEAD_BYTES - 1, b'a');
    assert_eq!(parse_response_head(&raw).unwrap(), None);
    raw.push(b'x');
    assert!(head_error(&raw).contains("larger than"));
}

#[test]
fn test_head_exactly_at_limit_is_accepted_one_byte_more_is_not() {
    let build = |total: usize| {
        let mut raw = b"HTTP/1.1 204 No Content\r\nX-Pad: ".to_vec();
        raw.resize(total - 4, b'a');
        raw.extend_from_slice(b"\r\n\r\n");
        raw
    };
    let at_limit = build(MAX_HEAD_BYTES);
    assert_eq!(head(&at_limit).head_len, MAX_HEAD_BYTES);
    assert!(head_error(&build(MAX_HEAD_BYTES + 1)).contains("larger than"));
}

#[test]
fn test_endless_leading_empty_lines_hit_the_limit() {
    assert_eq!(parse_response_head(&b"\r\n".repeat(100)).unwrap(), None);
    assert!(parse_response_head(&b"\r\n".repeat(MAX_HEAD_BYTES / 2)).is_err());
}

#[test]
fn test_malformed_heads_are_errors() {
    for raw in [
        &b"HTTP/2.0 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: no name\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
        b"<html>\r\n\r\n",
        b"\x00\x01\x02",
    ] {
        assert!(head_error(raw).contains("malformed"), "{:?}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn test_status_below_100_is_an_error() {
    assert!(head_error(b"HTTP/1.1 099 Odd\r\n\r\n").contains("status"));
    assert!(head_error(b"HTTP/1.1 000 Zero\r\n\r\n").contains("status"));
}

#[test]
fn test_up_to_128_headers_are_accepted() {
    let build = |count: usize| {
        let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..count {
            raw.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw
    };
    assert_eq!(head(&build(MAX_HEADERS)).headers.len(), MAX_HEADERS);
    assert!(head_error(&build(MAX_HEADERS + 1)).contains("more than 128"));
}

// ---------------------------------------------------------------- framing

#[test]
fn test_interim_and_bodiless_statuses_are_empty() {
    for status in [100, 102, 103, 204, 304] {
        let raw = format!("HTTP/1.1 {status} X\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n");
        let h = head(raw.as_bytes());
        assert_eq!(h.status, status);
        assert_eq!(h.framing, Framing::Empty, "{status}");
        assert!(h.keep_alive, "{status}");
    }
    // Framing fields are ignored there, even invalid ones.
    assert_eq!(framing(b"HTTP/1.1 304 Not Modified\r\nContent-Length: nope\r\n\r\n"), (Framing::Empty, true));
    assert_eq!(framing(b"HTTP/1.1 100 Continue\r\n\r\n"), (Framing::Empty, true));
}

#[test]
fn test_interim_head_is_followed_by_the_final_one() {
    let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let interim = head(raw);
    assert_eq!((interim.status, interim.framing), (100, Framing::Empty));
    let last = head(&raw[interim.head_len..]);
    assert_eq!((last.status, last.framing), (200, Framing::Length(2)));
    assert_eq!(interim.head_len + last.head_len, raw.len() - 2);
}

#[test]
fn test_final_chunked_coding_is_chunked() {
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), (Framing::Chunked, true));
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"), (Framing::Chunked, true));
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), (Framing::Chunked, true));
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
        (Framing::Chunked, true)
    );
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked , \r\n\r\n"), (Framing::Chunked, true));
}

#[test]
fn test_transfer_encoding_without_final_chunked_reads_until_close() {
    for raw in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n",
    ] {
        assert_eq!(framing(raw), (Framing::UntilClose, false), "{:?}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn test_transfer_encoding_overrides_content_length_and_closes() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(framing(raw), (Framing::Chunked, false));
    // Content-Length is not even validated when Transfer-Encoding is there.
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(framing(raw), (Framing::Chunked, false));
}

#[test]
fn test_transfer_encoding_in_http10_closes() {
    let raw = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(framing(raw), (Framing::Chunked, false));
}

#[test]
fn test_content_length_values_that_agree_give_the_length() {
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), (Framing::Length(0), true));
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"), (Framing::Length(42), true));
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n"), (Framing::Length(7), true));
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nContent-Length: 42, 42\r\n\r\n"), (Framing::Length(42), true));
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\ncontent-length: 42\r\n\r\n"),
        (Framing::Length(42), true)
    );
    assert_eq!(
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"),
        (Framing::Length(u64::MAX), true)
    );
}

#[test]
fn test_conflicting_content_lengths_are_an_error() {
    assert!(head_error(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").contains("conflicting"));
    assert!(head_error(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n").contains("conflicting"));
}

#[test]
fn test_invalid_content_lengths_are_an_error() {
    for value in ["", "abc", "-1", "+5", "1 2", "0x10", "5,", ",5", "1.0", "\u{663}", "18446744073709551616"] {
        let raw = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
        assert!(parse_response_head(raw.as_bytes()).is_err(), "{value:?}");
    }
}

#[test]
fn test_no_framing_fields_reads_until_close() {
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\n\r\n"), (Framing::UntilClose, false));
    assert_eq!(framing(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"), (Framing::UntilClose, false));
}

#[test]
fn test_keep_alive_defaults_per_version() {
    assert_eq!(framing(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), (Framing::Length(0), true));
    assert_eq!(framing(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), (Framing::Length(0), false));
    assert_eq!(
        framing(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"),
        (Framing::Length(0), true)
    );
}

#[test]
fn test_connection_close_token_ends_keep_alive() {
    for raw in [
        &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    ] {
        assert!(!head(raw).keep_alive, "{:?}", String::from_utf8_lossy(raw));
    }
    // Only whole tokens count.
    let raw = b"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n";
    assert!(head(raw).keep_alive);
}

// ---------------------------------------------------------------- chunked decoder

/// Feeds `pieces` in order; returns (payload, total consumed, done).
fn decode(pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), CoreError> {
    let mut decoder = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut consumed = 0;
    for piece in pieces {
        let n = decoder.feed(piece, &mut out)?;
        assert!(n <= piece.len());
        if n < piece.len() {
            assert!(decoder.is_done(), "a piece may be left partly unconsumed only at the end");
        }
        consumed += n;
    }
    Ok((out, consumed, decoder.is_done()))
}

fn decode_error(body: &[u8]) -> String {
    match decode(&[body]) {
        Err(CoreError::UpstreamProtocol { message }) => message,
        other => panic!("expected an upstream protocol error, got {other:?}"),
    }
}

const MESSAGE: &[u8] = b"5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n6 ; a=\"q;\\\"x\" ; b\r\n\r\nwor\n\r\n0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n";
const MESSAGE_PAYLOAD: &[u8] = b"helloabcdefghijklmnopqrstuvwxyz\r\nwor\n";

#[test]
fn test_chunked_body_decodes_and_consumes_exactly() {
    let mut input = MESSAGE.to_vec();
    input.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    let (payload, consumed, done) = decode(&[&input]).unwrap();
    assert_eq!(payload, MESSAGE_PAYLOAD);
    assert_eq!(consumed, MESSAGE.len());
    assert!(done);
}

#[test]
fn test_byte_by_byte_feeding_equals_feeding_whole() {
    let whole = decode(&[MESSAGE]).unwrap();
    let bytes: Vec<&[u8]> = MESSAGE.chunks(1).collect();
    assert_eq!(decode(&bytes).unwrap(), whole);
    assert_eq!(whole, (MESSAGE_PAYLOAD.to_vec(), MESSAGE.len(), true));
}

#[test]
fn test_every_two_and_three_way_split_decodes_the_same() {
    let whole = decode(&[MESSAGE]).unwrap();
    for a in 0..=MESSAGE.len() {
        let (x, y) = MESSAGE.split_at(a);
        assert_eq!(decode(&[x, y]).unwrap(), whole, "split at {a}");
        for b in (a..=MESSAGE.len()).step_by(7) {
            let (y1, y2) = y.split_at(b - a);
            assert_eq!(decode(&[x, &[], y1, y2]).unwrap(), whole, "split at {a} and {b}");
        }
    }
}

#[test]
fn test_hex_sizes_in_either_case() {
    let mut body = b"a\r\n0123456789\r\nA\r\n0123456789\r\n0000F\r\n".to_vec();
    body.extend_from_slice(&[b'x'; 15]);
    body.extend_from_slice(b"\r\n00\r\n\r\n");
    let (payload, consumed, done) = decode(&[&body]).unwrap();
    assert_eq!(payload.len(), 35);
    assert_eq!((consumed, done), (body.len(), true));
}

#[test]
fn test_size_lines_may_end_in_bare_lf() {
    let (payload, _, done) = decode(&[b"3\nabc\r\n2;x=y\nde\r\n0\n\n"]).unwrap();
    assert_eq!(payload, b"abcde");
    assert!(done);
}

#[test]
fn test_trailers_are_skipped() {
    let body = b"2\r\nok\r\n0\r\nA: 1\r\nB: 2\nC: \r\n\r\nNEXT";
    let (payload, consumed, done) = decode(&[body]).unwrap();
    assert_eq!(payload, b"ok");
    assert_eq!(consumed, body.len() - 4);
    assert!(done);
}

#[test]
fn test_empty_body_is_only_the_last_chunk() {
    assert_eq!(decode(&[b"0\r\n\r\n"]).unwrap(), (Vec::new(), 5, true));
    assert_eq!(decode(&[b"0;ext\r\n\r\nrest"]).unwrap(), (Vec::new(), 9, true));
}

#[test]
fn test_nothing_is_consumed_once_done() {
    let mut decoder = ChunkedDecoder::new();
    let mut out = Vec::new();
    assert_eq!(decoder.feed(b"0\r\n", &mut out).unwrap(), 3);
    assert!(!decoder.is_done());
    assert_eq!(decoder.feed(b"\r\n0\r\n\r\n", &mut out).unwrap(), 2);
    assert!(decoder.is_done());
    assert_eq!(decoder.feed(b"more", &mut out).unwrap(), 0);
    assert_eq!(decoder.feed(b"", &mut out).unwrap(), 0);
    assert!(out.is_empty());
}

#[test]
fn test_incomplete_body_is_not_done() {
    for cut in [b"".as_slice(), b"5", b"5\r", b"5\r\nhel", b"5\r\nhello", b"5\r\nhello\r", b"5\r\nhello\r\n0\r\n"] {
        let (_, consumed, done) = decode(&[cut]).unwrap();
        assert_eq!(consumed, cut.len());
        assert!(!done);
    }
}

#[test]
fn test_data_must_be_followed_by_crlf() {
    assert!(decode_error(b"3\r\nabcX\r\n0\r\n\r\n").contains("CRLF"));
    assert!(decode_error(b"3\r\nabc\n0\r\n\r\n").contains("CRLF"));
    assert!(decode_error(b"3\r\nabc\rX").contains("CRLF"));
    assert!(decode_error(b"3\r\nabcd\r\n").contains("CRLF"));
}

#[test]
fn test_size_overflow_is_an_error() {
    assert!(decode_error(b"10000000000000000\r\n").contains("overflow"));
    assert!(decode_error(b"fffffffffffffffff\r\n").contains("overflow"));
    // The largest size still parses (and then waits for that much data).
    let mut decoder = ChunkedDecoder::new();
    assert_eq!(decoder.feed(b"ffffffffffffffff\r\nabc", &mut Vec::new()).unwrap(), 21);
    // Leading zeros do not count against the size.
    assert_eq!(decode(&[b"000000000000000000000003\r\nabc\r\n0\r\n\r\n"]).unwrap().0, b"abc");
}

#[test]
fn test_bad_size_lines_are_errors() {
    for body in [
        &b"\r\n"[..],
        b";ext\r\n",
        b" 5\r\n",
        b"g\r\n",
        b"-1\r\n",
        b"0x5\r\n",
        b"5 6\r\n",
        b"5\rX",
        b"5;ext\rX",
        b"HTTP/1.1 200 OK\r\n",
    ] {
        assert!(decode(&[body]).is_err(), "{:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn test_bad_final_line_is_an_error() {
    assert!(decode(&[b"0\r\n\rX"]).is_err());
}

#[test]
fn test_size_line_length_is_bounded() {
    let mut body = b"5;".to_vec();
    body.resize(MAX_CHUNK_LINE_BYTES - 2, b'x');
    body.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    assert_eq!(decode(&[&body]).unwrap().0, b"hello");
    let mut body = b"5;".to_vec();
    body.resize(MAX_CHUNK_LINE_BYTES + 1, b'x');
    assert!(decode_error(&body).contains("longer than"));
}

#[test]
fn test_trailer_section_is_bounded() {
    let mut body = b"0\r\n".to_vec();
    body.extend_from_slice(&b"X-T: y\r\n".repeat(MAX_TRAILER_BYTES / 8 + 1));
    assert!(decode_error(&body).contains("trailers"));
}

#[test]
fn test_decoder_stays_failed_after_an_error() {
    let mut decoder = ChunkedDecoder::new();
    let mut out = Vec::new();
    assert!(decoder.feed(b"zz", &mut out).is_err());
    assert!(decoder.feed(b"0\r\n\r\n", &mut out).is_err());
    assert!(!decoder.is_done());
}

#[test]
fn test_payload_before_an_error_is_kept() {
    let mut decoder = ChunkedDecoder::new();
    let mut out = Vec::new();
    assert!(decoder.feed(b"2\r\nok\r\nzz", &mut out).is_err());
    assert_eq!(out, b"ok");
}
