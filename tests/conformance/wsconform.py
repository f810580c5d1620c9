#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Autobahn-equivalent WebSocket server conformance client (Python 3 standard library only).

Runs the 301 non-compression cases of Autobahn|Testsuite (categories 1-7, 9 and 10) against a
ws:// echo server, one TCP connection per case, and judges each case the way Autobahn's fuzzing
client does: the list of observed events (messages, pongs, timeouts) must equal the expected list
for OK or NON-STRICT, and the close behaviour (who closed, whether the close handshake completed
and the server dropped TCP, which close code it sent) must match the case's expectation.

Why not the real wstest: it is Python 2 only and frozen, and PyPI/Docker are unreachable here.
Case numbers, descriptions and expectations come from cases.txt (taken from Autobahn).

Verdicts: OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED. A case is FAILED when its events
match no expected outcome, or when its close behaviour is FAILED, UNCLEAN or WRONG CODE (the
strict reading: a server that fails a connection must do so with the expected close code).
"""

import argparse
import base64
import fnmatch
import hashlib
import heapq
import json
import os
import re
import select
import socket
import struct
import sys
import time
from urllib.parse import urlsplit

OK = "OK"
NON_STRICT = "NON-STRICT"
FAILED = "FAILED"
INFORMATIONAL = "INFORMATIONAL"
UNIMPLEMENTED = "UNIMPLEMENTED"
UNCLEAN = "UNCLEAN"
WRONG_CODE = "WRONG CODE"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_PAYLOAD = 1007

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RECV_CHUNK = 256 * 1024

# State of the WebSocket connection, as in Autobahn's WebSocketProtocol.
CONNECTING, OPEN, CLOSING, CLOSED = "CONNECTING", "OPEN", "CLOSING", "CLOSED"


def valid_close_code(code):
    """RFC 6455 7.4: codes a peer may put on the wire (1004-1006, 1015, 0-999, 5000+ may not)."""
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


def mask_payload(key, data):
    """XOR data with the 4-byte key; word-wide through Python ints so 16 MiB stays fast."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def repeat_to(payload, length):
    """Autobahn's payload_len: the payload repeated and cut to length."""
    if length is None:
        return payload
    if not payload:
        return b"\x00" * length
    return (payload * (length // len(payload) + 1))[:length]


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, declared_len=None):
    """One client frame. declared_len lets a case announce more payload than it builds here."""
    length = len(payload) if declared_len is None else declared_len
    head = bytearray()
    head.append((0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F))
    mbit = 0x80 if mask else 0
    if length <= 125:
        head.append(mbit | length)
    elif length <= 0xFFFF:
        head.append(mbit | 126)
        head += struct.pack("!H", length)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", length)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + mask_payload(key, payload)


class Connection:
    """One client connection, run by a small select() loop with timers (single-threaded)."""

    def __init__(self, runner, case):
        self.r = runner
        self.case = case
        self.sock = None
        self.state = CONNECTING
        self.out = []  # list of [bytearray, coalesce]: each entry goes out in its own send() calls
        self.timers = []
        self.timer_seq = 0
        self.inbuf = bytearray()
        self.closed_by_me = False
        self.failed_by_me = False
        self.dropped_by_me = False
        self.was_clean = False
        self.not_clean_reason = None
        self.local_close_code = None
        self.remote_close_code = None
        self.remote_close_reason = None
        self.drop_timer = None
        self.close_hs_timer = None
        self.rx_ignore = False  # after our own protocol failure, only a close frame matters
        self.frag_opcode = None
        self.frag_data = bytearray()
        self.http_response = ""
        self.wirelog = []
        self.tx_frames = 0
        self.rx_bytes = 0
        self.next_send = 0.0

    # ---- timers -------------------------------------------------------------------------------

    def later(self, delay, fn):
        self.timer_seq += 1
        entry = [time.monotonic() + delay, self.timer_seq, fn, True]
        heapq.heappush(self.timers, entry)
        return entry

    @staticmethod
    def cancel(entry):
        if entry is not None:
            entry[3] = False

    def continue_later(self, delay, fn):
        """Autobahn's continueLater: runs fn only while the connection is not closed."""
        def run():
            if self.state != CLOSED:
                fn()
        self.later(delay * self.r.unit, run)

    def kill_after(self, delay):
        """Autobahn's killAfter: fail the connection (close 1001) if it is still up by then."""
        def run():
            if self.state != CLOSED:
                self.log("kill-after fired")
                self.fail_connection(CLOSE_GOING_AWAY, b"Going Away")
        self.later(delay * self.r.unit, run)

    def close_after(self, delay):
        """Autobahn's closeAfter: start a close handshake (empty close) if still up by then."""
        def run():
            if self.state != CLOSED:
                self.log("close-after fired")
                self.send_close()
        self.later(delay * self.r.unit, run)

    def log(self, what):
        if len(self.wirelog) < 200:
            self.wirelog.append("%.3f %s" % (time.monotonic() - self.case.t0, what))

    # ---- opening handshake ----------------------------------------------------------------------

    def connect(self):
        r = self.r
        deadline = time.monotonic() + 5 * r.unit
        try:
            self.sock = socket.create_connection((r.host, r.port), timeout=5 * r.unit)
        except OSError as e:
            raise HandshakeError("connect to %s:%d failed: %s" % (r.host, r.port, e))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16))
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "User-Agent: kws-wsconform/1\r\n\r\n" % (r.resource, r.hostport, key.decode()))
        try:
            self.sock.sendall(req.encode())
            buf = bytearray()
            while b"\r\n\r\n" not in buf:
                if len(buf) > 16384:
                    raise HandshakeError("HTTP response header too long")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HandshakeError("opening handshake timeout")
                self.sock.settimeout(left)
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise HandshakeError("server closed during opening handshake")
                buf += chunk
        except socket.timeout:
            raise HandshakeError("opening handshake timeout")
        except OSError as e:
            raise HandshakeError("opening handshake: %s" % e)
        end = buf.index(b"\r\n\r\n") + 4
        head = bytes(buf[:end]).decode("latin-1")
        self.http_response = head
        self.inbuf = buf[end:]
        lines = head.split("\r\n")
        if not re.match(r"HTTP/1\.1 101\b", lines[0]):
            raise HandshakeError("expected 101, got %r" % lines[0])
        hdrs = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        if hdrs.get("sec-websocket-accept") != [accept]:
            raise HandshakeError("bad Sec-WebSocket-Accept %r" % hdrs.get("sec-websocket-accept"))
        if "websocket" not in ",".join(hdrs.get("upgrade", [])).lower():
            raise HandshakeError("missing Upgrade: websocket")
        if "upgrade" not in ",".join(hdrs.get("connection", [])).lower():
            raise HandshakeError("missing Connection: Upgrade")
        if hdrs.get("sec-websocket-extensions"):
            raise HandshakeError("server accepted an extension we did not offer")
        self.sock.setblocking(False)
        self.state = OPEN

    # ---- sending --------------------------------------------------------------------------------

    def queue(self, data, separate):
        """separate=True: data leaves in its own send() calls (a chop or a sync'ed frame)."""
        if not data:
            return
        if not separate and self.out and self.out[-1][1]:
            self.out[-1][0] += data
        else:
            self.out.append([bytearray(data), not separate])

    def send_raw(self, data, chopsize=None, sync=False):
        if self.state == CLOSED:
            return
        if chopsize:
            for i in range(0, len(data), chopsize):
                self.queue(data[i:i + chopsize], True)
        else:
            self.queue(data, sync)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, payload_len=None, chopsize=None,
                   sync=False):
        """Autobahn's sendFrame: a raw frame, no state change (used to send broken frames too)."""
        payload = repeat_to(payload, payload_len)
        self.tx_frames += 1
        self.log("TF op=%d fin=%d rsv=%d len=%d chop=%s sync=%s" %
                 (opcode, fin, rsv, len(payload), chopsize, sync))
        self.send_raw(build_frame(opcode, payload, fin, rsv), chopsize, sync)

    def send_message(self, payload, binary=False, frag_size=None, chopsize=None, sync=False):
        op = OP_BINARY if binary else OP_TEXT
        if not frag_size or frag_size >= len(payload):
            self.send_frame(op, payload, chopsize=chopsize, sync=sync)
            return
        for pos in range(0, len(payload), frag_size):
            part = payload[pos:pos + frag_size]
            self.send_frame(OP_CONT if pos else op, part, fin=pos + frag_size >= len(payload),
                            chopsize=chopsize, sync=sync)

    def send_close_frame(self, code=None, reason=None, is_reply=False):
        """Autobahn's sendCloseFrame: any payload (even invalid), moves to CLOSING."""
        if self.state != OPEN:
            return
        payload = b""
        if code is not None:
            payload += struct.pack("!H", code)
        if reason is not None:
            payload += reason
        self.log("TX close code=%s reply=%s" % (code, is_reply))
        self.send_raw(build_frame(OP_CLOSE, payload))
        self.state = CLOSING
        self.closed_by_me = not is_reply
        self.local_close_code = code
        if self.closed_by_me:
            # The peer must answer our close within closeHandshakeTimeout.
            self.close_hs_timer = self.later(self.r.unit, self.on_close_handshake_timeout)
        else:
            # We replied: the server must now drop TCP (RFC 6455 7.1.1), else we do it, uncleanly.
            self.drop_timer = self.later(self.r.unit, self.on_server_drop_timeout)

    def send_close(self, code=None, reason=None):
        self.send_close_frame(code, reason)

    def fail_connection(self, code, reason):
        if self.state == CLOSED:
            return
        self.failed_by_me = True
        self.rx_ignore = True
        if self.state == OPEN:
            self.send_close_frame(code, reason)

    def on_close_handshake_timeout(self):
        if self.state != CLOSED:
            self.log("close handshake timeout")
            self.was_clean = False
            self.not_clean_reason = "peer did not respond (in time) in closing handshake"
            self.drop()

    def on_server_drop_timeout(self):
        if self.state != CLOSED:
            self.log("server did not drop TCP")
            self.was_clean = False
            self.not_clean_reason = "server did not drop TCP connection (in time)"
            self.drop()

    def drop(self):
        if self.state == CLOSED:
            return
        self.dropped_by_me = True
        self.connection_lost("dropped by me")

    def connection_lost(self, why):
        if self.state == CLOSED:
            return
        self.log("connection lost: %s" % why)
        if not self.was_clean and not self.dropped_by_me and self.not_clean_reason is None:
            self.not_clean_reason = "peer dropped the TCP connection without previous closing handshake"
        self.state = CLOSED
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- receiving ------------------------------------------------------------------------------

    def protocol_violation(self, why):
        self.log("protocol violation by server: %s" % why)
        self.case.server_error = why
        self.fail_connection(CLOSE_PROTOCOL_ERROR, why.encode()[:100])

    def parse(self):
        """Consume whole frames from inbuf. Server frames must be unmasked (RFC 6455 5.1)."""
        buf = self.inbuf
        pos = 0
        while self.state != CLOSED:
            if len(buf) - pos < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            hl = 2
            length = b1 & 0x7F
            if length == 126:
                if len(buf) - pos < 4:
                    break
                length = struct.unpack_from("!H", buf, pos + 2)[0]
                hl = 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                length = struct.unpack_from("!Q", buf, pos + 2)[0]
                hl = 10
            masked = b1 & 0x80
            if masked:
                hl += 4
            if len(buf) - pos < hl + length:
                break
            payload = bytes(buf[pos + hl:pos + hl + length])
            if masked:
                payload = mask_payload(bytes(buf[pos + hl - 4:pos + hl]), payload)
            pos += hl + length
            self.on_frame(b0 >> 7, (b0 >> 4) & 7, b0 & 0x0F, bool(masked), payload)
        if pos:
            del buf[:pos]

    def on_frame(self, fin, rsv, opcode, masked, payload):
        self.log("RF op=%d fin=%d rsv=%d len=%d" % (opcode, fin, rsv, len(payload)))
        if self.remote_close_code is not None or (self.rx_ignore and opcode != OP_CLOSE):
            return  # nothing after a close frame counts (RFC 6455 1.4)
        if rsv:
            return self.protocol_violation("RSV bits set without extension")
        if masked:
            return self.protocol_violation("masked frame from server")
        if opcode >= 8:
            if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                return self.protocol_violation("reserved control opcode %d" % opcode)
            if not fin or len(payload) > 125:
                return self.protocol_violation("bad control frame")
            if opcode == OP_PING:
                if self.state == OPEN:
                    self.send_raw(build_frame(OP_PONG, payload))
                return None
            if opcode == OP_PONG:
                return self.case.on_pong(payload)
            return self.on_close_frame(payload)
        if opcode not in (OP_CONT, OP_TEXT, OP_BINARY):
            return self.protocol_violation("reserved data opcode %d" % opcode)
        if opcode == OP_CONT:
            if self.frag_opcode is None:
                return self.protocol_violation("continuation with nothing to continue")
        else:
            if self.frag_opcode is not None:
                return self.protocol_violation("new message inside a fragmented one")
            self.frag_opcode = opcode
            self.frag_data = bytearray()
        self.frag_data += payload
        if not fin:
            return None
        data = bytes(self.frag_data)
        op = self.frag_opcode
        self.frag_opcode = None
        self.frag_data = bytearray()
        if op == OP_TEXT:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                self.case.server_error = "server sent invalid UTF-8 text"
                return self.fail_connection(CLOSE_INVALID_PAYLOAD, b"invalid UTF-8")
        return self.case.on_message(data, op == OP_BINARY)

    def on_close_frame(self, payload):
        code = None
        reason = b""
        if len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            reason = payload[2:]
        self.remote_close_code = code
        self.remote_close_reason = reason
        self.log("RX close code=%s" % code)
        if len(payload) == 1:
            return self.protocol_violation("close frame with 1-byte payload")
        if code is not None and not valid_close_code(code):
            return self.protocol_violation("invalid close code %d" % code)
        try:
            reason.decode("utf-8")
        except UnicodeDecodeError:
            self.case.server_error = "close reason not UTF-8"
            return self.fail_connection(CLOSE_INVALID_PAYLOAD, b"")
        if self.state == CLOSING:
            self.cancel(self.close_hs_timer)
            self.was_clean = True
            self.drop_timer = self.later(self.r.unit, self.on_server_drop_timeout)
        elif self.state == OPEN:
            self.was_clean = True
            self.send_close_frame(CLOSE_NORMAL, is_reply=True)
        return None

    # ---- loop -----------------------------------------------------------------------------------

    def flush(self):
        """Send queued entries; returns True when the socket would block."""
        while self.out and self.state != CLOSED:
            if time.monotonic() < self.next_send:
                return False
            chunk, coalesce = self.out[0]
            try:
                n = self.sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError as e:
                self.connection_lost("send: %s" % e)
                return False
            if n < len(chunk):
                del chunk[:n]
                return True
            self.out.pop(0)
            if not coalesce and self.r.chop_delay:
                # Autobahn writes each chop or sync'ed frame in its own reactor turn, so the
                # peer sees them one by one; a short pause reproduces that on loopback.
                self.next_send = time.monotonic() + self.r.chop_delay
        return False

    def run(self, hard_deadline):
        if self.inbuf:
            self.parse()
        while self.state != CLOSED:
            now = time.monotonic()
            while self.timers and (not self.timers[0][3] or self.timers[0][0] <= now):
                entry = heapq.heappop(self.timers)
                if entry[3]:
                    entry[2]()
                if self.state == CLOSED:
                    return
            if now >= hard_deadline:
                self.log("case hard deadline")
                self.case.hard_timeout = True
                self.drop()
                return
            blocked = self.flush()
            if self.state == CLOSED:
                return
            now = time.monotonic()
            wait = hard_deadline - now
            if self.timers:
                wait = min(wait, self.timers[0][0] - now)
            if self.out and not blocked:
                wait = min(wait, self.next_send - now)
            wlist = [self.sock] if blocked else []
            try:
                rl, wl, _ = select.select([self.sock], wlist, [], max(0.0, wait))
            except InterruptedError:
                continue
            if rl:
                try:
                    data = self.sock.recv(RECV_CHUNK)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError as e:
                    self.connection_lost("recv: %s" % e)
                    return
                if data == b"":
                    self.connection_lost("EOF from server")
                    return
                if data:
                    self.rx_bytes += len(data)
                    self.inbuf += data
                    self.parse()


