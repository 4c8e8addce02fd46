-- Linked identities: every (provider, provider_user_id) a user signs in with, the one it was
-- created with included. The primary key makes an identity belong to at most one user.

CREATE TABLE user_identities (
    provider         TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    linked_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, provider_user_id)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

INSERT INTO user_identities (provider, provider_user_id, user_id, linked_at)
    SELECT provider, provider_user_id, id, created_at FROM users;

CREATE INDEX users_email_lower ON users (lower(email));
