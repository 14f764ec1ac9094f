#!/usr/bin/env bash
# Install the Debian 12 packages mef3pool needs to build and test.
# Runs apt-get as root (or through sudo); does nothing when all are there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libssl-dev libcjson-dev clang
      libclang-rt-14-dev python3
      libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
      protobuf-compiler-grpc python3-grpcio python3-protobuf python3-numpy
      python3-dev python3-setuptools python3-wheel python3-pip python3-venv
      python3-pytest python3-dask python3-distributed python3-xarray python3-pandas
      libmicrohttpd-dev zlib1g-dev openssl nginx-light chromium
      debhelper dh-python lintian fakeroot systemd)
# Node.js and npm drive the browser tests (playwright-core); a machine that
# has them from elsewhere (e.g. NodeSource) keeps its own.
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
