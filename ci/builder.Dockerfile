# syntax=docker/dockerfile:1
# The isect builder image: what every Cloud Build step (and the GitHub workflow's jobs)
# runs, `isect run SERVICE STAGE`, so it holds isect and every toolchain the services use.
#
#   docker build -f ci/builder.Dockerfile -t europe-docker.pkg.dev/$PROJECT_ID/ci/isect-builder:latest .
#
# Built from the repository root (it needs Cargo.toml, src/ and stdlib/). It is not built by
# this repository's own CI: that machine cannot pull any base image (rust, node, debian), so
# the file is checked by review and by the first build on a machine with registry access.
#
# Debian bookworm on purpose: it is what isect's CI runs on, and its packages are what
# image::debian assembles the platform's bases from (python3.11 for python-base).

# --- 1. build isect -----------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY stdlib stdlib
# Cargo reads every target the manifest declares, the integration tests included.
COPY tests tests
COPY examples examples
# Cache mounts keep the registry and target folder between builds; --locked builds exactly
# the versions in Cargo.lock.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin isect \
    && install -m 0755 target/release/isect /usr/local/bin/isect

# --- 2. Node 20 (the services need >= 20; bookworm's nodejs is 18) -------------------------
FROM node:20-bookworm-slim AS node

# --- 3. the runtime ---------------------------------------------------------------------------
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    CI=true
# golang-go and gcc (go test -race needs cgo); Python 3 with pytest, coverage.py and bandit
# from Debian (bookworm's pip refuses system-wide installs, PEP 668); git for --affected.
# apt's package lists stay: image::debian resolves base images from them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates git gcc libc6-dev golang-go \
        python3 python3-pip python3-venv python3-pytest python3-coverage bandit
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version && npm --version && go version && python3 -m pytest --version \
    && python3 -m coverage --version && bandit --version
COPY --from=build /usr/local/bin/isect /usr/local/bin/isect
# Cloud Build mounts the checkout at /workspace.
WORKDIR /workspace
ENTRYPOINT ["isect"]
