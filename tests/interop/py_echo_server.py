#!/usr/bin/python3
"""An echo server on Python's websockets 10.4, for interop tests.

Listens on 127.0.0.1 (port 0 unless --port), prints "PORT <n>", then sends
every message back with its type. One JSON line per event on stdout:

  {"event":"open","id":1,"path":"/","subprotocol":null,
   "extensions":"permessage-deflate; ...","offer":"permessage-deflate; ..."}
  {"event":"message","id":1,"type":"text","size":5,"crc32":...,"rsv1":true,"data":"hello"}
  {"event":"close","id":1,"code":1000,"reason":"","messages":1,"frames_in":2,...}

"extensions" is the Sec-WebSocket-Extensions header of the response (null if
none), "offer" the client's; "rsv1" tells whether the message arrived
compressed. Stops on end of stdin, SIGTERM or SIGINT, closing connections
with 1001, and prints {"event":"exit"}.
"""

import asyncio
import itertools

import websockets
from websockets.exceptions import ConnectionClosed

import peer_common as common


def parse_args():
    parser = common.new_parser(__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no line per message")
    common.add_connection_options(parser)
    return parser.parse_args()


async def main():
    args = parse_args()
    ids = itertools.count(1)

    async def echo(ws):
        cid = next(ids)
        common.emit({
            "event": "open",
            "id": cid,
            "path": ws.path,
            "subprotocol": ws.subprotocol,
            "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
            "offer": ws.request_headers.get("Sec-WebSocket-Extensions"),
        })
        messages = 0
        try:
            async for message in ws:
                messages += 1
                rsv1 = ws.tap.next_received()
                if not args.quiet:
                    common.emit({"event": "message", "id": cid,
                                 **common.describe_message(message, rsv1)})
                await ws.send(message)
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        common.emit({
            "event": "close",
            "id": cid,
            "code": ws.close_code,
            "reason": ws.close_reason,
            "messages": messages,
            **ws.tap.counters(),
        })

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    common.install_stop(loop, stop, watch_stdin=not args.no_stdin)
    server = await websockets.serve(
        echo, args.host, args.port,
        create_protocol=common.TapServerProtocol,
        **common.connection_kwargs(args, server=True),
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    reason = await stop
    server.close()
    await server.wait_closed()
    common.emit({"event": "exit", "reason": reason})


if __name__ == "__main__":
    common.run(main())
