# The screenplay server. Multi-stage: build with the Rust toolchain, run on
# Debian slim with only what the binary needs at run time.
#
#   docker build -t screenplay .
#   docker run --rm -e DATABASE_URL=... -e SCREENPLAY_JWT_SECRET=... -p 8080:8080 screenplay
#
# `screenplay backup` / `restore` need pg_dump / pg_restore of the server's
# major version: PG_MAJOR (17, as in docker-compose.yml) installs them from
# the PostgreSQL project's apt repository.

ARG RUST_VERSION=1.88
ARG PG_MAJOR=17

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Manifests first, so dependency builds are cached while sources change.
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY api/Cargo.toml api/Cargo.toml
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src api/src entity/src migration/src \
    && echo 'fn main() {}' > src/main.rs \
    && for crate in api entity migration; do echo '' > $crate/src/lib.rs; done \
    && cargo fetch --locked
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin screenplay \
    && install -m 0755 target/release/screenplay /usr/local/bin/screenplay

FROM debian:bookworm-slim AS runtime
ARG PG_MAJOR
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl gnupg; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    apt-get purge -y --auto-remove curl gnupg; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --home-dir /var/lib/screenplay --create-home --shell /usr/sbin/nologin screenplay
COPY --from=build /usr/local/bin/screenplay /usr/local/bin/screenplay
ENV SCREENPLAY_BIND=0.0.0.0:8080 \
    SCREENPLAY_LOG_FORMAT=json \
    SCREENPLAY_PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin
USER screenplay
WORKDIR /var/lib/screenplay
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/screenplay"]
CMD ["serve"]
