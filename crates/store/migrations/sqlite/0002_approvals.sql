-- arkbridge store, version 2: approvals of write blocks.
-- An approval binds one exact script (its SHA-256) of one block on one page; any edit to the block
-- changes the hash and so voids it. Rows are never updated or deleted: the audit log records each.

CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id         TEXT NOT NULL,
    block           TEXT NOT NULL,
    script_sha256   TEXT NOT NULL,
    page_version    INTEGER NOT NULL,
    approver        TEXT NOT NULL,
    created_micros  INTEGER NOT NULL,
    audit_seq       INTEGER NOT NULL REFERENCES audit(seq)
);
CREATE INDEX approvals_block ON approvals(page_id, block);