class HandshakeError(Exception):
    pass


class Case:
    """Per-case judge, mirroring autobahntestsuite's Case: events, expectations, close checks."""

    informational = False

    def __init__(self, runner, cid, desc, expectation, body):
        self.r = runner
        self.id = cid
        self.description = desc
        self.expectation = expectation
        self.body = body
        self.received = []
        self.expected = {}
        self.expected_close = {}
        self.suppress_close = False
        self.behavior = FAILED
        self.behavior_close = FAILED
        self.result = "Actual events differ from any expected."
        self.result_close = "TCP connection was dropped without close handshake"
        self.server_error = None
        self.hard_timeout = False
        self.message_hook = None
        self.lost_hook = None
        self.max_secs = 15
        self.t0 = time.monotonic()
        self.p = None

    # event sinks used by Connection
    def on_message(self, data, binary):
        if self.message_hook:
            return self.message_hook(data, binary)
        self.received.append(("message", data, binary))
        self.finish_when_done()
        return None

    def on_pong(self, payload):
        self.received.append(("pong", payload))
        self.finish_when_done()

    def finish_when_done(self):
        for exp in self.expected.values():
            if self.received != exp:
                return
        if self.expected_close.get("closedByMe") and not self.suppress_close:
            self.p.send_close(self.expected_close["closeCode"][0])

    def expect(self, ok, non_strict=None):
        self.expected[OK] = ok
        if non_strict is not None:
            self.expected[NON_STRICT] = non_strict

    def expect_close(self, by_me, codes, clean):
        self.expected_close = {"closedByMe": by_me, "closeCode": list(codes), "requireClean": clean}

    def judge(self):
        p = self.p
        if self.message_hook is None:
            for key in (OK, NON_STRICT):
                if key in self.expected and self.received == self.expected[key]:
                    self.behavior = key
                    self.result = "Actual events match at least one expected."
                    break
        ec = self.expected_close
        if ec["closedByMe"] != p.closed_by_me:
            self.behavior_close = FAILED
            self.result_close = "The connection was failed by the wrong endpoint"
        elif ec["requireClean"] and not p.was_clean:
            self.behavior_close = UNCLEAN
            self.result_close = "The spec requires the connection to be failed cleanly here"
        elif p.remote_close_code is not None and p.remote_close_code not in ec["closeCode"]:
            self.behavior_close = WRONG_CODE
            self.result_close = "The close code should have been %s or empty" % ",".join(
                map(str, ec["closeCode"]))
        else:
            self.behavior_close = OK
            self.result_close = "Connection was properly closed"
        if self.lost_hook:
            self.lost_hook()
        if self.informational:
            self.behavior = INFORMATIONAL
            self.behavior_close = INFORMATIONAL

    def verdict(self):
        if self.behavior in (INFORMATIONAL, UNIMPLEMENTED):
            return self.behavior
        if self.behavior == FAILED:
            return FAILED
        if self.behavior_close in (FAILED, UNCLEAN, WRONG_CODE):
            return FAILED
        return self.behavior


