//! omniroute._core: the thin PyO3 binding over omniroute-core.
//!
//! Extract arguments, call the core, map errors; no logic lives here. Bytes cross the
//! boundary in both directions. Large bodies are processed with the GIL released (borrowed from
//! their immutable bytes objects, not copied), so other Python threads keep running during big
//! translations.

// Python-facing functions mirror keyword-only Python signatures, which may be long.
#![allow(clippy::too_many_arguments)]

mod count;
mod guard;
mod http1;
mod limits;
mod prompt_text;
mod request_parts;
mod surrogates;

use std::borrow::Cow;

use omniroute_core::dialect::EncodeOptions;
use omniroute_core::error_body::{error_body as core_error_body, stream_error_event, ErrorSpec};
use omniroute_core::inspect::{inspect_request as core_inspect, RequestInfo as CoreRequestInfo};
use omniroute_core::sse::{encode_event, SseDecoder as CoreSseDecoder};
use omniroute_core::stream::{StreamOptions, StreamState, StreamTranslator as CoreStreamTranslator};
use omniroute_core::translate::{
    translate_request as core_translate_request, translate_response as core_translate_response, UpstreamOptions,
};
use omniroute_core::usage::Usage as CoreUsage;
use omniroute_core::{CoreError, Dialect};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

create_exception!(_core, OmnirouteError, PyException, "Base class of every OmniRoute error.");
create_exception!(_core, InvalidRequestError, OmnirouteError, "The client's request cannot be accepted.");
create_exception!(_core, UpstreamProtocolError, OmnirouteError, "The upstream broke its own wire protocol.");
create_exception!(_core, UnsupportedError, OmnirouteError, "A dialect pairing or feature that is not available.");

/// Bodies above this size are processed with the GIL released.
const DETACH_THRESHOLD: usize = 256 * 1024;

pub(crate) fn to_py_err(err: CoreError) -> PyErr {
    match err {
        CoreError::InvalidRequest { message, param } => InvalidRequestError::new_err((message, param)),
        CoreError::UpstreamProtocol { message } => UpstreamProtocolError::new_err(message),
        CoreError::Unsupported { message } => UnsupportedError::new_err(message),
    }
}

pub(crate) fn dialect(name: &str) -> PyResult<Dialect> {
    Dialect::parse(name).map_err(to_py_err)
}

/// Runs `job` on `body`, without the GIL when the body is large.
pub(crate) fn with_body<T: Send>(py: Python<'_>, body: &PyBackedBytes, job: impl Fn(&[u8]) -> T + Send + Sync) -> T {
    if body.len() >= DETACH_THRESHOLD {
        // The bytes object is immutable and held by `body`: no copy is needed to let go of the GIL.
        py.detach(|| job(body))
    } else {
        job(body)
    }
}

/// The request fields the gateway acts on.
#[pyclass(module = "omniroute._core", frozen, get_all)]
pub(crate) struct RequestInfo {
    model: Option<String>,
    stream: bool,
    include_usage: bool,
    max_tokens: Option<u64>,
    has_tools: bool,
    temperature_zero: bool,
}

impl From<CoreRequestInfo> for RequestInfo {
    fn from(i: CoreRequestInfo) -> Self {
        RequestInfo {
            model: i.model,
            stream: i.stream,
            include_usage: i.include_usage,
            max_tokens: i.max_tokens,
            has_tools: i.has_tools,
            temperature_zero: i.temperature_zero,
        }
    }
}

#[pymethods]
impl RequestInfo {
    fn __repr__(&self) -> String {
        let py_bool = |b: bool| if b { "True" } else { "False" };
        let model = self.model.as_ref().map_or_else(|| "None".to_owned(), |m| format!("{m:?}"));
        let max_tokens = self.max_tokens.map_or_else(|| "None".to_owned(), |n| n.to_string());
        format!(
            "RequestInfo(model={model}, stream={}, include_usage={}, max_tokens={max_tokens}, has_tools={})",
            py_bool(self.stream),
            py_bool(self.include_usage),
            py_bool(self.has_tools)
        )
    }
}

/// Token counts reported by the upstream.
#[pyclass(module = "omniroute._core", frozen, get_all)]
#[derive(Clone, Copy)]
struct Usage {
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    cache_creation_tokens: u64,
    reasoning_tokens: u64,
}

impl From<CoreUsage> for Usage {
    fn from(u: CoreUsage) -> Self {
        Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cached_tokens: u.cached_tokens,
            cache_creation_tokens: u.cache_creation_tokens,
            reasoning_tokens: u.reasoning_tokens,
        }
    }
}

#[pymethods]
impl Usage {
    fn __repr__(&self) -> String {
        format!(
            "Usage(input_tokens={}, output_tokens={}, cached_tokens={}, cache_creation_tokens={}, reasoning_tokens={})",
            self.input_tokens,
            self.output_tokens,
            self.cached_tokens,
            self.cache_creation_tokens,
            self.reasoning_tokens
        )
    }
}

