//! `translate_request(..., parts=True)`: the upstream body of a large request as a tuple of
//! buffers for `writelines`, the client's own bytes object (or memoryviews of it) wherever the
//! core kept its bytes, so a 1 MB body with a rewritten model is not copied.

use omniroute_core::rewrite::Piece;
use omniroute_core::translate::{translate_request_pieces, UpstreamBody, UpstreamOptions};
use omniroute_core::Dialect;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyMemoryView, PySlice, PyTuple};

use crate::{to_py_err, with_body};

/// The buffers that make up the upstream body, in order.
pub(crate) fn upstream_parts<'py>(
    py: Python<'py>,
    body: Bound<'py, PyBytes>,
    client: Dialect,
    upstream: Dialect,
    opts: &UpstreamOptions<'_>,
) -> PyResult<Bound<'py, PyTuple>> {
    let backed = PyBackedBytes::from(body.clone());
    let out = with_body(py, &backed, |b| translate_request_pieces(b, client, upstream, opts)).map_err(to_py_err)?;
    match out {
        UpstreamBody::Same => PyTuple::new(py, [body.into_any()]),
        UpstreamBody::Owned(bytes) => PyTuple::new(py, [PyBytes::new(py, &bytes).into_any()]),
        UpstreamBody::Pieces(pieces) => {
            let view = PyMemoryView::from(body.as_any())?;
            let parts = pieces
                .iter()
                .map(|piece| match piece {
                    Piece::Kept(range) => {
                        view.get_item(PySlice::new(py, to_index(range.start)?, to_index(range.end)?, 1))
                    }
                    Piece::New(bytes) => Ok(PyBytes::new(py, bytes).into_any()),
                })
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, parts)
        }
    }
}

fn to_index(offset: usize) -> PyResult<isize> {
    isize::try_from(offset).map_err(|_| pyo3::exceptions::PyOverflowError::new_err("body offset out of range"))
}
