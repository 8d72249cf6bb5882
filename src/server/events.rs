//! `GET /api/v1/events`: every change as Server-Sent Events, each with its event id. A client
//! that reconnects with `Last-Event-ID` (or `?after=N`) first gets everything after N from the
//! event table, in order, then live events; no gap, no duplicate. A client further behind than
//! the server keeps events for gets one `reload` event: fetch a fresh snapshot, then carry on.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::{broadcast, mpsc};

use super::extract::{Caller, bearer};
use super::streams;
use super::{ApiError, ApiResult, AppState};
use crate::model::Event;
use crate::store::Store;
use crate::wire::{StreamEnd, StreamReload};

/// Events read from the table per catch-up query.
const PAGE: u32 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

async fn events(
    State(s): State<AppState>,
    _c: Caller,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let from_header = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::trim);
    let raw = from_header.or(params.get("after").map(String::as_str));
    let after = match raw {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::bad_request(format!("Last-Event-ID '{v}' is not an event id")))?,
        ),
    };
    // Subscribe before reading the table: whatever commits in between arrives on both paths, and
    // ids let us drop the second copy. The bounds are read here, before the client has its
    // answer, so "from now" for a new client means from this point: an event committed after the
    // client saw the stream open always reaches it.
    let live = s.store.subscribe();
    let bounds = s.store.event_bounds().await?;
    let (tx, rx) = mpsc::channel::<SseEvent>(256);
    // `Caller` has checked the token; the stream lives only as long as it stays valid.
    let token = bearer(&headers).map(crate::store::hash_token).unwrap_or_default();
    let ticket = s.streams.open(token.clone(), &s.store);
    let out = Out { tx, store: s.store.clone(), token, checked: s.store.credentials_generation() };
    tokio::spawn(async move {
        let mut ticket = ticket;
        let tx = out.tx.clone();
        let why = tokio::select! {
            why = pump(s.store.clone(), after, bounds, live, out) => why,
            why = &mut ticket.ended => match why {
                Ok(streams::End::Revoked) => Ended::Revoked,
                Ok(streams::End::Shutdown) | Err(_) => Ended::Shutdown,
            },
            // The client hung up: stop now rather than at the next event, so the stream leaves
            // the registry (and the open-streams gauge) at once.
            _ = tx.closed() => Ended::Gone,
        };
        // A last word, so a client can tell a revoked stream or a stopping server from a
        // dropped connection.
        let reason = match why {
            Ended::Revoked => "revoked",
            Ended::Shutdown => "shutdown",
            Ended::Gone => return,
        };
        let _ = tx.try_send(SseEvent::default().event("end").data(json(&StreamEnd { reason: reason.into() })));
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn sse(e: &Event) -> SseEvent {
    SseEvent::default().id(e.id.to_string()).event(e.kind.clone()).data(json(e))
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn reload(latest: i64, reason: &str) -> SseEvent {
    SseEvent::default()
        .id(latest.to_string())
        .event("reload")
        .data(json(&StreamReload { latest, reason: reason.into() }))
}

/// Why a stream stopped.
enum Ended {
    /// The client went away.
    Gone,
    Revoked,
    Shutdown,
}

/// One client's end of the stream: every event passes the credential check on its way out.
struct Out {
    tx: mpsc::Sender<SseEvent>,
    store: Store,
    /// The hash of the token that opened the stream.
    token: String,
    /// The store's credentials generation when the token was last found valid.
    checked: u64,
}

impl Out {
    /// Sends one event, unless the token stopped being valid since it was last checked. A
    /// disable or revoke made through this server bumps the generation before it answers, so
    /// no event committed after that answer reaches the stream; the watcher in `streams`
    /// covers changes from other processes.
    async fn send(&mut self, e: SseEvent) -> Result<(), Ended> {
        let generation = self.store.credentials_generation();
        if generation != self.checked {
            match self.store.valid_token_hashes(std::slice::from_ref(&self.token)).await {
                Ok(valid) if valid.contains(&self.token) => self.checked = generation,
                Ok(_) => return Err(Ended::Revoked),
                Err(err) => {
                    tracing::warn!(error = %err, "checking an event stream's token failed");
                    return Err(Ended::Gone);
                }
            }
        }
        self.tx.send(e).await.map_err(|_| Ended::Gone)
    }
}

/// Sends the backlog then the live events to one client, until it goes away or its token
/// stops being valid.
async fn pump(
    store: Store,
    after: Option<i64>,
    (lo, hi): (i64, i64),
    mut live: broadcast::Receiver<Event>,
    mut out: Out,
) -> Ended {
    let mut last = match after {
        // A new client starts from now: it loads a snapshot first.
        None => hi,
        Some(n) if n > hi => {
            // Ids from another server or a wiped database.
            if let Err(why) = out.send(reload(hi, "unknown event id")).await {
                return why;
            }
            hi
        }
        Some(n) if lo > 0 && n + 1 < lo => {
            if let Err(why) = out.send(reload(hi, "too far behind")).await {
                return why;
            }
            hi
        }
        Some(n) => n,
    };
    if let Err(why) = catch_up(&store, &mut last, &mut out).await {
        return why;
    }
    loop {
        match live.recv().await {
            Ok(e) if e.id <= last => {}
            Ok(e) if e.id == last + 1 => {
                last = e.id;
                if let Err(why) = out.send(sse(&e)).await {
                    return why;
                }
            }
            // A gap (another process wrote events, or this client fell behind the channel):
            // fill it from the table, which holds everything in order.
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                if let Err(why) = catch_up(&store, &mut last, &mut out).await {
                    return why;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return Ended::Shutdown,
        }
    }
}

async fn catch_up(store: &Store, last: &mut i64, out: &mut Out) -> Result<(), Ended> {
    loop {
        let page = store.events_since(*last, PAGE).await.map_err(|e| {
            tracing::warn!(error = %e, "event catch-up failed");
            Ended::Gone
        })?;
        let n = page.len();
        for e in page {
            *last = e.id;
            out.send(sse(&e)).await?;
        }
        if n < PAGE as usize {
            return Ok(());
        }
    }
}
