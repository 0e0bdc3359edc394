#!/usr/bin/env node
'use strict';
// Drives headless Chromium through the DevTools protocol for browser tests:
// opens a page, waits for conditions, evaluates JavaScript, prints results
// as JSON lines, and always kills Chromium and removes its profile.
//
//   node cdp_drive.js [options] [URL]
//     --steps JSON        the steps to run (a JSON array), after URL if given
//     --steps-file PATH   the same, from a file
//     --chromium PATH     the browser (default /usr/bin/chromium)
//     --timeout MS        limit for the whole run (default 60000)
//     --verbose           copy Chromium's stderr to ours
//
// Steps: {"open": URL}, {"wait": EXPR, "timeout": MS},
//        {"eval": EXPR}, {"screenshot": PATH}. See README.md.

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

let WebSocket;
try {
  ({ WebSocket } = require(path.join(__dirname, '..', 'interop', 'node_modules', 'ws')));
} catch (err) {
  process.stderr.write(
    `cannot load Node's ws (${err.message}): run \`npm ci\` in tests/interop ` +
      '(./build.sh deps does)\n'
  );
  process.exit(3);
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function usage(message) {
  process.stderr.write(`${message}\nusage: cdp_drive.js [--steps JSON | --steps-file PATH] ` +
    '[--chromium PATH] [--timeout MS] [--verbose] [URL]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const args = { chromium: '/usr/bin/chromium', timeout: 60000, verbose: false, steps: [] };
  let url = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--steps') args.steps = parseSteps(value(), '--steps');
    else if (a === '--steps-file') {
      const file = value();
      args.steps = parseSteps(fs.readFileSync(file, 'utf8'), file);
    } else if (a === '--chromium') args.chromium = value();
    else if (a === '--timeout') args.timeout = Number(value());
    else if (a === '--verbose') args.verbose = true;
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (url === null) url = a;
    else usage(`unexpected argument ${a}`);
  }
  if (url !== null) args.steps.unshift({ open: url });
  if (!args.steps.length) usage('nothing to do: give a URL or steps');
  return args;
}

function parseSteps(text, where) {
  let steps;
  try {
    steps = JSON.parse(text);
  } catch (err) {
    usage(`${where}: not JSON: ${err.message}`);
  }
  if (!Array.isArray(steps)) usage(`${where}: the steps must be a JSON array`);
  for (const s of steps) {
    const kinds = ['open', 'wait', 'eval', 'screenshot'].filter((k) => s && s[k] !== undefined);
    if (kinds.length !== 1) usage(`${where}: each step has one of open, wait, eval, screenshot: ${JSON.stringify(s)}`);
  }
  return steps;
}

const args = parseArgs(process.argv.slice(2));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Rejects with `what` if `promise` has not settled within `ms`.
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} (${ms} ms)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// --- Chromium, and its removal whatever happens ---------------------------

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'websockets-cdp-'));
let browser = null;
let browserExited = null;

function startBrowser() {
  // Same process group as this script: whoever kills our group kills it too.
  browser = spawn(
    args.chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--password-store=basic',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] }
  );
  browserExited = new Promise((resolve) => browser.once('exit', resolve));
  return new Promise((resolve, reject) => {
    let seen = '';
    browser.once('error', (err) => reject(new Error(`cannot start ${args.chromium}: ${err.message}` +
      ' (install the Debian package chromium; ./build.sh deps does)')));
    browser.once('exit', (code, signal) =>
      reject(new Error(`Chromium exited before listening (${signal || code}):\n${seen.slice(-4000)}`)));
    browser.stderr.setEncoding('utf8');
    // Keep reading stderr to the end, or a full pipe would stall Chromium.
    browser.stderr.on('data', (chunk) => {
      if (args.verbose) process.stderr.write(chunk);
      if (seen.length < 65536) seen += chunk;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (m) resolve(m[1]);
    });
  });
}

let cleaning = null;
// Kills Chromium (SIGTERM, then SIGKILL) and removes the profile. Idempotent.
function cleanup() {
  if (!cleaning) {
    cleaning = (async () => {
      if (cdp) cdp.close();
      if (browser && browser.exitCode === null && browser.signalCode === null) {
        browser.kill('SIGTERM');
        const exited = await Promise.race([browserExited.then(() => true), sleep(3000).then(() => false)]);
        if (!exited) {
          browser.kill('SIGKILL');
          await Promise.race([browserExited, sleep(3000)]);
        }
      }
      removeProfile();
    })();
  }
  return cleaning;
}

function removeProfile() {
  try {
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (err) {
    process.stderr.write(`cannot remove ${profile}: ${err.message}\n`);
  }
}

// Last resort on an exit that skipped cleanup(): synchronous only.
process.on('exit', () => {
  if (browser && browser.exitCode === null && browser.signalCode === null) {
    try {
      browser.kill('SIGKILL');
    } catch (_) {
      /* already gone */
    }
  }
  if (fs.existsSync(profile)) removeProfile();
});

async function finish(code) {
  await cleanup();
  process.exit(code);
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => {
    emit({ event: 'error', error: `stopped by ${sig}` });
    finish(1);
  });
}

