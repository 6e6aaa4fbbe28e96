//! What is specific to hyper: the wrapper without which there is no session,
//! response body types, errors handed to hyper, and serving through hyper's
//! own HTTP/1.1 connection with its `Incoming` bodies.

use std::convert::Infallible;
use std::sync::Arc;

use adapter_hyper::{MissingSessionService, SessionExt as _, SessionService};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Either, Empty, Full};
use hyper::service::{Service, service_fn};
use session_core::test_stores::{CountingStore, FAILURE_MESSAGE, FailingStore};
use session_core::{KeyRing, MemoryStore, SessionManager, Store};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn manager_on(store: Arc<dyn Store>) -> SessionManager {
    SessionManager::builder(store, KeyRing::generate())
        .secure(false)
        .build()
        .expect("a valid configuration")
}

fn manager() -> SessionManager {
    manager_on(Arc::new(MemoryStore::new()))
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .body(Empty::new())
        .expect("a valid request")
}

async fn text<B>(body: B) -> String
where
    B: hyper::body::Body,
    B::Error: std::fmt::Debug,
{
    let bytes = body.collect().await.expect("an in-memory body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

#[tokio::test]
async fn without_the_wrapper_the_error_names_it() {
    let request = get("/page");
    let missing = request.session().expect_err("no wrapper, no session");
    assert_eq!(missing, MissingSessionService);
    assert!(
        missing.to_string().contains("SessionService::new"),
        "the message says what to add: {missing}"
    );
    let (parts, _) = request.into_parts();
    assert!(parts.session().is_err());

    let answer = parts.current_user::<String, Full<Bytes>>().await;
    let response = answer.expect_err("no user without a session");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// A `BoxBody` is not `From<Bytes>`: the wrapper's `Either` body serves it
/// unchanged, and serves the error reply beside it.
#[tokio::test]
async fn any_response_body_type_is_served() {
    async fn boxed(
        request: Request<Empty<Bytes>>,
    ) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
        let visits = match request.session() {
            Ok(session) => session.insert("visits", &1u64).await.is_ok(),
            Err(_) => false,
        };
        let body = Full::new(Bytes::from(format!("saved: {visits}")));
        Ok(Response::new(body.boxed()))
    }

    let working = SessionService::new(manager(), service_fn(boxed));
    let response = working.call(get("/")).await.expect("infallible");
    assert!(matches!(response.body(), Either::Left(_)));
    assert!(response.headers().contains_key(SET_COOKIE));
    assert_eq!(text(response.into_body()).await, "saved: true");

    let failing = SessionService::new(manager_on(Arc::new(FailingStore::new())), service_fn(boxed));
    let response = failing.call(get("/")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(matches!(response.body(), Either::Right(_)));
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .expect("a content type");
    assert!(content_type.as_bytes().starts_with(b"text/plain"));
    let body = text(response.into_body()).await;
    assert!(
        !body.contains(FAILURE_MESSAGE) && !body.contains("192.0.2.7"),
        "the reply shows no internals: {body:?}"
    );
}

/// An `Err` handed to hyper drops the connection; when it is a session
/// failure, the wrapper answers the manager's reply instead. Other errors
/// pass through untouched.
#[tokio::test]
async fn errors_handed_to_hyper() {
    async fn fallible(
        request: Request<Empty<Bytes>>,
    ) -> Result<Response<Empty<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
        let session = request.session()?;
        match request.uri().path() {
            "/write" => {
                session.insert("visits", &1u64).await?;
                Ok(Response::new(Empty::new()))
            }
            "/read" => {
                session.get::<u64>("visits").await?;
                Err("the handler failed after reading".into())
            }
            _ => Err("the handler failed".into()),
        }
    }

    let store = Arc::new(CountingStore::new());
    let service = SessionService::new(manager_on(store.clone()), service_fn(fallible));
    let created = service.call(get("/write")).await.expect("a session");
    let cookie = created
        .headers()
        .get(SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a new session sets its cookie")
        .to_owned();

    store.set_failing(true);
    let mut read = get("/read");
    let cookie = HeaderValue::from_str(&cookie).expect("a header value");
    read.headers_mut().insert(COOKIE, cookie);
    let response = service
        .call(read)
        .await
        .expect("the session failed, so the reply answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let error = service
        .call(get("/other"))
        .await
        .expect_err("the handler's own error is hyper's");
    assert_eq!(error.to_string(), "the handler failed");
}

/// The current user from `Parts` too, with the path and query as `next`.
#[tokio::test]
async fn current_user_from_parts_redirects_with_the_query() {
    async fn page(request: Request<Empty<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
        let (parts, _body) = request.into_parts();
        Ok(match parts.current_user::<String, _>().await {
            Ok(name) => Response::new(Full::from(name)),
            Err(redirect) => redirect,
        })
    }

    let service = SessionService::new(manager(), service_fn(page));
    let response = service
        .call(get("/account?tab=keys&x=é"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers().get(LOCATION).expect("a Location");
    assert_eq!(location, "/login?next=%2Faccount%3Ftab%3Dkeys%26x%3D%C3%A9");
    assert!(
        !response.headers().contains_key(SET_COOKIE),
        "an anonymous visitor gets no session"
    );
}

/// A hand-written service may ask in its synchronous `call`, before its
/// future exists. A task of its own reaches the session only when handed it:
/// as the `Session`, or as a request it was attached to.
#[tokio::test]
async fn a_service_may_ask_in_call_and_a_spawned_task_gets_the_session_handed() {
    #[derive(Clone)]
    struct AsksInCall;

    impl Service<Request<Empty<Bytes>>> for AsksInCall {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
        >;

        fn call(&self, request: Request<Empty<Bytes>>) -> Self::Future {
            let session = request.session();
            Box::pin(async move {
                let Ok(session) = session else {
                    return Ok(Response::new(Full::from("no session in call")));
                };
                let moved = tokio::spawn(async move { (request.session(), request) });
                let (missing, mut request) = moved.await.expect("the spawned task");
                let attached = request.attach_session().is_ok();
                let moved = tokio::spawn(async move { request.session() });
                let from_attached = moved.await.expect("the spawned task");
                let handed =
                    tokio::spawn(async move { session.insert("visits", &1u64).await.is_ok() });
                let saved = handed.await.expect("the spawned task");
                let visits = match from_attached {
                    Ok(session) => session.get::<u64>("visits").await.ok().flatten(),
                    Err(_) => None,
                };
                let body = format!(
                    "moved: {:?}, attached: {attached}, handed: {saved}, seen through the attached request: {visits:?}",
                    missing.err()
                );
                Ok(Response::new(Full::from(body)))
            })
        }
    }

    let service = SessionService::new(manager(), AsksInCall);
    let response = service.call(get("/")).await.expect("infallible");
    assert!(
        response.headers().contains_key(SET_COOKIE),
        "the session from call was saved"
    );
    assert_eq!(
        text(response.into_body()).await,
        "moved: Some(MissingSessionService), attached: true, handed: true, seen through the attached request: Some(1)"
    );
}

/// Code working for another request (another user's session cookie) inside
/// this request's handling gets no session, not this one's.
#[tokio::test]
async fn another_requests_cookie_gets_no_session() {
    async fn page(request: Request<Empty<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
        let Ok(own) = request.session() else {
            return Ok(Response::new(Full::from("no session")));
        };
        if request.uri().path() == "/new" {
            let _ = own.insert("user", "someone").await;
            return Ok(Response::new(Full::default()));
        }
        let mut other = get("/other");
        if let Some(cookie) = request.headers().get("x-other-cookie") {
            other.headers_mut().insert(COOKIE, cookie.clone());
        }
        let body = format!("other: {:?}", other.session().err());
        Ok(Response::new(Full::from(body)))
    }

    let service = SessionService::new(manager(), service_fn(page));
    let mut cookies = Vec::new();
    for _ in 0..2 {
        let response = service.call(get("/new")).await.expect("infallible");
        let set_cookie = response.headers().get(SET_COOKIE).expect("a new session");
        let pair = set_cookie.to_str().expect("ASCII").split(';').next();
        cookies.push(HeaderValue::from_str(pair.expect("a pair")).expect("a header value"));
    }
    let mut request = get("/");
    request.headers_mut().insert(COOKIE, cookies[0].clone());
    request
        .headers_mut()
        .insert("x-other-cookie", cookies[1].clone());
    let response = service.call(request).await.expect("infallible");
    assert_eq!(
        text(response.into_body()).await,
        "other: Some(MissingSessionService)"
    );
}

/// Served by hyper itself: `Incoming` request bodies, a spawned (so `Send`)
/// connection, keep-alive, the cookie round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_through_hyper_http1() {
    async fn visits(
        request: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
        let session = request.session()?;
        let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
        session.insert("visits", &visits).await?;
        let body = request
            .into_body()
            .collect()
            .await
            .map(|body| body.to_bytes());
        let echoed = body.map(|body| body.len()).unwrap_or_default();
        Ok(Response::new(Full::from(format!("{visits} {echoed}"))))
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let addr = listener.local_addr().expect("an address");
    let service = SessionService::new(manager(), service_fn(visits));
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("a connection");
        hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .await
    });

    let mut client = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connected");
    client
        .write_all(b"POST /visits HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .expect("sent");
    let first = read_response(&mut client).await;
    assert!(first.ends_with("1 3"), "{first}");
    assert!(first.contains("cache-control: no-store"), "{first}");
    let cookie = first
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|value| value.split(';').next())
        .expect("a new session sets its cookie")
        .to_owned();

    let second =
        format!("GET /visits HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
    client.write_all(second.as_bytes()).await.expect("sent");
    let second = read_response(&mut client).await;
    assert!(second.ends_with("2 0"), "{second}");
    server
        .await
        .expect("the server task")
        .expect("the connection ended cleanly");
}

/// Reads one response with a `content-length` (hyper sends one for `Full`).
async fn read_response(client: &mut tokio::net::TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = client.read(&mut chunk).await.expect("read");
        assert!(read > 0, "the connection closed mid-response");
        received.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&received).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|length| length.trim().parse::<usize>().ok())
            .expect("a content-length");
        if body.len() >= length {
            return text;
        }
    }
}
