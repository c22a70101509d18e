//! The HTTP side every networked model shares (OpenAI's and Anthropic's): settings, the
//! client, retries with backoff, error messages, and the stream that turns a server-sent-events
//! body into model chunks. What differs between providers is a [`Provider`]: its name, its
//! environment variables, its address and how it takes the key.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::sse::{SseEvent, SseParser};
use crate::models::{BoxFuture, BoxStream, ModelChunk, ModelError};

/// Default limit for a whole non-streamed request, and for the wait between two reads of a stream.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Default number of retries after the first attempt (429, 408, 409 and 5xx answers, failed
/// connections, timeouts).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default wait before the first retry; it doubles with each retry.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Default longest wait between two attempts (a longer `Retry-After` is cut to this).
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// How much of a provider's error body goes into a message when it is not JSON.
const BODY_EXCERPT: usize = 300;

/// How a provider takes the API key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth {
    /// `Authorization: Bearer <key>` (OpenAI).
    Bearer,
    /// The key alone in this header (`x-api-key`, Anthropic).
    Header(&'static str),
}

/// What differs between providers on the HTTP side.
#[derive(Debug)]
pub(crate) struct Provider {
    /// The name in messages and logs (`"OpenAI"`).
    pub name: &'static str,
    /// The environment variable with the key (`OPENAI_API_KEY`).
    pub key_env: &'static str,
    /// The environment variable with the address (`OPENAI_BASE_URL`).
    pub base_url_env: &'static str,
    /// The provider's own address; without a key, requests to it are refused at once.
    pub default_base_url: &'static str,
    /// How the key is sent.
    pub auth: Auth,
    /// Headers every request carries (`anthropic-version`).
    pub headers: &'static [(&'static str, &'static str)],
}

/// Connection settings of a networked model.
#[derive(Clone)]
pub(crate) struct Settings {
    pub api_key: Option<String>,
    pub base_url: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub max_retry_delay: Duration,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("max_retry_delay", &self.max_retry_delay)
            .finish()
    }
}

/// A non-empty environment variable.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    /// The provider's key and address from the environment, defaults for the rest.
    pub fn from_env(provider: &Provider) -> Self {
        Self {
            api_key: env_var(provider.key_env),
            base_url: env_var(provider.base_url_env).unwrap_or_else(|| provider.default_base_url.to_owned()),
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
        }
    }

    /// The wait before retry number `retry` (0 for the first): the server's `Retry-After` when it
    /// sent one, else the backoff doubled `retry` times; never more than `max_retry_delay`.
    pub fn retry_delay(&self, retry: u32, headers: Option<&HeaderMap>) -> Duration {
        let delay = headers
            .and_then(retry_after)
            .unwrap_or_else(|| self.retry_backoff.saturating_mul(2u32.saturating_pow(retry.min(20))));
        delay.min(self.max_retry_delay)
    }
}

/// The server's requested wait: `retry-after-ms` (OpenAI's and Anthropic's), else `Retry-After`
/// in seconds. The HTTP-date form of `Retry-After` is not read (the backoff is used instead).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let valid = |secs: f64| (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    number("retry-after-ms").and_then(|ms| valid(ms / 1000.0)).or_else(|| number("retry-after").and_then(valid))
}

/// Whether an answer with this status is worth another attempt (5xx includes Anthropic's 529
/// "overloaded").
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

/// An HTTP client for one model: the settings and a `reqwest` client built on first use.
pub(crate) struct Client {
    pub settings: Settings,
    /// The provider, for headers and messages.
    provider: &'static Provider,
    http: OnceLock<Result<reqwest::Client, String>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Clone for Client {
    fn clone(&self) -> Self {
        Self::new(self.settings.clone(), self.provider)
    }
}

impl Client {
    /// A client with these settings; nothing is opened yet.
    pub fn new(settings: Settings, provider: &'static Provider) -> Self {
        Self { settings, provider, http: OnceLock::new() }
    }

