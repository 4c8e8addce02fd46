-- Client-secret digests record which pepper keyed them, so the pepper can be replaced
-- (credentials.pepper_file, credentials.previous_pepper_files): a secret that authenticates
-- under an older pepper is digested again under the current one. Every digest made before this
-- migration was keyed by the oldest pepper in the key store (the only one the service used).

ALTER TABLE client_credentials ADD COLUMN pepper_id TEXT;
UPDATE client_credentials SET pepper_id = COALESCE(
    (SELECT kid FROM signing_keys WHERE purpose = 'secret_pepper' ORDER BY created_at, kid LIMIT 1),
    'p-initial');
ALTER TABLE client_credentials ALTER COLUMN pepper_id SET NOT NULL;
