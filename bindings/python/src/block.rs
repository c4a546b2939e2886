//! Block blobs: the id and miner-tx hash, and every field, as `dualrun chain show` gives them. A blob
//! that does not parse raises `BlockError` with the byte offset; nothing here can crash the interpreter.

use dualrun_format::{Block, BlockView, ParseError, ViewError};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::create_exception!(
    _native,
    BlockError,
    PyValueError,
    "A block blob that does not parse (or may not have its id); `offset` is the byte where the problem starts (None when it is not at one byte)."
);

/// The `BlockError` for `message`, with `offset` set.
pub(crate) fn block_error(py: Python<'_>, message: String, offset: Option<usize>) -> PyErr {
    let err = BlockError::new_err(message.clone());
    let value = err.value(py);
    // Setting attributes on a fresh exception instance cannot fail short of memory exhaustion.
    let _ = value.setattr("offset", offset);
    let _ = value.setattr("message", message);
    err
}

fn parse_error(py: Python<'_>, e: &ParseError) -> PyErr {
    block_error(py, e.to_string(), Some(e.offset))
}

/// Why a blob has no view, as a `BlockError`.
pub(crate) fn view_error(py: Python<'_>, e: &ViewError) -> PyErr {
    match e {
        ViewError::Parse(p) => parse_error(py, p),
        ViewError::Hash(h) => block_error(py, h.to_string(), None),
    }
}

/// `block_id(blob) -> (block id, miner-tx hash)`, lowercase hex, computed as monerod computes them.
#[pyfunction]
pub(crate) fn block_id(py: Python<'_>, blob: &Bound<'_, PyAny>) -> PyResult<(String, String)> {
    let blob = crate::bytes_like(blob)?;
    let block = Block::parse(&blob).map_err(|e| parse_error(py, &e))?;
    let hashes = block.hashes().map_err(|e| block_error(py, e.to_string(), None))?;
    Ok((hashes.block_id.to_string(), hashes.miner_tx_hash.to_string()))
}

/// `parse_block(blob) -> dict`: the fields `dualrun chain show` prints, less what the database stores
/// beside the blob (height, stored id, block_info).
#[pyfunction]
pub(crate) fn parse_block<'py>(py: Python<'py>, blob: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let blob = crate::bytes_like(blob)?;
    let view = BlockView::of(&blob).map_err(|e| view_error(py, &e))?;
    crate::to_python(py, &view)
}
