#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# kwscat and kwsctl against the kernel ULP, inside the VM (tools/vm/suite
# runs it with kws.ko loaded, as root, in the repository). TAP output.
#
#   kwscat / wsclient.py / setpriv'd kwsctl        kwscat --listen
#   (client, kernel or userspace codec)  ------>   127.0.0.1:<port 0>
#                         loopback                 (--echo, or stdio)
#
# Every server listens on port 0 and the port is read from its
# "listening on" line, so no probe connection disturbs --once servers.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
KWSCAT=$top/tools/kwscat/kwscat
KWSCTL=$top/tools/kwsctl/kwsctl
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/kws-tools-test.XXXXXX)
pids=()
n=0 failed=0

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	"$KWSCTL" set max-msg-size 16M 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# Commentary goes to the original stdout even inside redirected commands.
exec 3>&1
pretty() { echo "# $*" >&3; }
# run CMD...: echo it, then run it.
run() { pretty "\$ $*"; "$@"; }

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}
# check NAME CMD...: one test, passed when CMD exits 0. With an argument,
# run.sh runs only the tests whose names contain it.
only=${1:-}
check() {
	local name=$1
	shift
	case "$name" in *"$only"*) ;; *) return 0 ;; esac
	local t0=$SECONDS
	SKIP=
	"$@"
	result $? "$name${SKIP:+ # SKIP $SKIP}"
	pretty "($((SECONDS - t0)) s)"
}

# server NAME STDIN ARGS...: start kwscat --listen 127.0.0.1:0 ARGS with
# STDIN; sets PORT and SPID. Its stdout and stderr are $tmp/NAME.{out,err}.
server() {
	local name=$1 in=$2 i
	shift 2
	PORT=
	"$KWSCAT" --listen 127.0.0.1:0 "$@" <"$in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	SPID=$!
	pids+=("$SPID")
	for i in $(seq 100); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.err")
		[ -n "$PORT" ] && return 0
		sleep 0.1
	done
	pretty "server $name did not start: $(cat "$tmp/$name.err")"
	return 1
}

# Python starts slowly under TCG: read counters with awk.
# Clients: a hang is a failure, not the end of the suite.
kc() { timeout 120 "$KWSCAT" "$@"; }

stat_of() { "$KWSCTL" stats | awk -v k="$1" '$1 == k { print $2 }'; }

# A fifo held open keeps a stdio server's stdin from reaching EOF.
mkfifo "$tmp/hold"
sleep 600 >"$tmp/hold" &
pids+=($!)
exec 9<"$tmp/hold"

# ---- kwsctl ----

# Test that stats lists every counter, in text and JSON.
t_stats() {
	run "$KWSCTL" stats | tee "$tmp/stats" | sed 's/^/#   /'
	[ "$(grep -c . "$tmp/stats")" -eq 11 ] &&
	"$KWSCTL" --json stats | $PY -c '
import json, sys
d = json.load(sys.stdin)
need = {"conn_attached", "conn_active", "rx_messages", "rx_bytes", "tx_messages",
        "tx_bytes", "pings_answered", "err_protocol", "err_invalid_data",
        "err_too_big", "err_keepalive"}
sys.exit(0 if need <= set(d) else 1)'
}
check kwsctl.stats t_stats

# Test that show prints the default limit (16 MiB unless changed).
t_show() {
	run "$KWSCTL" show | tee "$tmp/show" | sed 's/^/#   /'
	grep -qE '^max-msg-size +16777216$' "$tmp/show" &&
	[ "$("$KWSCTL" --json show)" = '{"max_msg_size":16777216}' ]
}
check kwsctl.show t_show

# Test that root can set the default and reads it back.
t_set_root() {
	run "$KWSCTL" set max-msg-size 64K &&
	[ "$("$KWSCTL" --json show)" = '{"max_msg_size":65536}' ] &&
	run "$KWSCTL" set max-msg-size unlimited &&
	"$KWSCTL" show | grep -qE '^max-msg-size +unlimited$' &&
	run "$KWSCTL" set max-msg-size 16M
}
check kwsctl.set_root t_set_root

