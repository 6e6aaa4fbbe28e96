//! What the adapter kit cannot see because it is actix-web's own: guards,
//! middlewares and scopes reaching the session, routes without the
//! middleware, `Option<CurrentUser>` on a failing store, errors from inner
//! middlewares, and a real multi-worker `HttpServer` with `!Send` handlers.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::Arc;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use actix_web::{App, HttpResponse, HttpServer, ResponseError as _, guard, test, web};
use adapter_actix::{CurrentUser, Session, SessionError, SessionExt as _, SessionMiddleware};
use session_core::test_stores::FailingStore;
use session_core::{KeyRing, MemoryStore, SessionManager, Store, StoreError};

fn manager_on(store: Arc<dyn Store>, keys: KeyRing) -> SessionManager {
    SessionManager::builder(store, keys)
        .secure(false)
        .build()
        .expect("valid configuration")
}

fn manager() -> SessionManager {
    manager_on(Arc::new(MemoryStore::new()), KeyRing::generate())
}

async fn visits(session: Session) -> Result<String, SessionError> {
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", &visits).await?;
    Ok(visits.to_string())
}

async fn maybe_user(user: Option<CurrentUser>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(name)| name)
}

/// The `name=value` pair of a response's one `Set-Cookie`.
fn cookie_pair<B>(response: &ServiceResponse<B>) -> String {
    let values: Vec<_> = response.headers().get_all(SET_COOKIE).collect();
    let [value] = values.as_slice() else {
        panic!("exactly one Set-Cookie expected, got {values:?}");
    };
    let value = value.to_str().expect("an ASCII cookie");
    value.split(';').next().unwrap_or_default().to_owned()
}

async fn get<S, B>(app: &S, path: &str, cookie: Option<&str>) -> ServiceResponse<B>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let mut request = test::TestRequest::get().uri(path);
    if let Some(cookie) = cookie {
        request = request.insert_header((COOKIE, cookie.to_owned()));
    }
    test::call_service(app, request.to_request()).await
}

async fn body_text<B: MessageBody>(response: ServiceResponse<B>) -> String {
    String::from_utf8_lossy(&test::read_body(response).await).into_owned()
}

#[actix_rt::test]
async fn guards_reach_the_session() {
    let has_session = || guard::fn_guard(|context| context.get_session().is_ok());
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager()))
            .route("/guarded", web::get().guard(has_session()).to(visits)),
    )
    .await;
    let response = get(&app, "/guarded", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "1");

    // Without the middleware the guard sees no session, so the route does not match.
    let bare = test::init_service(
        App::new().route("/guarded", web::get().guard(has_session()).to(visits)),
    )
    .await;
    assert_eq!(
        get(&bare, "/guarded", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_rt::test]
async fn an_inner_middleware_uses_the_session() {
    // `wrap_fn` is wrapped first, so it runs inside the session middleware.
    let app = test::init_service(
        App::new()
            .wrap_fn(|request, service| {
                let session = request.get_session();
                let response = service.call(request);
                async move {
                    let session = session.map_err(actix_web::Error::from)?;
                    let seen = session.get::<u64>("seen").await.map_err(SessionError)?;
                    session
                        .insert("seen", &(seen.unwrap_or(0) + 1))
                        .await
                        .map_err(SessionError)?;
                    response.await
                }
            })
            .wrap(SessionMiddleware::new(manager()))
            .route(
                "/seen",
                web::get().to(|session: Session| async move {
                    let seen = session.get::<u64>("seen").await.map_err(SessionError)?;
                    Ok::<_, SessionError>(seen.unwrap_or(0).to_string())
                }),
            ),
    )
    .await;
    let first = get(&app, "/seen", None).await;
    let cookie = cookie_pair(&first);
    assert_eq!(body_text(first).await, "1");
    let second = get(&app, "/seen", Some(&cookie)).await;
    assert_eq!(body_text(second).await, "2");
}

#[actix_rt::test]
async fn without_the_middleware_extractors_answer_500_naming_it() {
    let app = test::init_service(
        App::new()
            .route("/visits", web::get().to(visits))
            .route(
                "/user",
                web::get().to(|CurrentUser(name): CurrentUser| async move { name }),
            )
            .route("/maybe-user", web::get().to(maybe_user)),
    )
    .await;
    for path in ["/visits", "/user"] {
        let response = get(&app, path, None).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let body = body_text(response).await;
        assert!(body.contains("SessionMiddleware"), "{path}: {body}");
    }
    // actix-web's `Option<T>` turns every extractor error into `None`.
    let response = get(&app, "/maybe-user", None).await;
    assert_eq!(body_text(response).await, "anonymous");
}

#[actix_rt::test]
async fn a_scope_gets_sessions_and_full_paths_as_next() {
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/admin")
                    .wrap(SessionMiddleware::new(manager()))
                    .route(
                        "/page",
                        web::get().to(|CurrentUser(name): CurrentUser| async move { name }),
                    )
                    .route("/visits", web::get().to(visits)),
            )
            .route("/visits", web::get().to(visits)),
    )
    .await;
    let redirect = get(&app, "/admin/page?tab=a%20b", None).await;
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        redirect
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok()),
        Some(session_core::login::login_redirect("/login", "/admin/page?tab=a%20b").as_str())
    );
    assert!(
        redirect.headers().get(SET_COOKIE).is_none(),
        "no session for a redirect"
    );

    let scoped = get(&app, "/admin/visits", None).await;
    assert_eq!(scoped.status(), StatusCode::OK);
    assert_eq!(body_text(scoped).await, "1");
    let outside = get(&app, "/visits", None).await;
    assert_eq!(outside.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_rt::test]
