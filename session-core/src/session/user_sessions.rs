//! A user's sessions, seen from one of them: list them, end one, end the
//! others, end them all. The index they are found in is
//! [`user_index`](crate::user_index)'s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Session, State, Unlist, within_budget};
use crate::error::Error;
use crate::telemetry::{self, StoreOp, timed};
use crate::user_index::{self, Entry};

/// One of the logged-in user's live sessions, as
/// [`Session::user_sessions`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    handle: String,
    created: SystemTime,
    current: bool,
}

impl UserSession {
    /// Names the session for [`Session::end_user_session`]. Random, and
    /// unrelated to the session's ID, cookie or store key: showing it to the
    /// user (or to anyone) gives no way into the session.
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// When the session was first created; logging in keeps it.
    pub fn created(&self) -> SystemTime {
        self.created
    }

    /// Whether this is the session of the request asking.
    pub fn is_current(&self) -> bool {
        self.current
    }
}

/// The user's sessions as the index has them, and what a request needs to act
/// on them.
struct Scope {
    user: String,
    /// The store key of the request's own session.
    current: Option<String>,
}

impl Session {
    /// The live sessions of the logged-in user (every instance's, every store
    /// server's), newest first; empty when no user logged in through
    /// [`login`](Session::login). Sessions that ended (logout, revocation,
    /// idle or absolute timeout, eviction) are not listed: every entry is
    /// checked against its record, in one multi-key read
    /// ([`Store::load_many`](crate::Store::load_many)).
    ///
    /// The response is marked `Cache-Control: no-store`, since it is personal.
    ///
    /// # Errors
    ///
    /// A store error; the session then remembers the failure.
    ///
    /// # Examples
    ///
    /// ```
    /// # use session_core::{KeyRing, MemoryStore, SessionManager};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = SessionManager::builder(MemoryStore::new(), KeyRing::generate()).build()?;
    /// let laptop = manager.get(None);
    /// laptop.login("alice").await?;
    /// let cookie = manager.finish(&laptop, 200).await.set_cookie().cloned();
    /// let phone = manager.get(None);
    /// phone.login("alice").await?;
    /// manager.finish(&phone, 200).await;
    ///
    /// let laptop = manager.get(cookie.as_ref().map(|cookie| cookie.value()));
    /// let sessions = laptop.user_sessions().await?;
    /// assert_eq!(sessions.len(), 2);
    /// let phone = sessions.iter().find(|listed| !listed.is_current());
    /// laptop.end_user_session(phone.map_or("", |listed| listed.handle())).await?;
    /// assert_eq!(laptop.user_sessions().await?.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn user_sessions(&self) -> Result<Vec<UserSession>, Error> {
        let mut state = self.loaded_state().await?;
        state.private = true;
        let Some(scope) = scope(&state) else {
            return Ok(Vec::new());
        };
        let entries = self.live_entries(&mut state, &scope).await?;
        let mut sessions: Vec<UserSession> = entries
            .into_iter()
            .map(|entry| UserSession {
                current: scope.current.as_deref() == Some(entry.key.as_str()),
                created: UNIX_EPOCH + Duration::from_millis(entry.created_at_ms),
                handle: entry.handle,
            })
            .collect();
        sessions.sort_by_key(|session| std::cmp::Reverse(session.created));
        Ok(sessions)
    }

    /// Ends the logged-in user's session named by `handle` (from
    /// [`user_sessions`](Session::user_sessions)) at once, for every
    /// instance: its record is deleted, so its cookie reaches nothing from
    /// the next request on, and a save racing this can never bring it back.
    /// When `handle` names the current session, this is
    /// [`destroy`](Session::destroy).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownSession`] when `handle` names no live session of this
    /// user (another user's, an ended one, garbage, or nobody is logged in);
    /// nothing is ended then. A store error otherwise.
    pub async fn end_user_session(&self, handle: &str) -> Result<(), Error> {
        let mut state = self.loaded_state().await?;
        let scope = scope(&state).ok_or(Error::UnknownSession)?;
        let entries = self.live_entries(&mut state, &scope).await?;
        let entry = entries
            .into_iter()
            .find(|entry| entry.handle == handle)
            .ok_or(Error::UnknownSession)?;
        if scope.current.as_deref() == Some(entry.key.as_str()) {
            return self.end_current(&mut state, Unlist::Yes).await;
        }
        self.end_listed(&mut state, &scope.user, vec![entry.key])
            .await
    }

    /// Ends every session of the logged-in user but the current one, as
    /// [`end_user_session`](Session::end_user_session) does; answers how
    /// many ended. Nothing happens when nobody is logged in. A session that
    /// logs in while this runs is not affected.
    ///
    /// # Errors
    ///
    /// A store error; sessions ended before it stay ended.
    pub async fn end_other_user_sessions(&self) -> Result<usize, Error> {
        let mut state = self.loaded_state().await?;
        let Some(scope) = scope(&state) else {
            return Ok(0);
        };
        let others: Vec<String> = self
            .live_entries(&mut state, &scope)
            .await?
            .into_iter()
            .map(|entry| entry.key)
            .filter(|key| scope.current.as_ref() != Some(key))
            .collect();
        let ended = others.len();
        self.end_listed(&mut state, &scope.user, others).await?;
        Ok(ended)
    }

    /// Logs the user out of every session at once (the OWASP advice after a
    /// password change), then ends this one like [`destroy`](Session::destroy).
    ///
    /// The index is emptied first, then the records are deleted. A login of
    /// the same user racing this is either ended by it or starts after it: a
    /// session whose ID was claimed after its index entry was taken away is
    /// not listed, and a session the index does not list is refused (see
    /// [`index_check_interval`](crate::SessionManagerBuilder::index_check_interval)).
    ///
    /// # Errors
    ///
    /// A store error; sessions ended before it stay ended.
    pub async fn logout_everywhere(&self) -> Result<(), Error> {
        let mut state = self.loaded_state().await?;
        if let Some(scope) = scope(&state) {
            let config = &self.inner.config;
            let now = state.now_ms();
            let deadline = state.deadline(config.store_budget);
            let mut taken = Vec::new();
            let emptied = user_index::update(config, &scope.user, now, |index| {
                taken = std::mem::take(&mut index.entries);
                index.rebuilding = false;
            });
            if let Err(error) = within_budget(deadline, emptied).await {
                return Err(state.fail(error, "logout"));
            }
            let others = taken
                .into_iter()
                .map(|entry| entry.key)
                .filter(|key| scope.current.as_ref() != Some(key))
                .collect();
            if let Err(error) = self.delete_records(&mut state, others).await {
                return Err(state.fail(error, "logout"));
            }
        }
        self.end_current(&mut state, Unlist::No).await
    }

    /// The live entries of the scope's user, within the request's budget.
    async fn live_entries(&self, state: &mut State, scope: &Scope) -> Result<Vec<Entry>, Error> {
        let config = &self.inner.config;
        let now = state.now_ms();
        let deadline = state.deadline(config.store_budget);
        let listed = within_budget(deadline, user_index::live(config, &scope.user, now)).await;
        listed.map_err(|error| state.fail(error, "listing sessions"))
    }

    /// Ends the sessions stored at `keys`, then takes them off the index.
    async fn end_listed(
        &self,
        state: &mut State,
        user: &str,
        keys: Vec<String>,
    ) -> Result<(), Error> {
        if let Err(error) = self.delete_records(state, keys.clone()).await {
            return Err(state.fail(error, "ending sessions"));
        }
        // Even with nothing to end: taking the index off a rebuild is part
        // of ending the others.
        self.unlist(state, user, &keys).await;
        Ok(())
    }

    /// Deletes the records at `keys`: their sessions end for every instance.
    async fn delete_records(&self, state: &mut State, keys: Vec<String>) -> Result<(), Error> {
        let config = &self.inner.config;
        let deadline = state.deadline(config.store_budget);
        for key in keys {
            within_budget(deadline, timed(StoreOp::Delete, config.store.delete(&key))).await?;
            config.index_checks.forget(&key);
            telemetry::count(telemetry::DESTROYED);
        }
        Ok(())
    }

    /// Takes the sessions at `keys` off the user's index. Their records are
    /// gone already, so a failure here is only logged: the next write of the
    /// index prunes them, and listing never shows them.
    pub(super) async fn unlist(&self, state: &mut State, user: &str, keys: &[String]) {
        let config = &self.inner.config;
        let now = state.now_ms();
        let deadline = state.deadline(config.store_budget);
        let unlisted = user_index::update(config, user, now, |index| {
            index.entries.retain(|entry| !keys.contains(&entry.key));
            // Ending a session closes a rebuild: from now on a session the
            // index does not list is refused.
            index.rebuilding = false;
        });
        if let Err(error) = within_budget(deadline, unlisted).await {
            tracing::warn!(%error, "could not take ended sessions off their user's index");
        }
    }
}

/// The user and current session a request acts for; `None` when nobody
/// logged in through [`Session::login`].
fn scope(state: &State) -> Option<Scope> {
    let user = state.record.user.clone()?;
    let current = state.stored.as_ref().map(|stored| stored.key.clone());
    Some(Scope { user, current })
}
