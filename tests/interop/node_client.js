#!/usr/bin/env node
'use strict';
// A scripted client on Node's ws, for interop tests: the same command line,
// commands and JSON lines as py_client.py (see README.md).

const readline = require('readline');
const common = require('./node_common');

const args = common.parseArgs(process.argv.slice(2), {
  '--open-timeout': 'value',
  '--origin': 'value',
});
if (args._.length !== 1) common.fail('usage: node_client.js URI [options]');

const options = {
  perMessageDeflate: common.deflateOption(args),
  maxPayload: args.maxSize,
  handshakeTimeout: Number(args.openTimeout || 10) * 1000,
};
if (args.origin) options.origin = args.origin;
const socket = new common.ws.WebSocket(args._[0], args.subprotocols, options);

// Received messages wait here for "recv" commands.
const inbox = [];
let inboxWaiter = null;
let closed = null; // {code, reason} once the connection closed
const closeWaiters = [];
let responseExtensions = null;
let status = null;

socket.on('upgrade', (res) => {
  responseExtensions = res.headers['sec-websocket-extensions'] ?? null;
});
socket.on('unexpected-response', (req, res) => {
  status = res.statusCode;
  socket.emit('error', new Error(`unexpected server response: ${res.statusCode}`));
  req.destroy();
});
socket.on('message', (data, isBinary) => {
  inbox.push({ data, isBinary, rsv1: common.nextReceivedRsv1(socket) });
  if (inboxWaiter) inboxWaiter();
});
socket.on('close', (code, reason) => {
  closed = { code, reason: reason.toString('utf8') };
  if (inboxWaiter) inboxWaiter();
  for (const w of closeWaiters.splice(0)) w();
});

let opened = false;
socket.on('error', (err) => {
  if (!opened) {
    common.emit({ event: 'error', error: err.message, status });
    process.exit(1);
  }
  process.stderr.write(`error: ${err.message}\n`);
});

class CommandError extends Error {
  constructor(message, extra = {}) {
    super(message);
    this.extra = extra;
  }
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CommandError('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function closedError() {
  return new CommandError('connection closed', closed || {});
}

function payloadOf(cmd) {
  if (cmd.data !== undefined) return { data: Buffer.from(cmd.data, 'utf8'), isBinary: false };
  if (cmd.hex !== undefined) return { data: Buffer.from(cmd.hex, 'hex'), isBinary: true };
  const isBinary = (cmd.type || 'binary') !== 'text';
  return { data: common.makePayload(Number(cmd.size || 0), Number(cmd.seed || 1), !isBinary), isBinary };
}

function sendOne(data, opts) {
  return new Promise((resolve, reject) => {
    if (socket.readyState !== common.ws.WebSocket.OPEN) return reject(closedError());
    socket.send(data, opts, (err) => (err ? reject(closedError()) : resolve()));
  });
}

// Sends `data` as one message of `fragments` frames.
async function send(data, isBinary, fragments) {
  const count = Math.max(1, fragments || 1);
  const step = Math.max(1, Math.ceil(data.length / count));
  if (count === 1 || data.length <= step) return sendOne(data, { binary: isBinary, fin: true });
  for (let off = 0; off < data.length; off += step) {
    const end = Math.min(data.length, off + step);
    await sendOne(data.subarray(off, end), { binary: isBinary, fin: end === data.length });
  }
}

function nextMessage() {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (inbox.length) {
        inboxWaiter = null;
        resolve(inbox.shift());
      } else if (closed) {
        inboxWaiter = null;
        reject(closedError());
      } else {
        inboxWaiter = check;
      }
    };
    check();
  });
}

function waitClosed() {
  return new Promise((resolve) => (closed ? resolve() : closeWaiters.push(resolve)));
}

async function runCommand(cmd) {
  const timeout = Number(cmd.timeout || 10000);
  switch (cmd.op) {
    case 'send': {
      const { data, isBinary } = payloadOf(cmd);
      await send(data, isBinary, Number(cmd.fragments || 1));
      return { size: data.length, crc32: common.crc32(data), sent_rsv1: common.nextSentRsv1(socket) };
    }
    case 'recv': {
      const m = await withTimeout(nextMessage(), timeout);
      return common.describeMessage(m.data, m.isBinary, m.rsv1);
    }
    case 'echo': {
      const { data, isBinary } = payloadOf(cmd);
      await send(data, isBinary, Number(cmd.fragments || 1));
      const sentRsv1 = common.nextSentRsv1(socket);
      const m = await withTimeout(nextMessage(), timeout);
      const same = m.isBinary === isBinary && Buffer.compare(m.data, data) === 0;
      const out = { ok: same, size: data.length, rsv1: m.rsv1, sent_rsv1: sentRsv1 };
      if (!same) {
        out.error = 'the echo differs from what was sent';
        out.reply = common.describeMessage(m.data, m.isBinary, m.rsv1, 256);
      }
      return out;
    }
    case 'ping': {
      if (closed) throw closedError();
      const pong = new Promise((resolve) => socket.once('pong', resolve));
      socket.ping(Buffer.from(cmd.data || '', 'utf8'));
      await withTimeout(pong, timeout);
      return {};
    }
    case 'close': {
      if (!closed) socket.close(Number(cmd.code || 1000), cmd.reason || '');
      await withTimeout(waitClosed(), timeout);
      return { ...closed };
    }
    case 'wait_closed': {
      await withTimeout(waitClosed(), timeout);
      return { ...closed };
    }
    default:
      return { ok: false, error: `unknown op ${JSON.stringify(cmd.op)}` };
  }
}

async function finish(exitCode) {
  if (!closed) {
    socket.close(1000, '');
    await withTimeout(waitClosed(), 10000).catch(() => socket.terminate());
  }
  common.emit({ event: 'exit', ...(closed || {}), ...common.counters(socket) });
  process.exit(exitCode);
}

socket.on('open', () => {
  opened = true;
  common.emit({ event: 'open', subprotocol: socket.protocol || null, extensions: responseExtensions });
  // Commands run one at a time, in order.
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const queue = [];
  let busy = false;
  let ended = false;
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const line = queue.shift().trim();
      if (!line) continue;
      let cmd;
      try {
        cmd = JSON.parse(line);
      } catch (err) {
        common.emit({ op: null, ok: false, error: `bad JSON: ${err.message}` });
        continue;
      }
      try {
        const result = await runCommand(cmd);
        common.emit({ op: cmd.op, ok: true, ...result });
      } catch (err) {
        common.emit({ op: cmd.op, ok: false, error: err.message, ...(err.extra || {}) });
      }
    }
    busy = false;
    if (ended) finish(0);
  };
  lines.on('line', (line) => {
    queue.push(line);
    pump();
  });
  lines.on('close', () => {
    ended = true;
    if (!busy) finish(0);
  });
});

common.onStop(() => finish(0), false);
