#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Write the small seed corpus of the codec fuzz targets (fuzz/seeds/).

Each seed is a few bytes long and starts with the configuration prefix its
target expects (see the comment at the top of each fuzz_*.c), so the fuzzer
begins from RFC 6455 example frames, every error rule and the Autobahn
category 6 UTF-8 cases instead of from nothing.
"""
import os
import re
import struct
import sys

KEY = bytes.fromhex("37fa213d")


def frame(op, payload=b"", fin=True, mask=None, rsv=0, len_form=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if len_form == 127 or (len_form is None and n > 0xFFFF):
        hdr = bytes([b0, m | 127]) + struct.pack(">Q", n)
    elif len_form == 126 or (len_form is None and n >= 126):
        hdr = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, m | n])
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        hdr += mask
    return hdr + payload


def streams():
    """(name, server?, stream) pairs: valid traffic and each error rule."""
    s = []
    for srv in (0, 1):
        k = KEY if srv else None
        side = "srv" if srv else "cli"
        s += [
            (f"{side}-hello", srv, frame(1, b"Hello", mask=k)),
            (f"{side}-frag", srv, frame(1, b"Hel", False, k) + frame(0, b"lo", mask=k)),
            (f"{side}-ping", srv, frame(9, b"Hello", mask=k)),
            (f"{side}-bin256", srv, frame(2, bytes(range(256)), mask=k)),
            (f"{side}-len16-nonminimal", srv, frame(2, b"abc", mask=k, len_form=126)),
            (f"{side}-len64", srv, frame(2, b"abc", mask=k, len_form=127)),
            (f"{side}-interleaved", srv, frame(1, b"a", False, k) + frame(9, b"p", mask=k)
             + frame(0, b"b", mask=k)),
            (f"{side}-empty", srv, frame(1, mask=k) + frame(1, b"", False, k) + frame(0, mask=k)),
            (f"{side}-close", srv, frame(8, b"\x03\xe8bye", mask=k) + frame(1, b"x", mask=k)),
            (f"{side}-close-empty", srv, frame(8, mask=k)),
            (f"{side}-close-1byte", srv, frame(8, b"\x03", mask=k)),
            (f"{side}-close-1005", srv, frame(8, b"\x03\xed", mask=k)),
            (f"{side}-close-badutf8", srv, frame(8, b"\x03\xe8\xc0\x80", mask=k)),
            (f"{side}-rsv1", srv, frame(1, b"x", mask=k, rsv=4)),
            (f"{side}-op3", srv, frame(3, b"x", mask=k)),
            (f"{side}-opB", srv, frame(0xB, b"x", mask=k)),
            (f"{side}-ping126", srv, frame(9, bytes(126), mask=k)),
            (f"{side}-ping-nofin", srv, frame(9, b"x", False, k)),
            (f"{side}-cont-orphan", srv, frame(0, b"x", mask=k)),
            (f"{side}-text-in-text", srv, frame(1, b"x", False, k) + frame(1, b"y", mask=k)),
            (f"{side}-wrong-mask", srv, frame(1, b"x", mask=None if srv else KEY)),
            (f"{side}-msb", srv, bytes([0x82, (0x80 if srv else 0) | 127, 0x80]) + bytes(7)
             + (KEY if srv else b"")),
            (f"{side}-utf8-bad", srv, frame(1, bytes.fromhex("cebae1bdb9cf83cebcceb5eda080"), mask=k)),
            (f"{side}-utf8-split", srv, frame(1, b"\xce", False, k) + frame(0, b"\xba", mask=k)),
            (f"{side}-utf8-trunc", srv, frame(1, b"\xe2\x82", mask=k)),
        ]
    return s


def autobahn6(path):
    try:
        with open(path) as f:
            return re.findall(r"^(6\.\d+\.\d+) .*Payload: 0x([0-9a-f]+)", f.read(), re.M)
    except OSError:
        return []


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "seeds")
    cases = autobahn6(os.environ.get("AUTOBAHN_CASES", "/work/shared/notes/autobahn-cases.txt"))

    def put(target, name, data):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    for name, srv, st in streams():
        # fuzz_stream: role/flags, max_msg (unlimited, or 64 for 1009), seed.
        put("fuzz_stream", name, bytes([srv, 0xFF, 0, 0, 1]) + st)
        put("fuzz_stream", name + "-max64", bytes([srv, 1, 6, 0, 2]) + st)
    # fuzz_roundtrip: role, then (selector, length[, length]) + payload.
    put("fuzz_roundtrip", "text-frag-ping", bytes([1, 0x01, 3]) + b"Hel" + bytes([0x00, 1]) + b"p"
        + bytes([0x0B, 2]) + b"lo")
    put("fuzz_roundtrip", "bin-300", bytes([0, 0x82, 1, 0x2C]) + bytes(300))
    put("fuzz_roundtrip", "empty-frames", bytes([1, 0x01, 0, 0x03, 0, 0x0B, 0]))
    # fuzz_utf8: seed/phase, key, text.
    put("fuzz_utf8", "ascii", bytes([0x41]) + KEY + b"plain ascii text, long enough for words")
    put("fuzz_utf8", "mixed", bytes([0x82]) + KEY + "aé€😀κόσμε𐍈".encode() * 3)
    for cid, hexs in cases:
        put("fuzz_utf8", "autobahn-" + cid, bytes([0xC3]) + KEY + bytes.fromhex(hexs))


if __name__ == "__main__":
    main()
