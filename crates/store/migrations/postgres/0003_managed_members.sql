-- arkbridge store on PostgreSQL, version 3: the safe members `arkbridge policy apply` added, so
-- that it removes only those (unless --prune) and never a member someone else manages.
--
-- SQLite compares these names with COLLATE NOCASE; here the key is a unique index on the
-- lower-cased names, and every query compares lower(...) too.

CREATE TABLE managed_members (
    safe            TEXT NOT NULL,
    member          TEXT NOT NULL,
    added_micros    BIGINT NOT NULL
);
CREATE UNIQUE INDEX managed_members_key ON managed_members (lower(safe), lower(member));
