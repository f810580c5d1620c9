#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// Echo server on Node ws (Debian 12 node-ws 8.11), a reference peer for wsconform.py.
// Echoes every message as received (text as text, binary as binary), without compression and
// with a 64 MiB message limit so Autobahn's 16 MiB cases can pass. Prints "listening on
// HOST:PORT" once ready (--port 0 picks a free port).
'use strict';

function loadWs() {
	// Debian installs node modules in /usr/share/nodejs, which a NodeSource node does not search.
	for (const name of ['ws', '/usr/share/nodejs/ws']) {
		try {
			return require(name);
		} catch (e) {
			if (e.code !== 'MODULE_NOT_FOUND')
				throw e;
		}
	}
	console.error('node_echo: the ws module is missing (apt-get install node-ws)');
	process.exit(2);
}

const WebSocket = loadWs();
const args = process.argv.slice(2);
let host = '127.0.0.1';
let port = 9001;
for (let i = 0; i < args.length; i++) {
	if (args[i] === '--host')
		host = args[++i];
	else if (args[i] === '--port')
		port = Number(args[++i]);
	else {
		console.error('usage: node_echo.js [--host H] [--port P]');
		process.exit(2);
	}
}

const server = new WebSocket.WebSocketServer({
	host, port, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024,
});
server.on('listening', () => {
	console.log(`listening on ${host}:${server.address().port}`);
});
server.on('connection', (ws) => {
	ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
	ws.on('error', () => {});	// protocol errors: ws already closed with the right code
});
for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => process.exit(0));
