//! [`SessionMiddleware`] and the [`SessionService`] it wraps around an app or
//! scope: the core's request lifecycle in actix-web's types.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage as _, HttpResponse};
use session_core::{ErrorReply, RequestEnd, SessionManager};

use crate::extract::Session;

/// The middleware that gives every request a session.
///
/// Add it with `.wrap(SessionMiddleware::new(manager))` to an `App` (in the
/// factory closure, so each worker gets its own) or to a scope; handlers then
/// take a [`Session`] or a [`CurrentUser`](crate::CurrentUser). The login
/// URL, the user key and the error replies are the manager's settings.
#[derive(Debug, Clone)]
pub struct SessionMiddleware(SessionManager);

impl SessionMiddleware {
    /// A middleware over `manager`.
    pub fn new(manager: SessionManager) -> Self {
        Self(manager)
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let manager = self.0.clone();
        ready(Ok(SessionService { service, manager }))
    }
}

/// The service made by [`SessionMiddleware`].
#[derive(Debug)]
pub struct SessionService<S> {
    service: S,
    manager: SessionManager,
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    /// Boxed, because it awaits the core's `finish`, whose future type cannot
    /// be named. Not `Send`, like actix-web's own.
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let cookies = request.headers().get_all(header::COOKIE);
        let session = self.manager.start(cookies.map(HeaderValue::as_bytes));
        request.extensions_mut().insert(Session(session.clone()));
        let handled = self.service.call(request);
        let manager = self.manager.clone();
        Box::pin(async move {
            match handled.await {
                Ok(response) => {
                    let end = manager.finish(&session, response.status().as_u16()).await;
                    let mut response = match end.error_reply() {
                        Some(reply) => response
                            .into_response(to_response(reply))
                            .map_into_right_body(),
                        None => response.map_into_left_body(),
                    };
                    apply_headers(&end, response.headers_mut());
                    Ok(response)
                }
                // An inner middleware failed, and actix-web will render the
                // error after us: render it now, so the session still ends
                // (a rotation's cookie must reach the browser) and the
                // response carries what the core says.
                Err(error) => {
                    let response = error.error_response();
                    let end = manager.finish(&session, response.status().as_u16()).await;
                    let mut response = end.error_reply().map_or(response, to_response);
                    apply_headers(&end, response.headers_mut());
                    Err(InternalError::from_response(error, response).into())
                }
            }
        })
    }
}

/// Adds the core's headers: appends `Set-Cookie`, replaces the others
/// (`Cache-Control`). The core renders them valid, so none is ever skipped.
fn apply_headers(end: &RequestEnd, headers: &mut HeaderMap) {
    for (name, value) in end.headers() {
        let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(&*value))
        else {
            continue;
        };
        if name == header::SET_COOKIE {
            headers.append(name, value);
        } else {
            headers.insert(name, value);
        }
    }
}

/// The core's error reply as an actix-web response.
pub(crate) fn to_response(reply: &ErrorReply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(reply.content_type())
        .body(reply.body().to_vec())
}
