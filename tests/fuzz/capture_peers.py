#!/usr/bin/python3
"""Records real WebSocket sessions for the fuzz seed corpus.

Python's websockets (10.4, Debian's python3-websockets), Chromium (headless)
and Node's ws (tests/interop/node_modules) talk through a recording proxy
on 127.0.0.1; each direction of each session is saved as it went over TCP,
handshake and frames, in captures/<session>-<c2s|s2c>.bin. make_corpus.py
turns these into seeds. Run with Debian's /usr/bin/python3 (it has
websockets); the files in the repository came from this script.
"""
import asyncio
import os
import shutil
import sys

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "captures")
WS_MODULE = os.path.join(HERE, "..", "interop", "node_modules", "ws")


async def recording_proxy(session, target_port, records):
    """A listener that forwards each connection to target_port, recording both ways."""

    async def handle(reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)

        async def pump(src, dst, direction):
            data = bytearray()
            try:
                while chunk := await src.read(65536):
                    data += chunk
                    dst.write(chunk)
                    await dst.drain()
            except ConnectionError:
                pass
            dst.close()
            records[f"{session}-{direction}"] = bytes(data)

        await asyncio.gather(pump(reader, up_writer, "c2s"), pump(up_reader, writer, "s2c"))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def python_client(port, compression):
    kwargs = {} if compression else {"compression": None}
    async with websockets.connect(f"ws://127.0.0.1:{port}/chat?room=1", **kwargs) as ws:
        await ws.send("Hello, world! " * 3)
        await ws.recv()
        await ws.send(b"\x00\x01\x02binary" * 10)
        await ws.recv()
        await ws.send(["frag", "ment", "ed \u2603 text"])  # a fragmented message
        await ws.recv()
        await ws.send("Hello, world! " * 3)  # refers back to the first one
        await ws.recv()
        await ws.ping(b"ping!")
        await ws.send("x" * 300)
        await ws.recv()


async def chromium_client(port):
    page = os.path.join(OUT, "page.html")
    with open(page, "w") as f:
        f.write(
            "<script>var ws = new WebSocket('ws://127.0.0.1:%d/chat'); var n = 0;"
            "ws.onopen = function () { ws.send('Hello from a browser, hello hello hello!');"
            " ws.send(new Uint8Array([1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8]).buffer);"
            " ws.send('\\u2603 snowman \\u2603'); };"
            "ws.onmessage = function () { if (++n == 3) ws.close(1000, 'done'); };</script>" % port)
    proc = await asyncio.create_subprocess_exec(
        "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
        "--user-data-dir=" + os.path.join(OUT, "chromium-profile"),
        "--virtual-time-budget=3000", "--dump-dom", "file://" + page,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.wait_for(proc.wait(), 60)
    except asyncio.TimeoutError:
        proc.kill()
    os.remove(page)
    shutil.rmtree(os.path.join(OUT, "chromium-profile"), ignore_errors=True)


async def node_client(port):
    script = (
        "const WebSocket = require(%r);"
        "const ws = new WebSocket('ws://127.0.0.1:%d/chat'); let n = 0;"
        "ws.on('open', () => { ws.send('Hello from node, hello hello hello hello!');"
        " ws.send(Buffer.from([9,8,7,6,5,4,3,2,1,0])); ws.ping('p'); });"
        "ws.on('message', () => { if (++n == 2) ws.close(1001, 'going'); });" % (WS_MODULE, port))
    proc = await asyncio.create_subprocess_exec("node", "-e", script)
    await asyncio.wait_for(proc.wait(), 60)


async def main():
    os.makedirs(OUT, exist_ok=True)
    records = {}
    server = await websockets.serve(echo, "127.0.0.1", 0)
    py_port = server.sockets[0].getsockname()[1]

    for session, run in [
        ("python-deflate", lambda p: python_client(p, True)),
        ("python-plain", lambda p: python_client(p, False)),
        ("chromium", chromium_client),
        ("node-client", node_client),
    ]:
        proxy, port = await recording_proxy(session, py_port, records)
        await run(port)
        await asyncio.sleep(0.5)
        proxy.close()

    # Node's ws as the server, compressing every message, Python as the client.
    node = await asyncio.create_subprocess_exec(
        "node", "-e",
        "const WebSocket = require(%r);"
        "const s = new WebSocket.Server({host: '127.0.0.1', port: 0,"
        " perMessageDeflate: {threshold: 0}}, () => console.log(s.address().port));"
        "s.on('connection', ws => ws.on('message', (m, b) => ws.send(m, {binary: b})));"
        % WS_MODULE,
        stdout=asyncio.subprocess.PIPE)
    node_port = int((await node.stdout.readline()).decode())
    proxy, port = await recording_proxy("node-server", node_port, records)
    async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
        for message in ["Hello node server " * 4, b"\xff" * 100, "Hello node server " * 4]:
            await ws.send(message)
            await ws.recv()
    await asyncio.sleep(0.5)
    proxy.close()
    node.kill()
    await node.wait()
    server.close()

    for name, data in sorted(records.items()):
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
