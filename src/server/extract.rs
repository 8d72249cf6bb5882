//! Request extractors whose failures speak the API's error format: the caller (from the bearer
//! token), path segments, JSON bodies and raw bodies.

use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::model::{Agent, Role};

/// The authenticated employee making the request.
pub struct Caller(pub Agent);

impl Caller {
    pub fn require(&self, role: Role, what: &str) -> Result<(), ApiError> {
        if self.0.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("{what} needs the {role} role; you are {}", self.0.role),
            ))
        }
    }
}

/// The token from `Authorization: Bearer …`, if any.
pub fn bearer(parts: &axum::http::HeaderMap) -> Option<&str> {
    let value = parts.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

pub async fn authenticate(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Agent, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing bearer token: send 'Authorization: Bearer <token>' (helphive token issue HANDLE makes one)",
        )
    })?;
    state.store.authenticate(token).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "token not recognised, revoked, or its agent is disabled",
        )
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers).await.map(Caller)
    }
}

/// A JSON body; a malformed or oversized one is a 4xx in the API's error format.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match <axum::Json<T> as FromRequest<S>>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid",
    };
    ApiError::new(status, code, rejection.body_text())
}

/// An optional JSON body: absent when the request has no content type.
impl<S, T> OptionalFromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        match <axum::Json<T> as OptionalFromRequest<S>>::from_request(req, state).await {
            Ok(v) => Ok(v.map(|axum::Json(v)| Body(v))),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Path segments; one that does not decode (`%FF` is not UTF-8) is a 400 in the API's format.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid", rejection.body_text())),
        }
    }
}

/// The body as bytes (the webhook signature covers them as sent); one over the route's limit is
/// a 413 in the API's format.
pub struct RawBody(pub axum::body::Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the body is larger than this endpoint takes (webhook.max_batch_bytes for /inbound, server.max_body_bytes elsewhere)",
            )),
            Err(rejection) => Err(ApiError::new(rejection.status(), "invalid", rejection.body_text())),
        }
    }
}

/// Parses a path id such as a question number: decimal digits (a leading `#` is allowed, as
/// people write question numbers), greater than 0.
pub fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    let digits = raw.strip_prefix('#').unwrap_or(raw);
    Some(digits)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("'{raw}' is not a {what} number")))
}
