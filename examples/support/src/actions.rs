//! The contract's routes as framework-neutral actions: each app reads the
//! request its own way, calls one of these, and turns the [`Answer`] into its
//! framework's response. The rules, the session calls and their order live
//! here once.

use std::time::UNIX_EPOCH;

use serde_json::{Value, json};
use session_core::{Error, Session, UserSession};

use crate::form::Form;
use crate::rules::{self, PrefError};

/// Where the login form is, and where a logout or a revoked own session ends
/// up.
pub const LOGIN_PATH: &str = "/login";
/// The page listing the user's sessions, where a revocation returns to.
pub const SESSIONS_PATH: &str = "/sessions";
/// The `id` of `POST /sessions/revoke` that names every session of the user
/// but the current one. The core's handles are longer random strings, so
/// none can be mistaken for it.
pub const REVOKE_OTHERS: &str = "others";

/// What a route answers, before it becomes a framework's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 204 No Content.
    NoContent,
    /// 303 See Other to this local path, already ASCII.
    SeeOther(String),
    /// 400 `text/plain` with this message.
    BadRequest(&'static str),
    /// 403: the form's `_xsrf` is missing or not this session's token.
    Forbidden,
    /// 404 `text/plain` with this message: the path exists, the thing it
    /// names does not.
    NotFound(&'static str),
    /// 200 `application/json` with this body.
    Json(Value),
}

/// `POST /login`: checks the token and the name, logs the user in (which
/// rotates the session ID) and sends them to `next` when it is local.
///
/// # Errors
///
/// The session failed; the app answers its error reply.
pub async fn login(session: &Session, form: &Form) -> Result<Answer, Error> {
    if !xsrf_matches(session, form).await? {
        return Ok(Answer::Forbidden);
    }
    let name = form.get("name").unwrap_or_default();
    if !rules::is_valid_user_name(name) {
        return Ok(Answer::BadRequest(
            "the name must be 1 to 64 characters, not only spaces, without control characters",
        ));
    }
    session.login(name).await?;
    let next = form.get("next").and_then(rules::local_redirect);
    Ok(Answer::SeeOther(next.unwrap_or_else(|| "/".to_owned())))
}

/// `POST /logout`: checks the token and ends the session; with
/// `everywhere=1`, every other session of the user too (on every instance:
/// their records are deleted from the shared store).
///
/// # Errors
///
/// The session failed; the app answers its error reply.
pub async fn logout(session: &Session, form: &Form) -> Result<Answer, Error> {
    if !xsrf_matches(session, form).await? {
        return Ok(Answer::Forbidden);
    }
    if form.get("everywhere") == Some("1") {
        session.logout_everywhere().await?;
    } else {
        session.logout().await?;
    }
    Ok(Answer::SeeOther(LOGIN_PATH.to_owned()))
}

/// `GET /sessions`: the logged-in user's live sessions as JSON, newest
/// first (the core marks the response `Cache-Control: no-store`). A visitor
/// who is not logged in is sent to the login form, which returns here; no
/// session is created for them.
///
/// # Errors
///
/// The session failed; the app answers its error reply.
pub async fn sessions(session: &Session) -> Result<Answer, Error> {
    if !is_logged_in(session).await? {
        return Ok(Answer::SeeOther(session.login_redirect(SESSIONS_PATH)));
    }
    let sessions = session.user_sessions().await?;
    Ok(Answer::Json(sessions_json(&sessions)))
}

/// `POST /sessions/revoke`: ends the session whose handle is the form's `id`,
/// or every other session of the user for `id=others`. Checked in the
/// contract's order: logged in, then the token, then the handle, so that a
/// handle is never checked for someone who could not revoke it anyway.
/// Revoking the current session is a logout (303 to the login form); anything
/// else returns to the list.
///
/// # Errors
///
/// The session failed; the app answers its error reply.
pub async fn revoke(session: &Session, form: &Form) -> Result<Answer, Error> {
    if !is_logged_in(session).await? {
        return Ok(Answer::SeeOther(LOGIN_PATH.to_owned()));
    }
    if !xsrf_matches(session, form).await? {
        return Ok(Answer::Forbidden);
    }
    match form.get("id").unwrap_or_default() {
        REVOKE_OTHERS => {
            session.end_other_user_sessions().await?;
        }
        handle => match session.end_user_session(handle).await {
            Ok(()) => {}
            // Another user's handle, an ended session's or garbage: nothing
            // ended, and the answer does not say which it was.
            Err(Error::UnknownSession) => {
                return Ok(Answer::NotFound("no live session of yours has that id"));
            }
            Err(error) => return Err(error),
        },
    }
    // The handle may have named the current session, which then ended like a
    // logout (the core expires the cookie) and now reads as logged out. The
    // record is loaded (or reset) already, so asking costs no store call.
    let next = if is_logged_in(session).await? {
        SESSIONS_PATH
    } else {
        LOGIN_PATH
    };
    Ok(Answer::SeeOther(next.to_owned()))
}

/// The body of `GET /sessions`: `{"sessions": [{"id", "created", "current"}]}`,
/// in the order given. `created` is in whole Unix seconds.
pub fn sessions_json(sessions: &[UserSession]) -> Value {
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|listed| {
            let created = listed
                .created()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            json!({
                "id": listed.handle(),
                "created": created,
                "current": listed.is_current(),
            })
        })
        .collect();
    json!({ "sessions": sessions })
}

