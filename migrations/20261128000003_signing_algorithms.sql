-- Signing keys for ES256 and RS256 are stored as PKCS#8 documents (Ed25519 seeds, refresh-token
-- keys and the pepper stay 32 bytes), so the key material is no longer always 32 bytes long.

ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_secret_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_secret_length
    CHECK (length(secret) = 32 OR (purpose = 'access_token_signing' AND length(secret) BETWEEN 64 AND 8192));
