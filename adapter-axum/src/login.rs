//! [`CurrentUser`]: the signed-in user, or a redirect to the login page.
//!
//! The counterpart of tornado's `get_current_user` with `@authenticated` and
//! the `login_url` setting: a handler that takes a `CurrentUser` only runs
//! for a session holding a user; everyone else is sent to the login page with
//! the page they wanted as `next`, and no session is created for them.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::SessionError;
use crate::extract::{MissingSessionLayer, Session};

/// Login settings, set on the [`SessionLayer`](crate::SessionLayer).
#[derive(Debug, Clone)]
pub(crate) struct LoginConfig {
    pub(crate) url: String,
    pub(crate) user_key: String,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            url: "/login".to_owned(),
            user_key: "user_name".to_owned(),
        }
    }
}

/// The signed-in user: the value under the layer's
/// [user key](crate::SessionLayer::user_key), as a `T` (a `String` name by
/// default).
///
/// Without one the request is answered with a 303 to the
/// [login URL](crate::SessionLayer::login_url), with `next` set to the
/// requested path and query (the full path, also inside nested routers).
#[derive(Debug, Clone)]
pub struct CurrentUser<T = String>(pub T);

impl<S, T> FromRequestParts<S> for CurrentUser<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = LoginRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let login = &session.shared().login;
        match session.get::<T>(&login.user_key).await {
            Ok(Some(user)) => Ok(CurrentUser(user)),
            Ok(None) => Err(LoginRejection::NotLoggedIn(redirect_to_login(
                &login.url, parts,
            ))),
            // A user stored as another type (an older release's format, say)
            // is nobody: log in again rather than a 500 on every visit.
            Err(session_core::Error::Value { key, source }) => {
                tracing::warn!(%key, %source, "the stored user does not decode; treating the session as anonymous");
                Err(LoginRejection::NotLoggedIn(redirect_to_login(
                    &login.url, parts,
                )))
            }
            Err(error) => Err(LoginRejection::Session(error.into())),
        }
    }
}

/// Why a [`CurrentUser`] could not be extracted.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginRejection {
    /// Nobody is signed in: the redirect to the login page.
    NotLoggedIn(Response),
    /// The session could not be read.
    Session(SessionError),
    /// The route has no [`SessionLayer`](crate::SessionLayer).
    MissingLayer(MissingSessionLayer),
}

impl From<MissingSessionLayer> for LoginRejection {
    fn from(missing: MissingSessionLayer) -> Self {
        Self::MissingLayer(missing)
    }
}

impl IntoResponse for LoginRejection {
    fn into_response(self) -> Response {
        match self {
            Self::NotLoggedIn(redirect) => redirect,
            Self::Session(error) => error.into_response(),
            Self::MissingLayer(missing) => missing.into_response(),
        }
    }
}

/// 303 to `login_url` with `next` = the request's original path and query.
fn redirect_to_login(login_url: &str, parts: &Parts) -> Response {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    let wanted = uri.path_and_query().map_or("/", |pq| pq.as_str());
    match HeaderValue::try_from(session_core::login::login_redirect(login_url, wanted)) {
        Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
        Err(error) => {
            tracing::error!(%error, login_url, "the login URL is not a valid header value");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
