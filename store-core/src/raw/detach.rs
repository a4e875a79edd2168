//! Work that ends once it has started: a save or a delete whose caller gives up (its future is
//! dropped, as a timeout does) still ends, and everything around it follows what really happened.
//!
//! On local disk the write goes on anyway on a blocking thread and lands. If the layers above it
//! stopped with the caller, the room it held in the usage ledger would be given back while it
//! is still being written, and the cache would never hear of the new value. So:
//!
//! - [`to_completion`] runs a save or delete as a task of its own on the async runtime and
//!   awaits it: dropping the caller's future leaves the task running to its end, releasing what
//!   it holds and telling the cache when the write has landed. Where the caller may block (the
//!   blocking facade, or no runtime: nothing can drop such a call halfway), or when it already
//!   runs inside such a task (the facade spawned it; the layers below it do not spawn again), it
//!   runs inline.
//! - [`cancel_on_drop`] goes with it for streamed saves: the stream is the caller's, and a
//!   stream must not be read on after its caller has gone (it may never end). Dropping the
//!   guard makes the stream fail at its next chunk, so the save stores nothing, as the Backend
//!   contract says of a stream dropped midway; a stream that has already ended lets the save
//!   finish.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use futures::task::AtomicWaker;

use crate::error::{Error, Result};
use crate::raw::backend::ByteStream;
use crate::raw::io::may_block_here;

tokio::task_local! {
    /// Set inside a task started by [`to_completion`].
    static DETACHED: ();
}

/// Runs `work` to its end even if the caller's future is dropped; see the module documentation.
pub async fn to_completion<T, F>(work: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    if may_block_here() || DETACHED.try_with(|_| ()).is_ok() {
        return work.await;
    }
    match tokio::spawn(DETACHED.scope((), work)).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(Error::io(
            "a save or delete was stopped before it ended (its runtime is shutting down); what it did is unknown",
            std::io::Error::other(join.to_string()),
        )),
    }
}

/// Wraps `body` so that dropping the returned guard makes the stream fail at its next chunk.
pub fn cancel_on_drop(body: ByteStream) -> (ByteStream, CancelOnDrop) {
    let signal = Arc::new(Signal::default());
    let stream = Cancellable { body, signal: signal.clone(), ended: false };
    (Box::pin(stream), CancelOnDrop(signal))
}

/// Cancels the stream of [`cancel_on_drop`] when dropped (unless the stream ended first).
#[derive(Debug)]
pub struct CancelOnDrop(Arc<Signal>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::Release);
        self.0.waker.wake();
    }
}

#[derive(Debug, Default)]
struct Signal {
    cancelled: AtomicBool,
    waker: AtomicWaker,
}

struct Cancellable {
    body: ByteStream,
    signal: Arc<Signal>,
    ended: bool,
}

impl Stream for Cancellable {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        self.signal.waker.register(cx.waker());
        if self.signal.cancelled.load(Ordering::Acquire) {
            self.ended = true;
            return Poll::Ready(Some(Err(Error::io(
                "the save was abandoned (its caller stopped waiting) before its stream ended; nothing was saved",
                std::io::ErrorKind::Interrupted.into(),
            ))));
        }
        let next = self.body.as_mut().poll_next(cx);
        if let Poll::Ready(None) = next {
            self.ended = true;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use futures::{FutureExt, StreamExt};

    use super::*;

    /// A future dropped after its first poll still runs to its end.
    #[tokio::test]
    async fn dropped_work_still_ends() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let call = to_completion(async move {
            let _ = wait.await;
            let _ = tx.send("ended");
            Ok(())
        });
        assert!(call.now_or_never().is_none(), "the work should wait for its release");
        release.send(()).unwrap();
        assert_eq!(rx.await.unwrap(), "ended");
    }

    /// Inside a blocking scope nothing is spawned: the work runs on the caller's thread.
    #[tokio::test]
    async fn blocking_callers_run_inline() {
        let here = std::thread::current().id();
        let _scope = crate::raw::io::BlockingScope::enter();
        let there = to_completion(async { Ok(std::thread::current().id()) }).await.unwrap();
        assert_eq!(here, there);
    }

    #[tokio::test]
    async fn a_dropped_guard_fails_the_stream_an_ended_one_does_not_matter() {
        let pending: ByteStream =
            futures::stream::iter([Ok(Bytes::from_static(b"a"))]).chain(futures::stream::pending()).boxed();
        let (mut body, guard) = cancel_on_drop(pending);
        assert_eq!(body.next().await.unwrap().unwrap(), "a");
        let waiting = tokio::spawn(async move { body.next().await });
        tokio::task::yield_now().await;
        drop(guard);
        let next = waiting.await.unwrap();
        assert!(matches!(next, Some(Err(Error::Io { .. }))), "{next:?}");

        let short: ByteStream = futures::stream::iter([Ok(Bytes::from_static(b"b"))]).boxed();
        let (mut body, guard) = cancel_on_drop(short);
        assert_eq!(body.next().await.unwrap().unwrap(), "b");
        assert!(body.next().await.is_none());
        drop(guard);
        assert!(body.next().await.is_none());
    }
}
