#!/usr/bin/env bash
# Stand-in base images for deploy/smoke/run.sh on a machine that reaches Debian's package
# mirror but not Docker Hub (our development machines). Each is tagged with the official name
# the Dockerfile and docker-compose.yml use, so they run unchanged:
#
#   debian:bookworm-slim    debootstrap --variant=minbase, plus this host's extra CA certificates
#   rust:1.95-bookworm      that image plus this host's Rust toolchain (rustc --print sysroot)
#   postgres:15, redis:7    that image plus Debian's packages; entrypoints honour the env vars
#                           and the protected-mode default of the official images that we use
#   node:20-bookworm-slim   that image plus this host's node and npm
#
# They stand in for the official images only as far as docker-compose.yml uses them. Where Docker
# Hub is reachable, do not run this: compose pulls the real ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v debootstrap >/dev/null || apt-get install -y --no-install-recommends debootstrap
debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
# A TLS-intercepting egress proxy's CA, if this host trusts one, so cargo and npm can fetch.
mkdir -p "$work/rootfs/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$work/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
tar -C "$work/rootfs" -c . | docker import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null

cp -r "$here/offline/." "$work/"
cp -a "$(rustc --print sysroot)" "$work/rust/toolchain"
rm -rf "$work/rust/toolchain/share/doc"
cp "$(command -v node)" "$work/node/node"
cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$work/node/npm"

docker build --network host -t rust:1.95-bookworm "$work/rust"
docker build --network host -t postgres:15 "$work/postgres"
docker build --network host -t redis:7 "$work/redis"
docker build --network host -t node:20-bookworm-slim "$work/node"
echo "stand-in base images built"
