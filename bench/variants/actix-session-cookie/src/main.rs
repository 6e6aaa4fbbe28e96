//! actix-web with actix-session 0.11: its `CookieSessionStore`, which keeps
//! the whole session in a signed cookie, with the defaults otherwise (but for
//! `Secure`, since the benchmark speaks plain HTTP). The peer of
//! `actix-ours`: harness variant `actix-session`.

use std::process::ExitCode;

use actix_session::config::CookieContentSecurity;
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionGetError, SessionInsertError, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{App, HttpResponse, web};
use support::actix::{missing, ok};
use support::routes::{self, VISITS_KEY};

fn main() -> ExitCode {
    support::actix::run("actix-session-cookie", |options| {
        support::actix::serve(options.listen, || {
            App::new()
                .route(routes::SEED, web::get().to(seed))
                .route(routes::VISITS, web::get().to(visits))
                .route(routes::READ, web::get().to(read))
                .route(routes::PLAIN, web::get().to(support::actix::plain))
                .wrap(middleware())
        })
    })
}

/// The signed cookie store, with the defaults otherwise, but for `Secure`.
fn middleware() -> SessionMiddleware<CookieSessionStore> {
    let key = Key::from(&support::SECRET);
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_content_security(CookieContentSecurity::Signed)
        .cookie_secure(false)
        .build()
}

async fn seed(session: Session) -> Result<&'static str, SessionInsertError> {
    session.insert(VISITS_KEY, 0_u64)?;
    Ok("0")
}

async fn visits(session: Session) -> actix_web::Result<HttpResponse> {
    let Some(visits) = session.get::<u64>(VISITS_KEY)? else {
        return Ok(missing());
    };
    session.insert(VISITS_KEY, visits + 1)?;
    Ok(ok((visits + 1).to_string()))
}

async fn read(session: Session) -> Result<HttpResponse, SessionGetError> {
    Ok(match session.get::<u64>(VISITS_KEY)? {
        Some(visits) => ok(visits.to_string()),
        None => missing(),
    })
}
