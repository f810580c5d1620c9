# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Sourced by run-host.sh and selftests/interop/run.sh: start and stop the reference echo
# servers (python3-websockets, Node ws, libwebsockets), on loopback only.
#
#   peer_start KIND LOG [HOST]
#                          KIND: python | node | lws; HOST: 127.0.0.1 (default) or ::1;
#                          sets PEER_PID and PEER_PORT, returns 1 if the peer is not
#                          available or did not come up within 20 s
#   peer_stop              stops the peer started last (by its pid)

PEERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# A free TCP port on HOST (default 127.0.0.1), for servers that cannot report the one they got.
free_port() {
	/usr/bin/python3 -c 'import socket, sys
a = socket.getaddrinfo(sys.argv[1], 0, type=socket.SOCK_STREAM)[0]
s = socket.socket(a[0], a[1])
s.bind(a[4])
print(s.getsockname()[1])' "${1:-127.0.0.1}"
}

peer_available() {
	case "$1" in
	python)	/usr/bin/python3 -c 'import websockets' 2>/dev/null ;;
	node)	command -v node >/dev/null && { [ -d /usr/share/nodejs/ws ] || node -e 'require("ws")' 2>/dev/null; } ;;
	lws)	[ -x "$PEERS_DIR/servers/lws_echo" ] ;;
	*)	return 1 ;;
	esac
}

peer_start() {
	local kind=$1 log=$2 host=${3:-127.0.0.1}
	PEER_PID='' PEER_PORT=''
	peer_available "$kind" || return 1
	: >"$log"	# a stale log would announce an old port
	case "$kind" in
	python)	/usr/bin/python3 "$PEERS_DIR/servers/py_echo.py" --host "$host" --port 0 >"$log" 2>&1 & ;;
	node)	node "$PEERS_DIR/servers/node_echo.js" --host "$host" --port 0 >"$log" 2>&1 & ;;
	lws)	"$PEERS_DIR/servers/lws_echo" --host "$host" --port "$(free_port "$host")" >"$log" 2>&1 & ;;
	esac
	PEER_PID=$!
	for _ in $(seq 1 200); do
		PEER_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" 2>/dev/null | head -n 1)
		[ -n "$PEER_PORT" ] && return 0
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	peer_stop
	return 1
}

peer_stop() {
	if [ -n "${PEER_PID:-}" ]; then
		kill "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
	fi
	PEER_PID=
}
