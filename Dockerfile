# The screenplay server. Multi-stage: build with the Rust toolchain, run on
# Debian slim with only what the binary needs at run time.
#
#   docker build -t screenplay .
#   docker run --rm -e DATABASE_URL=... -e SCREENPLAY_JWT_SECRET=... -p 8080:8080 screenplay
#
# `screenplay backup` / `restore` need pg_dump / pg_restore of the server's
# major version (PG_MAJOR, 17 as in docker-compose.yml): the binaries are
# copied from the official postgres image and only libpq is installed, so
# the runtime image carries no Perl (Debian's postgresql-client would bring
# it for its wrapper scripts).
#
# RUST_VERSION is the workspace's rust-version, the highest any locked
# dependency needs; docker/check_toolchain.py (run by .ci/run) keeps the two
# equal.

ARG RUST_VERSION=1.94
ARG PG_MAJOR=17

FROM postgres:${PG_MAJOR}-bookworm AS pgtools

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
# libpq and the libraries pg_dump links (zstd, lz4, zlib) are Debian's;
# no Perl is installed (check: `docker run --rm --entrypoint sh screenplay -c 'command -v perl'`).
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates libpq5 libzstd1 liblz4-1 zlib1g; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --home-dir /var/lib/screenplay --create-home --shell /usr/sbin/nologin screenplay
COPY --from=pgtools /usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump /usr/lib/postgresql/${PG_MAJOR}/bin/pg_restore \
     /usr/lib/postgresql/${PG_MAJOR}/bin/psql /usr/lib/postgresql/${PG_MAJOR}/bin/
COPY --from=build /usr/local/bin/screenplay /usr/local/bin/screenplay
# Production: GraphiQL, introspection and field suggestions are off unless
# SCREENPLAY_GRAPHIQL / SCREENPLAY_INTROSPECTION / SCREENPLAY_SUGGESTIONS say otherwise.
ENV SCREENPLAY_ENV=production \
    SCREENPLAY_BIND=0.0.0.0:8080 \
    SCREENPLAY_LOG_FORMAT=json \
    SCREENPLAY_PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin
USER screenplay
WORKDIR /var/lib/screenplay
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/screenplay", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/screenplay"]
CMD ["serve"]
