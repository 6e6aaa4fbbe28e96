//! Just enough HTML reading for the demo's two pages: the login form's tags and the greeting.
//!
//! The contract fixes what the pages contain, not how they are laid out, so this reads tags and
//! attributes in any order and with either quote style.

use std::collections::HashMap;

/// The attributes of every `<tag ...>` in `html` (tag and attribute names lowercased, values
/// unescaped).
pub fn tags(html: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let lower = html.to_ascii_lowercase();
    let opening = format!("<{tag}");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..]
        .find(&opening)
        .map(|at| from + at + opening.len())
    {
        from = start;
        // `<input` must not match `<inputs`: the name ends at whitespace, `/` or `>`.
        if !html[start..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let (attributes, end) = attributes(&html[start..]);
        found.push(attributes);
        from = start + end;
    }
    found
}

/// Parses attributes up to the closing `>`; returns them and how many bytes were read.
fn attributes(text: &str) -> (HashMap<String, String>, usize) {
    let bytes = text.as_bytes();
    let mut attributes = HashMap::new();
    let mut at = 0;
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
            at += 1;
        }
        if at >= bytes.len() || bytes[at] == b'>' {
            return (attributes, at);
        }
        let name_start = at;
        while at < bytes.len() && !b" \t\r\n=>/".contains(&bytes[at]) {
            at += 1;
        }
        let name = text[name_start..at].to_ascii_lowercase();
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let mut value = String::new();
        if at < bytes.len() && bytes[at] == b'=' {
            at += 1;
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let (raw, read) = match bytes.get(at) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let body = &text[at + 1..];
                    let len = body.find(quote as char).unwrap_or(body.len());
                    (&body[..len], len + 2)
                }
                _ => {
                    let body = &text[at..];
                    let len = body
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .unwrap_or(body.len());
                    (&body[..len], len)
                }
            };
            value = unescape(raw);
            at = (at + read).min(bytes.len());
        }
        attributes.insert(name, value);
    }
}

/// The text after `Hello, ` up to the next tag, unescaped: the greeted name, possibly followed by
/// punctuation the page adds. `None` when the page greets nobody.
pub fn greeting(html: &str) -> Option<String> {
    let start = html.find("Hello, ")? + "Hello, ".len();
    let rest = &html[start..];
    let end = rest.find('<').unwrap_or(rest.len());
    Some(unescape(&rest[..end]))
}

/// Decodes HTML character references: the five named ones and numeric ones.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_attributes_in_any_style() {
        let html = r#"<FORM method=POST action='/login'><input type="hidden" name="_xsrf"
            value="a&amp;b"/><inputs name=x><input name=name></form>"#;
        let forms = tags(html, "form");
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0]["method"], "POST");
        assert_eq!(forms[0]["action"], "/login");
        let inputs = tags(html, "input");
        assert_eq!(inputs.len(), 2, "{inputs:?}");
        assert_eq!(inputs[0]["value"], "a&b");
        assert_eq!(inputs[1]["name"], "name");
    }

    #[test]
    fn greeting_is_unescaped_up_to_the_next_tag() {
        assert_eq!(
            greeting("<h1>Hello, &lt;b&gt; &#38; &#x27;x</h1>").as_deref(),
            Some("<b> & 'x")
        );
        assert_eq!(greeting("<p>Hi</p>"), None);
        assert_eq!(unescape("a & b &bogus; &#xZZ;"), "a & b &bogus; &#xZZ;");
    }
}
