#!/usr/bin/env bash
# Install the Debian 12 packages mef3pool needs to build and test.
# Runs apt-get as root (or through sudo); does nothing when all are there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libssl-dev libcjson-dev clang
      libclang-rt-14-dev python3
      libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
      protobuf-compiler-grpc python3-grpcio python3-protobuf python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