    /// A client with the provider's settings from the environment.
    pub fn from_env(provider: &'static Provider) -> Self {
        install_tls_provider();
        Self::new(Settings::from_env(provider), provider)
    }

    /// The provider's name, for messages (`"OpenAI"`).
    pub fn provider(&self) -> &'static str {
        self.provider.name
    }

    /// Changes the settings (before first use, from the model's builder methods).
    pub fn configure(&mut self, change: impl FnOnce(&mut Settings)) {
        change(&mut self.settings);
        self.http = OnceLock::new();
    }

    fn http(&self) -> Result<&reqwest::Client, ModelError> {
        let built = self.http.get_or_init(|| {
            install_tls_provider();
            reqwest::Client::builder()
                .connect_timeout(self.settings.timeout.min(Duration::from_secs(30)))
                .read_timeout(self.settings.timeout)
                .build()
                .map_err(|e| format!("cannot create the HTTP client: {e}"))
        });
        built.as_ref().map_err(|e| ModelError::new(format!("{}: {e}", self.provider.name)))
    }

    /// `{base_url}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.settings.base_url.trim_end_matches('/'))
    }

    /// POSTs `body` as JSON to `path`, retrying as the settings say; the first successful answer.
    pub async fn post(&self, path: &str, body: &Value, stream: bool) -> Result<reqwest::Response, ModelError> {
        let provider = self.provider.name;
        let http = self.http()?;
        let url = self.url(path);
        let auth = self.authorization(&url)?;
        let payload = serde_json::to_vec(body)
            .map_err(|e| ModelError::new(format!("{provider}: cannot encode the request: {e}")))?;
        let attempts = self.settings.max_retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = http
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, if stream { "text/event-stream" } else { "application/json" })
                .body(payload.clone());
            for (name, value) in self.provider.headers {
                request = request.header(*name, *value);
            }
            if let Some((name, value)) = &auth {
                request = request.header(name.clone(), value.clone());
            }
            if !stream {
                request = request.timeout(self.settings.timeout);
            }
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    if retryable(status) && attempt < attempts {
                        let delay = self.settings.retry_delay(attempt - 1, Some(response.headers()));
                        tracing::warn!(
                            provider,
                            %status,
                            attempt,
                            delay_ms = delay.as_millis() as u64,
                            "model request failed; retrying"
                        );
                        drop(response);
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    let body = response.bytes().await.unwrap_or_default();
                    format!("HTTP {}: {}", status_text(status), error_message(&body))
                }
                Err(error) => {
                    let transient = error.is_connect() || error.is_timeout();
                    if transient && attempt < attempts {
                        let delay = self.settings.retry_delay(attempt - 1, None);
                        tracing::warn!(provider, %error, attempt, "model request failed; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    if error.is_timeout() {
                        format!("request to {url} timed out after {:?}", self.settings.timeout)
                    } else {
                        format!("request to {url} failed: {}", error_chain(&error))
                    }
                }
            };
            let tries = if attempt > 1 { format!(" (after {attempt} attempts)") } else { String::new() };
            return Err(ModelError::new(format!("{provider} error: {failure}{tries}")));
        }
    }

    /// The header that carries the key, marked sensitive so it is never printed. Without a key,
    /// the provider's own address is refused at once; other servers (Ollama, vLLM, a local
    /// stand-in) are asked without one.
    fn authorization(&self, url: &str) -> Result<Option<(HeaderName, HeaderValue)>, ModelError> {
        let provider = self.provider;
        match &self.settings.api_key {
            Some(key) => {
                let (name, text) = match provider.auth {
                    Auth::Bearer => (AUTHORIZATION, format!("Bearer {}", key.trim())),
                    Auth::Header(name) => (HeaderName::from_static(name), key.trim().to_owned()),
                };
                let mut value = HeaderValue::from_str(&text).map_err(|_| {
                    ModelError::new(format!(
                        "{}: the API key contains characters that cannot be sent in an HTTP header",
                        provider.name
                    ))
                })?;
                value.set_sensitive(true);
                Ok(Some((name, value)))
            }
            None if url.starts_with(provider.default_base_url) => Err(ModelError::new(format!(
                "{}: no API key: set {} or call .api_key(..)",
                provider.name, provider.key_env
            ))),
            None => Ok(None),
        }
    }

    /// POSTs `body` to `path` (not streamed) and reads the whole JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ModelError> {
        let response = self.post(path, body, false).await?;
        self.json(response).await
    }

    /// Reads a whole JSON answer.
    pub async fn json(&self, response: reqwest::Response) -> Result<Value, ModelError> {
        let body = response.bytes().await.map_err(|e| {
            ModelError::new(format!("{} error: reading the answer failed: {}", self.provider.name, error_chain(&e)))
        })?;
        serde_json::from_slice(&body).map_err(|e| {
            ModelError::new(format!(
                "{} error: the answer is not valid JSON ({e}): {}",
                self.provider.name,
                excerpt(&String::from_utf8_lossy(&body))
            ))
        })
    }
}