# ---- case bodies -------------------------------------------------------------------------------
# Each body(c, p) sets expectations on case c and acts on connection p, like Autobahn's onOpen().

CASES = {}


def case(cid):
    def reg(fn):
        CASES[cid] = fn
        return fn
    return reg


def echo_case(payload, binary, chopsize=None, kill=1):
    def body(c, p):
        c.expect([("message", payload, binary)])
        c.expect_close(True, [CLOSE_NORMAL], True)
        p.send_frame(OP_BINARY if binary else OP_TEXT, payload, chopsize=chopsize)
        p.kill_after(kill)
    return body


for _i, _n in enumerate([0, 125, 126, 127, 128, 65535, 65536]):
    CASES["1.1.%d" % (_i + 1)] = echo_case(b"*" * _n, False, kill=10 if _n > 65000 else 1)
    CASES["1.2.%d" % (_i + 1)] = echo_case(b"\xfe" * _n, True, kill=10 if _n > 65000 else 1)
CASES["1.1.8"] = echo_case(b"*" * 65536, False, chopsize=997, kill=10)
CASES["1.2.8"] = echo_case(b"\xfe" * 65536, True, chopsize=997, kill=10)


def ping_case(payload, chopsize=None, wait=1):
    def body(c, p):
        c.expect([("pong", payload)])
        c.expect_close(True, [CLOSE_NORMAL], True)
        p.send_frame(OP_PING, payload, chopsize=chopsize)
        p.close_after(wait)
    return body