#[pyfunction]
fn inspect_request(py: Python<'_>, body: PyBackedBytes, dialect_name: &str) -> PyResult<RequestInfo> {
    let d = dialect(dialect_name)?;
    with_body(py, &body, |b| core_inspect(b, d)).map(RequestInfo::from).map_err(to_py_err)
}

#[pyfunction]
#[pyo3(signature = (body, client, upstream, *, model=None, force_stream_usage=false, merge_system=false, stream=None, parts=false))]
fn translate_request<'py>(
    py: Python<'py>,
    body: Bound<'py, PyAny>,
    client: &str,
    upstream: &str,
    model: Option<&str>,
    force_stream_usage: bool,
    merge_system: bool,
    stream: Option<bool>,
    parts: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let (c, u) = (dialect(client)?, dialect(upstream)?);
    let opts = UpstreamOptions { model, force_stream_usage, merge_system, stream };
    if parts {
        return request_parts::upstream_parts(py, body.cast_into::<PyBytes>()?, c, u, &opts).map(Bound::into_any);
    }
    let backed: PyBackedBytes = body.extract()?;
    let rewritten: Option<Vec<u8>> = with_body(py, &backed, |b| {
        core_translate_request(b, c, u, &opts).map(|out| match out {
            Cow::Borrowed(_) => None,
            Cow::Owned(bytes) => Some(bytes),
        })
    })
    .map_err(to_py_err)?;
    // A body going upstream unchanged is the caller's own bytes object: a 1 MB image is not copied.
    match (rewritten, body.cast_into::<PyBytes>()) {
        (None, Ok(same)) => Ok(same.into_any()),
        (None, Err(_)) => Ok(PyBytes::new(py, &backed).into_any()),
        (Some(bytes), _) => Ok(PyBytes::new(py, &bytes).into_any()),
    }
}

fn encode_options(created: u64, response_id: Option<String>, model: Option<String>) -> EncodeOptions {
    EncodeOptions { created, response_id, model, ..Default::default() }
}

#[pyfunction]
#[pyo3(signature = (body, upstream, client, *, created=0, response_id=None, model=None))]
fn translate_response<'py>(
    py: Python<'py>,
    body: Bound<'py, PyBytes>,
    upstream: &str,
    client: &str,
    created: u64,
    response_id: Option<String>,
    model: Option<String>,
) -> PyResult<(Bound<'py, PyBytes>, Option<Usage>)> {
    let (u, c) = (dialect(upstream)?, dialect(client)?);
    let opts = encode_options(created, response_id, model);
    let backed = PyBackedBytes::from(body.clone());
    let (rewritten, usage) = with_body(py, &backed, |b| {
        core_translate_response(b, u, c, &opts).map(|out| match out.body {
            Cow::Borrowed(_) => (None, out.usage),
            Cow::Owned(bytes) => (Some(bytes), out.usage),
        })
    })
    .map_err(to_py_err)?;
    // Bytes forwarded unchanged are the caller's own object: no copy.
    let body = rewritten.map_or(body, |bytes| PyBytes::new(py, &bytes));
    Ok((body, usage.map(Usage::from)))
}

fn spec<'a>(
    status: u16,
    message: &'a str,
    error_type: Option<&'a str>,
    code: Option<&'a str>,
    param: Option<&'a str>,
    request_id: Option<&'a str>,
) -> ErrorSpec<'a> {
    ErrorSpec { status, message, error_type, code, param, request_id }
}

#[pyfunction]
#[pyo3(signature = (dialect_name, status, message, *, error_type=None, code=None, param=None, request_id=None))]
fn error_body<'py>(
    py: Python<'py>,
    dialect_name: &str,
    status: u16,
    message: &str,
    error_type: Option<&str>,
    code: Option<&str>,
    param: Option<&str>,
    request_id: Option<&str>,
) -> PyResult<Bound<'py, PyBytes>> {
    let d = dialect(dialect_name)?;
    let e = spec(status, message, error_type, code, param, request_id);
    Ok(PyBytes::new(py, &core_error_body(d, &e)))
}

#[pyfunction]
#[pyo3(signature = (dialect_name, status, message, *, error_type=None, code=None, sequence_number=0))]
fn stream_error<'py>(
    py: Python<'py>,
    dialect_name: &str,
    status: u16,
    message: &str,
    error_type: Option<&str>,
    code: Option<&str>,
    sequence_number: u64,
) -> PyResult<Bound<'py, PyBytes>> {
    let d = dialect(dialect_name)?;
    let e = spec(status, message, error_type, code, None, None);
    Ok(PyBytes::new(py, &stream_error_event(d, &e, sequence_number)))
}

#[pyfunction]
#[pyo3(signature = (data, event=None))]
fn encode_sse<'py>(py: Python<'py>, data: &str, event: Option<&str>) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(data.len() + 16);
    encode_event(&mut out, event, data);
    PyBytes::new(py, &out)
}

/// Incremental SSE decoder: `feed(bytes)` returns the completed `(event, data)` pairs.
#[pyclass(module = "omniroute._core")]
struct SseDecoder {
    inner: CoreSseDecoder,
}

#[pymethods]
impl SseDecoder {
    #[new]
    fn new() -> Self {
        SseDecoder { inner: CoreSseDecoder::new() }
    }

