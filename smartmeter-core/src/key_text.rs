//! Public keys as text: exactly the forms that OpenSSL and
//! pyca/cryptography write (`docs/spec.md` section 7.1), nothing else.
//!
//! - PEM with the label `PUBLIC KEY` (RFC 7468's strict form): the
//!   `-----BEGIN PUBLIC KEY-----` line, the base64 of the DER in lines of
//!   64 characters (the last one 1 to 64), the `-----END PUBLIC KEY-----`
//!   line. This is what `openssl pkey -pubout` and
//!   `public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)` write.
//! - Canonical padded base64 of the DER: on one line (`openssl base64 -A`,
//!   the wire form's `public_key` field) or wrapped at 64 columns
//!   (`openssl base64`).
//!
//! Lines end with LF or with CRLF, the same ending throughout; the ending
//! of the last line is optional. No other whitespace, no headers, no text
//! around the key. The text is bounded before anything else is looked at.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::error::KeyError;

/// Longest accepted key text, in bytes. A 4096-bit key's PEM is about 800
/// bytes; the bound leaves room and caps the work before any parsing.
pub const MAX_KEY_TEXT_LEN: usize = 8192;

/// Width of a base64 line in PEM and in wrapped base64 (RFC 7468 section 2).
const LINE_WIDTH: usize = 64;

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// Which forms a caller accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forms {
    /// PEM or base64, one line or wrapped ([`crate::PublicKey::from_text`]).
    Any,
    /// PEM only ([`crate::PublicKey::from_pem`]).
    Pem,
    /// Base64 on one line without a line ending, as in the wire form's
    /// `public_key` field ([`crate::PublicKey::from_base64`]).
    Base64Line,
}

/// The DER that `text` encodes, when `text` is one of the accepted forms.
pub(crate) fn decode(text: &str, forms: Forms) -> Result<Vec<u8>, KeyError> {
    if text.len() > MAX_KEY_TEXT_LEN {
        return Err(KeyError::TextTooLarge {
            len: text.len(),
            max: MAX_KEY_TEXT_LEN,
        });
    }
    if forms == Forms::Base64Line {
        return base64_decode(text);
    }
    let lines = lines(text)?;
    let is_pem = lines.first().is_some_and(|l| l.starts_with("-----"));
    let body = if is_pem {
        pem_body(&lines)?
    } else if forms == Forms::Pem {
        return Err(KeyError::MalformedText(
            "not a PEM document: it must start with -----BEGIN PUBLIC KEY-----",
        ));
    } else {
        lines.as_slice()
    };
    base64_decode(&joined(body)?)
}

/// Decodes canonical padded standard base64.
fn base64_decode(base64: &str) -> Result<Vec<u8>, KeyError> {
    BASE64.decode(base64).map_err(|_| {
        KeyError::MalformedText("the key is not canonical padded base64 (RFC 4648 section 4)")
    })
}

/// Splits `text` into lines. The first line break decides the ending (LF or
/// CRLF) for the whole text; the last line's ending is optional.
fn lines(text: &str) -> Result<Vec<&str>, KeyError> {
    let crlf = text
        .find('\n')
        .is_some_and(|at| text.get(..at).is_some_and(|l| l.ends_with('\r')));
    let eol = if crlf { "\r\n" } else { "\n" };
    let body = text.strip_suffix(eol).unwrap_or(text);
    if body.is_empty() {
        return Err(KeyError::MalformedText("the key text is empty"));
    }
    let lines: Vec<&str> = body.split(eol).collect();
    if lines.iter().any(|l| l.contains(['\r', '\n'])) {
        return Err(KeyError::MalformedText(
            "mixed or stray line endings: every line must end with LF, or every line with CRLF",
        ));
    }
    Ok(lines)
}

