-- tmi-auth schema. Constraints carry the integrity rules: unique identities and client ids,
-- foreign keys, partial unique indexes for memberships, and no group inside itself.

CREATE TABLE users (
    id               UUID PRIMARY KEY,
    provider         TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    email            TEXT NOT NULL,
    email_verified   BOOLEAN NOT NULL,
    name             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    last_login_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_identity_unique UNIQUE (provider, provider_user_id)
);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    secret     BYTEA NOT NULL CHECK (length(secret) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);

CREATE TABLE refresh_families (
    id          TEXT PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idp         TEXT NOT NULL,
    scope       TEXT NOT NULL,
    groups      TEXT[] NOT NULL,
    auth_time   TIMESTAMPTZ NOT NULL,
    current_seq BIGINT NOT NULL CHECK (current_seq >= 0),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    rotated_at  TIMESTAMPTZ,
    revoked     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

CREATE TABLE client_credentials (
    id            UUID PRIMARY KEY,
    owner_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id     TEXT NOT NULL UNIQUE,
    secret_digest BYTEA NOT NULL CHECK (length(secret_digest) = 32),
    name          TEXT NOT NULL,
    description   TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    modified_at   TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX client_credentials_owner ON client_credentials (owner_id, created_at DESC, id DESC);

CREATE TABLE groups (
    id           UUID PRIMARY KEY,
    provider     TEXT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT groups_name_unique UNIQUE (provider, name)
);

CREATE TABLE group_memberships (
    id              UUID PRIMARY KEY,
    group_id        UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_user_id  UUID REFERENCES users (id) ON DELETE CASCADE,
    member_group_id UUID REFERENCES groups (id) ON DELETE CASCADE,
    added_at        TIMESTAMPTZ NOT NULL,
    added_by        UUID,
    notes           TEXT,
    CONSTRAINT membership_one_member CHECK ((member_user_id IS NULL) <> (member_group_id IS NULL)),
    CONSTRAINT membership_not_self CHECK (member_group_id IS NULL OR member_group_id <> group_id)
);
CREATE UNIQUE INDEX group_memberships_user ON group_memberships (group_id, member_user_id)
    WHERE member_user_id IS NOT NULL;
CREATE UNIQUE INDEX group_memberships_group ON group_memberships (group_id, member_group_id)
    WHERE member_group_id IS NOT NULL;
CREATE INDEX group_memberships_by_user ON group_memberships (member_user_id)
    WHERE member_user_id IS NOT NULL;
CREATE INDEX group_memberships_by_member_group ON group_memberships (member_group_id)
    WHERE member_group_id IS NOT NULL;