/// The builder methods every networked model has (key, address, timeout, retries); used inside
/// the model's `impl`, whose `client` field is a [`Client`]. The arguments name the key's and the
/// address's environment variables and describe the default address, for the docs.
macro_rules! connection_methods {
    ($key_env:literal, $url_env:literal, $default_url:literal) => {
        #[doc = concat!("Uses this API key instead of `", $key_env, "`.")]
        pub fn api_key(mut self, key: impl Into<String>) -> Self {
            let key = key.into();
            self.client.configure(|s| s.api_key = Some(key).filter(|k| !k.trim().is_empty()));
            self
        }

        #[doc = concat!("Sends requests to this address instead of `", $url_env, "` or ", $default_url, ".")]
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            let url = url.into();
            self.client.configure(|s| s.base_url = url);
            self
        }

        /// Bounds a whole non-streamed request, and the wait between two reads of a stream
        /// (default 600 s).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.client.configure(|s| s.timeout = timeout);
            self
        }

        /// Retries after the first attempt on 429, 408, 409, 5xx, failed connections and timeouts
        /// (default 2; 0 turns retries off).
        pub fn max_retries(mut self, retries: u32) -> Self {
            self.client.configure(|s| s.max_retries = retries);
            self
        }

        /// The wait before the first retry when the server sends no `Retry-After`; it doubles with
        /// each retry (default 500 ms).
        pub fn retry_backoff(mut self, backoff: std::time::Duration) -> Self {
            self.client.configure(|s| s.retry_backoff = backoff);
            self
        }

        /// The longest wait between two attempts, `Retry-After` included (default 60 s).
        pub fn max_retry_delay(mut self, delay: std::time::Duration) -> Self {
            self.client.configure(|s| s.max_retry_delay = delay);
            self
        }

        /// Whether an API key is set (from the environment or [`api_key`](Self::api_key)).
        pub fn has_api_key(&self) -> bool {
            self.client.settings.api_key.is_some()
        }
    };
}
pub(crate) use connection_methods;

/// The [`Model`](crate::models::Model) impl of a networked model: a type with `id: String`,
/// `client: Client` and `fn body(&self, &ModelRequest, stream: bool) -> Value`, the path its
/// requests go to, the function that reads a whole answer, and the stream's decoder.
macro_rules! http_model {
    ($model:ty, $path:expr, $parse:path, $decoder:expr) => {
        impl crate::models::Model for $model {
            fn id(&self) -> &str {
                &self.id
            }

            fn provider(&self) -> &str {
                self.client.provider()
            }

            fn endpoint(&self) -> Option<&str> {
                Some(&self.client.settings.base_url)
            }

            fn invoke<'a>(
                &'a self,
                request: &'a crate::models::ModelRequest,
            ) -> crate::models::BoxFuture<'a, Result<crate::models::ModelResponse, crate::models::ModelError>> {
                Box::pin(async move { $parse(&self.client.post_json($path, &self.body(request, false)).await?) })
            }

            fn invoke_stream<'a>(
                &'a self,
                request: &'a crate::models::ModelRequest,
            ) -> crate::models::BoxStream<'a, Result<crate::models::ModelChunk, crate::models::ModelError>> {
                crate::models::http::sse_stream(&self.client, $path, self.body(request, true), $decoder)
            }
        }
    };
}
pub(crate) use http_model;