async fn optional_user_on_a_failing_store_is_the_error_reply() {
    let keys = KeyRing::generate();
    let working = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager_on(
                Arc::new(MemoryStore::new()),
                keys.clone(),
            )))
            .route("/visits", web::get().to(visits)),
    )
    .await;
    let cookie = cookie_pair(&get(&working, "/visits", None).await);

    let failing = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager_on(
                Arc::new(FailingStore::new()),
                keys,
            )))
            .route("/maybe-user", web::get().to(maybe_user)),
    )
    .await;
    let response = get(&failing, "/maybe-user", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(body_text(response).await, "service unavailable\n");
}

#[actix_rt::test]
async fn an_inner_middleware_error_still_carries_the_session_headers() {
    // The inner middleware fails every request to /fail, after its handler.
    let app = test::init_service(
        App::new()
            .wrap_fn(|request, service| {
                let fails = request.path() == "/fail";
                let response = service.call(request);
                async move {
                    let response = response.await?;
                    if fails {
                        return Err(actix_web::error::ErrorBadGateway("upstream failed"));
                    }
                    Ok(response)
                }
            })
            .wrap(SessionMiddleware::new(manager()))
            .route("/visits", web::get().to(visits))
            .route(
                "/fail",
                web::post().to(|session: Session| async move {
                    session.login("alice").await?;
                    Ok::<_, SessionError>(HttpResponse::NoContent().finish())
                }),
            ),
    )
    .await;
    let cookie = cookie_pair(&get(&app, "/visits", None).await);
    let request = test::TestRequest::post()
        .uri("/fail")
        .insert_header((COOKIE, cookie.clone()))
        .to_request();
    let error = test::try_call_service(&app, request)
        .await
        .expect_err("the inner middleware\'s error");
    // The error's response is what actix-web sends: the inner middleware's
    // status, with the rotated session's cookie, which the login made final.
    let response = error.error_response();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let rotated = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("the rotated session's cookie");
    assert_ne!(rotated, cookie, "the login rotated the session ID");
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok()),
        Some("no-store")
    );
}

#[actix_rt::test]
async fn session_error_alone_is_the_default_reply() {
    let error = SessionError(StoreError::unavailable("connection refused").into());
    let response = error.error_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .expect("a body");
    assert_eq!(&body[..], b"service unavailable\n");
}

/// A handler that is not `Send`: it holds an `Rc` across the session's await.
async fn not_send(session: Session) -> Result<String, SessionError> {
    let counted = Rc::new(session.get::<u64>("visits").await?.unwrap_or(0) + 1);
    session.insert("visits", &*counted).await?;
    Ok(counted.to_string())
}

#[actix_rt::test]
async fn a_multi_worker_server_with_not_send_handlers() {
    let manager = manager();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(manager.clone()))
            .route("/visits", web::get().to(not_send))
    })
    .workers(2)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind a free port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);

    let counts = actix_rt::task::spawn_blocking(move || {
        let (first, cookie) = blocking_get(addr, None);
        let mut counts = vec![first];
        // Each request on a new connection: any worker may take it.
        for _ in 0..5 {
            counts.push(blocking_get(addr, cookie.as_deref()).0);
        }
        (counts, cookie)
    })
    .await
    .expect("the client thread");
    handle.stop(true).await;
    assert_eq!(counts.0, ["1", "2", "3", "4", "5", "6"]);
    assert!(
        counts
            .1
            .is_some_and(|cookie| cookie.starts_with("session="))
    );
}

/// `GET /visits` over a new connection: the body and the cookie set, if any.
fn blocking_get(addr: SocketAddr, cookie: Option<&str>) -> (String, Option<String>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let cookie = cookie
        .map(|cookie| format!("Cookie: {cookie}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET /visits HTTP/1.1\r\nHost: test\r\n{cookie}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("a complete response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let set_cookie = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie").then(|| {
            value
                .trim()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    });
    (body.to_owned(), set_cookie)
}

#[actix_rt::test]
async fn login_redirect_and_no_store_for_users() {
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager()))
            .route(
                "/login",
                web::post().to(|session: Session| async move {
                    session.login("alice").await?;
                    Ok::<_, SessionError>(HttpResponse::NoContent().finish())
                }),
            )
            .route(
                "/user",
                web::get().to(|CurrentUser(name): CurrentUser| async move { name }),
            ),
    )
    .await;
    let login =
        test::call_service(&app, test::TestRequest::post().uri("/login").to_request()).await;
    let cookie = cookie_pair(&login);
    let user = get(&app, "/user", Some(&cookie)).await;
    assert_eq!(user.status(), StatusCode::OK);
    assert_eq!(
        user.headers()
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(body_text(user).await, "alice");
}
