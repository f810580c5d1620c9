#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# selftests/interop/run.sh: kws against other WebSocket implementations, in the VM
# (tools/vm/run [--kernel K] -- selftests/interop/run.sh) or on the host. Prints TAP.
#
#   kws server  vs  python3-websockets, Node ws and libwebsockets clients, headless Chromium
#                   (browser.py), and wsconform.py (the Autobahn-equivalent client, 301 cases)
#   kws client  vs  python3-websockets, Node ws and libwebsockets echo servers
#
# Every peer runs in both roles over IPv4 (127.0.0.1) and IPv6 (::1); TAP names of the IPv6
# runs say "ipv6" (kws.server.ipv6.node_client.text_0). wsconform runs over IPv4 only: it tests
# the parser, which does not depend on the address family.
#
# The kws side is a command, so any build of it can be tested:
#   KWS_SERVER_CMD  echo server; @ADDR@ is replaced by 127.0.0.1 or [::1], @PORT@ by a free port
#                   (default: tools/kwscat/kwscat --listen @ADDR@:@PORT@ --echo --kernel -q)
#   KWS_CLIENT_CMD  stdin -> messages -> stdout client, URL appended; --binary --chunk N
#                   switch to binary (default: tools/kwscat/kwscat --kernel -q)
# --kernel becomes --userspace (TAP names "kws-user") where the ws ULP is not registered.
# Without kwscat (not built yet) both fall back to reference peers (python3-websockets), so the
# harness itself is proven; the TAP names then say "reference" instead of "kws".
#
# Options: --conformance quick|full|none (default quick: category 9 at 1/16 size, or
#          $KWS_INTEROP_CONFORMANCE, so tools/vm/suite can shorten it),
#          --wsconform-args "ARGS" (default "--timeout 2"), --no-client, --no-server,
#          --no-browser (or $KWS_INTEROP_BROWSER=0), --families "4 6" (default both).
# Every wait is bounded; every socket is on loopback.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
. tests/conformance/peers.sh

conformance=${KWS_INTEROP_CONFORMANCE:-quick} wsconform_args="--timeout 2" do_server=1 do_client=1
do_browser=${KWS_INTEROP_BROWSER:-1} families="4 6"
while [ $# -gt 0 ]; do
	case "$1" in
	--conformance)		conformance=$2; shift 2 ;;
	--wsconform-args)	wsconform_args=$2; shift 2 ;;
	--no-client)		do_client=0; shift ;;
	--no-server)		do_server=0; shift ;;
	--no-browser)		do_browser=0; shift ;;
	--families)		families=$2; shift 2 ;;
	*)			echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
case "$conformance" in
quick|full|none) ;;
*)	echo "run.sh: --conformance quick|full|none" >&2; exit 2 ;;
esac

# The C peers (lws client and echo server): build or refresh them if a compiler is at hand.
if command -v cc >/dev/null && command -v make >/dev/null; then
	make -s -C selftests/interop >/dev/null 2>&1 || echo "# could not build selftests/interop/lws_client"
	make -s -C tests/conformance >/dev/null 2>&1 || echo "# could not build tests/conformance/servers/lws_echo"
fi

kwscat=
for c in tools/kwscat/kwscat tools/kwscat; do
	[ -f "$c" ] && [ -x "$c" ] && { kwscat=$c; break; }
done
# The kernel ULP when kws.ko is loaded (the VM), else kwscat's userspace codec (the host).
mode=--kernel label=kws
if ! grep -qw ws /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
	mode=--userspace label=kws-user
fi
server_label=$label client_label=$label
if [ -z "${KWS_SERVER_CMD:-}" ]; then
	if [ -n "$kwscat" ]; then
		KWS_SERVER_CMD="$kwscat --listen @ADDR@:@PORT@ --echo $mode -q"
	else
		KWS_SERVER_CMD="/usr/bin/python3 tests/conformance/servers/py_echo.py --host @HOST@ --port @PORT@"
		server_label=reference
	fi