# Test that an unprivileged user cannot (GENL_ADMIN_PERM: EPERM).
t_set_eperm() {
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$KWSCTL" set max-msg-size 1K 2>"$tmp/eperm.err"
	local rc=$?
	sed 's/^/#   /' "$tmp/eperm.err"
	[ $rc = 1 ] && grep -q "Operation not permitted" "$tmp/eperm.err" &&
	"$KWSCTL" show | grep -qE '^max-msg-size +16777216$'
}
check kwsctl.set_unprivileged_eperm t_set_eperm

# Test that the kernel's extack message is printed for a value it refuses.
t_set_extack() {
	run "$KWSCTL" set max-msg-size 0 2>"$tmp/extack.err"
	local rc=$?
	sed 's/^/#   /' "$tmp/extack.err"
	[ $rc = 1 ] && grep -q "out of range" "$tmp/extack.err"
}
check kwsctl.set_extack_message t_set_extack

# Test that usage errors exit 2 without touching the kernel.
t_usage() {
	"$KWSCTL" set max-msg-size 12Q 2>/dev/null
	[ $? = 2 ] || return 1
	"$KWSCTL" frobnicate 2>/dev/null
	[ $? = 2 ]
}
check kwsctl.usage_errors t_usage

# ---- kwscat on the kernel ULP ----

server echo /dev/null --echo --kernel -v || exit 1
ECHO=ws://127.0.0.1:$PORT/echo
pretty "echo server on $ECHO"

# The server's kernel answers a close as soon as it parses it, so echoes of
# messages just before our close may be dropped (RFC 6455 5.5.1 allows it):
# clients wait for their echoes with -n before closing.

# Test that text lines come back as lines, over the kernel on both sides.
t_text() {
	printf 'hello\n\nwörld ✓\nlast line without newline' >"$tmp/text.in"
	printf 'hello\n\nwörld ✓\nlast line without newline\n' >"$tmp/text.want"
	run kc --kernel -v -n 4 "$ECHO" <"$tmp/text.in" >"$tmp/text.out" 2>"$tmp/text.err"
	local rc=$?
	sed 's/^/#   /' "$tmp/text.err"
	[ $rc = 0 ] && cmp -s "$tmp/text.want" "$tmp/text.out" &&
	grep -q "kernel codec" "$tmp/text.err"
}
check kwscat.text_kernel t_text

# Test that a binary stream comes back byte for byte.
t_binary() {
	head -c 1000000 /dev/urandom >"$tmp/bin.in"
	run kc --kernel --binary --chunk 4096 -n 245 "$ECHO" <"$tmp/bin.in" >"$tmp/bin.out" &&
	cmp "$tmp/bin.in" "$tmp/bin.out"
}
check kwscat.binary_kernel t_binary

# Test that a transfer larger than the socket buffers does not deadlock.
t_large() {
	head -c 8000000 /dev/urandom >"$tmp/large.in"
	run timeout 300 "$KWSCAT" --kernel --binary --chunk 1M -n 8 "$ECHO" <"$tmp/large.in" >"$tmp/large.out" &&
	cmp "$tmp/large.in" "$tmp/large.out"
}
check kwscat.large_transfer_kernel t_large

# Test that the userspace codec talks to the kernel one.
t_userspace() {
	seq 1 1000 >"$tmp/us.in"
	run kc --userspace -v -n 1000 "$ECHO" <"$tmp/us.in" >"$tmp/us.out" 2>"$tmp/us.err" &&
	cmp "$tmp/us.in" "$tmp/us.out" && grep -q "userspace codec" "$tmp/us.err"
}
check kwscat.userspace_client_kernel_server t_userspace

# Test that many small messages come back in order with batched receive
# (WS_RECV_BATCH, kwscat's default) on both sides, and with one per call.
t_many_small() {
	seq 1 20000 >"$tmp/small.in"
	run kc --kernel -q -n 20000 "$ECHO" <"$tmp/small.in" >"$tmp/small.out" &&
	cmp "$tmp/small.in" "$tmp/small.out" &&
	run kc --kernel -q -B 1 -n 20000 "$ECHO" <"$tmp/small.in" >"$tmp/small1.out" &&
	cmp "$tmp/small.in" "$tmp/small1.out"
}
check kwscat.many_small_batch_kernel t_many_small

