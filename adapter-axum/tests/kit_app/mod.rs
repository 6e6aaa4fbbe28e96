//! The adapter kit's test app on axum: the routes `session_core::adapter_kit`
//! documents, and a `TestApp` that sends the kit's requests through
//! `tower::ServiceExt::oneshot`.

#![allow(dead_code, unreachable_pub)]

use std::ops::Deref;

use adapter_axum::{CurrentUser, Session, SessionError, SessionLayer};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path};
use axum::http::header::COOKIE;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use session_core::SessionManager;
use session_core::adapter_kit::{TestApp, TestRequest, TestResponse};
use tower::ServiceExt as _;

/// Every route of the kit behind the real `SessionLayer`.
pub fn layered(manager: SessionManager) -> AxumApp {
    AxumApp(routes().layer(SessionLayer::new(manager)))
}

/// Every route of the kit, without a layer.
pub fn routes() -> Router {
    session_routes::<Session>()
        .route("/user", get(user))
        .route("/maybe-user", get(maybe_user))
}

/// The routes that need only the session, generic over how the handlers get
/// it: `adapter_axum::Session` behind the real layer, an
/// `Extension<session_core::Session>` behind the deliberately broken
/// middlewares of `kit_catches_broken_adapters.rs`.
pub fn session_routes<S>() -> Router
where
    S: FromRequestParts<()> + Deref<Target = session_core::Session> + Send + Sync + 'static,
{
    Router::new()
        .route("/untouched", get(|| async { "ok" }))
        .route("/read", get(read::<S>))
        .route("/write", get(write::<S>))
        .route("/keys/{key}", put(put_key::<S>))
        .route("/keys", get(keys::<S>))
        .route("/login", post(login::<S>))
        .route("/logout", post(logout::<S>))
        .route("/csrf", get(csrf::<S>))
        .route("/app-error", get(app_error::<S>))
        .route("/swallow", get(swallow::<S>))
        .route("/fail-500", get(fail_500::<S>))
}

async fn read<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<String, SessionError> {
    let visits = session.get::<u64>("visits").await?;
    Ok(visits.map_or_else(|| "none".to_owned(), |visits| visits.to_string()))
}

async fn write<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<String, SessionError> {
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", &visits).await?;
    Ok(visits.to_string())
}

async fn put_key<S: Deref<Target = session_core::Session>>(
    session: S,
    Path(key): Path<String>,
) -> Result<StatusCode, SessionError> {
    session.insert(&key, "1").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn keys<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<String, SessionError> {
    Ok(session.keys().await?.join(","))
}

async fn login<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<StatusCode, SessionError> {
    session.login(session_core::adapter_kit::USER).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<StatusCode, SessionError> {
    session.logout().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn csrf<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<String, SessionError> {
    Ok(session.csrf_token().await?)
}

/// The app's own error type: it would answer a session failure with a 418,
/// but the layer answers the manager's error reply instead.
struct AppError;

impl From<session_core::Error> for AppError {
    fn from(_: session_core::Error) -> Self {
        AppError
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::IM_A_TEAPOT, "the app's own error").into_response()
    }
}

async fn app_error<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<&'static str, AppError> {
    session.get::<u64>("visits").await?;
    Ok("ok")
}

async fn swallow<S: Deref<Target = session_core::Session>>(session: S) -> &'static str {
    let _ = session.insert("swallowed", &1).await;
    "ok"
}

async fn fail_500<S: Deref<Target = session_core::Session>>(
    session: S,
) -> Result<(StatusCode, &'static str), SessionError> {
    session.insert("visits", &999).await?;
    Ok((StatusCode::INTERNAL_SERVER_ERROR, "failed"))
}

async fn user(CurrentUser(name): CurrentUser) -> String {
    name
}

async fn maybe_user(user: Option<CurrentUser>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(name)| name)
}

/// A router, as the kit's `TestApp`.
#[derive(Clone)]
pub struct AxumApp(pub Router);

#[session_core::async_trait(?Send)]
impl TestApp for AxumApp {
    async fn send(&self, request: TestRequest) -> TestResponse {
        let mut builder = Request::builder().method(request.method).uri(&request.path);
        if let Some(cookie) = &request.cookie {
            builder = builder.header(COOKIE, cookie);
        }
        let request = builder.body(Body::empty()).expect("a valid request");
        let response = self.0.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = value.to_str().expect("an ASCII header value");
                (name.as_str().to_owned(), value.to_owned())
            })
            .collect();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a readable body")
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}
