#!/usr/bin/env bash
# run.sh BUILD_DIR SOURCE_DIR: installs the built shmq into a temporary prefix
# and uses it from outside the tree, as a user would:
#   1. the layout: bin/shmq, sbin/shmqd, the headers (not shmq/internal/),
#      libshmq.a, the CMake package and shmq.pc; the public headers include
#      only standard headers and compile alone (shmq.h as C99 too);
#   2. tests/install/consumer: find_package(shmq CONFIG REQUIRED) + shmq::shmq,
#      built with CMake and run against a queue;
#   3. tests/install/pkgconfig/main.c: `cc main.c $(pkg-config --cflags --libs
#      shmq)`, run against a queue.
# Compilers and sanitizers come from BUILD_DIR's cache, so a sanitized build
# is used with the same -fsanitize flags. Exit 0 passed, 1 failed (one line
# naming the step, then its log), 77 skipped (a tool is missing).
# The temporary directory and the test queues are removed on every exit.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: run.sh BUILD_DIR SOURCE_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
cmake_cmd=$(cache CMAKE_COMMAND)
cc=$(cache CMAKE_C_COMPILER)
cxx=$(cache CMAKE_CXX_COMPILER)
libdir=$(cache CMAKE_INSTALL_LIBDIR)
includedir=$(cache CMAKE_INSTALL_INCLUDEDIR)
sanitize=$(cache SHMQ_SANITIZE)
san_flags=""
# CMake's false constants (an old cache may hold SHMQ_SANITIZE=OFF) mean none.
case "${sanitize^^}" in ""|OFF|NO|FALSE|0|N|IGNORE|NOTFOUND|*-NOTFOUND) sanitize="" ;; esac
if [ -n "$sanitize" ]; then san_flags="-fsanitize=${sanitize//;/,} -fno-omit-frame-pointer"; fi

if ! command -v pkg-config >/dev/null; then
    echo "install test: SKIPPED: pkg-config is not installed (scripts/setup installs it)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmq-install.XXXXXX")
prefix=$tmp/prefix
queue_base="t-install-$$"
cleanup() {
    # A failed run may leave its queue behind; the installed tool removes it.
    for q in "$queue_base-cmake" "$queue_base-pc"; do
        "$prefix/bin/shmq" delete "$q" >/dev/null 2>&1 || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# step NAME COMMAND...: runs COMMAND with its output in a log; on failure one
# line naming the step, the log, and exit 1.
step() {
    local name=$1
    shift
    if ! "$@" >"$tmp/step.log" 2>&1; then
        echo "install test: FAILED: $name: $*"
        cat "$tmp/step.log"
        exit 1
    fi
}
expect() { [ -e "$1" ] || { echo "install test: FAILED: $1 was not installed"; exit 1; }; }

# 1. The layout.
step "cmake --install" "$cmake_cmd" --install "$build" --prefix "$prefix"
for f in bin/shmq sbin/shmqd "$includedir/shmq/shmq.hpp" "$includedir/shmq/shmq.h" "$libdir/libshmq.a" \
         "$libdir/cmake/shmq/shmqConfig.cmake" "$libdir/cmake/shmq/shmqConfigVersion.cmake" \
         "$libdir/cmake/shmq/shmqTargets.cmake" "$libdir/pkgconfig/shmq.pc"; do
    expect "$prefix/$f"
done
# The internal interface (shmq/internal/, shmqd's and the tool's) is not installed.
if [ -e "$prefix/$includedir/shmq/internal" ]; then
    echo "install test: FAILED: $prefix/$includedir/shmq/internal was installed"
    exit 1
fi
for h in "$prefix/$includedir"/shmq/*; do
    # Public headers include standard headers only: <name> or <name.h>, no path.
    if bad=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$h" | grep -vE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<[a-z_]+(\.h)?>'); then
        echo "install test: FAILED: $h includes a non-standard header: $bad"
        exit 1
    fi
done
echo '#include <shmq/shmq.hpp>' >"$tmp/hpp.cpp"
step "shmq.hpp compiles alone" "$cxx" -std=c++20 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/$includedir" "$tmp/hpp.cpp"
echo '#include <shmq/shmq.h>' >"$tmp/h.c"
step "shmq.h compiles as C99" "$cc" -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$prefix/$includedir" "$tmp/h.c"

# 2. find_package(shmq) from a CMake project.
step "configure the find_package consumer" "$cmake_cmd" -S "$src/tests/install/consumer" -B "$tmp/consumer" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$san_flags" -DCMAKE_EXE_LINKER_FLAGS="$san_flags"
found=$(sed -n 's/^shmq_DIR:[A-Z]*=//p' "$tmp/consumer/CMakeCache.txt")
if [ "$found" != "$prefix/$libdir/cmake/shmq" ]; then
    echo "install test: FAILED: find_package found shmq in '$found', not in $prefix"
    exit 1
fi
step "build the find_package consumer" "$cmake_cmd" --build "$tmp/consumer"
step "run the find_package consumer" "$tmp/consumer/consumer" "$queue_base-cmake"

# 3. pkg-config from C, linked by the C compiler (no C++ driver).
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pc_flags=$(pkg-config --cflags --libs shmq)
for want in -lshmq -lpthread -lrt -lstdc++; do
    case " $pc_flags " in *" $want "*) ;; *) echo "install test: FAILED: pkg-config --libs shmq lacks $want: $pc_flags"; exit 1 ;; esac
done
# shellcheck disable=SC2086  # the flags are words
step "build the pkg-config C user" "$cc" -std=c11 -Wall -Wextra -Werror -pedantic $san_flags \
    "$src/tests/install/pkgconfig/main.c" $pc_flags -o "$tmp/pc_user"
step "run the pkg-config C user" "$tmp/pc_user" "$queue_base-pc"

echo "install test: passed (prefix layout, find_package, pkg-config)"
