//! The one error type of the service: a stable code (cairn-core's or the store's, plus the
//! few HTTP-only ones below), a message, optional details, and the HTTP status it answers
//! with. Every failure, at startup or in a request, is a [`ServiceError`]; a request's is
//! sent as `{"error": {"code", "message", "details"}}`.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_core::ErrorCode;
use cairn_store::{StoreCode, StoreError};
use serde_json::{json, Value};

/// A service failure.
#[derive(Debug, Clone)]
pub struct ServiceError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// Stable machine-readable code: cairn-core's, the store's, or `not_found` / `rate_limited`
    /// / `timeout` / `method_not_allowed` / `unavailable` / `internal`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// Structured details (`field`, `seq`, `retry_after_seconds`, ...), or null.
    pub details: Value,
}

/// Result with a [`ServiceError`].
pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ServiceError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// A cairn-core code, with the status [`status_for`] gives it.
    pub fn core(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError::new(status_for(StoreCode::Core(code)), code.as_str(), message)
    }

    /// A configuration or startup error (`malformed`).
    pub fn config(message: impl Into<String>) -> Self {
        ServiceError::core(ErrorCode::Malformed, message)
    }

    /// A request body that does not parse (`malformed`, 400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ServiceError::core(ErrorCode::Malformed, message)
    }

    /// A write without acceptable credentials (`unauthorized`, 401).
    pub fn unauthenticated(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError::new(StatusCode::UNAUTHORIZED, code.as_str(), message)
    }

    /// A credential that does not allow the operation (403).
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError::new(StatusCode::FORBIDDEN, code.as_str(), message)
    }

    /// No such route or object (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        ServiceError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A failure of the service itself (500); the message is logged, not sent.
    pub fn internal(message: impl Into<String>) -> Self {
        ServiceError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Adds one member to the details, keeping those already there.
    pub fn with_detail(mut self, key: &str, value: Value) -> Self {
        match &mut self.details {
            Value::Object(map) => {
                map.insert(key.into(), value);
            }
            _ => self.details = json!({ key: value }),
        }
        self
    }

    /// Prefixes the message.
    pub fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message, "details": self.details}})
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}

/// The HTTP status for a store or core code.
pub fn status_for(code: StoreCode) -> StatusCode {
    match code {
        StoreCode::NotFound => StatusCode::NOT_FOUND,
        StoreCode::AlreadyExists
        | StoreCode::InvalidState
        | StoreCode::Core(ErrorCode::KeyChanged) => StatusCode::CONFLICT,
        StoreCode::Core(ErrorCode::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        StoreCode::Core(
            ErrorCode::Malformed | ErrorCode::UnsupportedVersion | ErrorCode::UnsupportedAlgorithm,
        ) => StatusCode::BAD_REQUEST,
        StoreCode::Core(ErrorCode::Unauthorized) => StatusCode::FORBIDDEN,
        StoreCode::Core(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StoreCode::Locked
        | StoreCode::ReadOnly
        | StoreCode::PassphraseRequired
        | StoreCode::BadPassphrase => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        let mut details = serde_json::Map::new();
        if let Some(f) = e.field_name() {
            details.insert("field".into(), f.into());
        }
        if let Some(s) = e.seq() {
            details.insert("seq".into(), s.into());
        }
        ServiceError {
            status: status_for(e.code()),
            code: e.code().as_str(),
            message: e.detail().to_owned(),
            details: if details.is_empty() {
                Value::Null
            } else {
                Value::Object(details)
            },
        }
    }
}

impl From<cairn_core::Error> for ServiceError {
    fn from(e: cairn_core::Error) -> Self {
        ServiceError::core(e.code(), e.detail())
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        // A failure of the service is an operator's business (a 500, or a 503 such as a
        // missing passphrase); an answer of capacity (`unavailable`: a queue or table full) is
        // a client's to retry, and comes as often as clients make it: counted in the metrics
        // by status, logged only at debug level.
        if self.code == "unavailable" {
            tracing::debug!(code = self.code, message = %self.message, "request refused for capacity");
        } else if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let mut body = self.to_json();
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            // The cause stays in the log; the client learns only that it failed.
            body["error"]["message"] = "the service failed; its log says why".into();
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        // An error is the answer of one moment (a tile not yet written, a limit reached): no
        // cache or CDN may keep it.
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // A body over the limit is left unread (refused on its declared length, or once
            // the limit is reached), so the connection cannot carry another request: the
            // client is told rather than finding it closed when it reuses it.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(secs) = self
            .details
            .get("retry_after_seconds")
            .and_then(Value::as_u64)
        {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