/// The base64 lines between the PEM boundaries.
fn pem_body<'a>(lines: &'a [&'a str]) -> Result<&'a [&'a str], KeyError> {
    let Some(&first) = lines.first() else {
        return Err(KeyError::MalformedText("the key text is empty"));
    };
    if first != PEM_BEGIN {
        return Err(KeyError::MalformedText(
            "the PEM label must be exactly PUBLIC KEY (a SubjectPublicKeyInfo); \
             RSA PUBLIC KEY, certificates and private keys are not accepted",
        ));
    }
    match lines {
        [_, body @ .., last] if !body.is_empty() && *last == PEM_END => Ok(body),
        _ => Err(KeyError::MalformedText(
            "the PEM document must hold base64 lines and end with -----END PUBLIC KEY-----, \
             with nothing after it",
        )),
    }
}

/// Joins base64 lines after checking their widths: one line of any length,
/// or lines of exactly 64 characters and a last one of 1 to 64.
fn joined(lines: &[&str]) -> Result<String, KeyError> {
    if let [only] = lines {
        return Ok((*only).to_owned());
    }
    let Some((last, full)) = lines.split_last() else {
        return Err(KeyError::MalformedText("the key text is empty"));
    };
    if full.iter().any(|l| l.len() != LINE_WIDTH) || !(1..=LINE_WIDTH).contains(&last.len()) {
        return Err(KeyError::MalformedText(
            "base64 lines must be 64 characters wide, the last one 1 to 64",
        ));
    }
    Ok(lines.concat())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Base64 of 96 zero bytes: 128 characters, two full lines of 64.
    fn zeros() -> String {
        BASE64.encode([0u8; 96])
    }

    fn code(text: &str) -> Option<&'static str> {
        decode(text, Forms::Any).err().map(|e| e.code())
    }

    #[test]
    fn line_layouts() {
        let b64 = zeros();
        let (first, second) = b64.split_at(64);
        assert_eq!(
            decode(&format!("{first}\n{second}\n"), Forms::Any).unwrap(),
            [0; 96]
        );
        assert_eq!(
            decode(&format!("{first}\r\n{second}"), Forms::Any).unwrap(),
            [0; 96]
        );
        // A short line before a full one, a lone CR, a bare CR line ending,
        // an empty text or one made of a line ending.
        let (short, rest) = b64.split_at(60);
        assert_eq!(
            code(&format!("{short}\n{rest}\n")),
            Some("malformed_key_text")
        );
        assert_eq!(code(&format!("{b64}\r")), Some("malformed_key_text"));
        assert_eq!(
            code(&format!("{first}\r{second}")),
            Some("malformed_key_text")
        );
        assert_eq!(
            code(&format!("{first}\r\n{second}\n")),
            Some("malformed_key_text")
        );
        for empty in ["", "\n", "\r\n"] {
            assert_eq!(code(empty), Some("malformed_key_text"), "{empty:?}");
        }
    }

    #[test]
    fn pem_needs_its_exact_boundaries() {
        let b64 = zeros();
        let body = format!("{}\n{}\n", &b64[..64], &b64[64..]);
        let pem = format!("{PEM_BEGIN}\n{body}{PEM_END}\n");
        assert_eq!(decode(&pem, Forms::Pem).unwrap(), [0; 96]);
        for bad in [
            format!("{PEM_BEGIN}\n{PEM_END}\n"),
            format!("{PEM_BEGIN}\n{body}"),
            format!("{PEM_BEGIN}\n{body}{PEM_END}\nmore\n"),
            format!("{PEM_BEGIN} \n{body}{PEM_END}\n"),
            format!("-----BEGIN RSA PUBLIC KEY-----\n{body}-----END RSA PUBLIC KEY-----\n"),
        ] {
            assert_eq!(code(&bad), Some("malformed_key_text"), "{bad:?}");
        }
        assert_eq!(
            decode(&b64, Forms::Pem).err().map(|e| e.code()),
            Some("malformed_key_text")
        );
    }

    #[test]
    fn the_bound_comes_first() {
        let text = "-".repeat(MAX_KEY_TEXT_LEN + 1);
        assert_eq!(
            decode(&text, Forms::Any),
            Err(KeyError::TextTooLarge {
                len: MAX_KEY_TEXT_LEN + 1,
                max: MAX_KEY_TEXT_LEN
            })
        );
        assert_eq!(
            code(&"-".repeat(MAX_KEY_TEXT_LEN)),
            Some("malformed_key_text")
        );
    }
}