# Test that the echo server serves 50 clients at once.
t_concurrent() {
	local i bad=0 cp=()
	pretty "50 clients at once"
	# 50 handshakes queue at one single-threaded server: on the debug
	# kernel (KASAN, lockdep) that takes longer than the 10 s default.
	for i in $(seq 50); do
		printf 'client %d line 1\nclient %d line 2\n' $i $i >"$tmp/c$i.in"
		kc --kernel -n 2 -t 60000 "$ECHO" <"$tmp/c$i.in" >"$tmp/c$i.out" 2>"$tmp/c$i.err" &
		cp+=($!)
	done
	for i in $(seq 50); do
		wait "${cp[$((i - 1))]}" && cmp -s "$tmp/c$i.in" "$tmp/c$i.out" && continue
		bad=$((bad + 1))
		[ $bad -le 3 ] || continue
		pretty "client $i: $(cat "$tmp/c$i.err"), got: $(head -c 200 "$tmp/c$i.out" | tr '\n' '|')"
	done
	pretty "$bad failures"
	[ $bad = 0 ]
}
check kwscat.echo_50_concurrent t_concurrent

# Test that an independent client (python-websockets) is echoed and that
# its pings are answered by the kernel.
t_python() {
	local before after
	before=$(stat_of pings_answered)
	run timeout 300 $PY tools/tests/wsclient.py "$ECHO" --pings 3 --big 300000 | sed 's/^/#   /'
	[ "${PIPESTATUS[0]}" = 0 ] || return 1
	after=$(stat_of pings_answered)
	pretty "pings_answered $before -> $after"
	[ $((after - before)) -ge 3 ]
}
check kwscat.python_client_pings t_python

# Test that --ping-interval arms the kernel keepalive: the echo server's
# kernel answers the client kernel's pings during an idle second.
t_keepalive() {
	local before after i
	before=$(stat_of pings_answered)
	: >"$tmp/ka.out"
	# The idle time counts from the echo of "start": on the debug kernel
	# kwscat can take longer than the idle time to start and connect.
	(echo start
	 for i in $(seq 300); do
		grep -q start "$tmp/ka.out" && break
		sleep 0.1
	 done
	 sleep 2; echo end) |
		run kc --kernel --ping-interval 200 -n 2 "$ECHO" >"$tmp/ka.out" || return 1
	after=$(stat_of pings_answered)
	pretty "pings_answered $before -> $after"
	[ "$(cat "$tmp/ka.out")" = "$(printf 'start\nend')" ] && [ $((after - before)) -ge 2 ]
}
check kwscat.ping_interval_keepalive t_keepalive

# Test that the per-netns default limit applies to new connections: with
# 1 KiB, a 2 KiB line makes the server's kernel fail with 1009.
t_default_limit() {
	local rc
	run "$KWSCTL" set max-msg-size 1K || return 1
	server limit /dev/null --echo --kernel || return 1
	head -c 2048 /dev/zero | tr '\0' x | run kc --kernel "ws://127.0.0.1:$PORT/" \
		>/dev/null 2>"$tmp/limit.err"
	rc=$?
	"$KWSCTL" set max-msg-size 16M
	kill "$SPID"
	sed 's/^/#   /' "$tmp/limit.err"
	[ $rc = 5 ] && grep -q "1009" "$tmp/limit.err"
}
check kwsctl.default_max_msg_applies t_default_limit

# Test that a stdio server writes what a client sends, and exits (--once)
# when the client closes.
t_stdio_c2s() {
	server c2s /dev/fd/9 --once --kernel || return 1
	printf 'one\ntwo\n' | run kc --kernel "ws://127.0.0.1:$PORT/" || return 1
	wait "$SPID" && [ "$(cat "$tmp/c2s.out")" = "$(printf 'one\ntwo')" ]
}
check kwscat.stdio_client_to_server t_stdio_c2s

# Test the other way: the server sends its stdin and closes at EOF.
t_stdio_s2c() {
	printf 'three\nfour\n' >"$tmp/s2c.in"
	server s2c "$tmp/s2c.in" --once --kernel || return 1
	run kc --kernel "ws://127.0.0.1:$PORT/" <&9 >"$tmp/s2c.client" || return 1
	wait "$SPID" && [ "$(cat "$tmp/s2c.client")" = "$(printf 'three\nfour')" ]
}
check kwscat.stdio_server_to_client t_stdio_s2c