CASES["2.1"] = ping_case(b"")
CASES["2.2"] = ping_case(b"Hello, world!")
CASES["2.3"] = ping_case(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")
CASES["2.4"] = ping_case(b"\xfe" * 125)
CASES["2.6"] = ping_case(b"\xfe" * 125, chopsize=1, wait=2)


def fail_case(frames, code=CLOSE_PROTOCOL_ERROR, ok=(), non_strict=None, kill=1):
    """frames: list of send_frame kwargs; the server must fail the connection with code."""
    def body(c, p):
        c.expect(list(ok), non_strict)
        c.expect_close(False, [code], False)
        for f in frames:
            p.send_frame(**f)
        p.kill_after(kill)
    return body


CASES["2.5"] = fail_case([dict(opcode=OP_PING, payload=b"\xfe" * 126)])


@case("2.7")
def _c2_7(c, p):
    c.expect([])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_frame(OP_PONG)
    p.send_close(CLOSE_NORMAL)
    p.close_after(1)


@case("2.8")
def _c2_8(c, p):
    c.expect([])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_frame(OP_PONG, b"unsolicited pong payload")
    p.send_close(CLOSE_NORMAL)
    p.close_after(1)


@case("2.9")
def _c2_9(c, p):
    c.expect([("pong", b"ping payload")])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_frame(OP_PONG, b"unsolicited pong payload")
    p.send_frame(OP_PING, b"ping payload")
    p.close_after(1)


def ten_pings(chopsize):
    def body(c, p):
        exp = []
        for i in range(10):
            pl = b"payload-%d" % i
            exp.append(("pong", pl))
            p.send_frame(OP_PING, pl, chopsize=chopsize)
        c.expect(exp)
        c.expect_close(True, [CLOSE_NORMAL], True)
        p.close_after(3)
    return body


CASES["2.10"] = ten_pings(None)
CASES["2.11"] = ten_pings(1)

HELLO = b"Hello, world!"
MSG = ("message", HELLO, False)
CASES["3.1"] = fail_case([dict(opcode=OP_TEXT, payload=HELLO, rsv=1)])
CASES["3.2"] = fail_case([dict(opcode=OP_TEXT, payload=HELLO),
                          dict(opcode=OP_TEXT, payload=HELLO, rsv=2),
                          dict(opcode=OP_PING)], ok=[MSG], non_strict=[])
CASES["3.3"] = fail_case([dict(opcode=OP_TEXT, payload=HELLO, sync=True),
                          dict(opcode=OP_TEXT, payload=HELLO, rsv=3, sync=True),
                          dict(opcode=OP_PING, sync=True)], ok=[MSG], non_strict=[])
CASES["3.4"] = fail_case([dict(opcode=OP_TEXT, payload=HELLO, chopsize=1),
                          dict(opcode=OP_TEXT, payload=HELLO, rsv=4, chopsize=1),
                          dict(opcode=OP_PING, chopsize=1)], ok=[MSG], non_strict=[])
CASES["3.5"] = fail_case([dict(opcode=OP_BINARY, payload=b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5)])
CASES["3.6"] = fail_case([dict(opcode=OP_PING, payload=HELLO, rsv=6)])
CASES["3.7"] = fail_case([dict(opcode=OP_CLOSE, rsv=7)])

for _sub, _base in ((1, 3), (2, 11)):
    CASES["4.%d.1" % _sub] = fail_case([dict(opcode=_base)])
    CASES["4.%d.2" % _sub] = fail_case([dict(opcode=_base + 1, payload=b"reserved opcode payload")])
    CASES["4.%d.3" % _sub] = fail_case([dict(opcode=OP_TEXT, payload=HELLO), dict(opcode=_base + 2),
                                        dict(opcode=OP_PING)], ok=[MSG], non_strict=[])
    CASES["4.%d.4" % _sub] = fail_case([dict(opcode=OP_TEXT, payload=HELLO),
                                        dict(opcode=_base + 3, payload=HELLO),
                                        dict(opcode=OP_PING)], ok=[MSG], non_strict=[])
    CASES["4.%d.5" % _sub] = fail_case([dict(opcode=OP_TEXT, payload=HELLO, chopsize=1),
                                        dict(opcode=_base + 4, payload=HELLO, chopsize=1),
                                        dict(opcode=OP_PING, chopsize=1)], ok=[MSG], non_strict=[])

CASES["5.1"] = fail_case([dict(opcode=OP_PING, fin=False, payload=b"fragment1"),
                          dict(opcode=OP_CONT, fin=True, payload=b"fragment2")])
CASES["5.2"] = fail_case([dict(opcode=OP_PONG, fin=False, payload=b"fragment1"),
                          dict(opcode=OP_CONT, fin=True, payload=b"fragment2")])


def two_fragments(sync=False, chopsize=None, ping=False):
    def body(c, p):
        exp = [("message", b"fragment1fragment2", False)]
        if ping:
            exp.insert(0, ("pong", b"ping payload"))
        c.expect(exp)
        c.expect_close(True, [CLOSE_NORMAL], True)
        p.send_frame(OP_TEXT, b"fragment1", fin=False, sync=sync, chopsize=chopsize)
        if ping:
            p.send_frame(OP_PING, b"ping payload", sync=sync, chopsize=chopsize)
        p.send_frame(OP_CONT, b"fragment2", sync=sync, chopsize=chopsize)
        p.close_after(1)
    return body


CASES["5.3"] = two_fragments()
CASES["5.4"] = two_fragments(sync=True)
CASES["5.5"] = two_fragments(chopsize=1)
CASES["5.6"] = two_fragments(ping=True)
CASES["5.7"] = two_fragments(ping=True, sync=True)
CASES["5.8"] = two_fragments(ping=True, chopsize=1)

for _n, _fin in ((9, True), (12, False)):
    for _k, _kw in enumerate(({}, {"sync": True}, {"chopsize": 1})):
        CASES["5.%d" % (_n + _k)] = fail_case([
            dict(opcode=OP_CONT, fin=_fin, payload=b"non-continuation payload", **_kw),
            dict(opcode=OP_TEXT, fin=True, payload=HELLO, **_kw)])

CASES["5.15"] = fail_case([dict(opcode=OP_TEXT, fin=False, payload=b"fragment1"),
                           dict(opcode=OP_CONT, fin=True, payload=b"fragment2"),
                           dict(opcode=OP_CONT, fin=False, payload=b"fragment3"),
                           dict(opcode=OP_TEXT, fin=True, payload=b"fragment4")],
                          ok=[("message", b"fragment1fragment2", False)], non_strict=[])
CASES["5.16"] = fail_case([dict(opcode=OP_CONT, fin=False, payload=b"fragment1"),
                           dict(opcode=OP_TEXT, fin=False, payload=b"fragment2"),
                           dict(opcode=OP_CONT, fin=True, payload=b"fragment3")] * 2)
CASES["5.17"] = fail_case([dict(opcode=OP_CONT, fin=True, payload=b"fragment1"),
                           dict(opcode=OP_TEXT, fin=False, payload=b"fragment2"),
                           dict(opcode=OP_CONT, fin=True, payload=b"fragment3")] * 2)
CASES["5.18"] = fail_case([dict(opcode=OP_TEXT, fin=False, payload=b"fragment1"),
                           dict(opcode=OP_TEXT, fin=True, payload=b"fragment2")])


def ping_inside_fragments(sync):
    frags = [b"fragment1", b"fragment2", b"fragment3", b"fragment4", b"fragment5"]
    pings = [b"pongme 1!", b"pongme 2!"]

    def body(c, p):
        c.expect([("pong", pings[0]), ("pong", pings[1]), ("message", b"".join(frags), False)])
        c.expect_close(True, [CLOSE_NORMAL], True)
        p.send_frame(OP_TEXT, frags[0], fin=False, sync=sync)
        p.send_frame(OP_CONT, frags[1], fin=False, sync=sync)
        p.send_frame(OP_PING, pings[0], sync=sync)

        def part2():
            p.send_frame(OP_CONT, frags[2], fin=False, sync=sync)
            p.send_frame(OP_CONT, frags[3], fin=False, sync=sync)
            p.send_frame(OP_PING, pings[1], sync=sync)
            p.send_frame(OP_CONT, frags[4], fin=True, sync=sync)
            p.close_after(1)
        p.continue_later(1, part2)
    return body


CASES["5.19"] = ping_inside_fragments(False)
CASES["5.20"] = ping_inside_fragments(True)


def utf8_case(payload, valid, frag_size=None, kill=0.5):
    """The 6.x cases: valid text must be echoed, invalid text must fail with 1007."""
    def body(c, p):
        if valid:
            c.expect([("message", payload, False)])
            c.expect_close(True, [CLOSE_NORMAL], True)
        else:
            c.expect([])
            c.expect_close(False, [CLOSE_INVALID_PAYLOAD], False)
        p.send_message(payload, False, frag_size=frag_size)
        p.kill_after(kill)
    return body


@case("6.1.1")
def _c6_1_1(c, p):
    c.expect([("message", b"", False)])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_frame(OP_TEXT, b"")
    p.kill_after(1)


@case("6.1.2")
def _c6_1_2(c, p):
    c.expect([("message", b"", False)])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_frame(OP_TEXT, b"", fin=False)
    p.send_frame(OP_CONT, b"", fin=False)
    p.send_frame(OP_CONT, b"", fin=True)
    p.kill_after(1)


@case("6.1.3")
def _c6_1_3(c, p):
    c.expect([("message", b"middle frame payload", False)])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_frame(OP_TEXT, b"", fin=False)
    p.send_frame(OP_CONT, b"middle frame payload", fin=False)
    p.send_frame(OP_CONT, b"", fin=True)
    p.kill_after(1)


_HELLO_UTF8 = bytes.fromhex("48656c6c6f2dc2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121")
_KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")
_KOSME_BAD = bytes.fromhex("cebae1bdb9cf83cebcceb5eda080656469746564")
CASES["6.2.1"] = utf8_case(_HELLO_UTF8, True, kill=1)


@case("6.2.2")
def _c6_2_2(c, p):
    c.expect([("message", _HELLO_UTF8, False)])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_frame(OP_TEXT, _HELLO_UTF8[:15], fin=False)
    p.send_frame(OP_CONT, _HELLO_UTF8[15:], fin=True)
    p.kill_after(1)


CASES["6.2.3"] = utf8_case(_HELLO_UTF8, True, frag_size=1, kill=1)
CASES["6.2.4"] = utf8_case(_KOSME, True, frag_size=1, kill=1)
CASES["6.3.1"] = utf8_case(_KOSME_BAD, False, kill=1)
CASES["6.3.2"] = utf8_case(_KOSME_BAD, False, frag_size=1, kill=1)

_FF_PAYLOAD = _KOSME + b"\xf4\x90\x80\x80" + b"edited"  # invalid exactly at byte 12 (0x90)


def fail_fast(parts, one_frame):
    """6.4.x: the server should fail as soon as the invalid octet arrives (OK), or at the latest
    when the message is complete (NON-STRICT)."""
    def body(c, p):
        c.expect([("timeout", "A")], [("timeout", "A"), ("timeout", "B")])
        c.expect_close(False, [CLOSE_INVALID_PAYLOAD], False)
        if one_frame:
            frame = build_frame(OP_TEXT, _FF_PAYLOAD)
            hl = len(frame) - len(_FF_PAYLOAD)
            cut1 = hl + len(parts[0])
            cut2 = cut1 + len(parts[1])
            chunks = [frame[:cut1], frame[cut1:cut2], frame[cut2:]]
            send = [lambda: p.send_raw(chunks[0], sync=True),
                    lambda: p.send_raw(chunks[1], sync=True),
                    lambda: p.send_raw(chunks[2], sync=True)]
        else:
            send = [lambda: p.send_frame(OP_TEXT, parts[0], fin=False),
                    lambda: p.send_frame(OP_CONT, parts[1], fin=False),
                    lambda: p.send_frame(OP_CONT, parts[2], fin=True)]

        def part2():
            if p.state == OPEN:
                c.received.append(("timeout", "A"))
                send[1]()
                p.continue_later(1, part3)

        def part3():
            if p.state == OPEN:
                c.received.append(("timeout", "B"))
                send[2]()
                p.kill_after(1)
        send[0]()
        p.continue_later(1, part2)
    return body


_PARTS_3 = (_KOSME, b"\xf4\x90\x80\x80", b"edited")
_PARTS_CUT = (_FF_PAYLOAD[:12], _FF_PAYLOAD[12:13], _FF_PAYLOAD[13:])
CASES["6.4.1"] = fail_fast(_PARTS_3, False)
CASES["6.4.2"] = fail_fast(_PARTS_CUT, False)
CASES["6.4.3"] = fail_fast(_PARTS_3, True)
CASES["6.4.4"] = fail_fast(_PARTS_CUT, True)


def kuhn_sequences():
    """Markus Kuhn's UTF-8 decoder stress test, grouped as Autobahn's 6.5 .. 6.23."""
    kosme = _KOSME
    groups = [[(True, b"hello\x24world"), (True, b"hello\xc2\xa2world"),
               (True, b"hello\xe2\x82\xacworld"), (True, b"hello\xf0\xa4\xad\xa2world"),
               (True, kosme)]]
    prefixes = []
    for i in range(1, len(kosme) + 1):
        try:
            kosme[:i].decode("utf-8")
            prefixes.append((True, kosme[:i]))
        except UnicodeDecodeError:
            prefixes.append((False, kosme[:i]))
    groups.append(prefixes)
    groups.append([(True, b"\x00"), (True, b"\xc2\x80"), (True, b"\xe0\xa0\x80"),
                   (True, b"\xf0\x90\x80\x80")])
    groups.append([(False, b"\xf8\x88\x80\x80\x80"), (False, b"\xfc\x84\x80\x80\x80\x80")])
    groups.append([(True, b"\x7f"), (True, b"\xdf\xbf"), (True, b"\xef\xbf\xbf"),
                   (True, b"\xf4\x8f\xbf\xbf")])
    groups.append([(False, b"\xf7\xbf\xbf\xbf"), (False, b"\xfb\xbf\xbf\xbf\xbf"),
                   (False, b"\xfd\xbf\xbf\xbf\xbf\xbf")])
    groups.append([(True, b"\xed\x9f\xbf"), (True, b"\xee\x80\x80"), (True, b"\xef\xbf\xbd"),
                   (True, b"\xf4\x8f\xbf\xbf"), (False, b"\xf4\x90\x80\x80")])
    groups.append([(False, b"\x80"), (False, b"\xbf"), (False, b"\x80\xbf"),
                   (False, b"\x80\xbf\x80"), (False, b"\x80\xbf\x80\xbf"),
                   (False, b"\x80\xbf\x80\xbf\x80"), (False, b"\x80\xbf\x80\xbf\x80\xbf"),
                   (False, bytes(range(0x80, 0xbf)))])
    lonely = []
    for lo, hi in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd)):
        lonely.append((False, b"".join(bytes([i, 0x20]) for i in range(lo, hi))))
    groups.append(lonely)
    missing = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80", b"\xfc\x80\x80\x80\x80",
               b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf", b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    groups.append([(False, m) for m in missing])
    groups.append([(False, b"".join(missing))])
    groups.append([(False, b"\xfe"), (False, b"\xff"), (False, b"\xfe\xfe\xff\xff")])
    groups.append([(False, b"\xc0\xaf"), (False, b"\xe0\x80\xaf"), (False, b"\xf0\x80\x80\xaf"),
                   (False, b"\xf8\x80\x80\x80\xaf"), (False, b"\xfc\x80\x80\x80\x80\xaf")])
    groups.append([(False, b"\xc1\xbf"), (False, b"\xe0\x9f\xbf"), (False, b"\xf0\x8f\xbf\xbf"),
                   (False, b"\xf8\x87\xbf\xbf\xbf"), (False, b"\xfc\x83\xbf\xbf\xbf\xbf")])
    groups.append([(False, b"\xc0\x80"), (False, b"\xe0\x80\x80"), (False, b"\xf0\x80\x80\x80"),
                   (False, b"\xf8\x80\x80\x80\x80"), (False, b"\xfc\x80\x80\x80\x80\x80")])
    singles = [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf", b"\xed\xb0\x80",
               b"\xed\xbe\x80", b"\xed\xbf\xbf"]
    groups.append([(False, s) for s in singles])
    pairs = []
    for hi in (b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf"):
        for lo in (b"\xed\xb0\x80", b"\xed\xbf\xbf"):
            pairs.append((False, hi + lo))
    groups.append(pairs)
    nonchars = [(True, b"\xef\xbf\xbe"), (True, b"\xef\xbf\xbf")]
    for z1 in (0xf0, 0xf1, 0xf2, 0xf3, 0xf4):
        for z2 in (0x8f, 0x9f, 0xaf, 0xbf):
            if z1 == 0xf4 and z2 != 0x8f:
                continue  # above U+10FFFF
            for z3 in (0xbe, 0xbf):
                zz = bytes([z1, z2, 0xbf, z3])
                if zz not in (b"\xf0\x8f\xbf\xbe", b"\xf0\x8f\xbf\xbf"):  # overlong
                    nonchars.append((True, zz))
    groups.append(nonchars)
    groups.append([(True, b"\xef\xbf" + bytes([b])) for b in range(0xb9, 0xc0)])
    return groups


for _gi, _group in enumerate(kuhn_sequences()):
    for _j, (_valid, _payload) in enumerate(_group):
        CASES["6.%d.%d" % (_gi + 5, _j + 1)] = utf8_case(_payload, _valid)


def close_case(codes, clean, action, informational=False, by_me=True):
    """7.x: action(p) sends; the server's close code must be one of codes (or absent)."""
    def body(c, p):
        c.expect([])
        c.expect_close(by_me, codes, clean)
        c.suppress_close = True
        c.informational = informational
        action(p)
        p.kill_after(1)
    return body


@case("7.1.1")
def _c7_1_1(c, p):
    c.expect([("message", b"Hello World!", False)])
    c.expect_close(True, [CLOSE_NORMAL], True)
    c.suppress_close = True
    p.send_frame(OP_TEXT, b"Hello World!")
    p.send_close(CLOSE_NORMAL)
    p.kill_after(1)


CASES["7.1.2"] = close_case([CLOSE_NORMAL], True,
                            lambda p: (p.send_close(CLOSE_NORMAL), p.send_frame(OP_CLOSE)))
CASES["7.1.3"] = close_case([CLOSE_NORMAL], True,
                            lambda p: (p.send_close(CLOSE_NORMAL), p.send_frame(OP_PING)))
CASES["7.1.4"] = close_case([CLOSE_NORMAL], True,
                            lambda p: (p.send_close(CLOSE_NORMAL),
                                       p.send_frame(OP_TEXT, b"Hello World!")))
CASES["7.1.5"] = close_case([CLOSE_NORMAL], True,
                            lambda p: (p.send_frame(OP_TEXT, b"fragment1", fin=False),
                                       p.send_close(CLOSE_NORMAL),
                                       p.send_frame(OP_CONT, b"fragment2", fin=True)))


@case("7.1.6")
def _c7_1_6(c, p):
    c.expect([("message", b"Hello World!", False)], [])
    c.expect_close(True, [CLOSE_NORMAL], True)
    c.suppress_close = True
    c.informational = True
    p.send_frame(OP_TEXT, b"BAsd7&jh23", payload_len=256 * 1024)
    p.send_frame(OP_TEXT, b"Hello World!")
    p.send_close(CLOSE_NORMAL)
    p.send_frame(OP_PING)
    p.kill_after(1)

    def lost():
        if c.behavior == OK:
            c.result = "Text message was processed before close."
        elif c.behavior == NON_STRICT:
            c.result = "Close was processed before text message could be returned."
    c.lost_hook = lost


CASES["7.3.1"] = close_case([CLOSE_NORMAL], True, lambda p: p.send_close_frame())
CASES["7.3.2"] = close_case([CLOSE_PROTOCOL_ERROR], False,
                            lambda p: p.send_close_frame(reason=b"a"))
CASES["7.3.3"] = close_case([CLOSE_NORMAL], True, lambda p: p.send_close_frame(CLOSE_NORMAL))
CASES["7.3.4"] = close_case([CLOSE_NORMAL], True,
                            lambda p: p.send_close_frame(CLOSE_NORMAL, b"Hello World!"))
CASES["7.3.5"] = close_case([CLOSE_NORMAL], True,
                            lambda p: p.send_close_frame(CLOSE_NORMAL, b"*" * 123))
CASES["7.3.6"] = close_case([CLOSE_PROTOCOL_ERROR], False,
                            lambda p: p.send_close_frame(CLOSE_NORMAL, b"*" * 124))
CASES["7.5.1"] = close_case([CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_PAYLOAD], False,
                            lambda p: p.send_close_frame(CLOSE_NORMAL, _KOSME_BAD))

for _i, _code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999,
                            4000, 4999]):
    CASES["7.7.%d" % (_i + 1)] = close_case([CLOSE_NORMAL, _code], True,
                                            lambda p, code=_code: p.send_close_frame(code))
