//! Binding of the lone-surrogate scan (core `surrogates`).

use pyo3::prelude::*;

/// Whether JSON text `body` escapes a UTF-16 surrogate without its pair (`"\ud800"`).
#[pyfunction]
pub fn has_lone_surrogate(body: &[u8]) -> bool {
    omniroute_core::surrogates::has_lone_surrogate(body)
}
