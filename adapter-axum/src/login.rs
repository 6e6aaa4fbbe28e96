//! [`CurrentUser`]: the logged-in user, or a redirect to the login page.
//!
//! The counterpart of tornado's `get_current_user` with `@authenticated`: a
//! handler that takes a `CurrentUser` only runs for a logged-in session;
//! everyone else is sent to the manager's login URL with the page they wanted
//! as `next`, and no session is created for them. `Option<CurrentUser>` serves
//! pages for both.

use axum::extract::{FromRequestParts, OptionalFromRequestParts, OriginalUri};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::extract::{Session, SessionError};

/// The logged-in user: the value under the manager's user key, as a `T` (a
/// `String` name by default). See [`session_core::Session::current_user`].
#[derive(Debug, Clone)]
pub struct CurrentUser<T = String>(pub T);

impl<S, T> FromRequestParts<S> for CurrentUser<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Option::<Self>::from_request_parts(parts, state).await? {
            Some(user) => Ok(user),
            None => {
                let session = Session::from_request_parts(parts, state)
                    .await
                    .map_err(IntoResponse::into_response)?;
                let uri = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map_or(&parts.uri, |original| &original.0);
                let wanted = uri.path_and_query().map_or("/", |pq| pq.as_str());
                let location = session.login_redirect(wanted);
                Err((StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response())
            }
        }
    }
}

impl<S, T> OptionalFromRequestParts<S> for CurrentUser<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match session.current_user::<T>().await {
            Ok(user) => Ok(user.map(CurrentUser)),
            Err(error) => Err(SessionError(error).into_response()),
        }
    }
}
