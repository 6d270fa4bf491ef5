//! Bearer-token guards.
//!
//! Tokens are compared as SHA-256 digests in constant time, so neither the
//! content nor the length of a configured token leaks through timing.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use sha2::{Digest, Sha256};

use crate::Shared;

/// The digests of the configured tokens.
#[derive(Clone)]
pub struct Tokens {
    operator: [u8; 32],
    read: Option<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens { .. }")
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Constant-time equality of two digests.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// What a presented token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Operator,
    Read,
    Nothing,
}

impl Tokens {
    /// Digests of the operator token and the optional read-only token.
    pub fn new(operator: &str, read: Option<&str>) -> Self {
        Self {
            operator: digest(operator.as_bytes()),
            read: read.map(|r| digest(r.as_bytes())),
        }
    }

    fn grant(&self, presented: &str) -> Grant {
        let d = digest(presented.as_bytes());
        // Both comparisons always run.
        let is_operator = ct_eq(&d, &self.operator);
        let is_read = self.read.as_ref().is_some_and(|r| ct_eq(&d, r));
        if is_operator {
            Grant::Operator
        } else if is_read {
            Grant::Read
        } else {
            Grant::Nothing
        }
    }
}

fn presented_grant(req: &Request<'_>) -> Grant {
    let Some(shared) = req.rocket().state::<std::sync::Arc<Shared>>() else {
        return Grant::Nothing;
    };
    let Some(header) = req.headers().get_one("Authorization") else {
        return Grant::Nothing;
    };
    let Some((scheme, token)) = header.split_once(' ') else {
        return Grant::Nothing;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Grant::Nothing;
    }
    shared.tokens.grant(token.trim())
}

/// The request carries the operator token.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

/// The request carries the operator token or the read-only token.
#[derive(Debug, Clone, Copy)]
pub struct Reader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Operator {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match presented_grant(req) {
            Grant::Operator => Outcome::Success(Operator),
            Grant::Read => Outcome::Error((Status::Forbidden, ())),
            Grant::Nothing => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Reader {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match presented_grant(req) {
            Grant::Operator | Grant::Read => Outcome::Success(Reader),
            Grant::Nothing => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants() {
        let t = Tokens::new("op-secret", Some("read-secret"));
        assert_eq!(t.grant("op-secret"), Grant::Operator);
        assert_eq!(t.grant("read-secret"), Grant::Read);
        assert_eq!(t.grant("op-secre"), Grant::Nothing);
        assert_eq!(t.grant(""), Grant::Nothing);
        let t = Tokens::new("op", None);
        assert_eq!(t.grant("op"), Grant::Operator);
        assert_eq!(t.grant(""), Grant::Nothing);
    }
}
