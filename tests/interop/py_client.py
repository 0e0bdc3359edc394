#!/usr/bin/python3
"""A scripted client on Python's websockets 10.4, for interop tests.

Connects to URI and prints {"event":"open","subprotocol":...,"extensions":...}
(the response's Sec-WebSocket-Extensions header, null if none), or
{"event":"error","error":...} and exits 1. Then runs one JSON command per
line of stdin and answers each with one JSON line carrying "op" and "ok":

  {"op":"send","type":"text","size":1000,"seed":7}   pseudo-random payload
  {"op":"send","data":"héllo"}  {"op":"send","hex":"00ff"}   literal payloads
     (any send may add "fragments":N to split the message into N frames)
  {"op":"recv","timeout":10000}  -> type, size, crc32, rsv1, data or hex
  {"op":"echo","type":"binary","size":70000,"seed":3} send, receive, compare
  {"op":"ping","data":"abc"}     waits for the pong
  {"op":"close","code":1000,"reason":"bye"}  -> the code and reason received
  {"op":"wait_closed","timeout":10000}      waits for the server to close

"rsv1" says whether the received message came compressed, "sent_rsv1"
whether the sent one went compressed. At end of stdin (or on SIGTERM) it
closes with 1000 if still open, prints {"event":"exit",...frame counters},
and exits 0.
"""

import asyncio
import sys
import zlib

import websockets
from websockets.exceptions import ConnectionClosed

import peer_common as common


def parse_args():
    parser = common.new_parser(__doc__.splitlines()[0])
    parser.add_argument("uri")
    parser.add_argument("--open-timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--origin")
    common.add_connection_options(parser)
    return parser.parse_args()


def payload_of(cmd):
    """The message a send or echo command describes: str or bytes."""
    if "data" in cmd:
        return cmd["data"]
    if "hex" in cmd:
        return bytes.fromhex(cmd["hex"])
    return common.make_payload(int(cmd.get("size", 0)), int(cmd.get("seed", 1)),
                               cmd.get("type", "binary") == "text")


def fragments_of(message, count):
    if count <= 1:
        return message
    step = max(1, -(-len(message) // count))
    return [message[i:i + step] for i in range(0, len(message), step)] or [message]


def closed_fields(ws):
    return {"code": ws.close_code, "reason": ws.close_reason}


async def run_command(ws, cmd):
    op = cmd.get("op")
    timeout = float(cmd.get("timeout", 10000)) / 1000
    if op == "send":
        message = payload_of(cmd)
        await ws.send(fragments_of(message, int(cmd.get("fragments", 1))))
        data = common.as_bytes(message)
        return {"size": len(data), "crc32": zlib.crc32(data), "sent_rsv1": ws.tap.next_sent()}
    if op == "recv":
        message = await asyncio.wait_for(ws.recv(), timeout)
        return common.describe_message(message, ws.tap.next_received())
    if op == "echo":
        message = payload_of(cmd)
        await ws.send(fragments_of(message, int(cmd.get("fragments", 1))))
        sent_rsv1 = ws.tap.next_sent()
        reply = await asyncio.wait_for(ws.recv(), timeout)
        rsv1 = ws.tap.next_received()
        same = type(reply) is type(message) and reply == message
        out = {"ok": same, "size": len(common.as_bytes(message)), "rsv1": rsv1,
               "sent_rsv1": sent_rsv1}
        if not same:
            out["error"] = "the echo differs from what was sent"
            out["reply"] = common.describe_message(reply, rsv1, inline_limit=256)
        return out
    if op == "ping":
        waiter = await ws.ping(cmd.get("data", ""))
        await asyncio.wait_for(waiter, timeout)
        return {}
    if op == "close":
        await asyncio.wait_for(
            ws.close(int(cmd.get("code", 1000)), cmd.get("reason", "")), timeout)
        return closed_fields(ws)
    if op == "wait_closed":
        await asyncio.wait_for(ws.wait_closed(), timeout)
        return closed_fields(ws)
    return {"ok": False, "error": f"unknown op {op!r}"}


async def main():
    args = parse_args()
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    common.install_stop(loop, stop, watch_stdin=False)
    kwargs = common.connection_kwargs(args, server=False)
    if args.origin:
        kwargs["origin"] = args.origin
    try:
        ws = await websockets.connect(
            args.uri, create_protocol=common.TapClientProtocol,
            open_timeout=args.open_timeout, **kwargs)
    except Exception as exc:  # report any failure to the test, then exit 1
        common.emit({"event": "error", "error": f"{type(exc).__name__}: {exc}",
                     "status": getattr(exc, "status_code", None)})
        return 1
    common.emit({
        "event": "open",
        "subprotocol": ws.subprotocol,
        "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
    })

    queue = asyncio.Queue()
    common.stdin_lines(loop, queue)
    while True:
        next_line = asyncio.ensure_future(queue.get())
        await asyncio.wait([next_line, stop], return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            next_line.cancel()
            break
        line = next_line.result()
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        try:
            cmd = common.json.loads(line)
            op = cmd.get("op")
        except ValueError as exc:
            common.emit({"op": None, "ok": False, "error": f"bad JSON: {exc}"})
            continue
        try:
            result = await run_command(ws, cmd)
            common.emit({"op": op, "ok": True, **result})
        except ConnectionClosed:
            common.emit({"op": op, "ok": False, "error": "connection closed",
                         **closed_fields(ws)})
        except asyncio.TimeoutError:
            common.emit({"op": op, "ok": False, "error": "timeout"})
        except Exception as exc:  # report, and go on with the next command
            common.emit({"op": op, "ok": False, "error": f"{type(exc).__name__}: {exc}"})

    if ws.open:
        await asyncio.wait_for(ws.close(), 10)
    common.emit({"event": "exit", **closed_fields(ws), **ws.tap.counters()})
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
