//! `omniroute._core` HTTP/1.1 codec for the upstream client: `parse_response_head`,
//! `ChunkedDecoder` and the `FRAMING_*` constants.
//!
//! Thin: extract, call `omniroute_core::http1`, return. Inputs are `bytes` or `bytearray`
//! (`PyBackedBytes`): `bytes` are borrowed as they are, a `bytearray` is copied once. Neither
//! call releases the GIL: a head is at most 64 KiB, and decoding a body is a copy at memory
//! speed, cheaper than the release itself would be for the pieces a socket delivers.

use omniroute_core::http1::{parse_response_head as core_parse_head, ChunkedDecoder as CoreChunkedDecoder, Framing};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::to_py_err;

/// `framing_kind` values in the tuple `parse_response_head` returns.
pub const FRAMING_LENGTH: u8 = 0;
pub const FRAMING_CHUNKED: u8 = 1;
pub const FRAMING_UNTIL_CLOSE: u8 = 2;
pub const FRAMING_EMPTY: u8 = 3;

/// Decoded payload buffers above this capacity are not kept between `feed` calls.
const SCRATCH_KEEP_BYTES: usize = 64 * 1024;

/// (status, headers, head_len, framing_kind, content_length, keep_alive)
type HeadTuple = (u16, Vec<(String, String)>, usize, u8, u64, bool);

/// The response head at the start of `buf`, or `None` while it is incomplete.
#[pyfunction]
pub fn parse_response_head(buf: PyBackedBytes) -> PyResult<Option<HeadTuple>> {
    let Some(head) = core_parse_head(&buf).map_err(to_py_err)? else {
        return Ok(None);
    };
    let (kind, length) = match head.framing {
        Framing::Length(length) => (FRAMING_LENGTH, length),
        Framing::Chunked => (FRAMING_CHUNKED, 0),
        Framing::UntilClose => (FRAMING_UNTIL_CLOSE, 0),
        Framing::Empty => (FRAMING_EMPTY, 0),
    };
    Ok(Some((head.status, head.headers, head.head_len, kind, length, head.keep_alive)))
}

/// Incremental decoder of one chunked body: `feed(data)` returns `(payload, consumed)`.
#[pyclass(module = "omniroute._core")]
pub struct ChunkedDecoder {
    inner: CoreChunkedDecoder,
    /// Reused between calls so a small event costs no allocation besides its `bytes`.
    scratch: Vec<u8>,
}

#[pymethods]
impl ChunkedDecoder {
    #[new]
    fn new() -> Self {
        ChunkedDecoder { inner: CoreChunkedDecoder::new(), scratch: Vec::new() }
    }

    /// Decodes `data`; `consumed` is less than `len(data)` only when the body ended inside it.
    fn feed<'py>(&mut self, py: Python<'py>, data: PyBackedBytes) -> PyResult<(Bound<'py, PyBytes>, usize)> {
        self.scratch.clear();
        let consumed = self.inner.feed(&data, &mut self.scratch).map_err(to_py_err)?;
        // Framing bytes produce no payload: when the payload is as long as the input, it is
        // the input, and a `bytes` input is returned as it is instead of copied.
        let payload =
            if self.scratch.len() == data.len() { data.into_pyobject(py)? } else { PyBytes::new(py, &self.scratch) };
        if self.scratch.capacity() > SCRATCH_KEEP_BYTES {
            self.scratch = Vec::new();
        }
        Ok((payload, consumed))
    }

    /// True once the last chunk, the trailers and the final empty line have been read.
    #[getter]
    fn done(&self) -> bool {
        self.inner.is_done()
    }

    fn __repr__(&self) -> String {
        format!("ChunkedDecoder(done={})", if self.inner.is_done() { "True" } else { "False" })
    }
}