for _i, _code in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]):
    CASES["7.9.%d" % (_i + 1)] = close_case([CLOSE_PROTOCOL_ERROR], False,
                                            lambda p, code=_code: p.send_close_frame(code))
for _i, _code in enumerate([5000, 65535]):
    CASES["7.13.%d" % (_i + 1)] = close_case([CLOSE_NORMAL, _code, CLOSE_PROTOCOL_ERROR], False,
                                             lambda p, code=_code: p.send_close_frame(code),
                                             informational=True)


def big_case(length, binary, wait, frag_size=None, chopsize=None):
    """9.1 .. 9.6: one large message, maybe fragmented or chopped; echo must match exactly."""
    def body(c, p):
        n = c.r.scaled(length)
        if frag_size is None and chopsize is None:
            payload = repeat_to(b"\xfe" if binary else b"BAsd7&jh23", n)
        else:
            payload = repeat_to(b"\xfe" if binary else b"*", n)
        c.size_note = "%d bytes" % n
        c.expect_close(True, [CLOSE_NORMAL], True)
        c.result = "Did not receive message within %d seconds." % wait
        c.max_secs = wait + 10

        def on_msg(data, is_binary):
            if is_binary != binary:
                c.result = "Expected %s message, got %s." % (
                    "binary" if binary else "text", "binary" if is_binary else "text")
            elif data != payload:
                c.result = "Expected %d octets as sent, got %d%s." % (
                    n, len(data), "" if len(data) != n else " (content differs)")
            else:
                c.behavior = OK
                c.result = "Received message of length %d." % n
            p.send_close(CLOSE_NORMAL)
        c.message_hook = on_msg
        if frag_size:
            p.send_message(payload, binary, frag_size=frag_size)
        else:
            p.send_frame(OP_BINARY if binary else OP_TEXT, payload, chopsize=chopsize)
        p.close_after(wait)
    return body


