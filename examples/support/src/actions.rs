//! The contract's routes as framework-neutral actions: each app reads the
//! request its own way, calls one of these, and turns the [`Answer`] into its
//! framework's response. The rules, the session calls and their order live
//! here once.

use session_core::{Error, Session};

use crate::form::Form;
use crate::rules::{self, PrefError};

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

/// `POST /logout`: checks the token and ends the session.
///
/// # Errors
///
/// The session failed; the app answers its error reply.
pub async fn logout(session: &Session, form: &Form) -> Result<Answer, Error> {
    if !xsrf_matches(session, form).await? {
        return Ok(Answer::Forbidden);
    }
    session.logout().await?;
    Ok(Answer::SeeOther("/login".to_owned()))
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

/// Whether the form's `_xsrf` is the session's token. The session is loaded
/// even when the field is missing, so a store outage is a 503 on every route
/// that needs the session, whatever the form holds.
async fn xsrf_matches(session: &Session, form: &Form) -> Result<bool, Error> {
    let token = form.get("_xsrf").unwrap_or_default();
    session.verify_csrf(token).await
}
