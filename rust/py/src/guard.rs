//! `omniroute._core.find_injection` and `find_pii`: the prompt guard's detectors.
//!
//! Thin: extract the text, call `omniroute_core::guard`, return `(kind, start, end)` tuples in
//! code points. A `str` holding lone surrogates has no UTF-8 form; it is read with
//! `surrogatepass` and each surrogate scanned as U+FFFD, which no detector tells apart from a
//! surrogate (see `omniroute_core::guard::from_surrogatepass`), so the spans stay exact.

use omniroute_core::guard::{self, GuardError, Hit};
use pyo3::exceptions::{PyRuntimeError, PyUnicodeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::DETACH_THRESHOLD;

type PyHit = (&'static str, usize, usize);

fn to_py(result: Result<Vec<Hit>, GuardError>) -> PyResult<Vec<PyHit>> {
    let hits = result.map_err(|err| PyRuntimeError::new_err(err.to_string()))?;
    Ok(hits.into_iter().map(|h| (h.kind, h.start, h.end)).collect())
}

/// Runs `job` on `text`, without the GIL when the text is large.
fn with_text<T: Send>(
    py: Python<'_>,
    text: &Bound<'_, PyString>,
    job: impl Fn(&str) -> T + Send + Sync,
) -> PyResult<T> {
    let owned = match text.to_str() {
        Ok(text) if text.len() < DETACH_THRESHOLD => return Ok(job(text)),
        Ok(text) => text.to_owned(),
        Err(_) => {
            let encoded = text.call_method1(intern!(py, "encode"), ("utf-8", "surrogatepass"))?;
            let bytes = encoded.cast_into::<PyBytes>()?;
            guard::from_surrogatepass(bytes.as_bytes())
                .ok_or_else(|| PyUnicodeError::new_err("text is neither UTF-8 nor surrogate-escaped UTF-8"))?
        }
    };
    Ok(if owned.len() < DETACH_THRESHOLD { job(&owned) } else { py.detach(|| job(&owned)) })
}

/// Injection hits in `text` (delimiter spoofing only when `user_authored`).
#[pyfunction]
pub fn find_injection(py: Python<'_>, text: &Bound<'_, PyString>, user_authored: bool) -> PyResult<Vec<PyHit>> {
    to_py(with_text(py, text, |t| guard::find_injection(t, user_authored))?)
}

/// PII and secret hits in `text`.
#[pyfunction]
pub fn find_pii(py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Vec<PyHit>> {
    to_py(with_text(py, text, guard::find_pii)?)
}