def rtt_case(size, binary, wait):
    """9.7/9.8: count messages, one at a time, each echoed before the next is sent."""
    def body(c, p):
        count = c.r.rtt_count
        payload = repeat_to(b"\xfe" if binary else b"*", size)
        c.size_note = "%d x %d bytes" % (count, size)
        c.expect_close(True, [CLOSE_NORMAL], True)
        c.result = "Did not receive all %d echoes within %d seconds." % (count, wait)
        c.max_secs = wait + 10
        state = {"n": 0}

        def on_msg(data, is_binary):
            if data != payload or is_binary != binary:
                c.result = "Echo %d differs from what was sent." % state["n"]
                p.send_close(CLOSE_NORMAL)
                return
            state["n"] += 1
            if state["n"] == count:
                c.behavior = OK
                c.result = "Received all %d echoes." % count
                p.send_close(CLOSE_NORMAL)
            else:
                p.send_frame(OP_BINARY if binary else OP_TEXT, payload)
        c.message_hook = on_msg
        p.send_frame(OP_BINARY if binary else OP_TEXT, payload)
        p.close_after(wait)
    return body


_MB = 2 ** 20
for _i, _n in enumerate([64 * 1024, 256 * 1024, _MB, 4 * _MB, 8 * _MB, 16 * _MB]):
    _w = 10 if _n < _MB else 100
    CASES["9.1.%d" % (_i + 1)] = big_case(_n, False, _w)
    CASES["9.2.%d" % (_i + 1)] = big_case(_n, True, _w)