    fn feed(&mut self, chunk: &[u8]) -> Vec<(Option<String>, String)> {
        let mut events = Vec::new();
        self.inner.feed(chunk, &mut events);
        events.into_iter().map(|e| (e.event, e.data)).collect()
    }

    #[getter]
    fn has_pending(&self) -> bool {
        self.inner.has_pending()
    }
}

/// One stream's relay from the upstream dialect to the client dialect.
#[pyclass(module = "omniroute._core")]
struct StreamTranslator {
    inner: CoreStreamTranslator,
}

#[pymethods]
impl StreamTranslator {
    #[new]
    #[pyo3(signature = (upstream, client, *, include_usage=false, created=0, response_id=None, model=None))]
    fn new(
        upstream: &str,
        client: &str,
        include_usage: bool,
        created: u64,
        response_id: Option<String>,
        model: Option<String>,
    ) -> PyResult<Self> {
        let options = StreamOptions { include_usage, encode: encode_options(created, response_id, model) };
        let inner = CoreStreamTranslator::new(dialect(upstream)?, dialect(client)?, options);
        Ok(StreamTranslator { inner })
    }

    fn feed<'py>(&mut self, py: Python<'py>, chunk: &[u8]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.feed(chunk))
    }

    fn finish<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.finish())
    }

    fn fail<'py>(&mut self, py: Python<'py>, message: &str) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.fail(message))
    }

    #[getter]
    fn usage(&self) -> Option<Usage> {
        self.inner.usage().map(Usage::from)
    }

    #[getter]
    fn state(&self) -> &'static str {
        match self.inner.state() {
            StreamState::Open => "open",
            StreamState::Completed => "completed",
            StreamState::Failed => "failed",
        }
    }

    #[getter]
    fn error_message(&self) -> Option<String> {
        self.inner.error_message().map(str::to_owned)
    }

    /// The `response.completed` event payload (JSON text) for a Responses client.
    #[getter]
    fn completed_response(&self) -> Option<String> {
        self.inner.completed_response().map(str::to_owned)
    }
}

/// Estimated input tokens of a client request (o200k BPE over the canonical request).
#[pyfunction]
fn estimate_tokens(py: Python<'_>, body: PyBackedBytes, dialect_name: &str) -> PyResult<u64> {
    let d = dialect(dialect_name)?;
    py.detach(|| omniroute_core::tokens::estimate_request_tokens(&body, d)).map_err(to_py_err)
}

/// Bytes that keep an idle stream alive without changing its meaning: Anthropic's `ping`
/// event, an SSE comment elsewhere.
#[pyfunction]
fn keepalive<'py>(py: Python<'py>, dialect_name: &str) -> PyResult<Bound<'py, PyBytes>> {
    let bytes: &[u8] = match dialect(dialect_name)? {
        Dialect::Anthropic => b"event: ping\ndata: {\"type\": \"ping\"}\n\n",
        _ => b": keep-alive\n\n",
    };
    Ok(PyBytes::new(py, bytes))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // The package version (maturin builds the wheel with this crate's version).
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("OmnirouteError", py.get_type::<OmnirouteError>())?;
    m.add("InvalidRequestError", py.get_type::<InvalidRequestError>())?;
    m.add("UpstreamProtocolError", py.get_type::<UpstreamProtocolError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add_class::<RequestInfo>()?;
    m.add_class::<Usage>()?;
    m.add_class::<SseDecoder>()?;
    m.add_class::<StreamTranslator>()?;
    m.add_class::<limits::Limiter>()?;
    m.add_class::<http1::ChunkedDecoder>()?;
    m.add("FRAMING_LENGTH", http1::FRAMING_LENGTH)?;
    m.add("FRAMING_CHUNKED", http1::FRAMING_CHUNKED)?;
    m.add("FRAMING_UNTIL_CLOSE", http1::FRAMING_UNTIL_CLOSE)?;
    m.add("FRAMING_EMPTY", http1::FRAMING_EMPTY)?;
    m.add_function(wrap_pyfunction!(http1::parse_response_head, m)?)?;
    m.add_function(wrap_pyfunction!(inspect_request, m)?)?;
    m.add_function(wrap_pyfunction!(count::inspect_count_request, m)?)?;
    m.add_function(wrap_pyfunction!(count::count_request_body, m)?)?;
    m.add_function(wrap_pyfunction!(surrogates::has_lone_surrogate, m)?)?;
    m.add_function(wrap_pyfunction!(prompt_text::prompt_texts, m)?)?;
    m.add_function(wrap_pyfunction!(translate_request, m)?)?;
    m.add_function(wrap_pyfunction!(translate_response, m)?)?;
    m.add_function(wrap_pyfunction!(error_body, m)?)?;
    m.add_function(wrap_pyfunction!(stream_error, m)?)?;
    m.add_function(wrap_pyfunction!(encode_sse, m)?)?;
    m.add_function(wrap_pyfunction!(keepalive, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(guard::find_injection, m)?)?;
    m.add_function(wrap_pyfunction!(guard::find_pii, m)?)?;
    Ok(())
}
