-- arkbridge store, version 8: the secret scanner's triage memory, its incremental-scan cursors
-- and the daily audit reports.
--
-- A finding never holds the secret: only a masked preview and a keyed HMAC-SHA256 fingerprint of
-- the value. One row per (fingerprint, where): the same secret on two pages is two findings, the
-- same secret found again on the same page is the same finding (its state is kept, so a daily
-- run reports only new ones).

CREATE TABLE findings (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint       TEXT NOT NULL,
    -- `page:<id>` for Confluence pages (and their comments), `file:<path>` for --path scans.
    location_key      TEXT NOT NULL,
    page_id           TEXT,
    page_version      INTEGER,
    title             TEXT,
    author            TEXT,
    space             TEXT,
    file_path         TEXT,
    element_path      TEXT NOT NULL,
    char_offset       INTEGER NOT NULL,
    char_length       INTEGER NOT NULL,
    detector          TEXT NOT NULL,
    category          TEXT NOT NULL,
    severity          TEXT NOT NULL,
    preview           TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'new'
                      CHECK (state IN ('new', 'accepted', 'false-positive', 'vaulted')),
    first_seen_micros INTEGER NOT NULL,
    last_seen_micros  INTEGER NOT NULL,
    triaged_by        TEXT,
    triage_note       TEXT,
    vaulted_ref       TEXT,
    UNIQUE (fingerprint, location_key)
);
CREATE INDEX findings_state ON findings(state);

CREATE TABLE scan_cursors (
    space           TEXT PRIMARY KEY,
    -- The `lastmodified` bound of the last complete scan of the space (Unix microseconds).
    scanned_micros  INTEGER NOT NULL
);

CREATE TABLE daily_reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_micros  INTEGER NOT NULL,
    passed          INTEGER NOT NULL,
    -- The whole report as JSON (checks, evidence, checkpoint, finding ids and previews; never a
    -- secret value).
    report          TEXT NOT NULL
);
