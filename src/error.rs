//! The one error type of the store and the domain rules. The server maps each variant to an HTTP
//! status (see `server::error`); nothing here knows about HTTP.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the current state: the question is held by someone else, the
    /// agent is at capacity, a handle is taken. `code` is a stable machine-readable word.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller did not say who they are, or said it wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// The input is malformed or out of range.
    #[error("{0}")]
    Invalid(String),
    /// Anything else: the database failed, a file could not be written. Never shown raw to a
    /// client.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
