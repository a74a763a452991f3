#!/usr/bin/env bash
# Cross-builds the library and the C tests for AArch64 and runs the kernel tests under qemu-user
# (qemu's default cpu "max" has NEON and dotprod, so both NEON kernel levels are exercised, plus
# the scalar kernels with FFLAMA_CPU=scalar). Installs the cross toolchain and qemu when missing.
#   ci/cross-aarch64.sh [build-dir]      (default: build/aarch64)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/aarch64}
sysroot=/usr/aarch64-linux-gnu

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
if ((${#missing[@]})); then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

mkdir -p "$build"
cat >"$build/toolchain-aarch64.cmake" <<TOOLCHAIN
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH $sysroot)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;$sysroot)
TOOLCHAIN

cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$build/toolchain-aarch64.cmake" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j2

cd "$build"
ctest --output-on-failure -R '^test_(kernels|vecmath)$'
FFLAMA_CPU=scalar qemu-aarch64 -L "$sysroot" ./test_kernels
echo "aarch64 kernel and vecmath tests passed"