/// Makes `ring` the process's rustls crypto provider unless one is installed already. Without the
/// `rustls` feature it does nothing.
///
/// With the `rustls` feature, `reqwest` is built without a provider of its own, so every
/// `reqwest::Client` of the program needs a process-wide one: the OpenAI and Anthropic models
/// install it themselves, and a program that builds its own `reqwest` clients (with `reqwest`'s TLS
/// features off) should call this first. Calling it again is harmless.
pub fn install_tls_provider() {
    #[cfg(feature = "rustls")]
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread installing one is fine: a provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// `429 Too Many Requests`.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The provider's message from an error body (`{"error": {"message": ..}}`, `{"message": ..}`,
/// `{"detail": ..}`), or the start of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<Value>(body)
        && let Some(message) = json_error_message(&json)
    {
        return message;
    }
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() { "(empty body)".to_owned() } else { excerpt(text.trim()) }
}

/// The message of a JSON error object, wherever the provider put it.
pub(crate) fn json_error_message(json: &Value) -> Option<String> {
    let error = json.get("error").unwrap_or(json);
    let message = match error {
        Value::String(s) => Some(s.clone()),
        _ => ["message", "detail"].iter().find_map(|k| error.get(*k).and_then(Value::as_str)).map(str::to_owned),
    }?;
    let code = error.get("code").and_then(Value::as_str).or_else(|| error.get("type").and_then(Value::as_str));
    Some(match code {
        Some(code) => format!("{message} ({code})"),
        None => message,
    })
}

/// At most [`BODY_EXCERPT`] characters of `text`.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A token count from a JSON number.
pub(crate) fn tokens(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_u64)
}

/// An error and its causes, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What a provider does with the frames of its stream.
pub(crate) trait Decoder: Send {
    /// Handles one frame, pushing what it yields; `Ok(true)` when the answer is complete.
    fn frame(&mut self, frame: &SseEvent, out: &mut VecDeque<ModelChunk>) -> Result<bool, ModelError>;
    /// Whether a body that ends here (without the provider's end marker) is still a whole answer.
    fn complete_at_end(&self) -> bool;
}

/// Where a stream is.
enum Phase {
    /// The request is not sent yet.
    Start,
    /// Reading the body.
    Reading(reqwest::Response),
    /// Nothing more.
    Done,
}

/// A streamed answer being read.
struct StreamState<'a, D> {
    client: &'a Client,
    path: &'static str,
    body: Value,
    phase: Phase,
    parser: SseParser,
    frames: Vec<SseEvent>,
    ready: VecDeque<ModelChunk>,
    decoder: D,
}

type Step<'a, D> = Option<(Result<ModelChunk, ModelError>, Box<StreamState<'a, D>>)>;

