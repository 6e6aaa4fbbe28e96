//! A scripted browser: one user's session cookie, handled by hand so every `Set-Cookie` can be
//! checked exactly, and no redirect is followed, so every `Location` can be checked too.
//!
//! Every response that sets or expires the session cookie goes through the same checks (the
//! cookie's name and fixed attributes, `Cache-Control: no-store`), so each scenario re-checks the
//! cookie rules on every route it visits.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, SET_COOKIE};
use serde_json::{Map, Value};

use crate::app::App;
use crate::html;
use crate::set_cookie::SetCookie;

/// The session cookie's name: the contract says it is the library's default.
pub const COOKIE_NAME: &str = session_core::DEFAULT_COOKIE_NAME;
/// Its name with `--secure-cookies`: the library's `__Host-` prefixed default.
pub const SECURE_COOKIE_NAME: &str = session_core::HOST_COOKIE_NAME;

/// Where `GET /` sends a visitor who is not logged in.
pub const LOGIN_REDIRECT: &str = "/login?next=%2F";
/// Where `GET /sessions` sends a visitor who is not logged in.
pub const SESSIONS_LOGIN_REDIRECT: &str = "/login?next=%2Fsessions";

/// No single request may take longer: a hung app fails the test instead of hanging the suite.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One response, fully read.
#[derive(Debug)]
pub struct Reply {
    /// `METHOD /path`, for messages.
    pub request: String,
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
}

impl Reply {
    /// Header `name` as text, if present and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The media type of `Content-Type`, lowercased, without parameters.
    pub fn media_type(&self) -> String {
        self.header("content-type")
            .and_then(|value| value.split(';').next())
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Every `Set-Cookie` header, parsed (unparsable ones fail the test).
    pub fn set_cookies(&self) -> Vec<SetCookie> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|value| {
                let text = String::from_utf8_lossy(value.as_bytes());
                SetCookie::parse(&text)
                    .unwrap_or_else(|| panic!("{}: unparsable Set-Cookie {text:?}", self.request))
            })
            .collect()
    }

    /// The session cookie's `Set-Cookie`, if the response has one.
    pub fn session_cookie(&self) -> Option<SetCookie> {
        self.set_cookies()
            .into_iter()
            .find(|cookie| cookie.name == COOKIE_NAME || cookie.name == SECURE_COOKIE_NAME)
    }

    /// Panics unless the status is `expected`, showing the response.
    pub fn assert_status(&self, expected: u16, why: &str) {
        assert_eq!(
            self.status,
            expected,
            "{why}: `{}` answered {} (expected {expected}); body: {:?}",
            self.request,
            self.status,
            self.text()
        );
    }

    /// Panics unless this is a 303 to `location`.
    pub fn assert_redirect(&self, location: &str, why: &str) {
        assert_eq!(
            self.status,
            303,
            "{why}: `{}` answered {} instead of a 303 to {location:?}; body: {:?}",
            self.request,
            self.status,
            self.text()
        );
        assert_eq!(
            self.location(),
            Some(location),
            "{why}: `{}` redirected elsewhere",
            self.request
        );
    }

    /// Panics unless this is how `GET /` turns away a visitor who is not logged in: a 303 (or
    /// 302) to `/login?next=%2F`.
    pub fn assert_login_redirect(&self, why: &str) {
        assert!(
            matches!(self.status, 302 | 303),
            "{why}: `{}` answered {} instead of a 303 to {LOGIN_REDIRECT:?}; body: {:?}",
            self.request,
            self.status,
            self.text()
        );
        assert_eq!(
            self.location(),
            Some(LOGIN_REDIRECT),
            "{why}: `{}` redirected elsewhere",
            self.request
        );
    }
}

/// One entry of `GET /sessions`: a live session of the logged-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    /// The opaque handle that names it in `POST /sessions/revoke`.
    pub id: String,
    /// When it was first created, in Unix seconds.
    pub created: u64,
    /// Whether it is the session of the request that listed it.
    pub current: bool,
}

