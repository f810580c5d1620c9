#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Validate wsconform.py against real servers on the host: python3-websockets, Node ws and
# libwebsockets echo servers, each must come out with 0 FAILED. Prints TAP (one line per case
# and peer). Options are passed to wsconform.py (default --quick).
#
# Known and excluded: libwebsockets answers only the latest of several pings on purpose
# (its README.test-apps.md), so it fails Autobahn 2.10; that case is not run against lws.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/conformance/peers.sh
. "$here/peers.sh"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--quick)
logdir=${TMPDIR:-/tmp}/kws-conformance.$$
mkdir -p "$logdir"
rc=0
for kind in python node lws; do
	if ! peer_start "$kind" "$logdir/$kind.log"; then
		echo "not ok 1 wsconform.$kind # peer did not start: $(tail -n 3 "$logdir/$kind.log" 2>/dev/null | tr '\n' ' ')"
		rc=1
		continue
	fi
	extra=()
	[ "$kind" = lws ] && extra=(--exclude 2.10)
	echo "# wsconform against $kind echo server on port $PEER_PORT"
	python3 "$here/wsconform.py" "ws://127.0.0.1:$PEER_PORT/" --tap --agent "$kind" \
		--json "$logdir/$kind.json" "${extra[@]}" "${args[@]}" || rc=1
	peer_stop
done
rm -rf "$logdir"
exit $rc