impl<'a, D: Decoder + 'a> StreamState<'a, D> {
    /// Produces the next item: a chunk ready already, or reads until one is.
    async fn next(mut self: Box<Self>) -> Step<'a, D> {
        loop {
            if let Some(chunk) = self.ready.pop_front() {
                return Some((Ok(chunk), self));
            }
            match &mut self.phase {
                Phase::Done => return None,
                Phase::Start => match self.client.post(self.path, &self.body, true).await {
                    Ok(response) => self.phase = Phase::Reading(response),
                    Err(e) => return self.fail(e),
                },
                Phase::Reading(response) => match response.chunk().await {
                    Ok(Some(bytes)) => {
                        self.parser.feed(&bytes, &mut self.frames);
                        let frames = std::mem::take(&mut self.frames);
                        for frame in &frames {
                            match self.decoder.frame(frame, &mut self.ready) {
                                Ok(false) => {}
                                Ok(true) => {
                                    self.phase = Phase::Done;
                                    break;
                                }
                                Err(e) => return self.fail(e),
                            }
                        }
                    }
                    Ok(None) => {
                        if self.parser.has_partial_frame() || !self.decoder.complete_at_end() {
                            let provider = self.client.provider();
                            let detail =
                                if self.parser.has_partial_frame() { " in the middle of an event" } else { "" };
                            return self.fail(ModelError::new(format!(
                                "{provider} error: the stream was cut{detail} before the answer was complete"
                            )));
                        }
                        self.phase = Phase::Done;
                    }
                    Err(e) => {
                        let provider = self.client.provider();
                        return self.fail(ModelError::new(format!(
                            "{provider} error: reading the stream failed: {}",
                            error_chain(&e)
                        )));
                    }
                },
            }
        }
    }

    /// Ends the stream with `error` (chunks already decoded are dropped: the run fails).
    fn fail(mut self: Box<Self>, error: ModelError) -> Step<'a, D> {
        self.phase = Phase::Done;
        self.ready.clear();
        Some((Err(error), self))
    }
}

/// Sends `body` to `path` with streaming on and decodes the events with `decoder`.
pub(crate) fn sse_stream<'a, D: Decoder + 'a>(
    client: &'a Client,
    path: &'static str,
    body: Value,
    decoder: D,
) -> BoxStream<'a, Result<ModelChunk, ModelError>> {
    let state = Box::new(StreamState {
        client,
        path,
        body,
        phase: Phase::Start,
        parser: SseParser::new(),
        frames: Vec::new(),
        ready: VecDeque::new(),
        decoder,
    });
    Box::pin(Unfold { state: Some(state), pending: None })
}

/// A stream driven by [`StreamState::next`].
struct Unfold<'a, D> {
    state: Option<Box<StreamState<'a, D>>>,
    pending: Option<BoxFuture<'a, Step<'a, D>>>,
}

// Nothing inside is pinned structurally: the state is boxed and the future is a pinned box.
impl<D> Unpin for Unfold<'_, D> {}

