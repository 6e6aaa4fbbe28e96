//! The routes every variant answers, and what they answer.
//!
//! | route     | with a valid session                          | without one |
//! |-----------|-----------------------------------------------|-------------|
//! | `/seed`   | a new session holding `visits = 0`; body `0`  | the same    |
//! | `/visits` | `visits + 1`, saved; body the new count       | 401         |
//! | `/read`   | body `visits`; nothing saved                  | 401         |
//! | `/plain`  | body [`PLAIN_BODY`]; the session untouched    | the same    |
//!
//! Every success is a 200 `text/plain`. The bare variants, which have no
//! sessions, answer 200 on every route.

/// Creates a session.
pub const SEED: &str = "/seed";
/// Reads, increments and saves the counter.
pub const VISITS: &str = "/visits";
/// Reads the counter.
pub const READ: &str = "/read";
/// Touches no session.
pub const PLAIN: &str = "/plain";

/// The session key of the counter.
pub const VISITS_KEY: &str = "visits";
/// The body of [`PLAIN`].
pub const PLAIN_BODY: &str = "ok";