// --- The DevTools protocol --------------------------------------------------

let cdp = null;
let nextId = 1;
const pending = new Map();
const listeners = new Set();

function connect(url) {
  return new Promise((resolve, reject) => {
    cdp = new WebSocket(url, { perMessageDeflate: false, maxPayload: 512 * 1024 * 1024 });
    cdp.once('open', resolve);
    cdp.once('error', reject);
    cdp.on('message', (data) => {
      const msg = JSON.parse(data.toString('utf8'));
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result);
      } else {
        for (const l of [...listeners]) l(msg);
      }
    });
    cdp.on('close', () => {
      for (const p of pending.values()) p.reject(new Error(`${p.method}: DevTools connection closed`));
      pending.clear();
    });
  });
}

function send(method, params = {}, sessionId = undefined) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject, method });
    cdp.send(JSON.stringify({ id, method, params, sessionId }), (err) => {
      if (err) {
        pending.delete(id);
        reject(err);
      }
    });
  });
}

// Resolves with the first event `method` of `sessionId`.
function nextEvent(method, sessionId) {
  let listener;
  const promise = new Promise((resolve) => {
    listener = (msg) => {
      if (msg.method === method && msg.sessionId === sessionId) {
        listeners.delete(listener);
        resolve(msg.params);
      }
    };
    listeners.add(listener);
  });
  promise.cancel = () => listeners.delete(listener);
  return promise;
}

// --- Steps ------------------------------------------------------------------

async function evaluate(session, expression) {
  const r = await send(
    'Runtime.evaluate',
    { expression, awaitPromise: true, returnByValue: true, userGesture: true },
    session
  );
  if (r.exceptionDetails) {
    const d = r.exceptionDetails;
    throw new Error(`${expression}: ${(d.exception && d.exception.description) || d.text}`);
  }
  return r.result.value === undefined ? null : r.result.value;
}

async function runStep(session, step) {
  if (step.open !== undefined) {
    const loaded = nextEvent('Page.loadEventFired', session);
    const r = await send('Page.navigate', { url: step.open }, session);
    if (r.errorText) {
      loaded.cancel();
      throw new Error(`cannot open ${step.open}: ${r.errorText}`);
    }
    await within(loaded, step.timeout || 15000, `${step.open} did not finish loading`).finally(loaded.cancel);
    return { open: step.open };
  }
  if (step.wait !== undefined) {
    const timeout = step.timeout || 10000;
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await evaluate(session, step.wait);
      if (value) return { wait: step.wait, value };
      if (Date.now() >= deadline) throw new Error(`still false after ${timeout} ms: ${step.wait}`);
      await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    }
  }
  if (step.eval !== undefined) {
    return { eval: step.eval, value: await evaluate(session, step.eval) };
  }
  if (step.screenshot !== undefined) {
    const r = await send('Page.captureScreenshot', { format: 'png' }, session);
    fs.writeFileSync(step.screenshot, Buffer.from(r.data, 'base64'));
    return { screenshot: step.screenshot };
  }
  throw new Error(`unknown step ${JSON.stringify(step)}`);
}

async function main() {
  const endpoint = await within(startBrowser(), 30000, 'Chromium printed no DevTools address');
  await within(connect(endpoint), 10000, 'cannot connect to DevTools');
  const version = await send('Browser.getVersion');
  emit({ event: 'ready', browser: version.product, pid: browser.pid, profile });

  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  listeners.add((msg) => {
    if (msg.sessionId !== sessionId) return;
    if (msg.method === 'Runtime.consoleAPICalled') {
      const text = msg.params.args.map((a) => (a.value !== undefined ? String(a.value) : a.description || a.type)).join(' ');
      emit({ event: 'console', type: msg.params.type, text });
    } else if (msg.method === 'Runtime.exceptionThrown') {
      const d = msg.params.exceptionDetails;
      emit({ event: 'exception', text: (d.exception && d.exception.description) || d.text });
    }
  });
  await send('Page.enable', {}, sessionId);
  await send('Runtime.enable', {}, sessionId);

  for (let i = 0; i < args.steps.length; i++) {
    try {
      const result = await runStep(sessionId, args.steps[i]);
      emit({ step: i, ok: true, ...result });
    } catch (err) {
      emit({ step: i, ok: false, error: err.message });
      return 1;
    }
  }
  return 0;
}

const overall = setTimeout(() => {
  emit({ event: 'error', error: `the whole run took over ${args.timeout} ms` });
  finish(1);
}, args.timeout);

main().then(
  (code) => {
    clearTimeout(overall);
    finish(code);
  },
  (err) => {
    clearTimeout(overall);
    emit({ event: 'error', error: err.message });
    finish(1);
  }
);
