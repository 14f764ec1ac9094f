#!/usr/bin/env python3
"""Seeds of fuzz_server (see fuzz_server.c for the input format).

    fuzz/make_server_seeds.py OUT_DIR

Each seed is a sequence of calls: op (1 byte: method | 8 template | 16 do
not wait | 32 cancel after the first message), a little-endian uint16
length, and the request's bytes (serialized protobuf, or a template).  The
op 6 is no call: swap.mefd replaced by a link leading out, or put back.  The
paths name the harness's root: a.mefd (golden a_single_256hz, starting at
1600000000123456 µUTC, 180 s), b.mefd (b_multi_8ch, 1600000000000000, 60 s,
rates 256/1000/499.7/5000 Hz), enc.mefd (d_encrypted, l1pass/l2pass).
"""
import os
import struct
import sys

OPEN, CLOSE, INFO, RANGE, LIST, BOGUS, SWAP, ENVELOPE = range(8)
TPL, ASYNC, CANCEL = 8, 16, 32
A0, B0 = 1600000000123456, 1600000000000000


def varint(v):
    v &= (1 << 64) - 1
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def fbytes(field, b):
    if isinstance(b, str):
        b = b.encode("utf-8", "surrogateescape")
    return varint(field << 3 | 2) + varint(len(b)) + b


def fint(field, v):
    return varint(field << 3) + varint(v)


def open_req(path, password=None):
    return fbytes(1, path) + (fbytes(2, password) if password is not None else b"")


def path_req(path):
    return fbytes(1, path)


def range_req(path, chans, start, end):
    return (fbytes(1, path) + b"".join(fbytes(2, c) for c in chans)
            + fint(3, start) + fint(4, end))


def env_req(path, chans, start, end, cols):
    return range_req(path, chans, start, end) + fint(5, cols)


def call(op, body=b""):
    return bytes([op]) + struct.pack("<H", len(body)) + body


