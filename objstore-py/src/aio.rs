//! The `*_async` methods: Rust futures awaited from asyncio.
//!
//! Invariants: the future runs as a task on the module's runtime (never on the event loop's
//! thread, so a slow disk or network does not stall the loop); its outcome is converted to
//! Python with the GIL and handed to the loop with `call_soon_threadsafe`; cancelling the
//! asyncio future aborts the task. A loop that closed meanwhile is not an error of the task.

use std::future::Future;

use pyo3::prelude::*;
use tokio::task::AbortHandle;

/// Starts `fut` on the runtime and returns an asyncio future of `convert(its output)`.
pub fn awaitable<'py, F, T, C>(py: Python<'py>, fut: F, convert: C) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
    C: for<'a> FnOnce(Python<'a>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let runtime = crate::runtime::runtime()?;
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let resolve = py.import("objstore._aio")?.getattr("resolve")?.unbind();
    let loop_ref = event_loop.unbind();
    let future_ref = future.clone().unbind();
    let task = runtime.spawn(async move {
        let out = fut.await;
        Python::attach(|py| {
            let (ok, value) = match convert(py, out) {
                Ok(value) => (true, value),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            // Fails only when the loop is closed: nobody awaits the result any more.
            let _ = loop_ref.call_method1(py, "call_soon_threadsafe", (resolve, future_ref, ok, value));
        });
    });
    let abort = Bound::new(py, AbortOnCancel { handle: task.abort_handle() })?;
    future.call_method1("add_done_callback", (abort,))?;
    Ok(future)
}

/// Aborts the task when the asyncio future it feeds is cancelled.
#[pyclass(module = "objstore", frozen)]
pub struct AbortOnCancel {
    handle: AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.handle.abort();
        }
        Ok(())
    }
}
