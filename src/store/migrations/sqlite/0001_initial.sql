-- helphive schema, version 1. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE agents (
    id           INTEGER PRIMARY KEY,
    handle       TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    function     TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    novice       INTEGER NOT NULL DEFAULT 0,
    mentor_id    INTEGER REFERENCES agents(id),
    capacity     INTEGER NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'offline',
    status_at    INTEGER NOT NULL,
    signature    TEXT    NOT NULL DEFAULT '',
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);

CREATE TABLE skills (
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    topic       TEXT    NOT NULL,
    proficiency INTEGER NOT NULL,
    PRIMARY KEY (agent_id, topic)
);

-- Bearer tokens: only the SHA-256 of each token is kept.
CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents(id),
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE questions (
    id                INTEGER PRIMARY KEY,
    channel           TEXT    NOT NULL,
    external_id       TEXT    NOT NULL,
    conversation_id   TEXT,
    customer_handle   TEXT    NOT NULL,
    customer_name     TEXT    NOT NULL,
    text              TEXT    NOT NULL,
    received_at       INTEGER NOT NULL,
    topic             TEXT    NOT NULL,
    function          TEXT    NOT NULL,
    confidence        REAL    NOT NULL DEFAULT 0,
    matched_rule      TEXT,
    priority          INTEGER NOT NULL DEFAULT 0,
    -- Target time to first response for this question's topic, and the current deadline.
    sla_ms            INTEGER NOT NULL,
    sla_due_at        INTEGER NOT NULL,
    state             TEXT    NOT NULL,
    holder_id         INTEGER REFERENCES agents(id),
    lease_until       INTEGER,
    claimed_at        INTEGER,
    answered_by_id    INTEGER REFERENCES agents(id),
    -- The oldest customer message still without a reply; NULL when the customer is answered.
    awaiting_since    INTEGER,
    first_response_at INTEGER,
    resolved_at       INTEGER,
    updated_at        INTEGER NOT NULL,
    inbound_count     INTEGER NOT NULL DEFAULT 1,
    last_inbound_at   INTEGER NOT NULL
);
CREATE INDEX questions_queue    ON questions (state, sla_due_at, id);
CREATE INDEX questions_holder   ON questions (holder_id) WHERE holder_id IS NOT NULL;
CREATE INDEX questions_customer ON questions (channel, customer_handle, conversation_id);
CREATE INDEX questions_lease    ON questions (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX questions_received ON questions (received_at);
CREATE INDEX questions_first    ON questions (first_response_at) WHERE first_response_at IS NOT NULL;

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    question_id     INTEGER NOT NULL REFERENCES questions(id),
    kind            TEXT    NOT NULL,
    author          TEXT    NOT NULL,
    agent_id        INTEGER REFERENCES agents(id),
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    channel         TEXT    NOT NULL,
    external_id     TEXT,
    in_reply_to     TEXT,
    status          TEXT,
    reviewed_by_id  INTEGER REFERENCES agents(id),
    review_note     TEXT,
    idempotency_key TEXT,
    -- When a reply was released to the outbox (approved).
    released_at     INTEGER
);
CREATE UNIQUE INDEX messages_external ON messages (channel, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages (agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_question ON messages (question_id, id);
CREATE INDEX messages_released ON messages (released_at) WHERE released_at IS NOT NULL;
CREATE INDEX messages_pending  ON messages (status) WHERE status = 'awaiting_approval';

-- Approved replies waiting to be posted by a channel connector.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    question_id     INTEGER NOT NULL REFERENCES questions(id),
    channel         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    posted_at       INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE posted_at IS NULL;

-- Every change, in order. AUTOINCREMENT: ids are never reused, even after pruning.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    question_id INTEGER,
    actor       TEXT,
    data        TEXT    NOT NULL
);
