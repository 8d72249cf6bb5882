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

use super::extract::Caller;
use super::{ApiError, ApiResult, AppState};
use crate::model::Event;
use crate::store::Store;

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
    tokio::spawn(pump(s.store.clone(), after, bounds, live, tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn sse(e: &Event) -> SseEvent {
    SseEvent::default().id(e.id.to_string()).event(e.kind.clone()).data(serde_json::to_string(e).unwrap_or_default())
}

fn reload(latest: i64, reason: &str) -> SseEvent {
    SseEvent::default()
        .id(latest.to_string())
        .event("reload")
        .data(serde_json::json!({ "latest": latest, "reason": reason }).to_string())
}

/// Sends the backlog then the live events to one client, until it goes away.
async fn pump(
    store: Store,
    after: Option<i64>,
    (lo, hi): (i64, i64),
    mut live: broadcast::Receiver<Event>,
    tx: mpsc::Sender<SseEvent>,
) {
    let mut last = match after {
        // A new client starts from now: it loads a snapshot first.
        None => hi,
        Some(n) if n > hi => {
            // Ids from another server or a wiped database.
            if tx.send(reload(hi, "unknown event id")).await.is_err() {
                return;
            }
            hi
        }
        Some(n) if lo > 0 && n + 1 < lo => {
            if tx.send(reload(hi, "too far behind")).await.is_err() {
                return;
            }
            hi
        }
        Some(n) => n,
    };
    if catch_up(&store, &mut last, &tx).await.is_err() {
        return;
    }
    loop {
        match live.recv().await {
            Ok(e) if e.id <= last => {}
            Ok(e) if e.id == last + 1 => {
                last = e.id;
                if tx.send(sse(&e)).await.is_err() {
                    return;
                }
            }
            // A gap (another process wrote events, or this client fell behind the channel):
            // fill it from the table, which holds everything in order.
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                if catch_up(&store, &mut last, &tx).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn catch_up(store: &Store, last: &mut i64, tx: &mpsc::Sender<SseEvent>) -> Result<(), ()> {
    loop {
        let page = store.events_since(*last, PAGE).await.map_err(|e| {
            tracing::warn!(error = %e, "event catch-up failed");
        })?;
        let n = page.len();
        for e in page {
            *last = e.id;
            tx.send(sse(&e)).await.map_err(|_| ())?;
        }
        if n < PAGE as usize {
            return Ok(());
        }
    }
}
