#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// Node ws (Debian node-ws 8.11) client against an echo server: prints TAP, exits 1 on failure.
// The same checks as py_client.py: echo at the length-encoding edges and 1 MiB, multi-byte
// UTF-8, 100 pipelined messages in order, ping/pong, and a clean 1000 close.
'use strict';

const crypto = require('crypto');

function loadWs() {
	for (const name of ['ws', '/usr/share/nodejs/ws']) {
		try {
			return require(name);
		} catch (e) {
			if (e.code !== 'MODULE_NOT_FOUND')
				throw e;
		}
	}
	console.error('node_client: the ws module is missing (apt-get install node-ws)');
	process.exit(2);
}

const WebSocket = loadWs();
const url = process.argv[2];
const prefix = process.argv[3] || 'node_client.';
const timeoutMs = 1000 * Number(process.env.INTEROP_TIMEOUT || 30);
let count = 0;
let failed = 0;

function tap(ok, name, why) {
	count++;
	if (!ok)
		failed++;
	console.log(`${ok ? 'ok' : 'not ok'} ${count} ${prefix}${name}${!ok && why ? ' # ' + why : ''}`);
}

if (!url) {
	console.error('usage: node_client.js ws://HOST:PORT/ [TAP-NAME-PREFIX]');
	process.exit(2);
}

const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024,
	handshakeTimeout: timeoutMs });
const queue = [];
let waiter = null;
ws.on('message', (data, isBinary) => {
	queue.push({ data, isBinary });
	if (waiter) {
		const w = waiter;
		waiter = null;
		w();
	}
});

function next() {
	return new Promise((resolve, reject) => {
		const take = () => resolve(queue.shift());
		if (queue.length)
			return take();
		const t = setTimeout(() => reject(new Error('timeout')), timeoutMs);
		waiter = () => { clearTimeout(t); take(); };
	});
}

async function echo(payload, binary) {
	ws.send(payload, { binary });
	const m = await next();
	const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
	return m.isBinary === binary && Buffer.compare(Buffer.from(m.data), want) === 0;
}

async function run() {
	await new Promise((resolve, reject) => {
		ws.once('open', resolve);
		ws.once('error', reject);
	});
	tap(true, 'handshake');
	for (const n of [0, 125, 126, 65535, 65536, 1 << 20]) {
		tap(await echo('*'.repeat(n), false), `text_${n}`);
		tap(await echo(crypto.randomBytes(n), true), `binary_${n}`);
	}
	tap(await echo('κόσμε \u{1f600} '.repeat(1000), false), 'text_utf8_multibyte');
	const sent = [];
	for (let i = 0; i < 100; i++) {
		sent.push(`message ${i}`);
		ws.send(sent[i]);
	}
	let inOrder = true;
	for (let i = 0; i < 100; i++) {
		const m = await next();
		if (m.isBinary || m.data.toString() !== sent[i])
			inOrder = false;
	}
	tap(inOrder, 'pipelined_100_in_order');
	const pong = new Promise((resolve) => ws.once('pong', (d) => resolve(d.toString())));
	ws.ping('interop ping');
	const timer = new Promise((resolve) => setTimeout(() => resolve(null), timeoutMs));
	tap(await Promise.race([pong, timer]) === 'interop ping', 'ping_pong');
	const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
	ws.close(1000);
	const code = await Promise.race([closed, timer]);
	tap(code === 1000, 'close_1000', `server sent ${code}`);
}

run().catch((e) => tap(false, 'session', String(e))).finally(() => {
	process.exit(failed || !count ? 1 : 0);
});
