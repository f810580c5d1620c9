#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library's ABI: every function declared in include/kws.h is in
# libkws.map and exported from libkws.so with the version node, and nothing
# else is exported (the codec stays internal). TAP output.
set -u
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

grep -E '^[a-z].*[ *]kws_[a-z_]+\(' include/kws.h |
	sed -E 's/.*[ *](kws_[a-z_]+)\(.*/\1/' | sort >"$tmp/header"
sed -n 's/^[[:space:]]*\(kws_[a-z_]*\);/\1/p' libkws.map | sort >"$tmp/map"
nm -D --defined-only libkws.so | awk '$2 == "T" { print $3 }' |
	sed 's/@@KWS_0\.1$//' | sort >"$tmp/exported"

n=0 fail=0
check() {
	n=$((n + 1))
	if cmp -s "$tmp/$2" "$tmp/$3"; then
		echo "ok $n abi_$1"
	else
		echo "not ok $n abi_$1"
		diff "$tmp/$2" "$tmp/$3" | sed 's/^/# /'
		fail=1
	fi
}
check header_matches_version_script header map
check exports_match_version_script map exported
n=$((n + 1))
if readelf -d libkws.so | grep -q 'SONAME.*\[libkws\.so\.0\]'; then
	echo "ok $n abi_soname_libkws.so.0"
else
	echo "not ok $n abi_soname_libkws.so.0"; fail=1
fi
echo "1..$n"
exit $fail
