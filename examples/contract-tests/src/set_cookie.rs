//! Reading `Set-Cookie` headers exactly as the app sent them, so scenarios can assert on every
//! attribute.

/// One parsed `Set-Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    /// The cookie's name.
    pub name: String,
    /// The cookie's value (empty when the cookie is being expired).
    pub value: String,
    /// The attributes in order, names as sent, values trimmed (`None` for flags like `HttpOnly`).
    pub attributes: Vec<(String, Option<String>)>,
    /// The whole header, for messages.
    pub raw: String,
}

impl SetCookie {
    /// Parses a header value; `None` when it has no `name=value` pair.
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let attributes = parts
            .map(|part| match part.split_once('=') {
                Some((key, value)) => (key.trim().to_owned(), Some(value.trim().to_owned())),
                None => (part.trim().to_owned(), None),
            })
            .collect();
        Some(Self {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
            raw: header.to_owned(),
        })
    }

    /// The value of attribute `name` (case-insensitive): `Some(None)` for a flag, `None` when absent.
    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        self.attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_deref())
    }

    /// Whether attribute `name` is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// `Max-Age` in seconds; `None` when absent or not a number.
    pub fn max_age(&self) -> Option<i64> {
        self.attribute("Max-Age")??.parse().ok()
    }

    /// Whether this header tells the browser to drop the cookie (`Max-Age` zero or negative).
    pub fn is_removal(&self) -> bool {
        self.max_age().is_some_and(|age| age <= 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_value_and_attributes() {
        let cookie = SetCookie::parse("session=abc; Path=/; Max-Age=100; HttpOnly; SameSite=Lax")
            .expect("a cookie");
        assert_eq!(
            (cookie.name.as_str(), cookie.value.as_str()),
            ("session", "abc")
        );
        assert_eq!(cookie.attribute("path"), Some(Some("/")));
        assert_eq!(cookie.attribute("httponly"), Some(None));
        assert_eq!(cookie.max_age(), Some(100));
        assert!(!cookie.has("Secure") && !cookie.is_removal());
        assert!(SetCookie::parse("session=; Max-Age=0").is_some_and(|c| c.is_removal()));
        assert_eq!(SetCookie::parse("no pair"), None);
    }
}
