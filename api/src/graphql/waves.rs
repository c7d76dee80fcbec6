//! Batching that does not depend on timing.
//!
//! A DataLoader batches the keys asked for before its fetch starts. With a
//! fixed delay, which keys those are depends on how fast the resolvers ran
//! and on which thread the fetch woke up: the same query cost 9 to 14
//! statements. Here an operation's resolvers run in *passes* (one poll of
//! the operation), and
//!
//! - a fetch starts only once the pass that asked for it has ended, so it
//!   carries every key that pass asked for; and
//! - the fetches started after one pass (a *wave*) hand out their values
//!   together, between passes, so every parent waiting on any of them wakes
//!   up in the same pass and asks for its children's keys together.
//!
//! The statement count is then set by the query's shape, and no request
//! waits on a timer. The operation is never kept from running while SQL is
//! in flight (a resolver may be running SQL of its own on the same
//! connection): it is held back only while a released wave's values are
//! being sent, which is synchronous.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
};

use futures::{Stream, StreamExt, future::BoxFuture};
use tracing::Instrument;

/// The passes, waves and deliveries of one operation.
#[derive(Default)]
pub struct Waves {
    state: Mutex<WaveState>,
}

#[derive(Default)]
struct WaveState {
    /// The operation is being polled: keys may still be asked for.
    in_pass: bool,
    /// Numbers passes; fetches spawned in the same pass form one wave.
    pass: u64,
    waves: HashMap<u64, Wave>,
    /// Fetches of released waves still sending their values.
    delivering: usize,
    /// Fetches waiting for a pass to end or their wave to be released.
    waiting: Vec<Waker>,
    /// The operation, waiting for deliveries to end.
    operation: Option<Waker>,
}

#[derive(Default)]
struct Wave {
    /// Fetches whose task has not ended.
    running: usize,
    /// Of those, the ones holding their values.
    arrived: usize,
    released: bool,
}

/// One spawned fetch.
struct Fetch {
    wave: u64,
    arrived: AtomicBool,
}

tokio::task_local! {
    /// The fetch running on this task.
    static FETCH: Arc<Fetch>;
}

impl WaveState {
    /// Releases `wave` once every running fetch of it holds its values and
    /// no pass runs.
    fn release(&mut self, wave: u64) -> bool {
        let in_pass = self.in_pass;
        let Some(w) = self.waves.get_mut(&wave) else {
            return true;
        };
        if !w.released && !in_pass && w.arrived == w.running {
            w.released = true;
            self.delivering += w.running;
            self.pass += 1;
            self.waiting.drain(..).for_each(Waker::wake);
        }
        w.released
    }
}

impl Waves {
    fn lock(&self) -> MutexGuard<'_, WaveState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `operation` in passes.
    pub fn run<F: Future>(self: &Arc<Self>, operation: F) -> impl Future<Output = F::Output> + use<F> {
        let waves = self.clone();
        let mut operation = Box::pin(operation);
        std::future::poll_fn(move |cx| waves.pass(cx, |cx| operation.as_mut().poll(cx)))
    }

    /// Runs a subscription's stream in passes (each event's resolution).
    pub fn run_stream<S: Stream + Unpin>(self: &Arc<Self>, mut stream: S) -> impl Stream<Item = S::Item> + use<S> {
        let waves = self.clone();
        futures::stream::poll_fn(move |cx| waves.pass(cx, |cx| stream.poll_next_unpin(cx)))
    }

    /// One pass: `poll` runs unless a wave's values are being handed out
    /// (then the operation is woken once they are).
    fn pass<T>(&self, cx: &mut Context<'_>, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        {
            let mut state = self.lock();
            if state.delivering > 0 {
                state.operation = Some(cx.waker().clone());
                return Poll::Pending;
            }
            state.in_pass = true;
        }
        let _pass = PassGuard(self);
        poll(cx)
    }

    /// The DataLoader's spawner: the fetch joins the current pass's wave
    /// and starts once that pass ends.
    pub fn spawn(self: &Arc<Self>, fetch: BoxFuture<'static, ()>) {
        let wave = {
            let mut state = self.lock();
            let wave = state.pass;
            state.waves.entry(wave).or_default().running += 1;
            wave
        };
        let me = Arc::new(Fetch {
            wave,
            arrived: AtomicBool::new(false),
        });
        let end = FetchEnd(self.clone(), me.clone());
        let task = async move {
            end.0.between_passes().await;
            FETCH.scope(me, fetch).await;
            drop(end);
        };
        // In the operation's span: its statements belong to its trace.
        tokio::spawn(task.in_current_span());
    }

    /// Called by a fetch with its values in hand: waits until its whole
    /// wave holds its values and no pass runs.
    pub async fn deliver(&self) {
        let Ok(me) = FETCH.try_with(Arc::clone) else {
            return;
        };
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            if !me.arrived.swap(true, Ordering::Relaxed)
                && let Some(wave) = state.waves.get_mut(&me.wave)
            {
                wave.arrived += 1;
            }
            if state.release(me.wave) {
                Poll::Ready(())
            } else {
                state.waiting.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    async fn between_passes(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            if state.in_pass {
                state.waiting.push(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    }

    /// A fetch's task ended (sent its values, found no keys, or panicked).
    fn ended(&self, me: &Fetch) {
        let mut state = self.lock();
        let Some(wave) = state.waves.get_mut(&me.wave) else {
            return;
        };
        wave.running -= 1;
        let empty = wave.running == 0;
        if me.arrived.load(Ordering::Relaxed) {
            wave.arrived -= 1;
            state.delivering -= 1;
            if state.delivering == 0
                && let Some(operation) = state.operation.take()
            {
                operation.wake();
            }
        } else {
            // Its wave may have been waiting only for it.
            state.release(me.wave);
        }
        if empty {
            state.waves.remove(&me.wave);
        }
    }

    fn end_pass(&self) {
        let mut state = self.lock();
        state.in_pass = false;
        state.pass += 1;
        state.waiting.drain(..).for_each(Waker::wake);
    }
}

/// Reports the end of a fetch's task, however it ends.
struct FetchEnd(Arc<Waves>, Arc<Fetch>);

impl Drop for FetchEnd {
    fn drop(&mut self) {
        self.0.ended(&self.1);
    }
}

/// Ends the pass even if the operation panics.
struct PassGuard<'a>(&'a Waves);

impl Drop for PassGuard<'_> {
    fn drop(&mut self) {
        self.0.end_pass();
    }
}
