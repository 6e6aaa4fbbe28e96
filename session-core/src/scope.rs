//! The request scope: how an adapter hands a request's session to its handler
//! at no cost when the handler never asks.
//!
//! [`SessionManager::scope`] runs the inner service's `call`, and then every
//! poll of the future it returned, with the request's slot set for this
//! thread. The first [`current_session`] (or [`current_session_in`]) in that
//! scope starts the session from the `Cookie` headers it is given; later
//! calls answer the same session if they carry the same session cookie, and
//! nothing otherwise. When the future is done, [`Scoped`] ends the request as
//! [`SessionManager::finish`] would.
//!
//! Why not the request's extensions, the usual place: putting a value there
//! costs three allocations on every request, whether or not the handler asks,
//! and the session handle a fourth. A scope costs a few thread-local swaps per
//! poll and nothing else for a request that never asks: no allocation, no
//! cookie parsing, no store call.
//!
//! What the scope reaches, and what it does not:
//!
//! - Everything polled within the scope's future reaches the slot, including
//!   futures that other code created; asking with another request's cookies
//!   answers nothing, so such code cannot act on this request's session
//!   unless it carries this request's session cookie.
//! - A task the handler spawns runs outside the scope, and so do a response
//!   body streamed after the handler answered and the drop of a request cut
//!   short. Hand such code the [`Session`] itself (a cheap clone).

use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
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

/// A request's session: the manager to start it with, and once somebody
/// asked, the session and the fingerprint of the session cookie it was
/// started from.
struct Slot {
    manager: SessionManager,
    session: OnceCell<(Session, u64)>,
}

/// The session of the request whose [`SessionManager::scope`] this code runs
/// in, or `None` outside any scope.
///
/// `cookie_headers` are the request's `Cookie` header values. The first call
/// in a scope starts the session from them without any I/O, as
/// [`SessionManager::start`] does; a later call answers that same session if
/// its headers carry the same session cookie, and `None` (with a warning in
/// the log) if they do not: code working for another request, or a request
/// whose cookies were changed in between, gets no session rather than the
/// wrong one.
pub fn current_session<'a>(cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Option<Session> {
    CURRENT.with_borrow(|current| {
        let slot = current.as_ref()?;
        let candidates = slot.manager.candidates(cookie_headers);
        let fingerprint = candidates.fingerprint();
        let start = || (slot.manager.session_from(candidates), fingerprint);
        let (session, first) = slot.session.get_or_init(start);
        if *first == fingerprint {
            Some(session.clone())
        } else {
            tracing::warn!(
                "asked for the session with another session cookie than the request's first ask: no session"
            );
            None
        }
    })
}

/// [`current_session`] for an `http` request's headers.
#[cfg(feature = "http")]
pub fn current_session_in(headers: &http::HeaderMap) -> Option<Session> {
    current_session(crate::manager::cookie_headers(headers))
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

/// How an adapter ends a request in the scope: the status of the handler's
/// output, and the output with the core's [`RequestEnd`] applied to it (the
/// headers added, or the error reply in its place). Implemented by a type of
/// the adapter's, so the fast path of [`Scoped`] is static calls the
/// compiler can inline.
pub trait Ending<T> {
    /// What [`Scoped`] answers: the adapter's response.
    type Output;

    /// The status of the handler's output, for
    /// [`finish`](SessionManager::finish)'s rules (a 5xx saves nothing).
    fn status(output: &T) -> u16;

    /// The output with `end` applied.
    fn apply(output: T, end: RequestEnd) -> Self::Output;
}

impl SessionManager {
    /// Runs one request in a scope where [`current_session`] reaches its
    /// session: `call` (the inner service's call, which may already ask) and
    /// every poll of the future it returns. The [`Scoped`] future answers
    /// that future's output with `E::apply` of the [`RequestEnd`] that
    /// [`finish`](SessionManager::finish) gives for `E::status`. A request
    /// whose session nobody asked for, or nobody used, ends without I/O or
    /// allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::{Ending, KeyRing, MemoryStore, RequestEnd, SessionManager, current_session};
    ///
    /// /// A handler that answers a status code; the end comes beside it.
    /// struct StatusCode;
    ///
    /// impl Ending<u16> for StatusCode {
    ///     type Output = (u16, RequestEnd);
    ///
    ///     fn status(status: &u16) -> u16 {
    ///         *status
    ///     }
    ///
    ///     fn apply(status: u16, end: RequestEnd) -> (u16, RequestEnd) {
    ///         (end.error_reply().map_or(status, |reply| reply.status()), end)
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate()).build()?;
    /// let handler = async {
    ///     let session = current_session([]).expect("in the scope");
    ///     session.insert("theme", "dark").await.map(|()| 200).unwrap_or(503)
    /// };
    /// let (status, end) = manager.scope::<_, StatusCode>(|| handler).await;
    /// assert_eq!(status, 200);
    /// assert!(end.set_cookie().is_some(), "a new session sets its cookie");
    /// assert!(current_session([]).is_none(), "outside the scope");
    /// # Ok(())
    /// # }
    /// ```
    pub fn scope<F, E>(&self, call: impl FnOnce() -> F) -> Scoped<F, E>
    where
        F: Future<Output: Send + 'static>,
        E: Ending<F::Output, Output: Send + 'static>,
    {
        let mut slot = Some(Slot {
            manager: self.clone(),
            session: OnceCell::new(),
        });
        let handling = enter(&mut slot, call);
        Scoped {
            handling,
            slot,
            saving: None,
            ending: PhantomData,
        }
    }
}

pin_project! {
    /// The future of [`SessionManager::scope`]: the handler's output, with
    /// the end of the request applied by `E`.
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F, E>
    where
        F: Future,
        E: Ending<F::Output>,
    {
        #[pin]
        handling: F,
        slot: Option<Slot>,
        saving: Option<Saving<E::Output>>,
        ending: PhantomData<fn() -> E>,
    }
}

impl<F, E> Future for Scoped<F, E>
where
    F: Future<Output: Send + 'static>,
    E: Ending<F::Output, Output: Send + 'static>,
{
    type Output = E::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(saving) = this.saving {
            return saving.as_mut().poll(cx);
        }
        // The slot is taken when the handler's future is done.
        assert!(this.slot.is_some(), "`Scoped` polled after completion");
        let mut handling = this.handling;
        let output = ready!(enter(this.slot, || handling.as_mut().poll(cx)));
        let session = this.slot.take().and_then(|slot| slot.session.into_inner());
        // Nothing to end for a session that was never used: the output goes
        // straight out.
        let Some((session, _)) = session.filter(|(session, _)| session.is_used()) else {
            return Poll::Ready(E::apply(output, RequestEnd::default()));
        };
        let status = E::status(&output);
        this.saving
            .insert(Box::pin(async move {
                let end = session.end_request(status).await;
                E::apply(output, end)
            }))
            .as_mut()
            .poll(cx)
    }
}

impl<F, E> fmt::Debug for Scoped<F, E>
where
    F: Future,
    E: Ending<F::Output>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("saving", &self.saving.is_some())
            .finish_non_exhaustive()
    }
}

/// [`SessionManager::finish`] of a used session, then the output it waited
/// for with the end applied, boxed: its future cannot be named, and only a
/// request that used its session pays for it.
type Saving<T> = Pin<Box<dyn Future<Output = T> + Send>>;
