//! `application/x-www-form-urlencoded`, parsed strictly: a body that is not
//! exactly a form is refused (the apps answer 400) rather than guessed at.

/// Why a body is not a valid form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The `Content-Type` is missing or not `application/x-www-form-urlencoded`.
    #[error("the body is not application/x-www-form-urlencoded")]
    ContentType,
    /// A `%` not followed by two hex digits, or text that is not UTF-8.
    #[error("the form is not validly encoded")]
    Encoding,
    /// A field appears twice, so its value is ambiguous.
    #[error("the form field {0:?} appears more than once")]
    Duplicate(String),
}

/// A parsed form: names and values, each name once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses a request body after checking its `Content-Type` header.
    pub fn from_body(content_type: Option<&[u8]>, body: &[u8]) -> Result<Form, FormError> {
        if !content_type.is_some_and(is_form_content_type) {
            return Err(FormError::ContentType);
        }
        Self::parse(body)
    }

    /// Parses urlencoded text: a body, or a URL's query.
    pub fn parse(text: &[u8]) -> Result<Form, FormError> {
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in text.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name)?;
            if fields.iter().any(|(existing, _)| *existing == name) {
                return Err(FormError::Duplicate(name));
            }
            fields.push((name, decode(value)?));
        }
        Ok(Form { fields })
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

fn is_form_content_type(value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

/// `+` is a space and `%XX` a byte; the result must be UTF-8.
fn decode(encoded: &[u8]) -> Result<String, FormError> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.iter();
    while let Some(&byte) = rest.next() {
        bytes.push(match byte {
            b'+' => b' ',
            b'%' => {
                let high = rest.next().and_then(|&h| hex(h));
                let low = rest.next().and_then(|&l| hex(l));
                match (high, low) {
                    (Some(high), Some(low)) => high << 4 | low,
                    _ => return Err(FormError::Encoding),
                }
            }
            other => other,
        });
    }
    String::from_utf8(bytes).map_err(|_| FormError::Encoding)
}

/// A URL path segment percent-decoded, as axum's `Path` gives it (`+` stays a
/// `+`); `None` when an escape is malformed or the result is not UTF-8. The
/// hyper app routes by hand and reads `/prefs/NAME` with it.
pub fn decode_path_segment(segment: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(segment.len());
    let mut rest = segment.bytes();
    while let Some(byte) = rest.next() {
        bytes.push(if byte == b'%' {
            let high = rest.next().and_then(hex)?;
            let low = rest.next().and_then(hex)?;
            high << 4 | low
        } else {
            byte
        });
    }
    String::from_utf8(bytes).ok()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] = b"application/x-www-form-urlencoded";

    #[test]
    fn parses_fields() {
        let form = Form::from_body(
            Some(FORM),
            b"name=J%C3%BCrgen+K&_xsrf=abc&next=%2Fa%3Fb&flag",
        )
        .expect("valid form");
        assert_eq!(form.get("name"), Some("Jürgen K"));
        assert_eq!(form.get("_xsrf"), Some("abc"));
        assert_eq!(form.get("next"), Some("/a?b"));
        assert_eq!(form.get("flag"), Some(""));
        assert_eq!(form.get("missing"), None);
        assert_eq!(Form::parse(b"").expect("empty form"), Form::default());
    }

    #[test]
    fn accepts_a_charset_parameter() {
        let content_type = b"Application/X-WWW-Form-Urlencoded; charset=UTF-8";
        assert!(Form::from_body(Some(content_type), b"a=1").is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_form() {
        assert_eq!(Form::from_body(None, b"a=1"), Err(FormError::ContentType));
        assert_eq!(
            Form::from_body(Some(b"application/json"), b"{}"),
            Err(FormError::ContentType)
        );
        for bad in [&b"a=%zz"[..], b"a=%4", b"a=%", b"a=\xff", b"a=%C3"] {
            assert_eq!(Form::parse(bad), Err(FormError::Encoding), "{bad:?}");
        }
        assert_eq!(
            Form::parse(b"a=1&a=2"),
            Err(FormError::Duplicate("a".to_owned()))
        );
    }

    #[test]
    fn decodes_path_segments_like_axum() {
        assert_eq!(decode_path_segment("%61b-c").as_deref(), Some("ab-c"));
        assert_eq!(decode_path_segment("a+b").as_deref(), Some("a+b"));
        assert_eq!(decode_path_segment("%C3%BC").as_deref(), Some("ü"));
        for bad in ["%", "%4", "%zz", "%+1", "%FF"] {
            assert_eq!(decode_path_segment(bad), None, "{bad:?}");
        }
    }
}
