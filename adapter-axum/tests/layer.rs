//! The layer in process: the adapter kit's scenarios, then what is axum's
//! own (the extractor without the layer, router state, nested routers,
//! typed users).

mod kit_app;

use adapter_axum::{CurrentUser, Session, SessionError, SessionLayer};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use kit_app::AxumApp;
use session_core::adapter_kit::{self, TestApp, TestRequest, TestResponse};
use session_core::{KeyRing, MemoryStore, SessionManager};

fn manager() -> SessionManager {
    SessionManager::builder(MemoryStore::new(), KeyRing::generate())
        .secure(false)
        .build()
        .expect("a valid configuration")
}

async fn get_with(app: &AxumApp, path: &str, cookie: Option<&str>) -> TestResponse {
    app.send(TestRequest {
        method: "GET",
        path: path.to_owned(),
        cookie: cookie.map(str::to_owned),
    })
    .await
}

/// `name=value` of the response's session cookie.
fn cookie_pair(response: &TestResponse) -> String {
    let set_cookie = response.header("set-cookie").expect("a Set-Cookie");
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_layer_passes_the_adapter_kit() {
    adapter_kit::run(|manager| async move { kit_app::layered(manager) }).await;
}

#[tokio::test]
async fn the_extractor_without_the_layer_names_it() {
    let response = get_with(&AxumApp(kit_app::routes()), "/write", None).await;
    assert_eq!(response.status, 500);
    assert!(
        response.text().contains("SessionLayer"),
        "{}",
        response.text()
    );
}

#[tokio::test]
async fn works_with_state_and_nested_routers() {
    #[derive(Clone)]
    struct Greeting(&'static str);

    async fn greet(
        State(greeting): State<Greeting>,
        session: Session,
    ) -> Result<&'static str, SessionError> {
        session.insert("greeted", &true).await?;
        Ok(greeting.0)
    }

    async fn hello(CurrentUser(name): CurrentUser) -> String {
        format!("Hello, {name}")
    }

    let inner = Router::new()
        .route("/greet", get(greet))
        .route("/hello", get(hello))
        .with_state(Greeting("hi"));
    let app = AxumApp(
        Router::new()
            .nest("/app", inner)
            .layer(SessionLayer::new(manager())),
    );

    let greeted = get_with(&app, "/app/greet", None).await;
    assert_eq!((greeted.status, greeted.text().as_str()), (200, "hi"));
    assert!(
        greeted.header("set-cookie").is_some(),
        "the session was saved"
    );

    let anonymous = get_with(&app, "/app/hello?x=1&y=%20", None).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(
        anonymous.header("location"),
        Some("/login?next=%2Fapp%2Fhello%3Fx%3D1%26y%3D%2520"),
        "next is the full original path and query, also inside a nested router"
    );
}

#[tokio::test]
async fn a_user_stored_as_another_type_is_anonymous() {
    async fn typed(CurrentUser(id): CurrentUser<u64>) -> String {
        id.to_string()
    }

    async fn maybe_typed(user: Option<CurrentUser<u64>>) -> &'static str {
        if user.is_some() { "user" } else { "anonymous" }
    }

    let app = AxumApp(
        kit_app::routes()
            .route("/typed", get(typed))
            .route("/maybe-typed", get(maybe_typed))
            .layer(SessionLayer::new(manager())),
    );
    let login = app
        .send(TestRequest {
            method: "POST",
            path: "/login".to_owned(),
            cookie: None,
        })
        .await;
    let cookie = cookie_pair(&login);

    // The user is "alice": read as a `u64` it does not decode, which means
    // logging in again rather than a 500 on every visit.
    let typed = get_with(&app, "/typed", Some(&cookie)).await;
    assert_eq!(typed.status, 303);
    assert_eq!(typed.header("location"), Some("/login?next=%2Ftyped"));
    let maybe = get_with(&app, "/maybe-typed", Some(&cookie)).await;
    assert_eq!(maybe.text(), "anonymous");
    assert_eq!(get_with(&app, "/user", Some(&cookie)).await.text(), "alice");
}
