# Multi-stage build: compile with the Rust toolchain, run on a small Debian image as non-root.
# deploy/smoke/run.sh builds it and checks the compose set-up end to end (not part of .ci/run).
FROM rust:1.95-bookworm AS build
# samael (SAML) builds against libxmlsec1 and needs libclang for its bindings.
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    libxml2-dev libxmlsec1-dev libxslt1-dev libclang1-14 libclang-common-14-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY bench/hot-symbols.txt bench/hot_symbols.awk ./bench/
COPY scripts/ordered-cc ./scripts/
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin tmi-auth

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    libxmlsec1 libxmlsec1-openssl libxml2 libxslt1.1 libssl3 \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin tmi
COPY --from=build /src/target/release/tmi-auth /usr/local/bin/tmi-auth
USER tmi
EXPOSE 8080
ENTRYPOINT ["tmi-auth"]
CMD ["serve"]
