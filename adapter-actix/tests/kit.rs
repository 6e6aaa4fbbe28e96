//! The core's adapter test kit against [`SessionMiddleware`]: the kit's routes
//! as actix-web handlers, driven in process through `actix_web::test`.

use std::fmt;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::COOKIE;
use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpResponse, ResponseError, test, web};
use adapter_actix::{CurrentUser, Session, SessionError, SessionMiddleware};
use session_core::SessionManager;
use session_core::adapter_kit::{self, TestApp, TestRequest, TestResponse, USER};

/// The kit's app behind the middleware, as a service.
struct KitApp<S>(S);

#[session_core::async_trait(?Send)]
impl<S, B> TestApp for KitApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    async fn send(&self, request: TestRequest) -> TestResponse {
        let method =
            Method::from_bytes(request.method.as_bytes()).expect("the kit's methods are valid");
        let mut sent = test::TestRequest::default()
            .method(method)
            .uri(&request.path);
        if let Some(cookie) = request.cookie {
            sent = sent.insert_header((COOKIE, cookie));
        }
        let response = test::call_service(&self.0, sent.to_request()).await;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let body = test::read_body(response).await.to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

#[actix_rt::test]
async fn the_middleware_passes_the_adapter_kit() {
    adapter_kit::run(|manager| async move { KitApp(test::init_service(kit_app(manager)).await) })
        .await;
}

/// The routes of the kit's module docs.
fn kit_app(
    manager: SessionManager,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(SessionMiddleware::new(manager))
        .route("/untouched", web::get().to(|| async { "ok" }))
        .route("/read", web::get().to(read))
        .route("/write", web::get().to(write))
        .route("/keys/{key}", web::put().to(put_key))
        .route("/keys", web::get().to(keys))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/user", web::get().to(user))
        .route("/maybe-user", web::get().to(maybe_user))
        .route("/csrf", web::get().to(csrf))
        .route("/app-error", web::get().to(app_error))
        .route("/swallow", web::get().to(swallow))
        .route("/fail-500", web::get().to(fail_500))
}

async fn read(session: Session) -> Result<String, SessionError> {
    let visits = session.get::<u64>("visits").await?;
    Ok(visits.map_or_else(|| "none".to_owned(), |visits| visits.to_string()))
}

async fn write(session: Session) -> Result<String, SessionError> {
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", &visits).await?;
    Ok(visits.to_string())
}

async fn put_key(session: Session, key: web::Path<String>) -> Result<HttpResponse, SessionError> {
    session.insert(&key, "1").await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn keys(session: Session) -> Result<String, SessionError> {
    Ok(session.keys().await?.join(","))
}

async fn login(session: Session) -> Result<HttpResponse, SessionError> {
    session.login(USER).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn logout(session: Session) -> Result<HttpResponse, SessionError> {
    session.logout().await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn user(CurrentUser(name): CurrentUser) -> String {
    name
}

async fn maybe_user(user: Option<CurrentUser>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(name)| name)
}

async fn csrf(session: Session) -> Result<String, SessionError> {
    Ok(session.csrf_token().await?)
}

/// The app's own error type, which knows nothing of the session's replies.
#[derive(Debug)]
struct Teapot;

impl fmt::Display for Teapot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("I'm a teapot")
    }
}

impl From<session_core::Error> for Teapot {
    fn from(_: session_core::Error) -> Self {
        Teapot
    }
}

impl ResponseError for Teapot {
    fn status_code(&self) -> StatusCode {
        StatusCode::IM_A_TEAPOT
    }
}

async fn app_error(session: Session) -> Result<&'static str, Teapot> {
    session.get::<u64>("visits").await?;
    Ok("ok")
}

async fn swallow(session: Session) -> &'static str {
    let _ = session.insert("swallowed", &1).await;
    "ok"
}

async fn fail_500(session: Session) -> Result<HttpResponse, SessionError> {
    session.insert("visits", &999).await?;
    Ok(HttpResponse::InternalServerError().body("failed"))
}
