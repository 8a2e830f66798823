//! Binding of the prompt guard's text extraction (core `prompt_text`).

use omniroute_core::prompt_text::prompt_texts as core_prompt_texts;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use crate::{dialect, with_body};

/// The texts of a request body the prompt guard scans, each with whether the user wrote it;
/// None when the body is not a JSON object.
#[pyfunction]
pub fn prompt_texts(py: Python<'_>, body: PyBackedBytes, dialect_name: &str) -> PyResult<Option<Vec<(String, bool)>>> {
    let d = dialect(dialect_name)?;
    Ok(with_body(py, &body, |b| core_prompt_texts(b, d)))
}
