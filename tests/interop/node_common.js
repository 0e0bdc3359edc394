'use strict';
// What the Node interop peers share: options, payloads, CRC-32, the frame
// tap, JSON-line output, and how they stop. The command line and the JSON
// lines are those of the Python peers; see README.md.

let ws;
try {
  ws = require('ws');
} catch (err) {
  process.stderr.write(
    `cannot load Node's ws (${err.message}): run \`npm ci\` in tests/interop ` +
      '(./build.sh deps does)\n'
  );
  process.exit(3);
}

// Prints one JSON line on stdout.
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Parses the command line shared with the Python peers. `extra` maps more
// option names to 'flag' or 'value'; positional arguments land in `_`.
function parseArgs(argv, extra = {}) {
  const spec = {
    '--compression': 'value',
    '--server-no-context-takeover': 'flag',
    '--client-no-context-takeover': 'flag',
    '--server-max-window-bits': 'value',
    '--client-max-window-bits': 'value',
    '--max-size': 'value',
    '--subprotocols': 'value',
    '--no-stdin': 'flag',
    ...extra,
  };
  const args = { _: [], compression: 'deflate', maxSize: 1 << 20, subprotocols: [] };
  for (let i = 0; i < argv.length; i++) {
    let name = argv[i];
    let value;
    const eq = name.indexOf('=');
    if (name.startsWith('--') && eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const kind = spec[name];
    if (!name.startsWith('--')) {
      args._.push(name);
      continue;
    }
    if (!kind) fail(`unknown option ${name}`);
    if (kind === 'value' && value === undefined) {
      if (i + 1 >= argv.length) fail(`${name} needs a value`);
      value = argv[++i];
    }
    const key = name.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    args[key] = kind === 'flag' ? true : value;
  }
  if (!['none', 'deflate'].includes(args.compression)) fail('--compression is none or deflate');
  args.maxSize = Number(args.maxSize);
  if (typeof args.subprotocols === 'string') {
    args.subprotocols = args.subprotocols.split(',').filter((p) => p);
  }
  for (const k of ['serverMaxWindowBits', 'clientMaxWindowBits']) {
    if (args[k] !== undefined) args[k] = Number(args[k]);
  }
  return args;
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

// ws's perMessageDeflate option for `args`: false, or the parameters given,
// with threshold 0 so that every message is compressed.
function deflateOption(args) {
  if (args.compression === 'none') return false;
  const option = { threshold: 0 };
  if (args.serverNoContextTakeover) option.serverNoContextTakeover = true;
  if (args.clientNoContextTakeover) option.clientNoContextTakeover = true;
  if (args.serverMaxWindowBits !== undefined) option.serverMaxWindowBits = args.serverMaxWindowBits;
  if (args.clientMaxWindowBits !== undefined) option.clientMaxWindowBits = args.clientMaxWindowBits;
  return option;
}

// `size` pseudo-random bytes from `seed` (xorshift32, the same bytes as the
// C++ tests' make_payload); letters and digits if `text`.
const ALPHABET = Buffer.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .');
function makePayload(size, seed, text) {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = text ? ALPHABET[x & 63] : x & 0xff;
  }
  return out;
}

// zlib's CRC-32 (Node 18 has no zlib.crc32).
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// The frame tap: ws does not tell whether a message arrived compressed, so
// the first header byte of every frame is read as ws parses it (Receiver's
// getInfo) and as it writes it (Sender's sendFrame). These are internals of
// the ws version pinned in package-lock.json; the self-test checks them.
const TAP = Symbol('frame tap');
function tapOf(obj) {
  if (!obj[TAP]) obj[TAP] = { frames: 0, rsv1Frames: 0, messages: [] };
  return obj[TAP];
}
{
  const getInfo = ws.Receiver.prototype.getInfo;
  if (typeof getInfo !== 'function' || typeof ws.Sender.prototype.sendFrame !== 'function') {
    fail('this ws version has no Receiver.getInfo or Sender.sendFrame: update the tap');
  }
  ws.Receiver.prototype.getInfo = function (...rest) {
    if (this._bufferedBytes >= 2 && this._buffers.length > 0) {
      recordFrame(tapOf(this), this._buffers[0][0]);
    }
    return getInfo.apply(this, rest);
  };
  const sendFrame = ws.Sender.prototype.sendFrame;
  ws.Sender.prototype.sendFrame = function (list, ...rest) {
    recordFrame(tapOf(this), list[0][0]);
    return sendFrame.call(this, list, ...rest);
  };
}
function recordFrame(tap, byte0) {
  const rsv1 = (byte0 & 0x40) !== 0;
  const opcode = byte0 & 0x0f;
  tap.frames++;
  if (rsv1) tap.rsv1Frames++;
  if (opcode === 1 || opcode === 2) tap.messages.push(rsv1);
}

// Whether the next received (or sent) message of `socket` was compressed.
function nextReceivedRsv1(socket) {
  const v = tapOf(socket._receiver).messages.shift();
  return v === undefined ? null : v;
}
function nextSentRsv1(socket) {
  const v = tapOf(socket._sender).messages.shift();
  return v === undefined ? null : v;
}
function counters(socket) {
  const rin = socket._receiver ? tapOf(socket._receiver) : { frames: 0, rsv1Frames: 0 };
  const rout = socket._sender ? tapOf(socket._sender) : { frames: 0, rsv1Frames: 0 };
  return {
    frames_in: rin.frames,
    rsv1_frames_in: rin.rsv1Frames,
    frames_out: rout.frames,
    rsv1_frames_out: rout.rsv1Frames,
  };
}

// The JSON fields that tell a received message (as describe_message in
// peer_common.py).
function describeMessage(data, isBinary, rsv1, inlineLimit = 4096) {
  const out = { type: isBinary ? 'binary' : 'text', size: data.length, crc32: crc32(data), rsv1 };
  if (data.length <= inlineLimit) {
    if (isBinary) out.hex = data.toString('hex');
    else out.data = data.toString('utf8');
  }
  return out;
}

// Calls `stop(reason)` once, on SIGTERM, SIGINT, or at end of stdin.
function onStop(stop, watchStdin) {
  let stopped = false;
  const once = (reason) => {
    if (!stopped) {
      stopped = true;
      stop(reason);
    }
  };
  process.on('SIGTERM', () => once('SIGTERM'));
  process.on('SIGINT', () => once('SIGINT'));
  if (watchStdin) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => once('stdin closed'));
    process.stdin.on('error', () => once('stdin closed'));
  }
}

module.exports = {
  ws,
  emit,
  parseArgs,
  deflateOption,
  makePayload,
  crc32,
  nextReceivedRsv1,
  nextSentRsv1,
  counters,
  describeMessage,
  onStop,
  fail,
};
