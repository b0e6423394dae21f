-- arkbridge store, version 3: the safe members `arkbridge policy apply` added, so that it removes
-- only those (unless --prune) and never a member someone else manages.

CREATE TABLE managed_members (
    safe            TEXT NOT NULL COLLATE NOCASE,
    member          TEXT NOT NULL COLLATE NOCASE,
    added_micros    INTEGER NOT NULL,
    PRIMARY KEY (safe, member)
);
