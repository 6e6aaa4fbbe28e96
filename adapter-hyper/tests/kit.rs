//! The core's adapter test kit against [`SessionService`], driven in process
//! with `Service::call`: the kit's routes, written as a hyper application
//! would write them.

use std::convert::Infallible;

use adapter_hyper::{SessionBody, SessionExt as _, SessionService};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::service::{Service, service_fn};
use session_core::adapter_kit::{self, TestApp, TestRequest, TestResponse};
use session_core::{Error, SessionManager};

type Body = Full<Bytes>;

/// The kit's test app: the routes behind a [`SessionService`].
struct HyperApp<S>(S);

#[session_core::async_trait(?Send)]
impl<S> TestApp for HyperApp<S>
where
    S: Service<Request<Body>, Response = Response<SessionBody<Body>>>,
    S::Error: std::fmt::Display,
{
    async fn send(&self, request: TestRequest) -> TestResponse {
        let mut builder = Request::builder()
            .method(request.method)
            .uri(request.path.as_str());
        if let Some(cookie) = &request.cookie {
            builder = builder.header(http::header::COOKIE, cookie.as_str());
        }
        let request = builder.body(Body::default()).expect("a valid test request");
        match self.0.call(request).await {
            Ok(response) => into_test_response(response).await,
            // hyper would drop the connection: make that visible to the kit.
            Err(error) => TestResponse {
                status: 599,
                headers: Vec::new(),
                body: format!("the service failed without a response: {error}").into_bytes(),
            },
        }
    }
}

async fn into_test_response(response: Response<SessionBody<Body>>) -> TestResponse {
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().expect("an ASCII header value");
            (name.as_str().to_owned(), value.to_owned())
        })
        .collect();
    let body = body.collect().await.expect("an in-memory body").to_bytes();
    TestResponse {
        status: parts.status.as_u16(),
        headers,
        body: body.to_vec(),
    }
}

/// The app's own error type, for `/app-error`: it answers 418.
struct Teapot;

impl From<Error> for Teapot {
    fn from(_: Error) -> Self {
        Teapot
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

fn ok(body: impl Into<Bytes>) -> Response<Body> {
    reply(StatusCode::OK, body)
}

async fn visits(request: &Request<Body>) -> Result<Option<u64>, Teapot> {
    let session = request.session().map_err(|_| Teapot)?;
    Ok(session.get::<u64>("visits").await?)
}

/// The routes. Session errors go to hyper with `?`: the service answers the
/// manager's error reply for them.
async fn route(request: Request<Body>) -> Result<Response<Body>, Error> {
    let session = match request.session() {
        Ok(session) => session,
        Err(missing) => {
            return Ok(reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                missing.to_string(),
            ));
        }
    };
    let path = request.uri().path();
    Ok(match (request.method().as_str(), path) {
        ("GET", "/untouched") => ok("ok"),
        ("GET", "/read") => match session.get::<u64>("visits").await? {
            Some(visits) => ok(visits.to_string()),
            None => ok("none"),
        },
        ("GET", "/write") => {
            let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
            session.insert("visits", &visits).await?;
            ok(visits.to_string())
        }
        ("PUT", path) if path.starts_with("/keys/") => {
            session
                .insert(path.trim_start_matches("/keys/"), "1")
                .await?;
            reply(StatusCode::NO_CONTENT, "")
        }
        ("GET", "/keys") => ok(session.keys().await?.join(",")),
        ("POST", "/login") => {
            session.login("alice").await?;
            reply(StatusCode::NO_CONTENT, "")
        }
        ("POST", "/logout") => {
            session.logout().await?;
            reply(StatusCode::NO_CONTENT, "")
        }
        ("GET", "/user") => match request.current_user::<String, _>().await {
            Ok(name) => ok(name),
            Err(redirect) => redirect,
        },
        ("GET", "/maybe-user") => {
            let user = session.current_user::<String>().await?;
            ok(user.unwrap_or_else(|| "anonymous".to_owned()))
        }
        ("GET", "/csrf") => ok(session.csrf_token().await?),
        ("GET", "/app-error") => match visits(&request).await {
            Ok(_) => ok("ok"),
            Err(Teapot) => reply(StatusCode::IM_A_TEAPOT, "teapot"),
        },
        ("GET", "/swallow") => {
            let _ = session.insert("swallowed", &1).await;
            ok("ok")
        }
        ("GET", "/fail-500") => {
            session.insert("visits", &999).await?;
            reply(StatusCode::INTERNAL_SERVER_ERROR, "failed")
        }
        _ => reply(StatusCode::NOT_FOUND, ""),
    })
}

#[tokio::test]
async fn the_service_passes_the_kit() {
    adapter_kit::run(|manager: SessionManager| async move {
        HyperApp(SessionService::new(manager, service_fn(route)))
    })
    .await;
}

/// The same app with handlers that never return `Err` (an `Infallible`
/// service, as hyper's examples write them): every session error becomes
/// some response of the app's, which the service replaces.
#[tokio::test]
async fn an_infallible_app_passes_the_kit_too() {
    async fn infallible(request: Request<Body>) -> Result<Response<Body>, Infallible> {
        Ok(route(request)
            .await
            .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "oops")))
    }

    adapter_kit::run(|manager: SessionManager| async move {
        HyperApp(SessionService::new(manager, service_fn(infallible)))
    })
    .await;
}
