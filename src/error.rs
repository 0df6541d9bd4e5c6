//! The one error type of Wheelhouse, and how each kind maps to an HTTP status.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// Every failure a request or a command can meet. The message is what the client sees: short, and
/// naming the problem. Details that must not leak (paths, SQL) go to the log in `Internal`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    /// Not signed in (or bad credentials) for something that is not public.
    #[error("401 Unauthorized")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// No project or group at that id or path: 404, except to the anonymous, who get the 401
    /// a private one gets (`access::hidden_if_missing`), so they cannot tell the two apart.
    #[error("{0}")]
    PlaceNotFound(&'static str),
    /// The address exists, but not for this method.
    #[error("{}", .0.message)]
    MethodNotAllowed(Box<NotAllowed>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many failed credentials from this address: wait this many seconds.
    #[error("429 Too Many Requests: too many failed sign-ins from this address")]
    TooManyRequests(u64),
    /// A per-user quota (tokens made per minute) is used up: the message names it, and the
    /// client may try again after this many seconds.
    #[error("{0}")]
    RateLimited(String, u64),
    /// The client stopped sending the request body.
    #[error("{0}")]
    RequestTimeout(String),
    /// An upstream index gave no usable answer and nothing cached stands in for it.
    #[error("{0}")]
    BadGateway(String),
    /// The object storage (the S3 bucket) failed or cannot be reached: the client may retry.
    #[error("{0}")]
    StorageUnavailable(String),
    /// The database stayed locked past the busy timeout: the client may retry.
    #[error("the server is busy, try again")]
    Busy,
    #[error("internal error")]
    Internal(String),
}

/// A 405: the methods the address answers (its `Allow` header) and what to tell the client.
#[derive(Debug)]
pub struct NotAllowed {
    pub allow: String,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Error::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }
    pub fn bad_gateway(msg: impl Into<String>) -> Self {
        Error::BadGateway(msg.into())
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Busy,
            _ => Error::Internal(format!("database: {err}")),
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(err: r2d2::Error) -> Self {
        Error::Internal(format!("database pool: {err}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        if let Some(storage) = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<crate::blobs::s3::StorageError>())
        {
            tracing::error!("{storage}");
            return Error::StorageUnavailable(
                "503 Service Unavailable: the object storage of package files is unavailable, try again later".into(),
            );
        }
        Error::Internal(format!("i/o: {err}"))
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Error::Internal(format!("blocking pool: {err}"))
    }
}

/// What every 401 carries: pip and keyring only prompt for or send credentials after seeing it.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"Wheelhouse\"";

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) | Error::PlaceNotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::TooManyRequests(_) | Error::RateLimited(..) => StatusCode::TOO_MANY_REQUESTS,
            Error::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Error::Busy | Error::StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::Internal(detail) = self {
            tracing::error!("{detail}");
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Error::Unauthorized => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(WWW_AUTHENTICATE),
                ));
            }
            Error::Busy | Error::StorageUnavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            Error::MethodNotAllowed(not_allowed) => {
                response.insert_header((header::ALLOW, not_allowed.allow.as_str()));
            }
            Error::TooManyRequests(seconds) | Error::RateLimited(_, seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        // GitLab's error shape, so GitLab tooling shows the message; the status line says it
        // too, for the clients that print only that (twine, hatch, pdm).
        let message = self.to_string();
        let reason = crate::reason_phrase::for_error(self.status_code(), &message);
        let mut response = response.json(serde_json::json!({ "message": message }));
        response.head_mut().reason = reason;
        response
    }
}