fi
if [ -z "${KWS_CLIENT_CMD:-}" ]; then
	if [ -n "$kwscat" ]; then
		KWS_CLIENT_CMD="$kwscat $mode -q"
	else
		KWS_CLIENT_CMD="/usr/bin/python3 selftests/interop/stdio_client.py"
		client_label=reference
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kws-interop.XXXXXX")
server_pids=()
cleanup() {
	local p
	for p in "${server_pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	peer_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0 failed=0
tap() {	# tap OK|FAIL NAME [WHY]
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n $2"
	else
		failed=$((failed + 1))
		echo "not ok $n $2${3:+ # $3}"
	fi
}

# Run a TAP-printing program, renumber its lines into this script's plan, and fail the group
# (one extra line) if it exits non-zero without a failing line. A pipe into a loop that runs in
# this shell (lastpipe), not process substitution: the VM has no /dev/fd.
shopt -s lastpipe
tap_from() {	# tap_from NAME TIMEOUT CMD...
	local name=$1 limit=$2 line rc before=$failed began=$SECONDS
	shift 2
	timeout -k 5 "$limit" "$@" 2>&1 | while IFS= read -r line; do
		case "$line" in
		"ok "[0-9]*)		tap OK "${line#ok [0-9]* }" ;;
		"not ok "[0-9]*)	tap FAIL "${line#not ok [0-9]* }" ;;
		*)			echo "# $line" ;;
		esac
	done
	rc=${PIPESTATUS[0]}
	if [ "$rc" != 0 ] && [ "$failed" = "$before" ]; then
		tap FAIL "$name" "exit status $rc"
	fi
	echo "# $name: $((SECONDS - began)) s"
}

family_host() {	# 4 -> 127.0.0.1, 6 -> ::1
	if [ "$1" = 6 ]; then echo ::1; else echo 127.0.0.1; fi
}
family_url_host() {	# the host as it appears in a URL
	if [ "$1" = 6 ]; then echo '[::1]'; else echo 127.0.0.1; fi
}
family_tag() {	# the TAP name part
	if [ "$1" = 6 ]; then echo .ipv6; fi
}

