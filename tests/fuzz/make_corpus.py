#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into corpus/<target>/.

Seeds are small valid inputs in each target's input format (see the
comment at the top of each fuzz_*.cpp): the examples of RFC 6455 and
RFC 7692, the real sessions that capture_peers.py recorded in captures/
(Python websockets, Chromium, Node's ws), frames compressed by zlib, and a
few broken variants of each, so that the fuzzer starts next to every
interesting branch. Deterministic: running it again gives the same files.

    python3 tests/fuzz/make_corpus.py
"""
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def capture(name):
    with open(os.path.join(HERE, "captures", name + ".bin"), "rb") as f:
        return f.read()


def split_head(data):
    """(HTTP head, what follows it) of a captured session."""
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


class Corpus:
    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.names = set()

    def add(self, name, data):
        assert name not in self.names, name
        self.names.add(name)
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


def cuts(*lengths):
    """fuzz::read_pieces's plan: a count, then the piece lengths."""
    assert len(lengths) < 16 and all(0 <= n < 256 for n in lengths)
    return bytes([len(lengths), *lengths])


# ---- Frames ------------------------------------------------------------------

def frame(opcode, payload=b"", fin=True, rsv1=False, mask=None):
    """A frame as RFC 6455 5.2 lays it out, masked with `mask` when given."""
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes([b0, mask_bit | n])
    elif n < 65536:
        head = bytes([b0, mask_bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mask_bit | 127]) + struct.pack(">Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def deflate_message(parts, wbits=15, level=6, compressor=None):
    """permessage-deflate payloads of one message sent in len(parts) frames:
    each flushed, the last without its 00 00 ff ff (RFC 7692 7.2.1)."""
    c = compressor or zlib.compressobj(level, zlib.DEFLATED, -max(wbits, 9))
    out = []
    for i, part in enumerate(parts):
        data = c.compress(part.encode() if isinstance(part, str) else part)
        data += c.flush(zlib.Z_SYNC_FLUSH)
        if i == len(parts) - 1:
            assert data.endswith(b"\x00\x00\xff\xff")
            data = data[:-4] or b"\x00"
        out.append(data)
    return out


# ---- fuzz_utf8 ---------------------------------------------------------------

def utf8_seeds():
    c = Corpus("fuzz_utf8")
    valid = "Hello, \u00e9t\u00e9 \u20ac \U0001F600 \u0800\uffff\U00010000\U0010ffff \u0080\u07ff"
    c.add("valid-mixed", cuts() + valid.encode())
    c.add("valid-mixed-cut-inside", cuts(8, 1, 1, 3, 2) + valid.encode())
    long_text = ("ASCII then \u00fcmlauts, \u4e2d\u6587, emoji \U0001F680 " * 4).encode()
    c.add("valid-long", cuts() + long_text)
    c.add("valid-long-cut", cuts(31, 1, 33, 2) + long_text)
    c.add("ascii-64", cuts() + b"a" * 64)
    c.add("empty", b"")
    invalid = {
        "overlong-2": b"\xc0\x80", "overlong-2b": b"\xc1\xbf", "overlong-3": b"\xe0\x80\x80",
        "overlong-4": b"\xf0\x80\x80\x80", "surrogate": b"\xed\xa0\x80",
        "surrogate-low": b"\xed\xbf\xbf", "too-large": b"\xf4\x90\x80\x80",
        "f5": b"\xf5\x80\x80\x80", "ff": b"\xff", "stray-continuation": b"\x80",
        "truncated-2": b"\xc3", "truncated-3": b"\xe2\x82", "truncated-4": b"\xf0\x9f\x98",
        "lead-then-ascii": b"\xe2a\x82",
    }
    for name, bad in invalid.items():
        c.add("invalid-" + name, cuts() + b"ok " + bad + b" end")
        # The same error near the end of a 64-byte block, for the vector engine.
        c.add("invalid-long-" + name, cuts(40) + b"x" * 60 + bad + b"y" * (70 - len(bad)))
        c.add("invalid-at-end-" + name, cuts() + b"z" * 62 + bad)


# ---- fuzz_uri ----------------------------------------------------------------

def uri_seeds():
    c = Corpus("fuzz_uri")
    uris = [
        "ws://example.com/chat", "wss://example.com/chat?room=1&x=%20y", "ws://example.com",
        "WS://EXAMPLE.COM:80/", "wss://example.com:8443/a/b/c?", "ws://127.0.0.1:8765/",
        "ws://[::1]:8080/path", "ws://[2001:db8::7]/", "ws://[fe80::1%25eth0]:9000/",
        "ws://[::ffff:192.0.2.1]/", "ws://user:pa%3Ass@host/", "ws://user:@host/",
        "ws://b\u00fccher.example/caf\u00e9?\u00e9t\u00e9", "ws://\u4f8b\u3048.jp/",
        "ws://host/path with space", "ws://host#fragment", "http://example.com/",
        "ws://host:0/", "ws://host:65536/", "ws://:80/", "ws://user@host/", "ws://host/%zz",
        "ws://host/a|b{c}\"d", "ws://[::1/", "ws://[1:2:3:4:5:6:7:8:9]/",
        "ws://a.b-c_d~e!$&'()*+,;=/", "wss://x.y:65535/?a?b",
    ]
    for i, u in enumerate(uris):
        c.add("uri-%02d" % i, u.encode())


# ---- fuzz_headers ------------------------------------------------------------

def headers_seeds():
    c = Corpus("fuzz_headers")
    values = [
        "Upgrade", "keep-alive, Upgrade", "websocket", "HTTP/2.0, websocket", " , a ,, b ,",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=\"10\", "
        "permessage-deflate",
        "x-foo; a=1; b=\"2\"; c", "x-foo; a=\"not a token\"", "x-foo;;", "chat, superchat",
        "Basic dXNlcjpwYXNz", "basic Zm9vOmJhcjpiYXo=", "Bearer abc", "Basic ====",
        "Basic dXNlcg==", "token\twith\ttabs", "\"unterminated", "a=\"q\\\"uoted\"",
        "x; y=\"\\", "v\x00l", "\u00e9\u00e8",
    ]
    # A byte picks the check (fuzz_headers.cpp): each value goes to all seven.
    checks = ["connection", "upgrade", "extensions", "subprotocols", "authorization", "checks",
              "container"]
    for i, v in enumerate(values):
        for k, check in enumerate(checks):
            c.add("%s-%02d" % (check, i), bytes([k]) + v.encode())


# ---- fuzz_http_request / fuzz_http_response -----------------------------------

RFC_REQUEST = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
RFC_RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                b"Sec-WebSocket-Protocol: chat\r\n\r\n")
SESSIONS = ["python-deflate", "python-plain", "chromium", "node-client", "node-server"]


def http_seeds():
    req = Corpus("fuzz_http_request")
    tiny = bytes([1, 40, 40, 8, 100, 60])  # flags: tiny limits, then the five limits
    req.add("rfc6455", b"\0" + cuts() + RFC_REQUEST)
    req.add("rfc6455-cut", b"\0" + cuts(1, 17, 2, 40, 1) + RFC_REQUEST)
    req.add("rfc6455-tiny-limits", tiny + cuts() + RFC_REQUEST)
    for s in SESSIONS:
        head, rest = split_head(capture(s + "-c2s"))
        req.add(s, b"\0" + cuts() + head + rest[:20])
        req.add(s + "-cut", b"\0" + cuts(3, 30, 100, 1) + head)
    req.add("obs-fold", b"\0" + cuts() + b"GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: h\r\n\r\n")
    req.add("http10", b"\0" + cuts() + b"GET /x?y HTTP/1.0\r\nHost: h\r\n\r\n")
    req.add("post-body", b"\0" + cuts() + b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    req.add("lf-only", b"\0" + cuts() + b"GET / HTTP/1.1\nHost: h\n\n")
    req.add("leading-crlf", b"\0" + cuts() + b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
    req.add("space-before-colon", b"\0" + cuts() + b"GET / HTTP/1.1\r\nHost : h\r\n\r\n")

    res = Corpus("fuzz_http_response")
    res.add("rfc6455", b"\0" + cuts() + RFC_RESPONSE)
    res.add("rfc6455-cut", b"\0" + cuts(5, 9, 1, 30) + RFC_RESPONSE)
    res.add("rfc6455-tiny-limits", tiny + cuts() + RFC_RESPONSE)
    for s in SESSIONS:
        head, rest = split_head(capture(s + "-s2c"))
        res.add(s, b"\0" + cuts() + head + rest[:20])
    res.add("content-length", b"\0" + cuts(20) +
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request")
    res.add("chunked", b"\0" + cuts(40, 3) + b"HTTP/1.1 403 Forbidden\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    res.add("until-eof", b"\0" + cuts() + b"HTTP/1.0 200 OK\r\n\r\nbody until the end")
    res.add("no-body-204", b"\0" + cuts() + b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
    res.add("no-reason", b"\0" + cuts() + b"HTTP/1.1 426 \r\nUpgrade: websocket\r\n\r\n")
    res.add("body-too-long", tiny + cuts() + b"HTTP/1.1 500 x\r\nContent-Length: 99\r\n\r\n")


# ---- fuzz_handshake ----------------------------------------------------------

def handshake_seeds():
    c = Corpus("fuzz_handshake")
    server_options = {
        "defaults": bytes([0x08, 0x60, 0x20]),
        "require-cmwb-10": bytes([0x0C | 0xA0, 0x6A, 0x20]),
        "no-context-takeover-8": bytes([0x0B | 0x80, 0x68, 0x21]),
        "no-limits": bytes([0x00, 0x00, 0x00]),
    }
    offers = [
        b"permessage-deflate; client_max_window_bits",
        b"permessage-deflate; server_max_window_bits=8; client_max_window_bits=8; "
        b"server_no_context_takeover; client_no_context_takeover",
        b"permessage-deflate; client_max_window_bits=9, permessage-deflate",
        b"permessage-deflate; unknown=1, permessage-deflate; server_max_window_bits=10",
        b"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=15",
    ]
    for name, opts in server_options.items():
        c.add("rfc6455-" + name, b"\0" + opts + b"\x07" + RFC_REQUEST)
        for i, offer in enumerate(offers):
            req = RFC_REQUEST[:-2] + b"Sec-WebSocket-Extensions: " + offer + b"\r\n\r\n"
            c.add("offer-%d-%s" % (i, name), b"\0" + opts + bytes([i * 13]) + req)
    for s in SESSIONS:
        head, _ = split_head(capture(s + "-c2s"))
        c.add("request-" + s, b"\0" + server_options["defaults"] + b"\x01" + head)
    bad = {
        "no-upgrade": RFC_REQUEST.replace(b"Upgrade: websocket\r\n", b""),
        "version-8": RFC_REQUEST.replace(b"Version: 13", b"Version: 8"),
        "short-key": RFC_REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhl"),
        "two-keys": RFC_REQUEST[:-2] + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        "connection-list": RFC_REQUEST.replace(b"Connection: Upgrade",
                                               b"Connection: keep-alive, Upgrade"),
    }
    for name, req in bad.items():
        c.add("request-" + name, b"\0" + server_options["defaults"] + b"\0" + req)

    client_options = {
        "defaults": bytes([0x0C, 0x60, 0x20]),
        "asks-12-both": bytes([0x0C | 0xC0, 0x6C, 0x20]),
        "asks-no-context-takeover": bytes([0x0F, 0x60, 0x20]),
    }
    answers = [
        b"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        b"permessage-deflate", b"permessage-deflate; client_max_window_bits",
        b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        b"permessage-deflate; server_max_window_bits=15, permessage-deflate",
        b"x-unknown",
    ]
    for name, opts in client_options.items():
        c.add("response-rfc6455-" + name, b"\1" + opts + b"\0" + RFC_RESPONSE)
        for i, answer in enumerate(answers):
            res = RFC_RESPONSE[:-2] + b"Sec-WebSocket-Extensions: " + answer + b"\r\n\r\n"
            c.add("answer-%d-%s" % (i, name), b"\1" + opts + b"\0" + res)
    for s in SESSIONS:
        head, _ = split_head(capture(s + "-s2c"))
        c.add("response-" + s, b"\1" + client_options["defaults"] + b"\0" + head)


# ---- fuzz_accept -------------------------------------------------------------

def accept_seeds():
    c = Corpus("fuzz_accept")
    # Settings bytes (fuzz_accept.cpp): deflate, origins, subprotocols; a
    # fixed extra header; a time.
    plain, everything = b"\x01", bytes([0x01 | 0x04 | 0x10])
    time = struct.pack("<I", 784111777)
    with_origin = RFC_REQUEST.replace(b"Origin: http://example.com", b"Origin: https://example.com")
    good = {
        "rfc6455": (plain, RFC_REQUEST),
        "rfc6455-origin-subprotocol": (everything, with_origin),
        "deflate": (plain, RFC_REQUEST[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate; "
                           b"client_max_window_bits\r\n\r\n"),
        "tls-select-process-request": (bytes([0x01 | 0x02 | 0x10 | 0x20]), RFC_REQUEST),
    }
    for name, (flags, req) in good.items():
        c.add("valid-" + name, flags + b"\x01" + time + req)
    for s in SESSIONS:
        head, _ = split_head(capture(s + "-c2s"))
        c.add("valid-" + s, plain + b"\x03" + time + head)
    bad = {
        "post": RFC_REQUEST.replace(b"GET ", b"POST ", 1),
        "http10": RFC_REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        "no-host": RFC_REQUEST.replace(b"Host: server.example.com\r\n", b""),
        "body": RFC_REQUEST[:-2] + b"Content-Length: 3\r\n\r\nabc",
        "no-upgrade": RFC_REQUEST.replace(b"Upgrade: websocket\r\n", b""),
        "short-key": RFC_REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhl"),
        "version-8": RFC_REQUEST.replace(b"Version: 13", b"Version: 8"),
        "bad-extensions": RFC_REQUEST[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate;;\r\n\r\n",
        "not-http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    }
    for name, req in bad.items():
        c.add("invalid-" + name, everything + b"\x01" + time + req)
    c.add("invalid-origin", everything + b"\x01" + time + RFC_REQUEST)
    c.add("invalid-extra-header", plain + b"\x02" + time + RFC_REQUEST)
    c.add("invalid-subprotocol-choice", bytes([0x01 | 0x10 | 0x40]) + b"\x01" + time + RFC_REQUEST)


# ---- fuzz_inflate ------------------------------------------------------------

def inflate_frame(payload, fin=True, rsv1=True, binary=False):
    flags = (1 if fin else 0) | (2 if rsv1 else 0) | (4 if binary else 0)
    return bytes([flags]) + struct.pack("<H", len(payload)) + payload


def inflate_seeds():
    c = Corpus("fuzz_inflate")
    text = "Hello, hello, hello! permessage-deflate compresses this. " * 3

    def settings(wbits, no_context_takeover, max_size_index):
        return bytes([(wbits - 8) | (8 if no_context_takeover else 0) | (max_size_index << 4)])

    # RFC 7692 7.2.3.1: "Hello" in one frame, and 7.2.3.2 in two frames.
    c.add("rfc7692-hello", settings(15, False, 1) + inflate_frame(bytes.fromhex("f248cdc9c90700")))
    c.add("rfc7692-hello-fragmented", settings(15, False, 1) +
          inflate_frame(bytes.fromhex("f248cd"), fin=False) +
          inflate_frame(bytes.fromhex("c9c90700"), rsv1=False))
    # 7.2.3.3: two messages sharing the LZ77 window.
    c.add("rfc7692-context-takeover", settings(15, False, 1) +
          inflate_frame(bytes.fromhex("f248cdc9c90700")) +
          inflate_frame(bytes.fromhex("f200110000")))
    # 7.2.3.4: a stored (uncompressed) block; 7.2.3.5: two blocks.
    c.add("rfc7692-stored-block", settings(15, False, 1) +
          inflate_frame(bytes.fromhex("0005 00faff48656c6c6f00".replace(" ", ""))))
    c.add("rfc7692-two-blocks", settings(15, False, 1) +
          inflate_frame(bytes.fromhex("f24805000000ffffcac9c90700")))
    # A final block (BFINAL), then more: the library's own continuation.
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    final = comp.compress(b"final block") + comp.flush(zlib.Z_FINISH)
    c.add("final-block", settings(15, False, 1) + inflate_frame(final) + inflate_frame(final))
    for wbits in (8, 9, 12, 15):
        for nct in (False, True):
            name = "w%d%s" % (wbits, "-nct" if nct else "")
            comp = None if nct else zlib.compressobj(6, zlib.DEFLATED, -max(wbits, 9))
            data = settings(wbits, nct, 2)
            for i in range(3):
                parts = deflate_message([text[: 40 + 30 * i]] if i != 1 else
                                        [text[:50], text[50:90], text[90:]], wbits, 6, comp)
                for k, p in enumerate(parts):
                    data += inflate_frame(p, fin=k == len(parts) - 1, rsv1=k == 0,
                                          binary=i == 2)
            data += inflate_frame(b"not compressed", rsv1=False)
            c.add(name, data)
    bomb = deflate_message([b"\0" * (1 << 20)])[0]
    c.add("bomb-1mib-limit-64k", settings(15, False, 2) + inflate_frame(bomb))
    c.add("bomb-1mib-limit-big", settings(15, False, 15) + inflate_frame(bomb))
    good = deflate_message([text])[0]
    c.add("corrupt", settings(15, False, 1) + inflate_frame(good[:10] + b"\xff" + good[11:]))
    c.add("truncated", settings(15, False, 1) + inflate_frame(good[: len(good) // 2]))
    c.add("rsv1-on-continuation", settings(15, False, 1) +
          inflate_frame(good, fin=False) + inflate_frame(good, rsv1=True))
    c.add("empty-message", settings(15, False, 0) + inflate_frame(b"\x00"))


# ---- fuzz_protocol_* ---------------------------------------------------------

class Script:
    """Builds a fuzz_protocol script (see its header for the encoding)."""

    def __init__(self):
        self.ops = bytearray()

    def deliver(self, n="all", prepare=False):
        if n == "all":
            arg = 255
        elif n < 128:
            arg = n
        else:
            assert n % 64 == 0 and n // 64 <= 127
            arg = 127 + n // 64
        self.ops += bytes([0 | (8 if prepare else 0), arg])
        return self

    def next(self, drain=True):
        self.ops.append(1 | (8 if drain else 0))
        return self

    def send(self, op, size, seed=0, fin=True, compress=True, borrow=False):
        flags = {"cont": 0, "text": 1, "binary": 2}[op] | (4 if fin else 0) | \
            (8 if compress else 0) | (16 if borrow else 0)
        self.ops += bytes([2 | flags << 3, size, seed])
        return self

    def ping(self, size, seed=0, pong=False):
        self.ops += bytes([3 | (8 if pong else 0), size, seed])
        return self

    def close(self, code_index=0, reason=0):
        self.ops += bytes([4, code_index, reason])
        return self

    def take(self, record=True):
        self.ops.append(5 | (8 if record else 0))
        return self

    def eof(self):
        self.ops.append(6)
        return self

    def misc(self, sub, arg=0):
        self.ops += bytes([7 | sub << 3, arg])
        return self

    def build(self, config, wire):
        return config + struct.pack("<H", len(self.ops)) + bytes(self.ops) + wire


MASK = bytes.fromhex("37fa213d")  # RFC 6455 5.7


def protocol_seeds(role, deflate):
    target = "fuzz_protocol_%s%s" % (role, "_deflate" if deflate else "")
    c = Corpus(target)
    server = role == "server"
    mask = MASK if server else None  # what the peer sends
    peer_direction = "c2s" if server else "s2c"
    # Negotiation for deflate: windows of 15 bits and context takeover where
    # this end receives, so that any peer's frames decode.
    config = bytes([0])
    if deflate:
        config += bytes([0x0C, 0x60, 0x20, 0x08, 0x60, 0x20])
    config_small = bytes([2]) + config[1:]  # max_size 256

    def f(opcode, payload=b"", **kw):
        return frame(opcode, payload, mask=mask, **kw)

    everything = Script().deliver().next().take()
    byte_by_byte = Script()
    for _ in range(40):
        byte_by_byte.deliver(1).next(drain=False)
    byte_by_byte.take()
    busy = (Script().send("text", 20, 0x80).deliver(7).next().ping(5, 3)
            .send("binary", 100, 0x41, fin=False).deliver(64, prepare=True)
            .send("cont", 200, 0xC2, fin=False).next().send("cont", 0, 0).take()
            .ping(4, 1, pong=True).deliver().next().close(0, 5).next().take())

    # RFC 6455 5.7.
    hello = f(1, "Hello")
    fragmented = f(1, "Hel", fin=False) + f(0, "lo")
    ping = f(9, "Hello")
    pong = f(10, "Hello")
    binary_256 = f(2, bytes(range(256)))
    rfc = hello + fragmented + ping + pong + binary_256 + f(8, struct.pack(">H", 1000) + b"bye")
    c.add("rfc6455", everything.build(config, rfc))
    c.add("rfc6455-byte-by-byte", byte_by_byte.build(config, rfc))
    c.add("rfc6455-busy", busy.build(config, rfc))
    c.add("rfc6455-max-size-256", everything.build(config_small, rfc))
    c.add("ping-inside-fragments", everything.build(
        config, f(1, "frag", fin=False) + f(9, "p") + f(0, "ment", fin=False) + f(0, "ed")))
    c.add("64-bit-length", everything.build(config, f(2, b"x" * 70000)[:2000]))
    c.add("close-codes", everything.build(config, f(8, struct.pack(">H", 4000) + "\u00e9".encode())))
    c.add("close-1005", everything.build(config, f(8)))
    broken = {
        "reserved-opcode": f(3, "x"),
        "rsv2": bytes([0xA1]) + f(1, "x")[1:],
        "wrong-masking": frame(1, b"x", mask=None if server else MASK),
        "long-ping": f(9, b"p" * 126),
        "fragmented-ping": f(9, "p", fin=False),
        "continuation-first": f(0, "x"),
        "text-inside-message": f(1, "a", fin=False) + f(1, "b"),
        "invalid-utf8": f(1, b"ok \xc3\x28 no"),
        "utf8-split-across-frames": f(1, b"\xe2\x82", fin=False) + f(0, b"\xac"),
        "utf8-incomplete-at-end": f(1, b"\xe2\x82"),
        "close-one-byte": f(8, b"\x03"),
        "close-bad-code": f(8, struct.pack(">H", 1005)),
        "close-bad-reason": f(8, struct.pack(">H", 1000) + b"\xff"),
        "too-big": f(2, b"y" * 300),
        "length-msb": bytes([0x82, 0xFF if server else 0x7F]) + b"\x80" + b"\0" * 7 +
        (MASK if server else b""),
        "after-close": f(8, struct.pack(">H", 1000)) + f(1, "late"),
    }
    for name, wire in broken.items():
        c.add("broken-" + name, everything.build(config_small, hello + wire + hello))
    c.add("send-then-fail", Script().send("text", 50, 0x81).misc(0, 30).take()
          .deliver().next().build(config, rfc))
    c.add("transport-closed", Script().deliver(10).misc(1).next().take().build(config, rfc))
    c.add("release-buffer", Script().deliver().next().misc(2).misc(3).deliver().next().take()
          .build(config, rfc))
    c.add("eof-mid-frame", Script().deliver(9).eof().next().take().build(config, rfc))
    c.add("send-everything", Script()
          .send("text", 200, 0x80).send("binary", 192 + 11, 0x40).send("binary", 192 + 13, 0x00)
          .send("text", 192 + 9, 0xC0, borrow=True).send("binary", 192 + 12, 0x41, borrow=True)
          .send("binary", 192 + 8, 0x42, compress=False).take()
          .close(10, 0x85).close(0, 0).send("text", 1).take().build(config, b""))

    # Real sessions: what the peer sent after its handshake, each in one go
    # and in pieces around our own traffic.
    for s in SESSIONS:
        _, wire = split_head(capture(s + "-" + peer_direction))
        if not wire:
            continue
        c.add("session-" + s, everything.build(config, wire))
        c.add("session-" + s + "-busy", busy.build(config, wire))

    if deflate:
        for wbits, nct in ((15, False), (12, False), (9, True), (8, False)):
            comp = None if nct else zlib.compressobj(6, zlib.DEFLATED, -max(wbits, 9))
            wire = b""
            for i, parts in enumerate([["Hello, hello, hello, compressed world!"],
                                       ["frag", "mented and compressed ", "message"],
                                       ["Hello, hello, hello, compressed world!"]]):
                payloads = deflate_message(parts, wbits, 6, comp)
                for k, p in enumerate(payloads):
                    wire += f(0 if k else (1 if i != 1 else 2), p, fin=k == len(payloads) - 1,
                              rsv1=k == 0)
            wire += f(1, "uncompressed") + f(9, "ping")
            # With nct the peer resets its compressor after each message, and
            # the negotiation must say so to this end.
            cfg = bytearray(config)
            if nct and server:
                cfg[4] |= 2  # the server requires client_no_context_takeover
            elif nct:
                cfg[1] |= 1  # the client asks for server_no_context_takeover
            c.add("compressed-w%d%s" % (wbits, "-nct" if nct else ""),
                  everything.build(bytes(cfg), wire))
        bomb = deflate_message([b"\0" * 300000])[0]
        c.add("zip-bomb", everything.build(config, f(2, bomb, rsv1=True)))
        c.add("compressed-continuation-rsv1", everything.build(
            config, f(1, deflate_message(["ab"])[0], rsv1=True, fin=False) +
            f(0, b"\x00", rsv1=True)))


def main():
    utf8_seeds()
    uri_seeds()
    headers_seeds()
    http_seeds()
    handshake_seeds()
    accept_seeds()
    inflate_seeds()
    for role in ("server", "client"):
        for deflate in (False, True):
            protocol_seeds(role, deflate)
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print("%-32s %3d files %7d bytes" % (target, len(files), size))


if __name__ == "__main__":
    main()