for _i, _f in enumerate([64, 256, 1024, 4096, 16384, 65536, 256 * 1024, _MB, 4 * _MB]):
    CASES["9.3.%d" % (_i + 1)] = big_case(4 * _MB, False, 100, frag_size=_f)
    CASES["9.4.%d" % (_i + 1)] = big_case(4 * _MB, True, 100, frag_size=_f)
for _i, _ch in enumerate([64, 128, 256, 512, 1024, 2048]):
    CASES["9.5.%d" % (_i + 1)] = big_case(_MB, False, 100, chopsize=_ch)
    CASES["9.6.%d" % (_i + 1)] = big_case(_MB, True, 100, chopsize=_ch)
for _i, (_n, _w) in enumerate([(0, 60), (16, 60), (64, 60), (256, 120), (1024, 240),
                               (4096, 480)]):
    CASES["9.7.%d" % (_i + 1)] = rtt_case(_n, False, _w)
    CASES["9.8.%d" % (_i + 1)] = rtt_case(_n, True, _w)


@case("10.1.1")
def _c10_1_1(c, p):
    payload = b"*" * 65536
    c.expect([("message", payload, False)])
    c.expect_close(True, [CLOSE_NORMAL], True)
    p.send_message(payload, False, frag_size=1300)
    expected_frames = 65536 // 1300 + (1 if 65536 % 1300 else 0)

    def lost():
        if p.tx_frames != expected_frames:
            c.behavior = FAILED
            c.result = "Sent %d frames, expected %d." % (p.tx_frames, expected_frames)
    c.lost_hook = lost
    p.kill_after(10)


# ---- case table, selection, running ------------------------------------------------------------

def case_key(cid):
    return tuple(int(x) for x in cid.split("."))


def compression_ids():
    """Autobahn's 216 permessage-deflate cases; this client never offers the extension."""
    ids = []
    for major, subs in ((12, 5), (13, 7)):
        for s in range(1, subs + 1):
            ids += ["%d.%d.%d" % (major, s, k) for k in range(1, 19)]
    return ids


def load_table(path):
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split(" | ")
            cid = parts[0].strip()
            desc = parts[1].strip() if len(parts) > 1 else ""
            exp = parts[2].strip() if len(parts) > 2 else ""
            if exp.startswith("EXPECT: "):
                exp = exp[len("EXPECT: "):]
            table[cid] = (desc, exp)
    return table


def select_cases(patterns, excludes, known):
    def matches(cid, pats):
        return any(fnmatch.fnmatchcase(cid, pat) for pat in pats)
    chosen = [cid for cid in known if matches(cid, patterns)]
    if excludes:
        chosen = [cid for cid in chosen if not matches(cid, excludes)]
    return sorted(set(chosen), key=case_key)


class Runner:
    def __init__(self, args):
        u = urlsplit(args.url)
        if u.scheme != "ws":
            raise SystemExit("only ws:// URLs are supported")
        self.host = u.hostname
        self.port = u.port or 80
        self.hostport = u.netloc
        self.resource = (u.path or "/") + ("?" + u.query if u.query else "")
        self.unit = args.timeout
        self.chop_delay = args.chop_delay
        self.scale = args.scale
        self.rtt_count = args.rtt_count
        self.verbose = args.verbose

    def scaled(self, length):
        return max(1024, int(length * self.scale)) if self.scale != 1.0 else length

    def run_case(self, cid, desc, exp):
        c = Case(self, cid, desc, exp, CASES.get(cid))
        c.size_note = None
        if c.body is None:
            c.behavior = UNIMPLEMENTED
            c.behavior_close = UNIMPLEMENTED
            c.result = "permessage-deflate is not offered by this client"
            c.result_close = ""
            c.duration = 0
            return c
        p = Connection(self, c)
        c.p = p
        c.t0 = time.monotonic()
        try:
            p.connect()
        except HandshakeError as e:
            c.behavior = FAILED
            c.behavior_close = FAILED
            c.result = "opening handshake failed: %s" % e
            c.result_close = "no WebSocket connection"
            c.duration = time.monotonic() - c.t0
            if p.sock:
                p.sock.close()
            return c
        c.body(c, p)
        p.run(c.t0 + c.max_secs * self.unit + 10)
        c.duration = time.monotonic() - c.t0
        c.judge()
        if c.hard_timeout and c.behavior != INFORMATIONAL:
            c.behavior = FAILED
            c.result = "case did not finish in time; " + c.result
        return c


