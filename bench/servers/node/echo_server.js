// Node's ws echo server for the side-by-side benchmarks: every message goes
// back with its type. One Node process, so one JavaScript thread.
//
//   node echo_server.js PORT [--deflate]
//
// --deflate turns on perMessageDeflate with the settings our own server uses
// (12-bit windows both ways, level 6, memLevel 4, messages under 32 bytes
// left uncompressed); ws's own defaults compress nothing under 1 KiB.
'use strict';

const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const port = Number(args[0]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node echo_server.js PORT [--deflate]');
  process.exit(2);
}
for (const arg of args.slice(1)) {
  if (arg !== '--deflate') {
    console.error(`echo_server.js: unknown argument ${arg}`);
    process.exit(2);
  }
}
const deflate = args.includes('--deflate');

const server = new WebSocketServer({
  host: '127.0.0.1',
  port,
  backlog: 4096,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: deflate
    ? {
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 12,
        zlibDeflateOptions: { level: 6, memLevel: 4 },
        threshold: 32,
      }
    : false,
});

server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {}); // a reset by the load generator ends the connection, nothing more
});

// SIGINT and SIGTERM end the process at once, with status 0.
const stop = () => process.exit(0);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
