//! [`CurrentUser`]: the logged-in user, or a redirect to the login page.
//!
//! The counterpart of tornado's `get_current_user` with `@authenticated`: a
//! handler that takes a `CurrentUser` only runs for a logged-in session;
//! everyone else is sent to the manager's login URL with the page they wanted
//! as `next`, and no session is created for them. `Option<CurrentUser>` serves
//! pages for both.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::header::LOCATION;
use actix_web::{Error, FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;

use crate::extract::{SessionError, SessionExt as _};

/// The logged-in user: the value under the manager's user key, as a `T` (a
/// `String` name by default). See [`session_core::Session::current_user`].
///
/// For an anonymous visitor the extractor fails with a 303 to
/// [`session_core::Session::login_redirect`] of the full path and query
/// (scopes included), with no body and no session created. `Option<CurrentUser>`
/// is `None` for them instead; as actix-web's `Option` turns every extractor
/// error into `None`, a store failure is `None` too, but the session
/// remembers it, so the middleware still answers the error reply in place of
/// the page.
#[derive(Debug, Clone)]
pub struct CurrentUser<T = String>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CurrentUser<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request.get_session();
        // A cheap clone (an `Rc`), kept for the redirect's path and query.
        let request = request.clone();
        Box::pin(async move {
            let session = session?;
            match session.current_user::<T>().await.map_err(SessionError)? {
                Some(user) => Ok(CurrentUser(user)),
                None => {
                    let wanted = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
                    let mut redirect = HttpResponse::SeeOther();
                    redirect.insert_header((LOCATION, session.login_redirect(wanted)));
                    Err(InternalError::from_response("login required", redirect.finish()).into())
                }
            }
        })
    }
}
