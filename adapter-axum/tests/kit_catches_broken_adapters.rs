//! The adapter kit catches broken adapters: a few of its scenarios run
//! against hand-written axum middlewares, each with one flaw, and must fail;
//! the same middleware without the flaw must pass them, so each failure comes
//! from its flaw.

mod kit_app;

use std::future::Future;
use std::pin::Pin;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::header::CACHE_CONTROL;
use axum::middleware::{self, Next};
use axum::response::Response;
use kit_app::AxumApp;
use session_core::SessionManager;
use session_core::adapter_kit;

/// What the middleware gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// Nothing: the core's lifecycle, as `SessionLayer` runs it.
    None,
    /// Removes `Cache-Control` after applying the core's headers.
    DropsCacheControl,
    /// Passes the handler's response through instead of the error reply.
    IgnoresErrorReply,
    /// Never calls `finish`: nothing is saved, no cookie set.
    NeverFinishes,
}

async fn lifecycle(
    State((manager, flaw)): State<(SessionManager, Flaw)>,
    mut request: Request,
    next: Next,
) -> Response {
    let session = manager.start_from_header_map(request.headers());
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    if flaw == Flaw::NeverFinishes {
        return response;
    }
    let end = manager.finish(&session, response.status().as_u16()).await;
    if let Some(reply) = end.error_reply()
        && flaw != Flaw::IgnoresErrorReply
    {
        response = reply.to_response();
    }
    end.apply_headers(response.headers_mut());
    if flaw == Flaw::DropsCacheControl {
        response.headers_mut().remove(CACHE_CONTROL);
    }
    response
}

fn app(manager: SessionManager, flaw: Flaw) -> AxumApp {
    let routes = kit_app::session_routes::<Extension<session_core::Session>>();
    AxumApp(routes.layer(middleware::from_fn_with_state((manager, flaw), lifecycle)))
}

/// Runs one scenario against the middleware with `flaw`, in a task of its
/// own (the kit's futures are not `Send`, hence a local one); answers whether
/// the scenario failed.
async fn fails<Fut>(scenario: impl FnOnce(Flaw) -> Fut, flaw: Flaw) -> bool
where
    Fut: Future<Output = ()> + 'static,
{
    let scenario: Pin<Box<dyn Future<Output = ()>>> = Box::pin(scenario(flaw));
    let local = tokio::task::LocalSet::new();
    let outcome = local.run_until(async move { tokio::task::spawn_local(scenario).await });
    match outcome.await {
        Ok(()) => false,
        Err(error) => error.is_panic(),
    }
}

macro_rules! scenario {
    ($name:ident) => {
        |flaw| adapter_kit::$name(move |manager| async move { app(manager, flaw) })
    };
}

// Each test runs its scenarios against the flawless middleware (they pass)
// and against the flawed one (they fail).

#[tokio::test]
async fn a_middleware_that_drops_cache_control_fails() {
    for flaw in [Flaw::None, Flaw::DropsCacheControl] {
        let broken = flaw != Flaw::None;
        assert_eq!(fails(scenario!(new_session_cookie), flaw).await, broken);
        assert_eq!(fails(scenario!(csrf_token), flaw).await, broken);
    }
}

#[tokio::test]
async fn a_middleware_that_ignores_the_error_reply_fails() {
    for flaw in [Flaw::None, Flaw::IgnoresErrorReply] {
        let broken = flaw != Flaw::None;
        let swallowed = scenario!(swallowed_error_gets_the_error_reply);
        assert_eq!(fails(swallowed, flaw).await, broken);
        let app_error = scenario!(app_error_type_gets_the_error_reply);
        assert_eq!(fails(app_error, flaw).await, broken);
        // Not `unavailable_store_at_load`: the handlers' `SessionError` answers
        // the default reply on its own, so only a configured one tells the
        // two apart.
        assert_eq!(fails(scenario!(custom_error_reply), flaw).await, broken);
    }
}

#[tokio::test]
async fn a_middleware_that_never_finishes_fails() {
    for flaw in [Flaw::None, Flaw::NeverFinishes] {
        let broken = flaw != Flaw::None;
        assert_eq!(
            fails(scenario!(changed_session_is_saved), flaw).await,
            broken
        );
        assert_eq!(
            fails(scenario!(server_error_saves_nothing), flaw).await,
            broken
        );
    }
}