# Test that ss -tie shows the ws ULP of an open connection (get_info).
# Needs inet_diag; without it ss falls back to /proc/net/tcp, which has no
# ULP, and the test is skipped.
t_ss() {
	local cpid found=1 i
	modprobe -q tcp_diag 2>/dev/null
	"$KWSCAT" --kernel "$ECHO" <&9 >/dev/null &
	cpid=$!
	for i in $(seq 50); do
		ss -tie >"$tmp/ss.out" 2>/dev/null
		grep -q "tcp-ulp-ws" "$tmp/ss.out" && { found=0; break; }
		sleep 0.1
	done
	kill "$cpid"
	wait "$cpid" 2>/dev/null
	if [ $found = 0 ]; then
		grep -o "tcp-ulp-ws.*" "$tmp/ss.out" | head -n 1 | sed 's/^/#   /'
	elif ! grep -q "rtt:" "$tmp/ss.out"; then
		SKIP="no inet_diag (tcp_diag): ss fell back to /proc/net/tcp"
		return 0
	else
		sed 's/^/#   /' "$tmp/ss.out"
	fi
	return $found
}
check ss.shows_ulp t_ss

# ---- /proc/net/kws_stat ----

# Test that /proc/net/kws_stat has every counter and matches kwsctl.
t_proc() {
	run cat /proc/net/kws_stat | sed 's/^/#   /'
	[ "$(grep -cE '^Kws[A-Za-z]+[[:space:]]+[0-9]+$' /proc/net/kws_stat)" -eq 11 ] &&
	[ "$(awk '$1 == "KwsConnAttached" { print $2 }' /proc/net/kws_stat)" = "$(stat_of conn_attached)" ] &&
	[ "$(stat_of conn_attached)" -gt 50 ]
}
check proc.kws_stat t_proc

# ---- kwscat errors: one line, distinct exit codes ----

# expect_fail NAME CODE PATTERN CMD...: CMD exits CODE with PATTERN on stderr.
expect_fail() {
	local name=$1 code=$2 pattern=$3 rc
	shift 3
	case "$name" in *"$only"*) ;; *) return 0 ;; esac
	"$@" <&9 >/dev/null 2>"$tmp/err"
	rc=$?
	pretty "\$ $* -> exit $rc: $(cat "$tmp/err")"
	[ $rc = "$code" ] && grep -q "$pattern" "$tmp/err" && [ "$(wc -l <"$tmp/err")" -eq 1 ]
	result $? "$name"
}

expect_fail kwscat.err_refused 3 "Connection refused" "$KWSCAT" ws://127.0.0.1:1/
expect_fail kwscat.err_bad_url 2 "bad URL" "$KWSCAT" "ws://exa mple/"
expect_fail kwscat.err_wss 2 "only ws://" "$KWSCAT" wss://127.0.0.1/
expect_fail kwscat.err_usage 2 "either a ws:// URL or --listen" "$KWSCAT"

# A raw HTTP server that refuses the upgrade with 403.
$PY - <<'EOF' >"$tmp/http.port" &
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.recv(4096)
c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
c.close()
EOF
pids+=($!)
for i in $(seq 50); do [ -s "$tmp/http.port" ] && break; sleep 0.1; done
expect_fail kwscat.err_handshake_refused 4 "HTTP 403 Forbidden" "$KWSCAT" "ws://127.0.0.1:$(cat "$tmp/http.port")/"

# A python-websockets server that closes with 1008.
$PY - <<'EOF' >"$tmp/close.port" &
import asyncio, websockets
async def handler(ws, path=None):
    await ws.close(1008, "go away")
async def main():
    async with websockets.serve(handler, "127.0.0.1", 0) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
EOF
pids+=($!)
for i in $(seq 100); do [ -s "$tmp/close.port" ] && break; sleep 0.1; done
expect_fail kwscat.err_close_code 5 "closed by peer: 1008 (policy violation): go away" \
	"$KWSCAT" --kernel "ws://127.0.0.1:$(cat "$tmp/close.port")/"

# ---- accounting ----

# Test that every connection the tests opened is gone.
t_accounting() {
	local i active
	for i in $(seq 50); do
		active=$(stat_of conn_active)
		[ "$active" = 0 ] && break
		sleep 0.1
	done
	pretty "conn_attached $(stat_of conn_attached), conn_active $active"
	[ "$active" = 0 ]
}
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
check accounting.no_active_connections t_accounting

pretty "$n tests, $failed failed"
[ $failed = 0 ]