def report_entry(c):
    p = c.p
    e = {"behavior": c.behavior, "behaviorClose": c.behavior_close, "verdict": c.verdict(),
         "description": c.description, "expectation": c.expectation,
         "duration": int(round(1000 * c.duration)), "result": c.result,
         "resultClose": c.result_close}
    if c.size_note:
        e["size"] = c.size_note
    if p is not None:
        e.update({"expected": {k: [list(map(_jsonable, ev)) for ev in v]
                               for k, v in c.expected.items()},
                  "received": [list(map(_jsonable, ev)) for ev in c.received],
                  "expectedClose": c.expected_close, "closedByMe": p.closed_by_me,
                  "failedByMe": p.failed_by_me, "droppedByMe": p.dropped_by_me,
                  "wasClean": p.was_clean, "wasNotCleanReason": p.not_clean_reason,
                  "localCloseCode": p.local_close_code, "remoteCloseCode": p.remote_close_code,
                  "serverError": c.server_error, "wirelog": p.wirelog})
    return e


def _jsonable(v):
    if isinstance(v, bytes):
        if len(v) > 64:
            return "<%d bytes>" % len(v)
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + v.hex()
    return v


def short(ev):
    return "[" + ", ".join("(" + ", ".join(repr(_jsonable(x)) for x in e) + ")" for e in ev) + "]"


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(
        description="Autobahn-equivalent conformance client for a WebSocket echo server.")
    ap.add_argument("url", nargs="?", default="ws://127.0.0.1:9001/",
                    help="echo server URL (ws:// only; default %(default)s)")
    ap.add_argument("--cases", default="1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*",
                    help="comma-separated case globs (default: all 301 non-compression cases; "
                         "12.*/13.* are reported UNIMPLEMENTED)")
    ap.add_argument("--exclude", default="", help="comma-separated case globs to skip")
    ap.add_argument("--timeout", type=float, default=1.0,
                    help="Autobahn's time unit in seconds: how fast the server must react "
                         "(fail 'immediately', close handshake, drop TCP) and the fail-fast "
                         "waits; all case timeouts scale with it (default 1.0; use 3-5 under TCG)")
    ap.add_argument("--quick", action="store_true",
                    help="category 9 with 1/16 of the sizes and 100 instead of 1000 round trips")
    ap.add_argument("--scale", type=float, default=None,
                    help="factor for category 9 message sizes (default 1, or 1/16 with --quick)")
    ap.add_argument("--rtt-count", type=int, default=None,
                    help="round trips in 9.7/9.8 (default 1000, or 100 with --quick)")
    ap.add_argument("--chop-delay", type=float, default=0.0002,
                    help="seconds between chops and sync'ed frames, which Autobahn writes in "
                         "separate reactor turns (default %(default)s)")
    ap.add_argument("--json", metavar="FILE", help="write an Autobahn-like index.json report")
    ap.add_argument("--agent", default=None, help="agent name for the report (default: the URL)")
    ap.add_argument("--tap", action="store_true", help="print TAP (report lines become comments)")
    ap.add_argument("--list", action="store_true", help="list the selected cases and exit")
    ap.add_argument("--table", default=os.path.join(here, "cases.txt"), help=argparse.SUPPRESS)
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print expected/observed events and the wire log of non-OK cases")
    args = ap.parse_args(argv)
    if args.scale is None:
        args.scale = 1.0 / 16 if args.quick else 1.0
    if args.rtt_count is None:
        args.rtt_count = 100 if args.quick else 1000

    table = load_table(args.table)
    for cid in compression_ids():
        table.setdefault(cid, ("permessage-deflate case (not run: no compression offered).", ""))
    missing = [cid for cid in table if cid not in CASES and case_key(cid)[0] not in (12, 13)]
    if missing:
        raise SystemExit("internal error: no body for %s" % ", ".join(missing))
    pats = [x.strip() for x in args.cases.split(",") if x.strip()]
    excl = [x.strip() for x in args.exclude.split(",") if x.strip()]
    ids = select_cases(pats, excl, table.keys())
    if args.list:
        for cid in ids:
            print("%-8s %s" % (cid, table[cid][0]))
        return 0
    if not ids:
        raise SystemExit("no case matches %s" % args.cases)

    runner = Runner(args)
    agent = args.agent or args.url
    out = sys.stdout
    pre = "# " if args.tap else ""
    if args.tap:
        print("1..%d" % len(ids), flush=True)
    print("%swsconform: %d cases against %s (time unit %.2fs, cat 9 scale %g)" %
          (pre, len(ids), args.url, runner.unit, runner.scale), file=out, flush=True)
    results = {}
    counts = {}
    t_start = time.monotonic()
    for n, cid in enumerate(ids, 1):
        desc, exp = table[cid]
        c = runner.run_case(cid, desc, exp)
        if n == 1 and c.p is not None and c.p.state == CONNECTING:
            # Nothing listens there: one clear error instead of hundreds of failed cases.
            print("%swsconform: %s" % (pre, c.result), flush=True)
            return 2
        v = c.verdict()
        counts[v] = counts.get(v, 0) + 1
        results[cid] = c
        close_info = ""
        if c.p is not None:
            close_info = " close=%s/%s" % (c.behavior_close, c.p.remote_close_code)
        size = " [%s]" % c.size_note if c.size_note else ""
        line = "%-8s %-13s %5dms%s%s  %s" % (cid, v, 1000 * c.duration, close_info, size,
                                              desc[:70])
        if args.tap:
            status = "not ok" if v == FAILED else "ok"
            note = "" if v == OK else " # %s" % v
            print("%s %d case %s%s%s" % (status, n, cid, " [%s]" % args.agent if args.agent
                                          else "", note), flush=True)
        print(pre + line, file=out, flush=True)
        if v != OK and (args.verbose or v == FAILED):
            print("%s    result: %s | close: %s" % (pre, c.result, c.result_close), file=out)
            if c.p is not None:
                print("%s    expected: %s" % (pre, {k: short(v2) for k, v2 in c.expected.items()}),
                      file=out)
                print("%s    observed: %s" % (pre, short(c.received)), file=out)
                if c.server_error:
                    print("%s    server error: %s" % (pre, c.server_error), file=out)
                if args.verbose:
                    for w in c.p.wirelog[:40]:
                        print("%s      %s" % (pre, w), file=out)
            out.flush()
    elapsed = time.monotonic() - t_start
    order = [OK, NON_STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED]
    summary = ", ".join("%d %s" % (counts.get(k, 0), k) for k in order)
    print("%swsconform: %d cases in %.1fs: %s" % (pre, len(ids), elapsed, summary), flush=True)
    non_ok = [cid for cid in ids if results[cid].verdict() not in (OK, UNIMPLEMENTED)]
    if non_ok:
        print("%swsconform: not OK: %s" % (pre, ", ".join(
            "%s=%s" % (cid, results[cid].verdict()) for cid in non_ok)), flush=True)
    if args.json:
        report = {agent: {cid: report_entry(results[cid]) for cid in ids}}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    return 1 if counts.get(FAILED) else 0


if __name__ == "__main__":
    sys.exit(main())
