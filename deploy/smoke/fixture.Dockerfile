# The loopback OIDC issuer of the integration tests (tests/oidc), as a container that stands in
# for Keycloak in the compose smoke test (compose.smoke.yml). Built from tests/oidc.
FROM node:20-bookworm-slim
WORKDIR /fixture
COPY package.json package-lock.json server.mjs ./
RUN npm ci --omit=dev --no-audit --no-fund
CMD ["node", "server.mjs"]
