//! The contract's routes on plain hyper, routed by hand: the same routes,
//! answers and checks as `examples/axum/src/routes.rs`, one for one.
//!
//! [`handle`] finds the route for the path (404 when there is none), then the
//! handler for the method (405 with `Allow` when there is none; `HEAD` runs
//! the `GET` handler and hyper leaves out the body, as axum does). Handlers
//! take the request's session, which costs nothing until they use it, and
//! answer `Result<Response, session_core::Error>`: a session error becomes
//! the default error reply, which the [`SessionService`] replaces with the
//! manager's own reply anyway.
//!
//! Request bodies are read with a size limit and a time limit, and every
//! malformed body is the contract's 400.
//!
//! [`SessionService`]: adapter_hyper::SessionService

use std::convert::Infallible;
use std::time::Duration;

use adapter_hyper::SessionExt as _;
use bytes::Bytes;
use example_support::actions::{self, Answer};
use example_support::form::{self, Form};
use example_support::html;
use example_support::rules;
use http::header::{ALLOW, CONTENT_TYPE, LOCATION, X_FRAME_OPTIONS};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use session_core::{Error, ErrorReply, Session};

/// The response body of every handler.
pub(crate) type Body = Full<Bytes>;

type Handled = Result<Response<Body>, Error>;

/// The largest login, logout or revocation form read; its fields are far smaller.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// How long a request body may take to arrive once its head has: a client
/// trickling a body cannot hold its connection and handler for ever.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// A path the app serves.
#[derive(Debug, Clone, Copy)]
enum Route<'a> {
    Home,
    Login,
    Logout,
    Sessions,
    RevokeSession,
    Visits,
    Prefs,
    /// `/prefs/NAME`, with NAME as it is in the path (still percent-encoded).
    Pref(&'a str),
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Option<Self> {
        Some(match path {
            "/" => Route::Home,
            "/login" => Route::Login,
            "/logout" => Route::Logout,
            "/sessions" => Route::Sessions,
            "/sessions/revoke" => Route::RevokeSession,
            "/visits" => Route::Visits,
            "/prefs" => Route::Prefs,
            // An empty NAME is a bad NAME (400), not an unknown path.
            _ => match path.strip_prefix("/prefs/") {
                Some(name) if !name.contains('/') => Route::Pref(name),
                _ => return None,
            },
        })
    }

    /// The methods it answers, for a 405's `Allow`.
    fn allow(self) -> &'static str {
        match self {
            Route::Home | Route::Sessions | Route::Visits | Route::Prefs => "GET,HEAD",
            Route::Login => "GET,HEAD,POST",
            Route::Logout | Route::RevokeSession => "POST",
            Route::Pref(_) => "PUT",
        }
    }
}

/// The app: every request the [`SessionService`](adapter_hyper::SessionService)
/// passes on.
pub(crate) async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let Some(route) = Route::of(&path) else {
        return Ok(empty(StatusCode::NOT_FOUND));
    };
    let session = match request.session() {
        Ok(session) => session,
        Err(missing) => {
            return Ok(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &missing.to_string(),
            ));
        }
    };
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    let answer = match (route, request.method().clone()) {
        (Route::Home, _) if get => home(&request, &session).await,
        (Route::Login, _) if get => login_page(&request, &session).await,
        (Route::Login, Method::POST) => login(request, &session).await,
        (Route::Logout, Method::POST) => logout(request, &session).await,
        (Route::Sessions, _) if get => sessions(&session).await,
        (Route::RevokeSession, Method::POST) => revoke_session(request, &session).await,
        (Route::Visits, _) if get => visits(&session).await,
        (Route::Prefs, _) if get => prefs(&session).await,
        (Route::Pref(name), Method::PUT) => put_pref(request, &session, name).await,
        (route, _) => {
            let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
            let allow = HeaderValue::from_static(route.allow());
            response.headers_mut().insert(ALLOW, allow);
            Ok(response)
        }
    };
    Ok(answer.unwrap_or_else(|error| ErrorReply::default_for(error.kind()).to_response()))
}

async fn home(request: &Request<Incoming>, session: &Session) -> Handled {
    let name: String = match request.current_user().await {
        Ok(name) => name,
        Err(redirect) => return Ok(redirect),
    };
    let xsrf = session.csrf_token().await?;
    Ok(page(html::hello_page(&name, &xsrf)))
}

async fn login_page(request: &Request<Incoming>, session: &Session) -> Handled {
    let query = request.uri().query();
    let query = query.and_then(|query| Form::parse(query.as_bytes()).ok());
    let next = query
        .as_ref()
        .and_then(|query| query.get("next"))
        .filter(|next| rules::is_local_path(next));
    let xsrf = session.csrf_token().await?;
    Ok(page(html::login_page(&xsrf, next)))
}

