#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# selftests/stress/run.sh [--full] [kws-stress options]: the kws stress
# tests (Documentation/reliability.md) with TAP output, inside the VM:
#
#   tools/vm/run -- selftests/stress/run.sh
#   tools/vm/run --kernel debug --timeout 1200 -- selftests/stress/run.sh --full
#
# Default mode: 200 connections, 2000 attach/close rounds, 2 s per timed
# test (under ~90 s on TCG). --full: 1000, 10000, 20 s. Builds the program
# first when a compiler is there and it is missing or stale.
here=$(cd "$(dirname "$0")" && pwd)
if command -v "${CC:-gcc}" >/dev/null 2>&1; then
	make -s -C "$here" kws-stress >&2 || { echo "not ok 1 stress.build"; exit 1; }
fi
[ -x "$here/kws-stress" ] || { echo "not ok 1 stress.build # kws-stress missing"; exit 1; }
exec "$here/kws-stress" "$@"