/// One user agent with at most one session cookie.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    cookie: Option<String>,
    secure_expected: bool,
    /// Sends the cookie under this name instead of the expected one.
    sent_name: Option<&'static str>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser without a cookie, for apps started without `--secure-cookies`.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("cannot build the HTTP client");
        Self {
            http,
            cookie: None,
            secure_expected: false,
            sent_name: None,
        }
    }

    /// A browser that presents `value` as its session cookie.
    pub fn with_cookie(value: impl Into<String>) -> Self {
        let mut browser = Self::new();
        browser.cookie = Some(value.into());
        browser
    }

    /// Expects the `Secure` attribute on every session cookie (apps with `--secure-cookies`).
    pub fn expecting_secure(mut self) -> Self {
        self.secure_expected = true;
        self
    }

    /// Sends the cookie under `name`, as a sibling subdomain planting one would.
    pub fn sending_cookie_as(mut self, name: &'static str) -> Self {
        self.sent_name = Some(name);
        self
    }

    /// The name the session cookie must have.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_expected {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        }
    }

    /// The session cookie's current value.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// `GET path`.
    pub async fn get(&mut self, app: &App, path: &str) -> Reply {
        self.send(app, Method::GET, path, None, Vec::new()).await
    }

    /// `POST path` with an `application/x-www-form-urlencoded` body.
    pub async fn post_form(&mut self, app: &App, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_encode(fields).into_bytes();
        let form = "application/x-www-form-urlencoded";
        self.send(app, Method::POST, path, Some(form), body).await
    }

    /// `PUT path` with a `text/plain` body.
    pub async fn put(&mut self, app: &App, path: &str, body: impl Into<Vec<u8>>) -> Reply {
        let text = "text/plain; charset=utf-8";
        self.send(app, Method::PUT, path, Some(text), body.into())
            .await
    }

    /// Any request; applies and checks the session cookie of the response.
    pub async fn send(
        &mut self,
        app: &App,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let request = format!("{method} {path}");
        let mut builder = self.http.request(method, app.url(path)).body(body);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        if let Some(cookie) = &self.cookie {
            // `from_bytes` lets scenarios send non-ASCII garbage, as a hostile client may.
            let name = self.sent_name.unwrap_or(self.cookie_name());
            let header = HeaderValue::from_bytes(format!("{name}={cookie}").as_bytes())
                .expect("scenario cookies hold no control characters");
            builder = builder.header(COOKIE, header);
        }
        let started = Instant::now();
        let response = builder.send().await.unwrap_or_else(|error| {
            panic!(
                "`{request}` to {} failed: {error:?}; app stderr:\n{}",
                app.command(),
                app.stderr()
            )
        });
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("`{request}`: cannot read the body: {error}"))
            .to_vec();
        let reply = Reply {
            request,
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        };
        self.take_cookie(&reply);
        reply
    }

    /// Checks the response's `Set-Cookie` against the contract and remembers the new value.
    fn take_cookie(&mut self, reply: &Reply) {
        let cookies = reply.set_cookies();
        for cookie in &cookies {
            assert_eq!(
                cookie.name,
                self.cookie_name(),
                "`{}`: one cookie, with the library's default name, carries the session; got {:?}",
                reply.request,
                cookie.raw
            );
        }
        let [cookie] = cookies.as_slice() else {
            assert!(
                cookies.is_empty(),
                "`{}` set the session cookie more than once: {cookies:?}",
                reply.request
            );
            return;
        };
        let request = &reply.request;
        let raw = &cookie.raw;
        let cache_control = reply
            .headers
            .get_all(CACHE_CONTROL)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            cache_control.split(',').any(|d| d.trim() == "no-store"),
            "`{request}` sets the session cookie without `Cache-Control: no-store` \
             (got {cache_control:?}): {raw}"
        );
        assert!(
            cookie.has("HttpOnly"),
            "`{request}`: cookie without HttpOnly: {raw}"
        );
        assert!(
            cookie
                .attribute("SameSite")
                .flatten()
                .is_some_and(|value| value.eq_ignore_ascii_case("lax")),
            "`{request}`: cookie without SameSite=Lax: {raw}"
        );
        assert_eq!(
            cookie.attribute("Path"),
            Some(Some("/")),
            "`{request}`: cookie without Path=/: {raw}"
        );
        assert!(
            cookie.max_age().is_some(),
            "`{request}`: cookie without a numeric Max-Age: {raw}"
        );
        assert_eq!(
            cookie.has("Secure"),
            self.secure_expected,
            "`{request}`: Secure must be set exactly when the app runs with --secure-cookies: {raw}"
        );
        self.cookie = if cookie.is_removal() {
            None
        } else {
            assert!(
                !cookie.value.is_empty() && cookie.value.bytes().all(is_cookie_octet),
                "`{request}`: the cookie value must be a non-empty RFC 6265 cookie value: {raw}"
            );
            Some(cookie.value.clone())
        };
    }

    /// The login form's `_xsrf` token, from `GET /login` (which also checks the form's shape).
    pub async fn xsrf(&mut self, app: &App) -> String {
        let reply = self.get(app, "/login").await;
        reply.assert_status(200, "GET /login shows the form");
        assert_eq!(
            reply.media_type(),
            "text/html",
            "GET /login is an HTML page"
        );
        let page = reply.text();
        let forms = html::tags(&page, "form");
        assert!(
            forms.iter().any(|form| {
                form.get("method")
                    .is_some_and(|m| m.eq_ignore_ascii_case("post"))
                    && form.get("action").is_some_and(|a| a == "/login")
            }),
            "GET /login has no <form method=\"post\" action=\"/login\">: {page}"
        );
        let inputs = html::tags(&page, "input");
        assert!(
            inputs
                .iter()
                .any(|input| input.get("name").is_some_and(|n| n == "name")),
            "GET /login has no input `name`: {page}"
        );
        let xsrf = inputs
            .iter()
            .find(|input| input.get("name").is_some_and(|n| n == "_xsrf"))
            .unwrap_or_else(|| panic!("GET /login has no input `_xsrf`: {page}"));
        assert!(
            xsrf.get("type")
                .is_some_and(|t| t.eq_ignore_ascii_case("hidden")),
            "the `_xsrf` input is not hidden: {page}"
        );
        let token = xsrf.get("value").cloned().unwrap_or_default();
        assert!(!token.is_empty(), "the `_xsrf` input has no value: {page}");
        token
    }

    /// Logs in as `name` through the form; panics unless it answers 303 to `/`.
    pub async fn login(&mut self, app: &App, name: &str) -> Reply {
        let token = self.xsrf(app).await;
        let reply = self
            .post_form(app, "/login", &[("name", name), ("_xsrf", &token)])
            .await;
        reply.assert_redirect("/", &format!("logging in as {name:?}"));
        reply
    }

    /// `GET /`: `Some(text after "Hello, ")` when logged in, `None` when redirected to the login.
    pub async fn greeting(&mut self, app: &App) -> Option<String> {
        let reply = self.get(app, "/").await;
        match reply.status {
            200 => {
                assert_eq!(reply.media_type(), "text/html", "GET / is an HTML page");
                let greeting = html::greeting(&reply.text());
                assert!(
                    greeting.is_some(),
                    "GET / answered 200 without `Hello, `: {}",
                    reply.text()
                );
                greeting
            }
            _ => {
                reply.assert_login_redirect("GET / when not logged in");
                None
            }
        }
    }

    /// Panics unless `GET /` greets `name` (the greeting may add punctuation after it).
    pub async fn assert_greeted(&mut self, app: &App, name: &str, why: &str) {
        let greeting = self.greeting(app).await;
        assert!(
            greeting.as_deref().is_some_and(|g| g.starts_with(name)),
            "{why}: expected `Hello, {name}`, got {greeting:?}"
        );
    }

    /// Panics unless `GET /` sends this browser to the login page.
    pub async fn assert_logged_out(&mut self, app: &App, why: &str) {
        let greeting = self.greeting(app).await;
        assert_eq!(
            greeting, None,
            "{why}: expected a redirect to the login, but was greeted"
        );
    }

    /// `POST /logout` with this session's `_xsrf` token, and `everywhere=1` when `everywhere`;
    /// panics unless it answers 303 to `/login` and expires the cookie (`Max-Age=0`).
    pub async fn logout(&mut self, app: &App, everywhere: bool) -> Reply {
        let token = self.xsrf(app).await;
        let mut fields = vec![("_xsrf", token.as_str())];
        if everywhere {
            fields.push(("everywhere", "1"));
        }
        let reply = self.post_form(app, "/logout", &fields).await;
        let what = if everywhere {
            "POST /logout with everywhere=1"
        } else {
            "POST /logout"
        };
        reply.assert_redirect("/login", what);
        let expiry = reply.session_cookie();
        assert!(
            expiry
                .as_ref()
                .is_some_and(|cookie| cookie.max_age() == Some(0)),
            "{what} must expire the session cookie with Max-Age=0, got {expiry:?}"
        );
        reply
    }

    /// `GET /sessions` when logged in: the listed sessions, after checking what the contract
    /// fixes about every such answer: 200 `application/json` with `Cache-Control: no-store`,
    /// `{"sessions": [{"id", "created", "current"}, ...]}`, newest first, exactly one current,
    /// no handle twice.
    pub async fn sessions(&mut self, app: &App) -> Vec<ListedSession> {
        let reply = self.get(app, "/sessions").await;
        reply.assert_status(200, "GET /sessions when logged in");
        assert_eq!(
            reply.media_type(),
            "application/json",
            "GET /sessions is JSON"
        );
        let cache_control = reply
            .headers
            .get_all(CACHE_CONTROL)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            cache_control.split(',').any(|d| d.trim() == "no-store"),
            "GET /sessions is a personal page: Cache-Control: no-store, got {cache_control:?}"
        );
        let text = reply.text();
        let body: Value = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|error| panic!("GET /sessions is not JSON ({error}): {text:?}"));
        let entries = body
            .get("sessions")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("GET /sessions has no array `sessions`: {text}"));
        let listed: Vec<ListedSession> = entries
            .iter()
            .map(|entry| ListedSession {
                id: entry
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| {
                        panic!("GET /sessions: an entry without a string `id`: {text}")
                    })
                    .to_owned(),
                created: entry
                    .get("created")
                    .and_then(Value::as_u64)
                    .unwrap_or_else(|| {
                        panic!("GET /sessions: an entry without Unix seconds `created`: {text}")
                    }),
                current: entry
                    .get("current")
                    .and_then(Value::as_bool)
                    .unwrap_or_else(|| {
                        panic!("GET /sessions: an entry without a boolean `current`: {text}")
                    }),
            })
            .collect();
        assert_eq!(
            listed.iter().filter(|session| session.current).count(),
            1,
            "GET /sessions must mark exactly one session `\"current\": true`: {text}"
        );
        assert!(
            listed
                .windows(2)
                .all(|pair| pair[0].created >= pair[1].created),
            "GET /sessions must list the newest first: {text}"
        );
        for (at, session) in listed.iter().enumerate() {
            assert!(
                listed[..at].iter().all(|earlier| earlier.id != session.id),
                "GET /sessions lists the handle {:?} twice: {text}",
                session.id
            );
        }
        listed
    }

    /// `POST /sessions/revoke` with this session's `_xsrf` token and `id`.
    pub async fn revoke(&mut self, app: &App, id: &str) -> Reply {
        let token = self.xsrf(app).await;
        self.post_form(app, "/sessions/revoke", &[("_xsrf", &token), ("id", id)])
            .await
    }

    /// `GET /visits`: the new count.
    pub async fn visits(&mut self, app: &App) -> u64 {
        let reply = self.get(app, "/visits").await;
        reply.assert_status(200, "GET /visits");
        assert_eq!(
            reply.media_type(),
            "text/plain",
            "GET /visits is text/plain"
        );
        let text = reply.text();
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("GET /visits answered a non-number: {text:?}"))
    }

    /// `GET /prefs`: the JSON object.
    pub async fn prefs(&mut self, app: &App) -> Map<String, Value> {
        let reply = self.get(app, "/prefs").await;
        reply.assert_status(200, "GET /prefs");
        assert_eq!(reply.media_type(), "application/json", "GET /prefs is JSON");
        match serde_json::from_slice(&reply.body) {
            Ok(Value::Object(prefs)) => prefs,
            _ => panic!("GET /prefs is not a JSON object: {:?}", reply.text()),
        }
    }
}

/// The characters RFC 6265 allows in a cookie value: visible ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_octet(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// `application/x-www-form-urlencoded`, as a browser encodes a form.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", form_escape(name), form_escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn form_escape(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                (byte as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded_like_a_browser() {
        assert_eq!(
            form_encode(&[("name", "a b&c"), ("next", "/\\é\n")]),
            "name=a+b%26c&next=%2F%5C%C3%A9%0A"
        );
    }
}
