//! Token-counting bodies (`omniroute_core::count_request`): the structure check and the body
//! for a counting upstream.

use omniroute_core::count_request::{count_request_body as core_count_body, inspect_count_request as core_inspect};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::{dialect, to_py_err, with_body, RequestInfo};

/// Checks a `count_tokens` / `:countTokens` body of the client's dialect; its routing fields.
#[pyfunction]
pub(crate) fn inspect_count_request(py: Python<'_>, body: PyBackedBytes, dialect_name: &str) -> PyResult<RequestInfo> {
    let d = dialect(dialect_name)?;
    with_body(py, &body, |b| core_inspect(b, d)).map(RequestInfo::from).map_err(to_py_err)
}

/// The count body for an upstream of the client's dialect serving `model`.
#[pyfunction]
pub(crate) fn count_request_body<'py>(
    py: Python<'py>,
    body: PyBackedBytes,
    dialect_name: &str,
    model: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let d = dialect(dialect_name)?;
    let out = with_body(py, &body, |b| core_count_body(b, d, model)).map_err(to_py_err)?;
    Ok(PyBytes::new(py, &out))
}
