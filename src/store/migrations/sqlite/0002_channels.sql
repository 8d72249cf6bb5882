-- helphive schema, version 2: channel connectors, the outbox worker, and held (spam) questions.

-- Where each connector stopped reading its network (a Mastodon notification id, an X tweet id).
-- Written only after the questions read up to it are committed, so a restart re-reads at worst
-- (and duplicates are dropped by (channel, external_id)), never skips.
CREATE TABLE channel_cursors (
    channel    TEXT    PRIMARY KEY,
    cursor     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Questions kept out of the queue (state 'held') say why: blocked account, duplicate, flood.
ALTER TABLE questions ADD COLUMN held_reason TEXT;

-- Inbound: the post's visibility on its network, so the reply can mirror it.
ALTER TABLE messages ADD COLUMN visibility TEXT;
-- Replies: where the post landed, or why the network refused it for good.
ALTER TABLE messages ADD COLUMN posted_url TEXT;
ALTER TABLE messages ADD COLUMN error TEXT;

-- Set before each request to the network: on restart, a row with it set may already be posted,
-- so the worker looks on the network before posting again.
ALTER TABLE outbox ADD COLUMN posting_started_at INTEGER;
-- Set when the network refused the reply for good (401, 422...): the worker stops trying.
ALTER TABLE outbox ADD COLUMN failed_at INTEGER;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE posted_at IS NULL AND failed_at IS NULL;

CREATE INDEX questions_held ON questions (state) WHERE state = 'held';
CREATE INDEX messages_customer ON messages (channel, author, created_at) WHERE kind = 'inbound';
