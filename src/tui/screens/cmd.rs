//! What the screens ask of the runtime: a `Cmd` is performed in a spawned task and answered with a
//! message (`app::Msg`), and the values that travel with them. They live with the screens that
//! return them, so the screens name nothing of the folder above (`App`, the runtime), which
//! routes to them.

use crate::model::Question;

/// Where a hand-off goes: a function's queue or one colleague.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTo {
    Function(String),
    Agent(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// A reply the server has not acknowledged yet. Its idempotency key makes re-sending safe.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingReply {
    pub question_id: i64,
    pub body: String,
    pub key: String,
}

/// One page of the queue snapshot, as it arrives: the most urgent page first, so the queue is
/// usable at once while the rest loads behind it.
#[derive(Debug, Clone, Default)]
pub struct SnapshotPage {
    pub items: Vec<Question>,
    /// How many open questions the server has in all (from the first page), for "loading… n of m".
    pub total: Option<i64>,
    /// The newest event the snapshot reflects (`QueuePage::as_of` of its first page).
    pub as_of: Option<i64>,
    /// The first page of a load.
    pub first: bool,
    /// The last page of a load.
    pub done: bool,
}

impl SnapshotPage {
    /// A whole snapshot in one page.
    pub fn whole(items: Vec<Question>, as_of: Option<i64>) -> SnapshotPage {
        SnapshotPage { total: Some(items.len() as i64), items, as_of, first: true, done: true }
    }
}

/// What to do about it (performed by the runtime, answered with messages).
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    LoadSnapshot,
    LoadDetail(i64),
    /// The thread for the preview pane (no "viewing" mark: a glance is not a look).
    LoadPreview(i64),
    MarkViewing(i64),
    Claim(i64),
    Next,
    Release(i64),
    Resolve(i64),
    ResolveWithoutReply(i64),
    Reopen(i64),
    Unhold(i64),
    Reply(PendingReply),
    Note {
        question_id: i64,
        body: String,
    },
    Transfer {
        question_id: i64,
        to: TransferTo,
        note: Option<String>,
    },
    Recategorize {
        question_id: i64,
        topic: String,
    },
    Approve {
        message_id: i64,
        edited: Option<String>,
    },
    Reject {
        message_id: i64,
        reason: String,
    },
    LoadStats,
    LoadApprovals,
}
