//! What the probe says to the user's gateway, and how: the session it talks in, the request
//! body, and the authenticated HTTP calls, as the router makes them.

use std::time::Duration;

use crate::commands::config::TalkAs;
use crate::sys::http::{self, HttpError, Response};

/// The session key OpenClaw gives the OpenAI-compatible endpoint's `user`.
pub fn session_key(agent: &str, user: &str) -> String {
    format!("agent:{agent}:openai-user:{user}")
}

/// The `user` the probe talks as: its own, or the user's with `--as-user`.
pub fn session_user<'a>(talk_as: &'a TalkAs, user: &'a str) -> &'a str {
    match talk_as {
        TalkAs::Probe(name) => name,
        TalkAs::User => user,
    }
}

/// The chat-completions request the router sends, with the probe's message.
pub fn chat_body(user: &str, message: &str) -> String {
    serde_json::json!({
        "model": "openclaw",
        "user": user,
        "messages": [{"role": "user", "content": message}],
    })
    .to_string()
}

/// One user's gateway, reached as the router reaches it.
pub struct Gateway<'a> {
    pub host: &'a str,
    pub port: u16,
    /// The bearer token; never printed.
    pub token: &'a str,
}

impl Gateway<'_> {
    /// `GET /health`, with a 5 s limit.
    pub async fn health(&self) -> Result<Response, HttpError> {
        self.send("GET", "/health", None, Duration::from_secs(5))
            .await
    }

    /// `POST /v1/chat/completions` with `body`.
    pub async fn chat(&self, body: &str, timeout: Duration) -> Result<Response, HttpError> {
        self.send(
            "POST",
            "/v1/chat/completions",
            Some(body.as_bytes()),
            timeout,
        )
        .await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        let auth = format!("Bearer {}", self.token);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        http::request(self.host, self.port, method, path, &headers, body, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_talks_in_its_own_session_unless_told_otherwise() {
        let probe = TalkAs::Probe("zaki-locks-probe".into());
        assert_eq!(session_user(&probe, "42"), "zaki-locks-probe");
        assert_eq!(session_user(&TalkAs::User, "42"), "42");
        assert_eq!(session_key("main", "42"), "agent:main:openai-user:42");
        assert_eq!(
            session_key("main", session_user(&probe, "42")),
            "agent:main:openai-user:zaki-locks-probe"
        );
    }

    #[test]
    fn the_body_is_the_routers_request_with_the_message_escaped() {
        let b = chat_body("zaki-locks-probe", "say \"hi\"\n");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["model"], "openclaw");
        assert_eq!(v["user"], "zaki-locks-probe");
        assert_eq!(v["messages"][0]["role"], "user");
        assert_eq!(v["messages"][0]["content"], "say \"hi\"\n");
        assert_eq!(v.as_object().unwrap().len(), 3, "{b}");
    }
}