/// `GET /visits`: one more visit, counted in a transaction, so concurrent
/// requests never lose or repeat a count.
///
/// # Errors
///
/// The session failed; the app answers its error reply.
pub async fn visits(session: &Session) -> Result<u64, Error> {
    session.transaction(rules::count_visit).await?
}

/// `PUT /prefs/NAME` with the request's body, `None` when it was larger than
/// [`rules::MAX_PREF_VALUE_BYTES`] or unreadable. The cap of 64 preferences is
/// checked inside the transaction, so it holds under concurrency.
///
/// # Errors
///
/// The session failed; the app answers its error reply.
pub async fn put_pref(session: &Session, name: &str, body: Option<&[u8]>) -> Result<Answer, Error> {
    if !rules::is_valid_pref_name(name) {
        return Ok(Answer::BadRequest("bad preference name"));
    }
    let Some(body) = body else {
        return Ok(Answer::BadRequest("the value must be at most 256 bytes"));
    };
    let Some(value) = rules::pref_value(body) else {
        return Ok(Answer::BadRequest("the value must be UTF-8"));
    };
    let (name, value) = (name.to_owned(), value.to_owned());
    match session
        .transaction(move |data| rules::set_pref(data, &name, &value))
        .await?
    {
        Ok(()) => Ok(Answer::NoContent),
        Err(PrefError::TooMany) => Ok(Answer::BadRequest("too many preferences")),
        Err(PrefError::Session(error)) => Err(error),
    }
}

/// Whether a user is logged in to the session. (It also marks the response
/// `Cache-Control: no-store` when one is, since what follows is theirs.)
async fn is_logged_in(session: &Session) -> Result<bool, Error> {
    Ok(session.current_user::<String>().await?.is_some())
}

