#!/usr/bin/env node
'use strict';
// An echo server on Node's ws, for interop tests: the same command line and
// JSON lines as py_echo_server.py (see README.md).
//
// Listens on 127.0.0.1 (port 0 unless --port), prints "PORT <n>", sends
// every message back with its type (compressed whenever permessage-deflate
// was negotiated: threshold 0), and logs open, message and close events.
// Stops on end of stdin, SIGTERM or SIGINT, closing connections with 1001.

const common = require('./node_common');

const args = common.parseArgs(process.argv.slice(2), {
  '--host': 'value',
  '--port': 'value',
  '--quiet': 'flag',
});
const RESPONSE_HEADERS = Symbol('response headers');

// websockets' rule: the protocol both sides support that ranks best for
// both (the lowest sum of the two positions).
function handleProtocols(offered) {
  let best = false;
  let bestRank = Infinity;
  const client = [...offered];
  client.forEach((p, i) => {
    const j = args.subprotocols.indexOf(p);
    if (j >= 0 && i + j < bestRank) {
      best = p;
      bestRank = i + j;
    }
  });
  return best;
}

const server = new common.ws.WebSocketServer({
  host: args.host || '127.0.0.1',
  port: Number(args.port || 0),
  perMessageDeflate: common.deflateOption(args),
  maxPayload: args.maxSize,
  handleProtocols: args.subprotocols.length ? handleProtocols : undefined,
});

server.on('headers', (headers, req) => {
  req[RESPONSE_HEADERS] = headers;
});

let nextId = 1;
server.on('connection', (socket, req) => {
  const id = nextId++;
  const line = (req[RESPONSE_HEADERS] || []).find((h) =>
    h.toLowerCase().startsWith('sec-websocket-extensions:')
  );
  common.emit({
    event: 'open',
    id,
    path: req.url,
    subprotocol: socket.protocol || null,
    extensions: line ? line.slice(line.indexOf(':') + 1).trim() : null,
    offer: req.headers['sec-websocket-extensions'] ?? null,
  });
  let messages = 0;
  socket.on('message', (data, isBinary) => {
    messages++;
    const rsv1 = common.nextReceivedRsv1(socket);
    if (!args.quiet) common.emit({ event: 'message', id, ...common.describeMessage(data, isBinary, rsv1) });
    socket.send(data, { binary: isBinary });
  });
  socket.on('error', (err) => process.stderr.write(`connection ${id}: ${err.message}\n`));
  socket.on('close', (code, reason) => {
    common.emit({
      event: 'close',
      id,
      code,
      reason: reason.toString('utf8'),
      messages,
      ...common.counters(socket),
    });
  });
});

server.on('listening', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});

server.on('error', (err) => common.fail(`server: ${err.message}`));

common.onStop((reason) => {
  // Stop accepting, close each connection with 1001 (going away), and wait
  // (bounded) for their close events: ws's close() does not wait for them.
  server.close();
  const open = [...server.clients];
  let remaining = open.length;
  const done = () => {
    common.emit({ event: 'exit', reason });
    process.exit(0);
  };
  if (!remaining) return done();
  const deadline = setTimeout(() => open.forEach((s) => s.terminate()), 3000);
  for (const socket of open) {
    socket.once('close', () => {
      if (--remaining === 0) {
        clearTimeout(deadline);
        setImmediate(done);
      }
    });
    socket.close(1001, '');
  }
}, !args.noStdin);
