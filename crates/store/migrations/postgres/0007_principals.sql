-- arkbridge store on PostgreSQL, version 7: what the identity provider said about people, for
-- decisions that concern someone other than the caller (see migrations/sqlite/0007_principals.sql).
--
-- `approvals.approver_groups` keeps the approver's groups as verified when they approved (a JSON
-- array as text; NULL for approvals recorded before this version). `principals` keeps, per
-- e-mail, the latest identity a verified sign-in established.

ALTER TABLE approvals ADD COLUMN approver_groups TEXT;

CREATE TABLE principals (
    email               TEXT PRIMARY KEY,
    issuer              TEXT NOT NULL,
    subject             TEXT NOT NULL,
    confluence_account  TEXT,
    groups              TEXT NOT NULL,
    verified_micros     BIGINT NOT NULL
);
CREATE INDEX principals_account ON principals(confluence_account);