def tpl(path_idx, b1=0, start=0, length=0, flags=0, b11=0, chans=b"", cols=0):
    """A template: t[0] path index, t[1] password index (open) or channel
    count (range, envelope), t[2..5] start offset, t[6..9] length, t[10]
    flags, t[12..14] max_columns (envelope)."""
    t = bytes([path_idx & 0xFF, b1 & 0xFF]) + struct.pack("<i", start) \
        + struct.pack("<I", length) + bytes([flags, b11]) \
        + struct.pack("<I", cols)[:3] + b"\0"
    return t + chans


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}

    a = "a.mefd"
    seeds["rpc-every-method-a"] = (
        call(OPEN, open_req(a)) + call(INFO, path_req(a))
        + call(RANGE, range_req(a, ["ch01"], A0, A0 + 10_000_000))
        + call(RANGE, range_req(a, [], A0 - 5_000_000, A0 + 185_000_000))
        + call(LIST) + call(CLOSE, path_req(a)) + call(INFO, path_req(a)))
    seeds["rpc-open-twice-aliases"] = (
        call(OPEN, open_req(a)) + call(OPEN, open_req("in.mefd"))
        + call(OPEN, open_req("./a.mefd")) + call(LIST)
        + call(RANGE, range_req("in.mefd", ["ch01"], A0 + 1234567, A0 + 29_000_001))
        + call(CLOSE, path_req("in.mefd")) + call(LIST))
    seeds["rpc-b-rates"] = (
        call(OPEN, open_req("b.mefd"))
        + call(RANGE, range_req("b.mefd", ["ch01", "ch02", "ch03"], B0, B0 + 10_000_000))
        + call(RANGE, range_req("b.mefd", ["ch07"], B0 + 3, B0 + 16_000_000))
        + call(RANGE, range_req("b.mefd", ["ch07"], B0 + 777777, B0 + 11_234_567))
        + call(RANGE, range_req("b.mefd", ["ch06", "ch04"], B0 - 500000, B0 + 3_500_000))
        + call(RANGE, range_req("b.mefd", ["ch08"], B0 + 100, B0 + 299))
        + call(RANGE, range_req("b.mefd", ["ch01", "ch04"], B0, B0 + 1_000_000))
        + call(RANGE, range_req("b.mefd", [], B0, B0 + 1_000_000))
        + call(RANGE, range_req("b.mefd", ["ch01", "nope", "nix"], B0, B0 + 1_000_000)))
    seeds["rpc-encrypted"] = (
        call(OPEN, open_req("enc.mefd")) + call(OPEN, open_req("enc.mefd", "wr0ngPa55"))
        + call(OPEN, open_req("enc.mefd", "l1pass"))
        + call(RANGE, range_req("enc.mefd", ["ch01"], 0, 10_000_000))
        + call(CLOSE, path_req("enc.mefd"))
        + call(OPEN, open_req("enc.mefd", "l2pass"))
        + call(RANGE, range_req("enc.mefd", ["ch02"], B0, B0 + 6_000_000))
        + call(INFO, path_req("enc.mefd")))
    seeds["rpc-times"] = (
        call(OPEN, open_req(a))
        + call(RANGE, range_req(a, ["ch01"], A0 + 10, A0))
        + call(RANGE, range_req(a, ["ch01"], A0, A0 + 1))
        + call(RANGE, range_req(a, ["ch01"], A0, A0 + 1953))
        + call(RANGE, range_req(a, ["ch01"], -(1 << 63), (1 << 63) - 1))
        + call(RANGE, range_req(a, ["ch01"], -(1 << 60), 1 << 60))
        + call(RANGE, range_req(a, ["ch01"], A0, A0 + 3600_000_000))
        + call(RANGE, range_req(a, ["ch01"], 0, 1_000_000))
        + call(RANGE, range_req(a, ["ch01", "ch01", "ch01"], A0 + 1953, A0 + 10_001_953))
        + call(RANGE, range_req(a, ["ch01"], A0 - 1_000_000, A0 + 31_000_000)))
    seeds["rpc-paths"] = b"".join(
        call(OPEN, open_req(p)) for p in [
            "", "/", ".", "..", "../root/a.mefd", "sub/../a.mefd", "/etc",
            "/etc/passwd", "out.mefd", "outfile", "chain.mefd", "sub/hop.mefd",
            "sneaky.mefd", "a.mefd/", "a.mefd//", ".//a.mefd", "a.mefd/ch01.timd",
            "nope.mefd", "x" * 5000, "./" * 1000 + "a.mefd", "a/" * 2100,
            "a.mefd\udcff\udcfe", "sub", "a.mefd/.."]) + call(LIST)
    seeds["rpc-nul"] = (
        call(OPEN, open_req("a.mefd\0../../etc")) + call(OPEN, open_req(a, "l2pass\0x"))
        + call(INFO, path_req("a.mefd\0")) + call(CLOSE, path_req("\0"))
        + call(RANGE, range_req("a.mefd\0", ["ch01"], A0, A0 + 1_000_000))
        + call(RANGE, range_req(a, ["ch\0" + "01"], A0, A0 + 1_000_000)))
    seeds["rpc-malformed"] = (
        call(OPEN, b"\x0a\xff") + call(OPEN, b"\xff\xff\xff") + call(INFO, b"\x0a")
        + call(RANGE, b"\x0a\x06a.mefd\x18\xff\xff") + call(RANGE, b"")
        + call(LIST, b"\x0a\x03abc") + call(CLOSE, b"\x08\x01")
        + call(OPEN, fint(1, 5)) + call(RANGE, fbytes(3, "x")))
    seeds["rpc-bogus-method"] = call(BOGUS, open_req(a)) + call(LIST)
    seeds["rpc-concurrent"] = (
        call(OPEN, open_req(a)) + call(OPEN, open_req("b.mefd"))
        + call(RANGE | ASYNC, range_req(a, ["ch01"], A0, A0 + 30_000_000))
        + call(RANGE | ASYNC, range_req("b.mefd", ["ch04"], B0, B0 + 8_000_000))
        + call(RANGE | ASYNC, range_req(a, [], A0, A0 + 25_000_000))
        + call(CLOSE | ASYNC, path_req(a)) + call(LIST))
    seeds["rpc-cancel"] = (
        call(OPEN, open_req(a))
        + call(RANGE | CANCEL, range_req(a, ["ch01"], A0, A0 + 30_000_000))
        + call(INFO | CANCEL, path_req(a))
        + call(RANGE, range_req(a, ["ch01"], A0, A0 + 20_000_000)))
    seeds["rpc-limits"] = (
        call(OPEN, open_req(a)) + call(OPEN, open_req("b.mefd"))
        + call(OPEN, open_req("enc.mefd", "l2pass")) + call(OPEN, open_req("a.mefd/ch01.timd"))
        + call(RANGE, range_req("b.mefd", ["ch08"], B0, B0 + 60_000_000))
        + call(RANGE, range_req("b.mefd", ["ch08"], B0, B0 + 1_638_400))
        + call(RANGE, range_req("b.mefd", ["ch08"], B0, B0 + 1_638_600)))
    sw = "swap.mefd"
    seeds["rpc-swap-after-open"] = (
        call(OPEN, open_req(sw))
        + call(RANGE, range_req(sw, ["ch01"], A0, A0 + 10_000_000)) + call(SWAP)
        + call(RANGE, range_req(sw, ["ch01"], A0, A0 + 10_000_000))
        + call(RANGE, range_req(sw, ["ch01"], A0 + 130_000_000, A0 + 140_000_000))
        + call(LIST) + call(OPEN, open_req(sw)) + call(INFO, path_req(sw)) + call(SWAP)
        + call(RANGE, range_req(sw, ["ch01"], A0 + 130_000_000, A0 + 140_000_000)))
    # templates: every path, every password, ranges over each file
    seeds["tpl-open-paths"] = b"".join(call(OPEN | TPL, tpl(i, 0)) for i in range(35))
    seeds["tpl-open-passwords"] = b"".join(call(OPEN | TPL, tpl(2, k)) for k in range(7))
    seeds["tpl-ranges"] = (
        call(OPEN | TPL, tpl(0)) + call(OPEN | TPL, tpl(1)) + call(OPEN | TPL, tpl(2, 3))
        + call(RANGE | TPL, tpl(0, 1, 0, 40, 0x0F, chans=b"\0"))
        + call(RANGE | TPL, tpl(0, 0, 17, 20, 0x0E))
        + call(RANGE | TPL, tpl(1, 2, 3, 7000, 0x05, chans=b"\x06\x05"))
        + call(RANGE | TPL, tpl(1, 1, -2, 9, 0x0F, chans=b"\x06"))
        + call(RANGE | TPL, tpl(1, 3, 0, 9, 0x0F, chans=b"\x00\x08\x09"))
        + call(RANGE | TPL, tpl(2, 1, 0, 10, 0x0F, chans=b"\x01"))
        + call(RANGE | TPL, tpl(0, 1, 5, 0, 0x40, 0xF0))
        + call(INFO | TPL, tpl(3)) + call(CLOSE | TPL, tpl(4)))
    # GetEnvelope (an addition): every level, bad columns and times, a
    # token, concurrency, a cancel
    seeds["rpc-envelope"] = (
        call(OPEN, open_req(a)) + call(OPEN, open_req("b.mefd"))
        + call(ENVELOPE, env_req(a, ["ch01"], A0, A0 + 180_000_000, 40))
        + call(ENVELOPE, env_req(a, [], A0 - 5_000_000, A0 + 185_000_000, 1))
        + call(ENVELOPE, env_req(a, ["ch01"], A0 + 1234567, A0 + 3_000_000, 100))
        + call(ENVELOPE, env_req("b.mefd", ["ch04", "ch05"], B0, B0 + 60_000_000, 300))
        + call(ENVELOPE, env_req("b.mefd", ["ch07"], B0 + 3, B0 + 59_000_001, 7))
        + call(ENVELOPE, env_req("b.mefd", [], B0, B0 + 10_000_000, 10))
        + call(ENVELOPE, env_req("b.mefd", ["ch01", "nope", "nix"], B0, B0 + 1_000_000, 10))
        + call(ENVELOPE, env_req(a, ["ch01"], A0, A0 + 10_000_000, 0))
        + call(ENVELOPE, env_req(a, ["ch01"], A0, A0 + 10_000_000, 65537))
        + call(ENVELOPE, env_req(a, ["ch01"], A0, A0 + 10_000_000, (1 << 63) - 1))
        + call(ENVELOPE, env_req(a, ["ch01"], A0 + 10, A0, 10))
        + call(ENVELOPE, env_req(a, ["ch01"], -(1 << 63), (1 << 63) - 1, 10))
        + call(ENVELOPE, env_req(a, ["ch01"], A0, A0 + 180_000_000, 5000))
        + call(ENVELOPE, env_req("nope.mefd", [], 0, 10, 10))
        + call(ENVELOPE, env_req("a.mefd\0", ["ch01"], A0, A0 + 1_000_000, 10))
        + call(ENVELOPE, b"\x0a\x06a.mefd\x28\xff") + call(ENVELOPE, b""))
    seeds["rpc-envelope-encrypted"] = (
        call(OPEN, open_req("enc.mefd", "l1pass"))
        + call(ENVELOPE, env_req("enc.mefd", ["ch01"], 0, 60_000_000, 50))
        + call(ENVELOPE | 64, env_req("enc.mefd", ["ch01"], 0, 60_000_000, 50))
        + call(ENVELOPE | 64 | 128, env_req("enc.mefd", ["ch01"], 0, 60_000_000, 50))
        + call(ENVELOPE | ASYNC, env_req(a, ["ch01"], A0, A0 + 100_000_000, 30))
        + call(ENVELOPE | CANCEL, env_req("b.mefd", ["ch08"], B0, B0 + 60_000_000, 400))
        + call(CLOSE | 64, path_req("enc.mefd")))
    seeds["tpl-envelopes"] = (
        call(OPEN | TPL, tpl(0)) + call(OPEN | TPL, tpl(1))
        + call(ENVELOPE | TPL, tpl(0, 1, 0, 180, 0x0F, chans=b"\0", cols=90))
        + call(ENVELOPE | TPL, tpl(1, 2, 3, 7000, 0x05, chans=b"\x06\x05", cols=3))
        + call(ENVELOPE | TPL, tpl(1, 0, 0, 60, 0x0F, cols=0))
        + call(ENVELOPE | TPL, tpl(0, 1, 0, 40, 0x0F, chans=b"\0", cols=65536))
        + call(ENVELOPE | TPL, tpl(0, 1, 0, 40, 0x0F, chans=b"\0", cols=200000)))
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
