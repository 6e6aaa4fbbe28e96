//! The request scope: how an adapter hands a request's session to its handler
//! at no cost when the handler never asks.
//!
//! [`SessionManager::scope`] runs the inner service's `call`, and then every
//! poll of the future it returned, with the request's slot set for this
//! thread. The first [`current_session`] (or [`current_session_in`]) in that
//! scope starts the session from the request's `Cookie` headers; later calls
//! answer the same session. When the future is done, [`Scoped`] ends the
//! request as [`SessionManager::finish`] would.
//!
//! Why not the request's extensions, the usual place: putting a value there
//! costs three allocations on every request, whether or not the handler asks,
//! and the session handle a fourth. A scope costs a few thread-local swaps per
//! poll and nothing else for a request that never asks: no allocation, no
//! cookie parsing, no store call.
//!
//! The slot is set only while the scope's own future is being polled, so a
//! task the handler spawns cannot reach it, and code that runs after the
//! response (a body stream) neither. Hand such code the [`Session`] itself (a
//! cheap clone).

use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::{RequestEnd, Session, SessionManager};

std::thread_local! {
    /// The slot of the request whose `call` or `poll` this thread is running,
    /// if any. [`enter`] puts a scope's slot here for the length of one
    /// synchronous step, so it never outlives it, nor moves with a task.
    static CURRENT: RefCell<Option<Slot>> = const { RefCell::new(None) };
}

/// A request's session: the manager to start it with, and the session once
/// somebody asked for it.
struct Slot {
    manager: SessionManager,
    session: OnceCell<Session>,
}

/// The session of the request whose [`SessionManager::scope`] this code runs
/// in, or `None` outside any scope.
///
/// The first call in a scope starts the session from `cookie_headers` (the
/// request's `Cookie` header values) without any I/O, as
/// [`SessionManager::start`] does; every later call answers that same session
/// and ignores its argument.
pub fn current_session<'a>(cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Option<Session> {
    CURRENT.with_borrow(|current| {
        let slot = current.as_ref()?;
        let start = || slot.manager.start(cookie_headers);
        Some(slot.session.get_or_init(start).clone())
    })
}

/// [`current_session`] for an `http` request's headers.
#[cfg(feature = "http")]
pub fn current_session_in(headers: &http::HeaderMap) -> Option<Session> {
    let cookies = headers.get_all(http::header::COOKIE);
    current_session(cookies.iter().map(http::HeaderValue::as_bytes))
}

/// Runs `step` with `slot` as the [`CURRENT`] one, then puts back what was
/// there before (an outer scope's slot, or none), also if `step` panics.
fn enter<R>(slot: &mut Option<Slot>, step: impl FnOnce() -> R) -> R {
    struct Leave<'a>(&'a mut Option<Slot>);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            CURRENT.with_borrow_mut(|current| mem::swap(current, self.0));
        }
    }
    CURRENT.with_borrow_mut(|current| mem::swap(current, slot));
    let _leave = Leave(slot);
    step()
}

impl SessionManager {
    /// Runs one request in a scope where [`current_session`] reaches its
    /// session: `call` (the inner service's call, which may already ask) and
    /// every poll of the future it returns. The [`Scoped`] future answers
    /// that future's output with the [`RequestEnd`] that
    /// [`finish`](SessionManager::finish) gives for `status(&output)`. A
    /// session nobody asked for, or one asked for but never used, ends
    /// without I/O or allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::{KeyRing, MemoryStore, SessionManager, current_session};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate()).build()?;
    /// let handler = async {
    ///     let session = current_session([]).expect("in the scope");
    ///     session.insert("theme", "dark").await.map(|()| 200).unwrap_or(503)
    /// };
    /// let (status, end) = manager.scope(|| handler, |status| *status).await;
    /// assert_eq!(status, 200);
    /// assert!(end.set_cookie().is_some(), "a new session sets its cookie");
    /// assert!(current_session([]).is_none(), "outside the scope");
    /// # Ok(())
    /// # }
    /// ```
    pub fn scope<F: Future>(
        &self,
        call: impl FnOnce() -> F,
        status: fn(&F::Output) -> u16,
    ) -> Scoped<F> {
        let mut slot = Some(Slot {
            manager: self.clone(),
            session: OnceCell::new(),
        });
        let handling = enter(&mut slot, call);
        Scoped {
            handling,
            slot,
            status,
            saving: None,
        }
    }
}

pin_project! {
    /// The future of [`SessionManager::scope`]: the handler's output and the
    /// [`RequestEnd`] to apply to the response.
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F: Future> {
        #[pin]
        handling: F,
        slot: Option<Slot>,
        status: fn(&F::Output) -> u16,
        saving: Option<(Saving, Option<F::Output>)>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = (F::Output, RequestEnd);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (saving, output) = match this.saving {
            Some(saving) => saving,
            None => {
                let mut handling = this.handling;
                let output = ready!(enter(this.slot, || handling.as_mut().poll(cx)));
                let session = this.slot.take().and_then(|slot| slot.session.into_inner());
                // Nothing to end for a session that was never used: the
                // output goes straight out.
                let Some(session) = session.filter(Session::is_used) else {
                    return Poll::Ready((output, RequestEnd::default()));
                };
                let status = (this.status)(&output);
                let saving = Box::pin(async move { session.end_request(status).await });
                this.saving.insert((saving, Some(output)))
            }
        };
        let end = ready!(saving.as_mut().poll(cx));
        match output.take() {
            Some(output) => Poll::Ready((output, end)),
            None => panic!("`Scoped` polled after completion"),
        }
    }
}

impl<F: Future> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("saving", &self.saving.is_some())
            .finish_non_exhaustive()
    }
}

/// [`SessionManager::finish`] of a used session, boxed: its future cannot be
/// named.
type Saving = Pin<Box<dyn Future<Output = RequestEnd> + Send>>;