/// Whether the form's `_xsrf` is the session's token. The session is loaded
/// even when the field is missing, so a store outage is a 503 on every route
/// that needs the session, whatever the form holds.
async fn xsrf_matches(session: &Session, form: &Form) -> Result<bool, Error> {
    let token = form.get("_xsrf").unwrap_or_default();
    session.verify_csrf(token).await
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::sync::Arc;

    use session_core::{KeyRing, MemoryStore, SessionManager, SetCookie};

    use super::*;

    fn manager() -> SessionManager {
        SessionManager::builder(Arc::new(MemoryStore::new()), KeyRing::generate())
            .build()
            .expect("valid configuration")
    }

    /// Ends the request of `session`, which must have met no store failure;
    /// answers the `Set-Cookie` of its response.
    async fn finished(
        manager: &SessionManager,
        session: &Session,
        status: u16,
    ) -> Option<SetCookie> {
        let end = manager.finish(session, status).await;
        assert!(end.error_reply().is_none(), "{:?}", end.error_reply());
        end.set_cookie().cloned()
    }

    /// Logs `user` in on a new session; answers its cookie value.
    async fn logged_in(manager: &SessionManager, user: &str) -> String {
        let session = manager.get(None);
        session.login(user).await.expect("login");
        let cookie = finished(manager, &session, 303).await;
        let cookie = cookie.expect("login sets the cookie");
        cookie.value().to_owned()
    }

    /// A form with these fields, every byte but letters and digits escaped.
    fn form(fields: &[(&str, &str)]) -> Form {
        let mut text = String::new();
        for (name, value) in fields {
            let _ = write!(text, "{name}=");
            for byte in value.bytes() {
                if byte.is_ascii_alphanumeric() {
                    text.push(char::from(byte));
                } else {
                    let _ = write!(text, "%{byte:02X}");
                }
            }
            text.push('&');
        }
        Form::parse(text.as_bytes()).expect("a valid form")
    }

    /// The handles `GET /sessions` lists for the session at `cookie`, and
    /// which one is current.
    async fn listed(manager: &SessionManager, cookie: &str) -> Vec<(String, bool)> {
        let session = manager.get(Some(cookie));
        let Answer::Json(body) = sessions(&session).await.expect("listing") else {
            panic!("a logged-in session gets its list");
        };
        finished(manager, &session, 200).await;
        body["sessions"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|listed| {
                let handle = listed["id"].as_str().expect("a string id").to_owned();
                (handle, listed["current"] == Value::Bool(true))
            })
            .collect()
    }

    #[tokio::test]
    async fn lists_the_users_sessions_newest_first() {
        let manager = manager();
        let laptop = logged_in(&manager, "alice").await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let phone = logged_in(&manager, "alice").await;
        logged_in(&manager, "bob").await;
        let from_laptop = listed(&manager, &laptop).await;
        assert_eq!(from_laptop.len(), 2, "{from_laptop:?}");
        assert_eq!(
            from_laptop
                .iter()
                .map(|(_, current)| *current)
                .collect::<Vec<_>>(),
            [false, true],
            "the phone's login is newer"
        );
        let from_phone = listed(&manager, &phone).await;
        assert_eq!(from_phone[0].0, from_laptop[0].0, "the same handles");
        assert!(from_phone[0].1 && !from_phone[1].1);

        let anonymous = manager.get(None);
        assert_eq!(
            sessions(&anonymous).await.expect("no store failure"),
            Answer::SeeOther("/login?next=%2Fsessions".to_owned())
        );
        let cookie = finished(&manager, &anonymous, 303).await;
        assert!(cookie.is_none(), "no session for a visitor");
    }

    #[tokio::test]
    async fn revocation_checks_login_then_token_then_handle() {
        let manager = manager();
        let laptop = logged_in(&manager, "alice").await;
        let bob = logged_in(&manager, "bob").await;
        let bobs_handle = listed(&manager, &bob).await.remove(0).0;

        let anonymous = manager.get(None);
        let garbage = form(&[("_xsrf", "x"), ("id", "x")]);
        assert_eq!(
            revoke(&anonymous, &garbage)
                .await
                .expect("no store failure"),
            Answer::SeeOther(LOGIN_PATH.to_owned())
        );

        let session = manager.get(Some(&laptop));
        let token = session.csrf_token().await.expect("a token");
        assert_eq!(
            revoke(&session, &form(&[("_xsrf", "bogus"), ("id", "others")]))
                .await
                .expect("no store failure"),
            Answer::Forbidden
        );
        for id in ["garbage", "", &bobs_handle] {
            let fields = form(&[("_xsrf", &token), ("id", id)]);
            assert!(
                matches!(revoke(&session, &fields).await, Ok(Answer::NotFound(_))),
                "{id:?} names no session of alice's"
            );
        }
        finished(&manager, &session, 404).await;
        assert_eq!(listed(&manager, &bob).await.len(), 1, "bob's session lives");
    }

    #[tokio::test]
    async fn revoking_others_keeps_this_one_and_revoking_this_one_logs_out() {
        let manager = manager();
        let laptop = logged_in(&manager, "alice").await;
        let phone = logged_in(&manager, "alice").await;

        let session = manager.get(Some(&laptop));
        let token = session.csrf_token().await.expect("a token");
        let others = form(&[("_xsrf", &token), ("id", REVOKE_OTHERS)]);
        assert_eq!(
            revoke(&session, &others).await.expect("revoked"),
            Answer::SeeOther(SESSIONS_PATH.to_owned())
        );
        finished(&manager, &session, 303).await;
        let phone_session = manager.get(Some(&phone));
        let phone_user = phone_session.current_user::<String>().await;
        assert_eq!(
            phone_user.expect("readable"),
            None,
            "the phone is logged out"
        );

        let own = listed(&manager, &laptop).await;
        assert_eq!(own.len(), 1);
        let session = manager.get(Some(&laptop));
        let own_handle = form(&[("_xsrf", &token), ("id", &own[0].0)]);
        assert_eq!(
            revoke(&session, &own_handle).await.expect("revoked"),
            Answer::SeeOther(LOGIN_PATH.to_owned())
        );
        let cookie = finished(&manager, &session, 303).await;
        assert!(
            cookie.is_some_and(|cookie| cookie.is_removal()),
            "revoking the current session expires its cookie"
        );
    }
}
