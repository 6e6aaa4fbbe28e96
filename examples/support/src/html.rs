//! The apps' two HTML pages, with every interpolated value escaped.

use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The `X-Frame-Options` value of every HTML page: no framing, so the logout
/// button cannot be clickjacked.
pub const FRAME_OPTIONS: &str = "DENY";

/// The login form: posts `name`, the session's `_xsrf` token and, when given,
/// the page to return to as `next`.
pub fn login_page(xsrf: &str, next: Option<&str>) -> String {
    let mut next_input = String::new();
    if let Some(next) = next {
        let _ = write!(
            next_input,
            "\n    <input type=\"hidden\" name=\"next\" value=\"{}\">",
            escape(next)
        );
    }
    format!(
        "<!DOCTYPE html>
<html>
<head><meta charset=\"utf-8\"><title>Log in</title></head>
<body>
  <form method=\"post\" action=\"/login\">
    <label>Name <input type=\"text\" name=\"name\" maxlength=\"64\" required></label>
    <input type=\"hidden\" name=\"_xsrf\" value=\"{}\">{next_input}
    <button type=\"submit\">Log in</button>
  </form>
</body>
</html>
",
        escape(xsrf)
    )
}

/// The greeting for a signed-in user, with a link to their sessions and two
/// logout buttons: this session, or every session of theirs.
pub fn hello_page(name: &str, xsrf: &str) -> String {
    let xsrf = escape(xsrf);
    format!(
        "<!DOCTYPE html>
<html>
<head><meta charset=\"utf-8\"><title>Hello</title></head>
<body>
  <p>Hello, {}</p>
  <p><a href=\"/sessions\">Your sessions</a></p>
  <form method=\"post\" action=\"/logout\">
    <input type=\"hidden\" name=\"_xsrf\" value=\"{xsrf}\">
    <button type=\"submit\">Log out</button>
  </form>
  <form method=\"post\" action=\"/logout\">
    <input type=\"hidden\" name=\"_xsrf\" value=\"{xsrf}\">
    <input type=\"hidden\" name=\"everywhere\" value=\"1\">
    <button type=\"submit\">Log out everywhere</button>
  </form>
</body>
</html>
",
        escape(name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn pages_hold_what_the_contract_names() {
        let login = login_page("tok\"en", Some("/a?b=<c>"));
        for needle in [
            "method=\"post\"",
            "action=\"/login\"",
            "name=\"name\"",
            "name=\"_xsrf\" value=\"tok&quot;en\"",
            "name=\"next\" value=\"/a?b=&lt;c&gt;\"",
        ] {
            assert!(login.contains(needle), "{needle}");
        }
        assert!(!login_page("t", None).contains("name=\"next\""));
        let hello = hello_page("<b>Al</b>", "t\"k");
        for needle in [
            "Hello, &lt;b&gt;Al&lt;/b&gt;",
            "action=\"/logout\"",
            "name=\"_xsrf\" value=\"t&quot;k\"",
            "name=\"everywhere\" value=\"1\"",
            "href=\"/sessions\"",
        ] {
            assert!(hello.contains(needle), "{needle}");
        }
    }
}
