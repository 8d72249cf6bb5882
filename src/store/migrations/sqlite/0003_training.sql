-- helphive schema, version 3: labelled questions for the learned topic classifier.

-- A business's own labelled questions, learned together with the built-in data/train.jsonl when
-- the server starts. `source` says where a row came from: 'import' (helphive classify --train
-- FILE.jsonl) or 'correction' (an agent corrected a question's topic; a later correction of the
-- same text replaces it). The same text with the same topic is kept once.
CREATE TABLE training_examples (
    id         INTEGER PRIMARY KEY,
    text       TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (text, topic)
);

-- A question the topic model was unsure of (below the threshold): it went to the default topic,
-- is offered to the whole hive at once, and keeps the model's two best guesses (JSON:
-- [["billing", 0.45], ["delivery", 0.4]]) so whoever takes it sees them. A correction clears it.
ALTER TABLE questions ADD COLUMN unsure INTEGER NOT NULL DEFAULT 0;
ALTER TABLE questions ADD COLUMN guesses TEXT;