wait_port() {	# wait_port HOST PORT: up to 20 s for a listener
	for _ in $(seq 1 200); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---- kws server vs clients ------------------------------------------------------------------
# One kws echo server per address family, all up at once: the browser visits every one of
# them in a single start (its start-up is most of its run time under TCG).
if [ "$do_server" = 1 ]; then
	declare -A server_url=() server_pid=()
	for fam in $families; do
		host=$(family_host "$fam") urlhost=$(family_url_host "$fam") tag=$(family_tag "$fam")
		port=$(free_port "$host")
		cmd=${KWS_SERVER_CMD//@ADDR@/$urlhost}
		cmd=${cmd//@HOST@/$host}
		cmd=${cmd//@PORT@/$port}
		echo "# server: $cmd"
		$cmd >"$tmp/server$fam.log" 2>&1 &
		server_pid[$fam]=$!
		server_pids+=($!)
		if wait_port "$host" "$port"; then
			server_url[$fam]="ws://$urlhost:$port/"
		else
			tap FAIL "$server_label.server$tag.listen" "$(tail -n 3 "$tmp/server$fam.log" | tr '\n' ' ')"
		fi
	done
	for fam in $families; do
		[ -n "${server_url[$fam]:-}" ] || continue
		url=${server_url[$fam]} name="$server_label.server$(family_tag "$fam")"
		tap_from "$name.python_client" 300 \
			/usr/bin/python3 selftests/interop/py_client.py "$url" "$name.python_client."
		if peer_available node; then
			tap_from "$name.node_client" 300 \
				node selftests/interop/node_client.js "$url" "$name.node_client."
		else
			echo "ok $((n += 1)) $name.node_client # SKIP node or node-ws missing"
		fi
		if [ -x selftests/interop/lws_client ]; then
			tap_from "$name.lws_client" 300 \
				selftests/interop/lws_client "$url" "$name.lws_client."
		else
			echo "ok $((n += 1)) $name.lws_client # SKIP selftests/interop/lws_client not built"
		fi
	done
	if [ "$do_browser" = 1 ]; then
		browser_args=()
		for fam in $families; do
			[ -n "${server_url[$fam]:-}" ] &&
				browser_args+=("${server_url[$fam]}" "$server_label.server$(family_tag "$fam").browser.")
		done
		# Chromium's start under TCG takes one to five minutes (browser.py's own limits: 420 s to
		# load the page, 780 s in all, from the moment Python runs: its own start can be slow).
		[ ${#browser_args[@]} -gt 0 ] &&
			tap_from "$server_label.server.browser" 840 /usr/bin/python3 selftests/interop/browser.py \
				"${browser_args[@]}"
	fi
	if [ "$conformance" != none ] && [ -n "${server_url[4]:-}" ]; then
		q=; [ "$conformance" = quick ] && q=--quick
		# shellcheck disable=SC2086 # wsconform_args is a word list on purpose
		tap_from "$server_label.server.wsconform" 3600 \
			python3 tests/conformance/wsconform.py "${server_url[4]}" --tap --agent "$server_label" \
			$q $wsconform_args --json "$tmp/wsconform.json"
	fi
	for fam in $families; do
		pid=${server_pid[$fam]} name="$server_label.server$(family_tag "$fam").survived"
		[ -n "${server_url[$fam]:-}" ] || continue
		if ! kill -0 "$pid" 2>/dev/null; then
			tap FAIL "$name" "the server exited: $(tail -n 3 "$tmp/server$fam.log" | tr '\n' ' ')"
		else
			tap OK "$name"
		fi
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	server_pids=()
fi

# ---- kws client vs servers ------------------------------------------------------------------
# Text: 300 lines (ASCII, multi-byte UTF-8, one of 100 KiB) must come back line for line.
# Binary: 3 MiB of random bytes in 64 KiB messages must come back byte for byte.
if [ "$do_client" = 1 ]; then
	/usr/bin/python3 - "$tmp/text.in" <<'PY'
import sys
lines = ["line %d %s" % (i, "κόσμε 😀" if i % 3 == 0 else "ascii") for i in range(299)]
lines.insert(150, "x" * 102400)
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
	head -c $((3 << 20)) /dev/urandom >"$tmp/bin.in"
	echo "# client: $KWS_CLIENT_CMD"
	for fam in $families; do
		host=$(family_host "$fam") urlhost=$(family_url_host "$fam")
		for kind in python node lws; do
			name="$client_label.client$(family_tag "$fam").${kind}_server"
			if ! peer_available "$kind"; then
				echo "ok $((n += 1)) $name # SKIP $kind echo server not available"
				continue
			fi
			if ! peer_start "$kind" "$tmp/$kind.log" "$host"; then
				tap FAIL "$name.start" "$(tail -n 3 "$tmp/$kind.log" | tr '\n' ' ')"
				continue
			fi
			url="ws://$urlhost:$PEER_PORT/" began=$SECONDS
			# shellcheck disable=SC2086 # the command is a word list on purpose
			if timeout -k 5 120 $KWS_CLIENT_CMD "$url" <"$tmp/text.in" >"$tmp/text.out" 2>"$tmp/err"; then
				if cmp -s "$tmp/text.in" "$tmp/text.out"; then
					tap OK "$name.text_echo"
				else
					tap FAIL "$name.text_echo" "output differs ($(wc -c <"$tmp/text.out") bytes)"
				fi
			else
				tap FAIL "$name.text_echo" "exit $?: $(tail -n 2 "$tmp/err" | tr '\n' ' ')"
			fi
			# shellcheck disable=SC2086
			if timeout -k 5 120 $KWS_CLIENT_CMD --binary --chunk 65536 "$url" \
					<"$tmp/bin.in" >"$tmp/bin.out" 2>"$tmp/err"; then
				if cmp -s "$tmp/bin.in" "$tmp/bin.out"; then
					tap OK "$name.binary_echo"
				else
					tap FAIL "$name.binary_echo" "output differs ($(wc -c <"$tmp/bin.out") bytes)"
				fi
			else
				tap FAIL "$name.binary_echo" "exit $?: $(tail -n 2 "$tmp/err" | tr '\n' ' ')"
			fi
			peer_stop
			echo "# $name: $((SECONDS - began)) s"
		done
	done
fi

echo "1..$n"
echo "# interop: $((n - failed)) passed, $failed failed (server: $server_label, client: $client_label)"
[ "$failed" = 0 ]
