//! `ChainReader`: a node's LMDB chain database, read-only (nothing in its directory is created or
//! changed), iterated as `(height, blob)`; `info()` is `dualrun chain info --format json`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use dualrun_chaindb::{compare, ChainDb};
use pyo3::exceptions::{PyIndexError, PyOSError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

pyo3::create_exception!(
    _native,
    ChainError,
    PyOSError,
    "A chain database that cannot be read: the message names the file, the table and the height."
);

fn chain_error(e: impl std::fmt::Display) -> PyErr {
    ChainError::new_err(e.to_string())
}

/// Blocks are read a window at a time, each in its own read transaction: at most this many blocks…
const WINDOW_BLOCKS: usize = 16_384;
/// …or this many bytes of blobs.
const WINDOW_BYTES: usize = 64 << 20;

/// A node's chain database, opened read-only.
#[pyclass(module = "dualrun._native", frozen)]
pub(crate) struct ChainReader {
    db: Arc<ChainDb>,
    /// The chain as the caller named it.
    label: String,
}

impl ChainReader {
    fn tip(&self) -> PyResult<u64> {
        self.db.read_txn().and_then(|t| self.db.tip_height(&t)).map_err(chain_error)
    }
}

#[pymethods]
impl ChainReader {
    /// Opens the chain in `path` (a directory holding `data.mdb`, or a node's data directory holding
    /// `lmdb/data.mdb`).
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let db = ChainDb::open(&path).map_err(chain_error)?;
        Ok(ChainReader { db: Arc::new(db), label: path.display().to_string() })
    }

    /// What `dualrun chain info --format json` prints: schema, blocks, genesis and tip ids, the chain digest
    /// and how many stored ids differ from the computed ones (every block is read and hashed).
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let info = py.detach(|| compare::info(&self.db, self.label.clone(), |_| {})).map_err(chain_error)?;
        crate::to_python(py, &info)
    }

    /// The height of the last block.
    #[getter]
    fn tip_height(&self) -> PyResult<u64> {
        self.tip()
    }

    /// The number of blocks.
    fn __len__(&self) -> PyResult<usize> {
        Ok(self.tip()? as usize + 1)
    }

    /// `(height, blob)` of every block, from 0.
    fn __iter__(&self) -> PyResult<BlockIterator> {
        self.blocks(0, None)
    }

    /// `(height, blob)` of heights `start..=stop` (default: to the tip).
    #[pyo3(signature = (start = 0, stop = None))]
    fn blocks(&self, start: u64, stop: Option<u64>) -> PyResult<BlockIterator> {
        let tip = self.tip()?;
        if start > tip {
            return Err(PyIndexError::new_err(format!("height {start} is beyond the tip {tip} of {}", self.label)));
        }
        let last = stop.unwrap_or(tip).min(tip);
        Ok(BlockIterator { db: self.db.clone(), next: start, last, window: VecDeque::new() })
    }

    /// The blob at `height`.
    fn blob<'py>(&self, py: Python<'py>, height: u64) -> PyResult<Bound<'py, PyBytes>> {
        let txn = self.db.read_txn().map_err(chain_error)?;
        let mut blocks = self.db.blocks(&txn, height, height).map_err(|e| PyIndexError::new_err(e.to_string()))?;
        let raw = blocks.next().expect("the range holds the height").map_err(chain_error)?;
        Ok(PyBytes::new(py, raw.blob))
    }

    fn __repr__(&self) -> String {
        format!("ChainReader({:?})", self.label)
    }
}

/// Iterates `(height, blob)` in height order.
#[pyclass(module = "dualrun._native")]
pub(crate) struct BlockIterator {
    db: Arc<ChainDb>,
    next: u64,
    last: u64,
    window: VecDeque<(u64, Vec<u8>)>,
}

impl BlockIterator {
    /// Reads the next window of blocks in one read transaction.
    fn fill(&mut self) -> PyResult<()> {
        let txn = self.db.read_txn().map_err(chain_error)?;
        let mut bytes = 0;
        for raw in self.db.blocks(&txn, self.next, self.last).map_err(chain_error)? {
            let raw = raw.map_err(chain_error)?;
            bytes += raw.blob.len();
            self.window.push_back((raw.height, raw.blob.to_vec()));
            if self.window.len() >= WINDOW_BLOCKS || bytes >= WINDOW_BYTES {
                break;
            }
        }
        Ok(())
    }
}

#[pymethods]
impl BlockIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<(u64, Bound<'py, PyBytes>)>> {
        if self.next > self.last {
            return Ok(None);
        }
        if self.window.is_empty() {
            self.fill()?;
        }
        let Some((height, blob)) = self.window.pop_front() else { return Ok(None) };
        self.next = height + 1;
        Ok(Some((height, PyBytes::new(py, &blob))))
    }
}
