//! omniroute-core: the pure-Rust hot path of the OmniRoute gateway.
//!
//! Everything here is CPU-bound work on bytes: SSE framing, HTTP/1.1 response framing, JSON
//! request inspection (with structure checks) and byte-stable rewriting, stream relaying, error
//! bodies per wire dialect, and the prompt guard's text extraction and detectors. No I/O, no
//! clocks, no threads, no pyo3: the binding crate (`rust/py`) is the only door to Python.

pub mod count_request;
pub mod dialect;
pub mod error;
pub mod error_body;
pub mod error_kinds;
pub mod guard;
pub mod http1;
pub mod inspect;
pub mod ir;
pub mod json_scan;
pub mod limits;
pub mod prompt_text;
pub mod request_shapes;
pub mod rewrite;
pub mod rpc_status;
pub mod sanitize;
pub mod shape;
pub mod sse;
pub mod stream;
pub mod surrogates;
pub mod tokens;
pub mod translate;
pub mod usage;

pub use dialect::Dialect;
pub use error::CoreError;
