//! The router's table (`users.json`): which port and token reach a user's gateway.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// How the router reaches one user's gateway. The token is kept out of `Debug` output.
#[derive(Clone)]
pub struct Route {
    pub user: String,
    pub port: u16,
    pub token: String,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("user", &self.user)
            .field("port", &self.port)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Why the route could not be read; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    Unreadable(PathBuf, String),
    Malformed(PathBuf, String),
    NoSuchUser(PathBuf, String),
    BadEntry(PathBuf, String, String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Unreadable(p, e) => write!(
                f,
                "cannot read the router table {}: {e} (pass --users-file PATH)",
                crate::model::escape::path(p)
            ),
            RouteError::Malformed(p, e) => {
                write!(
                    f,
                    "the router table {} is not valid: {e}",
                    crate::model::escape::path(p)
                )
            }
            RouteError::NoSuchUser(p, u) => write!(
                f,
                "user {u:?} is not in the router table {} (check the id, or --users-file)",
                crate::model::escape::path(p)
            ),
            RouteError::BadEntry(p, u, e) => {
                write!(f, "user {u:?} in {}: {e}", crate::model::escape::path(p))
            }
        }
    }
}

impl std::error::Error for RouteError {}

/// Largest table read: thousands of users are a few hundred KiB.
const MAX_TABLE: u64 = 64 * 1024 * 1024;

/// Reads the table with the bounded regular-file reader: a FIFO or a device is refused without
/// being opened, a table over [`MAX_TABLE`] is "too large", never a parse error at its cut.
pub fn lookup(path: &Path, user: &str) -> Result<Route, RouteError> {
    let bytes = crate::sys::safefs::read_operator_file(path, MAX_TABLE).map_err(|e| {
        RouteError::Unreadable(
            path.to_owned(),
            match e {
                crate::sys::safefs::OpenError::Gone => "No such file or directory".to_owned(),
                e => e.to_string(),
            },
        )
    })?;
    parse(&bytes, user).map_err(|e| match e {
        Parse::Malformed(m) => RouteError::Malformed(path.to_owned(), m),
        Parse::NoSuchUser => RouteError::NoSuchUser(path.to_owned(), user.to_owned()),
        Parse::BadEntry(m) => RouteError::BadEntry(path.to_owned(), user.to_owned(), m),
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Parse {
    Malformed(String),
    NoSuchUser,
    BadEntry(String),
}

fn parse(bytes: &[u8], user: &str) -> Result<Route, Parse> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Parse::Malformed("the file is empty".into()));
    }
    let table: HashMap<String, Value> = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => m.into_iter().collect(),
        Ok(_) => return Err(Parse::Malformed("expected a JSON object of users".into())),
        Err(e) => return Err(Parse::Malformed(format!("not JSON ({e})"))),
    };
    let entry = table.get(user).ok_or(Parse::NoSuchUser)?;
    let port = match entry.get("port") {
        None => return Err(Parse::BadEntry("no port".into())),
        Some(p) => p
            .as_u64()
            .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
            .filter(|&p| (1..=65535).contains(&p))
            .ok_or_else(|| Parse::BadEntry(format!("port {p} is not a TCP port (1-65535)")))?
            as u16,
    };
    let token = entry
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Parse::BadEntry("no token".into()))?
        .to_owned();
    // The token becomes an HTTP header: a CR or LF in it would add headers of its own.
    if token.chars().any(char::is_control) {
        return Err(Parse::BadEntry(
            "the token holds a control character (CR, LF, …): refused, it would inject HTTP headers".into(),
        ));
    }
    Ok(Route {
        user: user.to_owned(),
        port,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_route() {
        let r = parse(
            br#"{"42": {"port": 19001, "token": "t0k", "name": "Ann"}}"#,
            "42",
        )
        .unwrap();
        assert_eq!((r.port, r.token.as_str()), (19001, "t0k"));
        assert!(!format!("{r:?}").contains("t0k"), "token in Debug");
    }

    #[test]
    fn a_token_with_control_characters_is_refused() {
        for t in ["a\r\nX-Injected: yes", "a\nb", "a\u{7f}", "a\u{0}"] {
            let table = serde_json::json!({"42": {"port": 19001, "token": t}}).to_string();
            assert!(
                matches!(parse(table.as_bytes(), "42"), Err(Parse::BadEntry(m)) if m.contains("control")),
                "{t:?}"
            );
        }
        let table = serde_json::json!({"42": {"port": "19001\r\nX: y", "token": "t"}}).to_string();
        assert!(matches!(
            parse(table.as_bytes(), "42"),
            Err(Parse::BadEntry(_))
        ));
    }

    #[test]
    fn bad_tables() {
        assert!(matches!(parse(b"", "42"), Err(Parse::Malformed(_))));
        assert!(matches!(parse(b"[1]", "42"), Err(Parse::Malformed(_))));
        assert!(matches!(parse(b"{oops", "42"), Err(Parse::Malformed(_))));
        assert!(matches!(
            parse(br#"{"7": {}}"#, "42"),
            Err(Parse::NoSuchUser)
        ));
        assert!(
            matches!(parse(br#"{"42": {"token": "t"}}"#, "42"), Err(Parse::BadEntry(m)) if m == "no port")
        );
        assert!(
            matches!(parse(br#"{"42": {"port": 1}}"#, "42"), Err(Parse::BadEntry(m)) if m == "no token")
        );
        assert!(matches!(
            parse(br#"{"42": {"port": 70000, "token": "t"}}"#, "42"),
            Err(Parse::BadEntry(_))
        ));
        assert!(matches!(
            parse(br#"{"42": {"port": 0, "token": "t"}}"#, "42"),
            Err(Parse::BadEntry(_))
        ));
    }
}
