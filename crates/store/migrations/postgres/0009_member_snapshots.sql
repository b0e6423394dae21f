-- arkbridge store on PostgreSQL, version 9: the safe members as the PVWA last listed them, so
-- that rule 4 can still decide while the PVWA is unavailable (see
-- migrations/sqlite/0009_member_snapshots.sql). Member names and permissions only; never a secret.

CREATE TABLE safe_member_snapshots (
    -- Lower-case safe name: CyberArk safe names compare ignoring case.
    safe           TEXT PRIMARY KEY,
    -- JSON array of {name, is_group, permissions}.
    members        TEXT NOT NULL,
    read_micros    BIGINT NOT NULL
);