async fn login(request: Request<Incoming>, session: &Session) -> Handled {
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::login(session, &form).await?))
}

async fn logout(request: Request<Incoming>, session: &Session) -> Handled {
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::logout(session, &form).await?))
}

async fn sessions(session: &Session) -> Handled {
    Ok(respond(actions::sessions(session).await?))
}

async fn revoke_session(request: Request<Incoming>, session: &Session) -> Handled {
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::revoke(session, &form).await?))
}

async fn visits(session: &Session) -> Handled {
    let visits = actions::visits(session).await?;
    Ok(text(StatusCode::OK, &visits.to_string()))
}

async fn prefs(session: &Session) -> Handled {
    let prefs = session.with_data(|data| rules::prefs(data)).await??;
    Ok(json(&serde_json::Value::Object(prefs)))
}

async fn put_pref(request: Request<Incoming>, session: &Session, name: &str) -> Handled {
    let Some(name) = form::decode_path_segment(name) else {
        return Ok(respond(Answer::BadRequest("bad preference name")));
    };
    let body = read_body(request.into_body(), rules::MAX_PREF_VALUE_BYTES).await;
    Ok(respond(
        actions::put_pref(session, &name, body.ok().as_deref()).await?,
    ))
}

/// The body, if it is at most `limit` bytes and arrives within
/// [`BODY_TIMEOUT`].
async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, ()> {
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(_)) | Err(_) => Err(()),
    }
}

/// The body as a form, or the 400 to answer instead.
async fn read_form(request: Request<Incoming>) -> Result<Form, Response<Body>> {
    let (parts, body) = request.into_parts();
    let body = read_body(body, MAX_FORM_BYTES)
        .await
        .map_err(|()| bad_request("the form is too large or unreadable"))?;
    let content_type = parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
    Form::from_body(content_type, &body).map_err(|error| bad_request(&error.to_string()))
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

fn with_type(mut response: Response<Body>, content_type: &'static str) -> Response<Body> {
    let value = HeaderValue::from_static(content_type);
    response.headers_mut().insert(CONTENT_TYPE, value);
    response
}

/// 200 `application/json`.
fn json(value: &serde_json::Value) -> Response<Body> {
    let body = Full::from(value.to_string());
    with_type(Response::new(body), "application/json")
}

fn text(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::from(text.to_owned()));
    *response.status_mut() = status;
    with_type(response, "text/plain; charset=utf-8")
}

/// An HTML page, never framed. (Pages showing a name or a token also get
/// `Cache-Control: no-store` from the session service.)
fn page(html: String) -> Response<Body> {
    let mut response = with_type(Response::new(Full::from(html)), "text/html; charset=utf-8");
    let frame_options = HeaderValue::from_static(html::FRAME_OPTIONS);
    response
        .headers_mut()
        .insert(X_FRAME_OPTIONS, frame_options);
    response
}

fn bad_request(message: &str) -> Response<Body> {
    text(StatusCode::BAD_REQUEST, &format!("{message}\n"))
}

/// A route's answer as hyper's response.
fn respond(answer: Answer) -> Response<Body> {
    match answer {
        Answer::NoContent => empty(StatusCode::NO_CONTENT),
        Answer::SeeOther(location) => {
            let mut response = empty(StatusCode::SEE_OTHER);
            match HeaderValue::from_str(&location) {
                Ok(location) => {
                    response.headers_mut().insert(LOCATION, location);
                    response
                }
                Err(_) => empty(StatusCode::INTERNAL_SERVER_ERROR),
            }
        }
        Answer::BadRequest(message) => bad_request(message),
        Answer::Forbidden => text(StatusCode::FORBIDDEN, "missing or wrong _xsrf token\n"),
        Answer::NotFound(message) => text(StatusCode::NOT_FOUND, &format!("{message}\n")),
        Answer::Json(value) => json(&value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_path() {
        assert!(matches!(Route::of("/"), Some(Route::Home)));
        assert!(matches!(Route::of("/sessions"), Some(Route::Sessions)));
        assert!(matches!(
            Route::of("/sessions/revoke"),
            Some(Route::RevokeSession)
        ));
        assert!(matches!(Route::of("/prefs/"), Some(Route::Pref(""))));
        assert!(matches!(
            Route::of("/prefs/theme"),
            Some(Route::Pref("theme"))
        ));
        for unknown in [
            "/nope",
            "/login/",
            "/login/extra",
            "/visits/1",
            "/prefs/a/b",
            "/sessions/",
            "/sessions/revoke/x",
            "",
        ] {
            assert!(Route::of(unknown).is_none(), "{unknown:?}");
        }
    }
}
