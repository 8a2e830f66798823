//! `omniroute._core.Limiter`: the outbound limiter of one upstream connection.
//!
//! Thin: extract, call `omniroute_core::limits`, return. Time is always passed in (`now_ms`).

use omniroute_core::limits::{LearnedLimits, LimitConfig, Limiter as CoreLimiter};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Requests-per-minute (exact sliding window), minimum gap and max-concurrency limiter;
/// `0` switches a limit off.
#[pyclass(module = "omniroute._core")]
pub struct Limiter {
    inner: CoreLimiter,
}

#[pymethods]
impl Limiter {
    #[new]
    #[pyo3(signature = (rpm=0, min_gap_ms=0, max_concurrent=0))]
    fn new(rpm: u32, min_gap_ms: u64, max_concurrent: u32) -> Self {
        Limiter { inner: CoreLimiter::new(LimitConfig { rpm, min_gap_ms, max_concurrent }) }
    }

    /// `0` when admitted (counted in flight until `release()`), else milliseconds to wait.
    fn try_acquire(&mut self, now_ms: u64) -> u64 {
        self.inner.try_acquire(now_ms).err().unwrap_or(0)
    }

    fn release(&mut self) {
        self.inner.release();
    }

    #[pyo3(signature = (now_ms, *, remaining=None, limit=None, reset_after_ms=None, retry_after_ms=None))]
    fn learn(
        &mut self,
        now_ms: u64,
        remaining: Option<u64>,
        limit: Option<u64>,
        reset_after_ms: Option<u64>,
        retry_after_ms: Option<u64>,
    ) {
        self.inner.learn(now_ms, LearnedLimits { remaining, limit, reset_after_ms, retry_after_ms });
    }

    fn configure(&mut self, rpm: u32, min_gap_ms: u64, max_concurrent: u32) {
        self.inner.set_config(LimitConfig { rpm, min_gap_ms, max_concurrent });
    }

    fn state<'py>(&self, py: Python<'py>, now_ms: u64) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.state(now_ms);
        let d = PyDict::new(py);
        d.set_item("in_flight", s.in_flight)?;
        d.set_item("admitted_last_minute", s.admitted_last_minute)?;
        d.set_item("blocked_until_ms", s.blocked_until_ms)?;
        d.set_item("effective_rpm", s.effective_rpm)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!("Limiter(rpm={}, min_gap_ms={}, max_concurrent={})", c.rpm, c.min_gap_ms, c.max_concurrent)
    }
}
