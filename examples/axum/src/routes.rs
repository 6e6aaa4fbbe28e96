//! The contract's routes as axum handlers.
//!
//! Request bodies are read by hand (not with axum's `Form`), so that every
//! malformed body is the contract's 400 rather than axum's 415 or 422.

use adapter_axum::{CurrentUser, Session, SessionError, SessionLayer};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::header::{CONTENT_TYPE, LOCATION, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use example_support::actions::{self, Answer};
use example_support::form::Form;
use example_support::html;
use example_support::rules;
use session_core::SessionManager;

/// The largest login, logout or revocation form read; its fields are far smaller.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The app: every route, behind the session layer.
pub(crate) fn app(manager: SessionManager) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/sessions", get(sessions))
        .route("/sessions/revoke", post(revoke_session))
        .route("/visits", get(visits))
        .route("/prefs", get(prefs))
        // An empty NAME is a bad NAME (400), not an unknown path.
        .route(
            "/prefs/",
            put(|| async { bad_request("bad preference name") }),
        )
        .route("/prefs/{name}", put(put_pref))
        .layer(SessionLayer::new(manager))
}

async fn home(CurrentUser(name): CurrentUser, session: Session) -> Result<Response, SessionError> {
    let xsrf = session.csrf_token().await?;
    Ok(page(html::hello_page(&name, &xsrf)))
}

async fn login_page(session: Session, RawQuery(query): RawQuery) -> Result<Response, SessionError> {
    let query = query.and_then(|query| Form::parse(query.as_bytes()).ok());
    let next = query
        .as_ref()
        .and_then(|query| query.get("next"))
        .filter(|next| rules::is_local_path(next));
    let xsrf = session.csrf_token().await?;
    Ok(page(html::login_page(&xsrf, next)))
}

async fn login(session: Session, headers: HeaderMap, body: Body) -> Result<Response, SessionError> {
    let form = match read_form(&headers, body).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::login(&session, &form).await?))
}

async fn logout(
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, SessionError> {
    let form = match read_form(&headers, body).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::logout(&session, &form).await?))
}

async fn sessions(session: Session) -> Result<Response, SessionError> {
    Ok(respond(actions::sessions(&session).await?))
}

async fn revoke_session(
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, SessionError> {
    let form = match read_form(&headers, body).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::revoke(&session, &form).await?))
}

async fn visits(session: Session) -> Result<String, SessionError> {
    Ok(actions::visits(&session).await?.to_string())
}

async fn prefs(session: Session) -> Result<Json<serde_json::Value>, SessionError> {
    let prefs = session.with_data(|data| rules::prefs(data)).await??;
    Ok(Json(serde_json::Value::Object(prefs)))
}

async fn put_pref(
    session: Session,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, SessionError> {
    let body = axum::body::to_bytes(body, rules::MAX_PREF_VALUE_BYTES)
        .await
        .ok();
    Ok(respond(
        actions::put_pref(&session, &name, body.as_deref()).await?,
    ))
}

/// The body as a form, or the 400 to answer instead.
async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, Response> {
    let body: Bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| bad_request("the form is too large or unreadable"))?;
    let content_type = headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
    Form::from_body(content_type, &body).map_err(|error| bad_request(&error.to_string()))
}

/// An HTML page, never framed. (Pages showing a name or a token also get
/// `Cache-Control: no-store` from the session layer.)
fn page(html: String) -> Response {
    ([(X_FRAME_OPTIONS, html::FRAME_OPTIONS)], Html(html)).into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

/// A route's answer as axum's response.
fn respond(answer: Answer) -> Response {
    match answer {
        Answer::NoContent => StatusCode::NO_CONTENT.into_response(),
        Answer::SeeOther(location) => {
            (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
        }
        Answer::BadRequest(message) => bad_request(message),
        Answer::Forbidden => {
            (StatusCode::FORBIDDEN, "missing or wrong _xsrf token\n").into_response()
        }
        Answer::NotFound(message) => {
            (StatusCode::NOT_FOUND, format!("{message}\n")).into_response()
        }
        Answer::Json(value) => Json(value).into_response(),
    }
}
