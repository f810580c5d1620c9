#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Host tests for kwscat and kwsctl that need no kernel module (make -C tools
# check): kwscat's userspace codec on both ends over loopback, option
# parsing, error messages and exit codes. TAP output.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
KWSCAT=$top/tools/kwscat/kwscat
KWSCTL=$top/tools/kwsctl/kwsctl
tmp=$(mktemp -d /tmp/kws-tools-host.XXXXXX)
pids=()
n=0 failed=0

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

pretty() { echo "# $*"; }
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; failed=$((failed + 1)); fi
}
check() { local name=$1; shift; "$@"; result $? "$name"; }

server() {
	local name=$1 in=$2 i
	shift 2
	PORT=
	"$KWSCAT" --listen 127.0.0.1:0 --userspace "$@" <"$in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	SPID=$!
	pids+=("$SPID")
	for i in $(seq 100); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.err")
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	return 1
}

mkfifo "$tmp/hold"
sleep 600 >"$tmp/hold" &
pids+=($!)
exec 9<"$tmp/hold"

server echo /dev/null --echo || { echo "not ok 1 echo server starts"; exit 1; }
ECHO=ws://127.0.0.1:$PORT/

t_text() {
	printf 'a\n\nwörld\nno newline' | "$KWSCAT" --userspace "$ECHO" >"$tmp/text.out" &&
	[ "$(cat "$tmp/text.out")" = "$(printf 'a\n\nwörld\nno newline')" ]
}
check userspace.text_echo t_text

t_long_line() {	# a line longer than --chunk goes out as fragments
	head -c 300000 /dev/zero | tr '\0' y >"$tmp/long.in"
	echo >>"$tmp/long.in"
	"$KWSCAT" --userspace --chunk 4096 "$ECHO" <"$tmp/long.in" >"$tmp/long.out" &&
	cmp -s "$tmp/long.in" "$tmp/long.out"
}
check userspace.long_line_fragmented t_long_line

t_binary() {
	head -c 3000000 /dev/urandom >"$tmp/bin.in"
	"$KWSCAT" --userspace -b -c 100000 "$ECHO" <"$tmp/bin.in" >"$tmp/bin.out" &&
	cmp -s "$tmp/bin.in" "$tmp/bin.out"
}
check userspace.binary_echo t_binary

t_concurrent() {
	local i bad=0 cp=()
	for i in $(seq 20); do
		seq "$i" 100 >"$tmp/c$i.in"
		"$KWSCAT" --userspace "$ECHO" <"$tmp/c$i.in" >"$tmp/c$i.out" &
		cp+=($!)
	done
	for i in $(seq 20); do
		wait "${cp[$((i - 1))]}" || bad=$((bad + 1))
		cmp -s "$tmp/c$i.in" "$tmp/c$i.out" || bad=$((bad + 1))
	done
	[ $bad = 0 ]
}
check userspace.echo_20_concurrent t_concurrent

t_many_small() {	# batched receive (default) and one per call agree
	seq 20000 >"$tmp/small.in"
	"$KWSCAT" --userspace -q -n 20000 "$ECHO" <"$tmp/small.in" >"$tmp/small.out" &&
	cmp -s "$tmp/small.in" "$tmp/small.out" &&
	"$KWSCAT" --userspace -q -B 1 -n 20000 "$ECHO" <"$tmp/small.in" >"$tmp/small1.out" &&
	cmp -s "$tmp/small.in" "$tmp/small1.out"
}
check userspace.many_small_batch t_many_small

t_python() {
	[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import websockets' 2>/dev/null ||
		{ pretty "python3-websockets missing"; return 0; }
	/usr/bin/python3 "$top/tools/tests/wsclient.py" "$ECHO" --pings 2 --big 100000 --quiet
}
check userspace.python_client t_python

t_stdio() {
	server c2s /dev/fd/9 --once || return 1
	printf 'one\ntwo\n' | "$KWSCAT" --userspace "ws://127.0.0.1:$PORT/" || return 1
	wait "$SPID" && [ "$(cat "$tmp/c2s.out")" = "$(printf 'one\ntwo')" ]
}
check userspace.stdio_server_once t_stdio

t_protocol() {
	server proto /dev/null --echo --protocol chat,superchat -v || return 1
	echo hi | "$KWSCAT" --userspace -v -n 1 -p superchat "ws://127.0.0.1:$PORT/" 2>"$tmp/proto.client" >/dev/null || { pretty "$(cat "$tmp/proto.client")"; return 1; }
	grep -q "subprotocol superchat" "$tmp/proto.client"
}
check userspace.subprotocol t_protocol

expect_fail() {
	local name=$1 code=$2 pattern=$3 rc
	shift 3
	"$@" <&9 >/dev/null 2>"$tmp/err"
	rc=$?
	pretty "$* -> exit $rc: $(head -n 1 "$tmp/err")"
	[ $rc = "$code" ] && grep -q -- "$pattern" "$tmp/err"
	result $? "$name"
}
expect_fail options.refused 3 "Connection refused" "$KWSCAT" ws://127.0.0.1:1/
expect_fail options.bad_url 2 "bad URL" "$KWSCAT" "ws://a b/"
expect_fail options.wss 2 "only ws://" "$KWSCAT" wss://x/
expect_fail options.no_target 2 "either a ws:// URL or --listen" "$KWSCAT"
expect_fail options.both_targets 2 "either a ws:// URL or --listen" "$KWSCAT" -l 1 ws://x/
expect_fail options.echo_needs_listen 2 "--echo needs --listen" "$KWSCAT" --echo ws://x/
expect_fail options.bad_chunk 2 "bad value" "$KWSCAT" -c 0 ws://x/
expect_fail options.bad_batch_0 2 "bad value" "$KWSCAT" -B 0 ws://x/
expect_fail options.bad_batch_65 2 "bad value" "$KWSCAT" --batch 65 ws://x/
expect_fail options.userspace_and_kernel 2 "exclude each other" "$KWSCAT" -u -k ws://x/
expect_fail options.unknown 2 "unrecognized option" "$KWSCAT" --frob ws://x/
expect_fail options.listen_in_use 3 "Address already in use" "$KWSCAT" --listen "127.0.0.1:$PORT" --echo
expect_fail kwsctl.unknown_command 2 "unknown command" "$KWSCTL" frob
expect_fail kwsctl.bad_size 2 "bad size" "$KWSCTL" set max-msg-size 1X
expect_fail kwsctl.set_usage 2 "usage:" "$KWSCTL" set
t_help() { "$KWSCAT" --help | grep -q "^usage:"; }
check options.help t_help

pretty "$n tests, $failed failed"
[ $failed = 0 ]
