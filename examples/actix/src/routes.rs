//! The contract's routes as actix-web handlers, route for route as in
//! `example-axum`.
//!
//! Request bodies are read by hand (not with actix-web's `Form` or `Bytes`
//! extractors), so that every malformed body is the contract's 400 rather
//! than actix-web's 413 or 415. Unknown paths are actix-web's 404, a known
//! path with another method its 405.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, ContentType, HeaderValue, LOCATION, X_FRAME_OPTIONS};
use actix_web::{App, Error, HttpRequest, HttpResponse, web};
use adapter_actix::{CurrentUser, Session, SessionError, SessionMiddleware};
use example_support::actions::{self, Answer};
use example_support::form::Form;
use example_support::html;
use example_support::rules;
use session_core::SessionManager;

/// The largest login, logout or revocation form read; its fields are far smaller.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The app: every route, behind the session middleware. Built once per
/// worker; the managers share one store.
pub(crate) fn app(
    manager: SessionManager,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(SessionMiddleware::new(manager))
        .service(web::resource("/").get(home))
        .service(web::resource("/login").get(login_page).post(login))
        .service(web::resource("/logout").post(logout))
        .service(web::resource("/sessions").get(sessions))
        .service(web::resource("/sessions/revoke").post(revoke_session))
        .service(web::resource("/visits").get(visits))
        .service(web::resource("/prefs").get(prefs))
        // An empty NAME is a bad NAME (400), not an unknown path.
        .service(web::resource("/prefs/").put(|| async { bad_request("bad preference name") }))
        .service(web::resource("/prefs/{name}").put(put_pref))
}

async fn home(
    CurrentUser(name): CurrentUser,
    session: Session,
) -> Result<HttpResponse, SessionError> {
    let xsrf = session.csrf_token().await?;
    Ok(html_page(html::hello_page(&name, &xsrf)))
}

async fn login_page(session: Session, request: HttpRequest) -> Result<HttpResponse, SessionError> {
    let query = Form::parse(request.query_string().as_bytes()).ok();
    let next = query
        .as_ref()
        .and_then(|query| query.get("next"))
        .filter(|next| rules::is_local_path(next));
    let xsrf = session.csrf_token().await?;
    Ok(html_page(html::login_page(&xsrf, next)))
}

async fn login(
    session: Session,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, SessionError> {
    let form = match read_form(&request, body).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::login(&session, &form).await?))
}

async fn logout(
    session: Session,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, SessionError> {
    let form = match read_form(&request, body).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::logout(&session, &form).await?))
}

async fn sessions(session: Session) -> Result<HttpResponse, SessionError> {
    Ok(respond(actions::sessions(&session).await?))
}

async fn revoke_session(
    session: Session,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, SessionError> {
    let form = match read_form(&request, body).await {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    Ok(respond(actions::revoke(&session, &form).await?))
}

async fn visits(session: Session) -> Result<String, SessionError> {
    Ok(actions::visits(&session).await?.to_string())
}

async fn prefs(session: Session) -> Result<HttpResponse, SessionError> {
    let prefs = session.with_data(|data| rules::prefs(data)).await??;
    Ok(HttpResponse::Ok().json(serde_json::Value::Object(prefs)))
}

async fn put_pref(
    session: Session,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, SessionError> {
    // The raw segment: a name that does not decode is a bad name (400), not
    // the 404 of actix-web's `Path` extractor.
    let name = request.match_info().get("name").unwrap_or_default();
    let body = body.to_bytes_limited(rules::MAX_PREF_VALUE_BYTES).await;
    let body = body.ok().and_then(Result::ok);
    Ok(respond(
        actions::put_pref(&session, name, body.as_deref()).await?,
    ))
}

/// The body as a form, or the 400 to answer instead.
async fn read_form(request: &HttpRequest, body: web::Payload) -> Result<Form, HttpResponse> {
    let Ok(Ok(body)) = body.to_bytes_limited(MAX_FORM_BYTES).await else {
        return Err(bad_request("the form is too large or unreadable"));
    };
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .map(HeaderValue::as_bytes);
    Form::from_body(content_type, &body).map_err(|error| bad_request(&error.to_string()))
}

/// An HTML page, which no other site may frame (so its logout button cannot
/// be clickjacked).
fn html_page(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((X_FRAME_OPTIONS, html::FRAME_OPTIONS))
        .body(body)
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type(ContentType::plaintext())
        .body(format!("{message}\n"))
}

/// A route's answer as actix-web's response.
fn respond(answer: Answer) -> HttpResponse {
    match answer {
        Answer::NoContent => HttpResponse::NoContent().finish(),
        Answer::SeeOther(location) => HttpResponse::SeeOther()
            .insert_header((LOCATION, location))
            .finish(),
        Answer::BadRequest(message) => bad_request(message),
        Answer::Forbidden => HttpResponse::Forbidden()
            .content_type(ContentType::plaintext())
            .body("missing or wrong _xsrf token\n"),
        Answer::NotFound(message) => HttpResponse::NotFound()
            .content_type(ContentType::plaintext())
            .body(format!("{message}\n")),
        Answer::Json(value) => HttpResponse::Ok().json(value),
    }
}
