"""What the Python interop peers share: options, payloads, the frame tap,
JSON-line output, and how they stop.

Written for Debian's python3-websockets 10.4 (legacy asyncio API), run with
/usr/bin/python3. See README.md for the protocol the peers speak to tests.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import threading
import zlib

try:
    import websockets
    from websockets.extensions.base import Extension
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
        ServerPerMessageDeflateFactory,
    )
    from websockets.frames import Opcode
    from websockets.legacy.client import WebSocketClientProtocol
    from websockets.legacy.server import WebSocketServerProtocol
except ImportError as exc:  # pragma: no cover - a broken machine
    sys.stderr.write(
        f"{sys.executable}: cannot import websockets ({exc}): install the Debian "
        "package python3-websockets (./build.sh deps does)\n"
    )
    sys.exit(3)

if websockets.__version__.split(".")[0] != "10":
    sys.stderr.write(
        f"warning: the peers expect websockets 10.x, found {websockets.__version__}\n"
    )


def emit(obj):
    """Prints one JSON line on stdout, at once."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def add_connection_options(parser):
    """The options both peers take: compression and limits."""
    parser.add_argument("--compression", choices=["none", "deflate"], default="deflate")
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int, metavar="N")
    parser.add_argument("--client-max-window-bits", type=int, metavar="N")
    parser.add_argument(
        "--max-size", type=int, default=2**20, metavar="BYTES",
        help="largest message accepted; 0: no limit (default 1 MiB)",
    )
    parser.add_argument("--subprotocols", default="", metavar="A,B",
                        help="subprotocols offered (client) or supported (server)")
    parser.add_argument("--no-stdin", action="store_true",
                        help="do not stop at end of stdin (for runs by hand)")


def _deflate_params_given(args):
    return (
        args.server_no_context_takeover
        or args.client_no_context_takeover
        or args.server_max_window_bits is not None
        or args.client_max_window_bits is not None
    )


def connection_kwargs(args, server):
    """Keyword arguments of websockets.serve() or connect() for `args`.

    With --compression deflate and no parameter, websockets' own defaults
    apply (what its users get); any parameter builds a factory with exactly
    the parameters given.
    """
    kwargs = {
        "max_size": args.max_size or None,
        "ping_interval": None,  # no unsolicited pings: tests see only their frames
    }
    subprotocols = [p for p in args.subprotocols.split(",") if p]
    if subprotocols:
        kwargs["subprotocols"] = subprotocols
    if args.compression == "none":
        kwargs["compression"] = None
    elif _deflate_params_given(args):
        kwargs["compression"] = None
        if server:
            factory = ServerPerMessageDeflateFactory(
                server_no_context_takeover=args.server_no_context_takeover,
                client_no_context_takeover=args.client_no_context_takeover,
                server_max_window_bits=args.server_max_window_bits,
                client_max_window_bits=args.client_max_window_bits,
            )
        else:
            factory = ClientPerMessageDeflateFactory(
                server_no_context_takeover=args.server_no_context_takeover,
                client_no_context_takeover=args.client_no_context_takeover,
                server_max_window_bits=args.server_max_window_bits,
                client_max_window_bits=(
                    args.client_max_window_bits
                    if args.client_max_window_bits is not None else True
                ),
            )
        kwargs["extensions"] = [factory]
    else:
        kwargs["compression"] = "deflate"
    return kwargs


class FrameTap(Extension):
    """Sees every frame as it is on the wire.

    Appended last to the connection's extensions, it decodes incoming frames
    first (before permessage-deflate clears RSV1) and encodes outgoing frames
    last (after it set RSV1), and changes nothing.
    """

    name = "x-frame-tap"

    def __init__(self):
        self.frames_in = 0
        self.rsv1_frames_in = 0
        self.frames_out = 0
        self.rsv1_frames_out = 0
        self.received_rsv1 = []  # RSV1 of each received message's first frame
        self.sent_rsv1 = []  # RSV1 of each sent message's first frame

    def decode(self, frame, *, max_size=None):
        self.frames_in += 1
        self.rsv1_frames_in += frame.rsv1
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.received_rsv1.append(frame.rsv1)
        return frame

    def encode(self, frame):
        self.frames_out += 1
        self.rsv1_frames_out += frame.rsv1
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.sent_rsv1.append(frame.rsv1)
        return frame

    def next_received(self):
        return self.received_rsv1.pop(0) if self.received_rsv1 else None

    def next_sent(self):
        return self.sent_rsv1.pop(0) if self.sent_rsv1 else None

    def counters(self):
        return {
            "frames_in": self.frames_in,
            "rsv1_frames_in": self.rsv1_frames_in,
            "frames_out": self.frames_out,
            "rsv1_frames_out": self.rsv1_frames_out,
        }


class _TapMixin:
    def connection_open(self):
        # The handshake has set self.extensions by now.
        self.tap = FrameTap()
        self.extensions = list(self.extensions) + [self.tap]
        super().connection_open()


class TapServerProtocol(_TapMixin, WebSocketServerProtocol):
    """A server connection with a FrameTap in `tap`."""


class TapClientProtocol(_TapMixin, WebSocketClientProtocol):
    """A client connection with a FrameTap in `tap`."""


_TEXT_TABLE = bytes(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ."[b & 63]
    for b in range(256)
)


def make_payload(size, seed, text):
    """`size` pseudo-random bytes from `seed` (str of letters if `text`)."""
    raw = random.Random(seed).randbytes(size)
    return raw.translate(_TEXT_TABLE).decode("ascii") if text else raw


def as_bytes(message):
    return message.encode("utf-8") if isinstance(message, str) else message


def describe_message(message, rsv1, inline_limit=4096):
    """The JSON fields that tell a received message: type, size, CRC-32,
    whether it came compressed, and its content when small."""
    data = as_bytes(message)
    out = {
        "type": "text" if isinstance(message, str) else "binary",
        "size": len(data),
        "crc32": zlib.crc32(data),
        "rsv1": rsv1,
    }
    if len(data) <= inline_limit:
        if isinstance(message, str):
            out["data"] = message
        else:
            out["hex"] = data.hex()
    return out


def install_stop(loop, stop, watch_stdin):
    """Completes `stop` on SIGTERM or SIGINT, and at end of stdin."""

    def request_stop(reason):
        if not stop.done():
            stop.set_result(reason)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop, sig.name)
    if watch_stdin:

        def wait_eof():
            # os.read, not sys.stdin: a thread blocked in a buffered read
            # makes the interpreter's shutdown abort.
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            loop.call_soon_threadsafe(request_stop, "stdin closed")

        threading.Thread(target=wait_eof, daemon=True).start()


def stdin_lines(loop, queue):
    """Feeds the lines of stdin (str) to the asyncio `queue` from a thread,
    then None at end of file."""

    def read():
        pending = b""
        try:
            while True:
                chunk = os.read(0, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    loop.call_soon_threadsafe(queue.put_nowait, line.decode("utf-8", "replace"))
        except OSError:
            pass
        if pending:
            loop.call_soon_threadsafe(queue.put_nowait, pending.decode("utf-8", "replace"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, daemon=True).start()


def run(main):
    """Runs the coroutine `main`; exits quietly on Ctrl-C."""
    try:
        asyncio.run(main)
    except KeyboardInterrupt:
        pass


def new_parser(description):
    return argparse.ArgumentParser(description=description)
