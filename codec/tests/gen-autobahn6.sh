#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Regenerate autobahn6.h from the Autobahn|Testsuite case list
# (one "id | description ... Payload: 0x<hex> | EXPECT: ..." line per case).
set -e
cases=${1:-/work/shared/notes/autobahn-cases.txt}
{
	sed -n '1,/^} autobahn6_cases/p' "$(dirname "$0")/autobahn6.h"
	grep -E '^6\.[0-9]+\.[0-9]+ .*Payload: 0x' "$cases" |
	sed -E 's/^([0-9.]+) \|.*Payload: 0x([0-9a-f]+) \| EXPECT: (.*)$/\1 \2 \3/' |
	awk '{v = ($0 ~ /failed/) ? 0 : 1; printf "\t{ \"%s\", \"%s\", %d },\n", $1, $2, v}'
	echo "};"
} > "$(dirname "$0")/autobahn6.h.new"
mv "$(dirname "$0")/autobahn6.h.new" "$(dirname "$0")/autobahn6.h"