impl<'a, D: Decoder + 'a> Stream for Unfold<'a, D> {
    type Item = Result<ModelChunk, ModelError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.pending.is_none() {
            let Some(state) = this.state.take() else { return Poll::Ready(None) };
            this.pending = Some(Box::pin(state.next()));
        }
        let Some(pending) = this.pending.as_mut() else { return Poll::Ready(None) };
        match pending.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(step) => {
                this.pending = None;
                Poll::Ready(step.map(|(item, state)| {
                    this.state = Some(state);
                    item
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static OPENAI: Provider = Provider {
        name: "OpenAI",
        key_env: "OPENAI_API_KEY",
        base_url_env: "OPENAI_BASE_URL",
        default_base_url: "https://api.openai.com/v1",
        auth: Auth::Bearer,
        headers: &[],
    };

    static ANTHROPIC: Provider = Provider {
        name: "Anthropic",
        key_env: "ANTHROPIC_API_KEY",
        base_url_env: "ANTHROPIC_BASE_URL",
        default_base_url: "https://api.anthropic.com",
        auth: Auth::Header("x-api-key"),
        headers: &[("anthropic-version", "2023-06-01")],
    };

    fn settings() -> Settings {
        Settings {
            api_key: Some("sk-secret".into()),
            base_url: "http://127.0.0.1:1/v1/".into(),
            timeout: Duration::from_secs(5),
            max_retries: 3,
            retry_backoff: Duration::from_millis(100),
            max_retry_delay: Duration::from_secs(2),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = settings();
        assert_eq!(s.retry_delay(0, None), Duration::from_millis(100));
        assert_eq!(s.retry_delay(1, None), Duration::from_millis(200));
        assert_eq!(s.retry_delay(3, None), Duration::from_millis(800));
        assert_eq!(s.retry_delay(10, None), Duration::from_secs(2));
        assert_eq!(s.retry_delay(u32::MAX, None), Duration::from_secs(2));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let s = settings();
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("1"));
        assert_eq!(s.retry_delay(0, Some(&h)), Duration::from_secs(1));
        h.insert("retry-after", HeaderValue::from_static("0"));
        assert_eq!(s.retry_delay(2, Some(&h)), Duration::ZERO);
        h.insert("retry-after", HeaderValue::from_static("120"));
        assert_eq!(s.retry_delay(0, Some(&h)), Duration::from_secs(2), "capped");
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(s.retry_delay(0, Some(&h)), Duration::from_millis(250), "the ms header wins");
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(s.retry_delay(1, Some(&h)), Duration::from_millis(200), "a date falls back to the backoff");
        h.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(s.retry_delay(0, Some(&h)), Duration::from_millis(100));
    }

    #[test]
    fn retryable_statuses() {
        for code in [408, 409, 429, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 404, 422] {
            assert!(!retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn error_messages_from_bodies() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(error_message(body), "Rate limit reached (rate_limit_exceeded)");
        assert_eq!(error_message(br#"{"error":{"message":"Bad key"}}"#), "Bad key");
        assert_eq!(error_message(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(error_message(br#"{"error":"model not found"}"#), "model not found");
        assert_eq!(error_message(b"upstream down"), "upstream down");
        assert_eq!(error_message(b""), "(empty body)");
        let long = "x".repeat(1000);
        assert_eq!(error_message(long.as_bytes()).chars().count(), BODY_EXCERPT + 1);
    }

    #[test]
    fn the_key_is_never_shown() {
        let client = Client::new(settings(), &OPENAI);
        assert!(!format!("{client:?}").contains("sk-secret"));
        let (name, header) = client.authorization("http://x").unwrap().unwrap();
        assert_eq!(name, AUTHORIZATION);
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("sk-secret"));
        let mut bad = settings();
        bad.api_key = Some("sk\nsecret".into());
        let err = Client::new(bad, &OPENAI).authorization("http://x").unwrap_err();
        assert!(!err.message.contains("secret"), "{err}");
    }

    #[test]
    fn a_missing_key_is_refused_for_the_providers_own_address() {
        let mut s = settings();
        s.api_key = None;
        let client = Client::new(s.clone(), &OPENAI);
        assert!(
            client.authorization("https://api.openai.com/v1/responses").unwrap_err().message.contains("OPENAI_API_KEY")
        );
        assert!(client.authorization("http://localhost:11434/v1/chat/completions").unwrap().is_none());
        assert_eq!(client.url("responses"), "http://127.0.0.1:1/v1/responses");

        let client = Client::new(s, &ANTHROPIC);
        let err = client.authorization("https://api.anthropic.com/v1/messages").unwrap_err();
        assert_eq!(err.message, "Anthropic: no API key: set ANTHROPIC_API_KEY or call .api_key(..)");
        assert!(client.authorization("http://127.0.0.1:9/v1/messages").unwrap().is_none());
    }

    #[test]
    fn anthropic_takes_the_key_alone_in_its_header() {
        let client = Client::new(settings(), &ANTHROPIC);
        let (name, value) = client.authorization("http://x").unwrap().unwrap();
        assert_eq!(name.as_str(), "x-api-key");
        assert_eq!(value.to_str().unwrap(), "sk-secret");
        assert!(value.is_sensitive());
        assert!(retryable(StatusCode::from_u16(529).unwrap()), "Anthropic's overloaded");
    }
}
