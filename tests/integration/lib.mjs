// Helpers for corral's integration tests: temp stores, a runner for the corral
// binary, a daemon handle, an MCP client (newline-delimited JSON-RPC 2.0 over a
// child's stdio or a unix socket), and process/store inspection.
//
// Every wait has a timeout, so a broken binary fails a test instead of hanging
// the suite.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CORRAL = process.env.CORRAL_BIN;
if (!CORRAL) throw new Error('CORRAL_BIN is not set (run through scripts/run-integration)');
export const FIXTURES = process.env.CORRAL_FIXTURES_DIR || path.join(REPO, 'build/fixtures');
export const MOCK_SERVER = path.join(REPO, 'tests/fixtures/mock-server.mjs');
export const SANITIZE = process.env.CORRAL_SANITIZE === '1';
/* Sanitizer builds run several times slower: scale the waits. */
export const SLOW = SANITIZE ? 3 : 1;
export const PROTOCOL_VERSION = '2025-11-25';

/* sysexits(3) */
export const EX = {
  OK: 0, USAGE: 64, DATAERR: 65, NOINPUT: 66, UNAVAILABLE: 69, SOFTWARE: 70,
  CANTCREAT: 73, TEMPFAIL: 75, NOPERM: 77, CONFIG: 78,
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Races p against a timer; the error names what was awaited. */
export function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/* Calls fn until it returns a truthy value (returned) or the time is up.  The
 * error carries the last value or exception, which is what a failing test
 * needs to show. */
export async function waitFor(fn, { timeout = 30000, interval = 100, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout * SLOW;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out waiting for ${what}; last: ${detail}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------- temp roots

const roots = new Set();

/* A fresh store root under os.tmpdir(); removed by cleanupRoot() or, at the
 * latest, when the test process exits. */
export function newRoot(tag = 'it') {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `corral-${tag}-`));
  roots.add(root);
  return root;
}

/* Kills whatever still runs inside root (a failed test's daemon or servers)
 * and removes it. */
export function cleanupRoot(root) {
  if (!root) return;
  for (const p of processesUnder(root)) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  fs.rmSync(root, { recursive: true, force: true });
  roots.delete(root);
}

process.on('exit', () => {
  for (const r of roots) {
    try { cleanupRoot(r); } catch { /* best effort */ }
  }
});

export const socketPath = (root) => path.join(root, 'run', 'mcp.sock');
export const controlPath = (root) => path.join(root, 'run', 'control.sock');

// ------------------------------------------------------------------ running

/* The environment every corral process gets: ours, minus settings that would
 * change what a test sees, plus extra (a key set to undefined is removed). */
export function corralEnv(extra = {}) {
  const env = { ...process.env };
  delete env.CORRAL_ROOT;
  delete env.CORRAL_TEST_TIMESCALE;
  delete env.CORRAL_LOG;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/* Runs cmd with args; resolves {code, signal, stdout, stderr, timedOut}.
 * input (string) is written to stdin, which is then closed; without it stdin
 * is /dev/null, so nothing is a TTY. */
export function run(cmd, args, { input, env, cwd, timeout = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: env ?? corralEnv(),
      cwd,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout * SLOW);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code, signal, timedOut,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        pid: child.pid,
      });
    });
    if (input !== undefined) {
      child.stdin.on('error', () => { /* the child may not read it */ });
      child.stdin.end(input);
    }
  });
}

/* Runs `corral [--root ROOT] ARGS…`. */
/* Runs corral on a pseudo-terminal through script(1); input is typed. */
export function onTty(args, { root, input = '', env, timeout = 60000 } = {}) {
  const cmd = [CORRAL, '--root', root, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return run('script', ['-qefc', cmd, '/dev/null'], { input, env: corralEnv(env), timeout });
}

export function corral(args, { root, env, ...opts } = {}) {
  const full = root ? ['--root', root, ...args] : args;
  return run(CORRAL, full, { env: corralEnv(env), ...opts });
}

/* For assertion messages: what a corral run did. */
export function describeRun(r) {
  return `exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (timed out)' : ''}\n` +
    `--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/* Asserts that r exited with code; returns r. */
export function expectExit(r, code, what = 'corral') {
  if (r.code !== code) throw new Error(`${what}: expected exit ${code}, got ${describeRun(r)}`);
  return r;
}

/* Asserts the error convention: exactly one non-empty line on stderr,
 * starting "corral: ", matching every pattern in `names` (strings are
 * searched case-insensitively).  With usageHint, the "Usage:" and "Try" lines
 * printed after a usage error are allowed too. */
export function expectOneLineError(r, names = [], what = 'corral', { usageHint = false } = {}) {
  let lines = r.stderr.split('\n').filter((l) => l.length > 0);
  // After a usage error main.c adds the verb's usage line and a pointer to --help.
  if (usageHint) lines = lines.filter((l, i) => i === 0 || !/^(Usage: corral |Try 'corral )/.test(l));
  if (lines.length !== 1) {
    throw new Error(`${what}: expected a one-line error on stderr, got ${lines.length} lines:\n${r.stderr}`);
  }
  if (!lines[0].startsWith('corral: ')) {
    throw new Error(`${what}: error line does not start with "corral: ": ${lines[0]}`);
  }
  for (const n of names) {
    const ok = n instanceof RegExp ? n.test(lines[0]) : lines[0].toLowerCase().includes(n.toLowerCase());
    if (!ok) throw new Error(`${what}: error line does not mention ${n}: ${lines[0]}`);
  }
  return lines[0];
}

// -------------------------------------------------------------- installing

/* An empty package directory for servers installed with an explicit command. */
export function emptyPkg(root, name = 'emptypkg') {
  const dir = path.join(path.dirname(root), `${path.basename(root)}-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'README'), 'a server run by an explicit command\n');
  roots.add(dir);
  return dir;
}

/* Installs one of the npm fixtures fetched by scripts/fetch-fixtures:
 * "everything" or "memory" (server-memory keeps its graph under data/NAME,
 * not in its read-only package). */
export async function installFixture(root, fixture, name = fixture) {
  const dir = path.join(FIXTURES, fixture);
  if (!fs.existsSync(path.join(dir, 'node_modules'))) {
    throw new Error(`fixture ${dir} missing: run scripts/fetch-fixtures`);
  }
  const args = ['install', dir, '--name', name, '--yes'];
  if (fixture === 'memory') {
    args.push('--env', `MEMORY_FILE_PATH=${path.join(root, 'data', name, 'memory.jsonl')}`);
  }
  const r = await corral(args, { root, timeout: 120000 });
  expectExit(r, 0, `install ${fixture} as ${name}`);
  return r;
}

/* Installs tests/fixtures/mock-server.mjs in the given mode under name. */
export async function installMock(root, name, mode = 'ok', extra = []) {
  if (!fs.existsSync(MOCK_SERVER)) throw new Error(`${MOCK_SERVER} is missing`);
  const r = await corral(['install', emptyPkg(root, `mock-${name}`), '--name', name, '--yes', '--',
    process.execPath, MOCK_SERVER, mode, ...extra], { root });
  expectExit(r, 0, `install mock ${mode} as ${name}`);
  return r;
}

// -------------------------------------------------------------- the daemon

/* `corral status --json` parsed: {version, pid, units: [...]}. */
export async function status(root) {
  const r = await corral(['status', '--json'], { root, timeout: 20000 });
  expectExit(r, 0, 'status --json');
  const j = JSON.parse(r.stdout);
  if (Array.isArray(j)) return { units: j };
  return j;
}

export function unitOf(st, name) {
  return (st.units || []).find((u) => u.name === name);
}

/* Waits until every named unit is ready; returns the status. */
export function waitReady(root, names, timeout = 60000) {
  return waitStatus(root, (st) => names.every((n) => unitOf(st, n)?.state === 'ready'),
    `units ${names.join(', ')} to be ready`, timeout);
}

/* Polls status until pred(status) is truthy; returns that status. */
export function waitStatus(root, pred, what, timeout = 60000) {
  let last;
  return waitFor(async () => {
    last = await status(root);
    return pred(last) ? last : null;
  }, { timeout, interval: 200, what }).catch((e) => {
    throw new Error(`${e.message}\nlast status: ${JSON.stringify(last?.units ?? last)}`);
  });
}

/* Starts `corral --root ROOT daemon` and waits until it answers status. */
export async function startDaemon(root, { env, args = [], timeout = 60000 } = {}) {
  const child = spawn(CORRAL, ['--root', root, 'daemon', ...args], {
    env: corralEnv(env), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  const d = {
    pid: child.pid,
    child,
    exit,
    output: () => output,
    running: () => exited === null,
    /* http://127.0.0.1:PORT of its first MCP listener (as it logged it). */
    httpBase() {
      const m = output.match(/MCP over HTTP on \S+ \(port (\d+)/);
      if (!m) throw new Error(`the daemon logged no MCP HTTP listener:\n${output}`);
      return `http://127.0.0.1:${m[1]}`;
    },
    /* SIGTERM, then the exit status ({code, signal}).  A daemon that does not
     * exit in time is killed and the call throws. */
    async stop(timeoutMs = 40000) {
      if (exited) return exited;
      child.kill('SIGTERM');
      try {
        return await withTimeout(exit, timeoutMs * SLOW, 'the daemon to exit after SIGTERM');
      } catch (e) {
        child.kill('SIGKILL');
        throw new Error(`${e.message}\ndaemon output:\n${output}`);
      }
    },
    /* SIGKILL to the daemon and its whole process tree (test cleanup). */
    kill() {
      if (!exited) {
        const tree = descendants(child.pid);
        child.kill('SIGKILL');
        for (const p of tree) {
          try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
        }
      }
      return exit;
    },
  };
  try {
    await waitFor(async () => {
      if (exited) {
        throw Object.assign(new Error(`daemon exited early (${JSON.stringify(exited)}):\n${output}`),
          { fatal: true });
      }
      const r = await corral(['status', '--json'], { root, timeout: 20000 });
      return r.code === 0;
    }, { timeout, interval: 100, what: 'the daemon to answer status' });
  } catch (e) {
    await d.kill();
    throw new Error(`${e.message}\ndaemon output:\n${output}`);
  }
  return d;
}

// --------------------------------------------------------------- processes

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/* True when pid exists and is not a zombie. */
export function pidAlive(pid) {
  if (!pid || pid <= 0) return false;
  const stat = readProc(pid, 'stat');
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z';
}

/* Every live descendant of pid (children, grandchildren, …), from the ppid
 * fields of /proc/PID/stat.  Sandboxed servers run in their own mount and pid
 * namespaces, where neither their cwd nor their command line shows the store,
 * so the process tree is how a test finds them. */
export function descendants(pid) {
  const children = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readProc(e, 'stat');
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    const ppid = Number(fields[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(e));
  }
  const out = [];
  const queue = [...(children.get(pid) || [])];
  while (queue.length) {
    const p = queue.pop();
    out.push(p);
    queue.push(...(children.get(p) || []));
  }
  return out;
}

/* For assertion messages: pid and command line of each live pid in pids. */
export function describePids(pids) {
  return pids.filter(pidAlive)
    .map((p) => `${p}: ${(readProc(p, 'cmdline') || '').replace(/\0/g, ' ').trim()}`);
}

/* Processes (other than this one) whose command line mentions dir or whose
 * working directory is inside it: {pid, cmdline, cwd}. */
export function processesUnder(dir) {
  const found = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const cmdline = (readProc(pid, 'cmdline') || '').replace(/\0/g, ' ').trim();
    let cwd = '';
    try { cwd = fs.readlinkSync(`/proc/${pid}/cwd`); } catch { /* gone or not ours */ }
    if (!pidAlive(pid)) continue;
    if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(dir + '/')) {
      found.push({ pid, cmdline, cwd });
    }
  }
  return found;
}

// ------------------------------------------------------------------- store

/* Content hashes by (device, inode, size, mtime, ctime): a file whose inode
 * metadata is unchanged has unchanged contents (any write moves ctime), so
 * repeated snapshots of a large store hash only what changed. */
const hashCache = new Map();

function fileHash(abs, st) {
  const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  let h = hashCache.get(key);
  if (h === undefined) {
    h = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    hashCache.set(key, h);
  }
  return h;
}

/* A recursive listing of dir (relative path, type, mode, size, sha256 of file
 * contents, link targets) and one digest over it.  Files named in ignore
 * (basenames) are skipped. */
export function treeSnapshot(dir, { ignore = ['.lock'] } = {}) {
  const lines = [];
  const walk = (rel) => {
    const abs = path.join(dir, rel);
    let entries;
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT' && rel === '') return;
      throw e;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (ignore.includes(ent.name)) continue;
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      const st = fs.lstatSync(path.join(dir, r), { bigint: true });
      const mode = (st.mode & 0o7777n).toString(8);
      if (st.isDirectory()) {
        lines.push(`d ${mode} ${r}`);
        walk(r);
      } else if (st.isSymbolicLink()) {
        lines.push(`l ${r} -> ${fs.readlinkSync(path.join(dir, r))}`);
      } else {
        lines.push(`f ${mode} ${st.size} ${fileHash(path.join(dir, r), st)} ${r}`);
      }
    }
  };
  walk('');
  return { lines, digest: createHash('sha256').update(lines.join('\n')).digest('hex') };
}

export const storeSnapshot = (root) => treeSnapshot(path.join(root, 'servers'));

/* Throws, with the first differences, unless the two snapshots are equal. */
export function expectSameTree(before, after, what = 'the store') {
  if (before.digest === after.digest) return;
  const a = new Set(before.lines);
  const b = new Set(after.lines);
  const gone = before.lines.filter((l) => !b.has(l)).slice(0, 10);
  const added = after.lines.filter((l) => !a.has(l)).slice(0, 10);
  throw new Error(`${what} changed:\n- ${gone.join('\n- ')}\n+ ${added.join('\n+ ')}`);
}

// ------------------------------------------------------------- MCP client

export class RpcError extends Error {
  constructor(method, error) {
    super(`${method}: JSON-RPC error ${error?.code}: ${error?.message}`);
    this.code = error?.code;
    this.data = error?.data;
    this.rpcMessage = error?.message;
  }
}

/* An MCP client speaking newline-delimited JSON-RPC 2.0.  Build one with
 * McpClient.stdio(root) (`corral serve --stdio`) or McpClient.connect(path)
 * (the gateway socket). */
export class McpClient {
  constructor(label) {
    this.label = label;
    this.nextId = 1;
    this.pending = new Map();       // id → {method, resolve, reject, timer}
    this.responses = new Map();     // id → every response message received
    this.cancelled = new Set();     // ids we cancelled
    this.notifications = [];        // every notification received, in order
    this.serverRequests = [];       // requests the server sent us
    this.badLines = [];             // lines that were not JSON
    this.progress = new Map();      // progressToken → callback
    this.waiters = [];
    this.buf = '';
    this.closed = false;
    this.closeWaiters = [];
    this.stderr = '';
    this.child = null;
  }

  /* Spawns `corral --root ROOT serve --stdio` (after prefix, e.g. setpriv
   * and its arguments, to run it as another user). */
  static async stdio(root, { env, prefix = [] } = {}) {
    const c = new McpClient(`serve --stdio (${root})`);
    const argv = [...prefix, CORRAL, '--root', root, 'serve', '--stdio'];
    const child = spawn(argv[0], argv.slice(1), {
      env: corralEnv(env), stdio: ['pipe', 'pipe', 'pipe'],
    });
    c.child = child;
    c.exit = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    child.stderr.on('data', (d) => { c.stderr += d; });
    child.stdin.on('error', () => { /* peer gone: noticed on close */ });
    c._attach(child.stdout, child.stdin);
    await withTimeout(new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    }), 10000, 'corral serve --stdio to spawn');
    return c;
  }

  /* Connects to a unix socket (the daemon's gateway socket). */
  static async connect(sockPath) {
    const c = new McpClient(`socket ${sockPath}`);
    const sock = net.connect(sockPath);
    c.socket = sock;
    await withTimeout(new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    }), 10000, `a connection to ${sockPath}`);
    sock.on('error', () => { /* noticed on close */ });
    c._attach(sock, sock);
    return c;
  }

  _attach(readable, writable) {
    this.writable = writable;
    readable.setEncoding('utf8');
    readable.on('data', (d) => this._onData(d));
    readable.on('close', () => this._onClose());
    readable.on('end', () => this._onClose());
  }

  _onClose() {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${this.label}: connection closed before the response to ${p.method} (id ${id})` +
        (this.stderr ? `\nstderr: ${this.stderr}` : '')));
    }
    this.pending.clear();
    for (const w of this.closeWaiters) w();
    this._wake();
  }

  _onData(chunk) {
    this.buf += chunk;
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (line.trim() === '') continue;
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        this.badLines.push(line);
        continue;
      }
      this._dispatch(msg);
    }
  }

  _dispatch(msg) {
    if (msg.method === undefined && msg.id !== undefined) {
      const list = this.responses.get(msg.id) || [];
      list.push(msg);
      this.responses.set(msg.id, list);
      const p = this.pending.get(msg.id);
      if (p) {
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(new RpcError(p.method, msg.error));
        else p.resolve(msg.result);
      }
    } else if (msg.method !== undefined && msg.id !== undefined) {
      this.serverRequests.push(msg);
      if (msg.method === 'roots/list') this._send({ jsonrpc: '2.0', id: msg.id, result: { roots: [] } });
      else if (msg.method === 'ping') this._send({ jsonrpc: '2.0', id: msg.id, result: {} });
      else this._send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'method not found' } });
    } else if (msg.method !== undefined) {
      this.notifications.push(msg);
      if (msg.method === 'notifications/progress') {
        const cb = this.progress.get(msg.params?.progressToken);
        if (cb) cb(msg.params);
      }
    } else {
      this.badLines.push(JSON.stringify(msg));
    }
    this._wake();
  }

  _wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /* Resolves at the next message or close (or after ms). */
  _nextEvent(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  _send(msg) {
    if (this.closed) throw new Error(`${this.label}: connection is closed`);
    this.writable.write(JSON.stringify(msg) + '\n');
  }

  /* Sends a raw line (for malformed-input tests). */
  sendRaw(text) {
    this.writable.write(text);
  }

  /* Starts a request: {id, promise, progressToken}.  With onProgress a
   * progress token is added to params._meta and every notifications/progress
   * carrying it is passed to onProgress(params). */
  start(method, params = {}, { timeout = 60000, onProgress, progressToken } = {}) {
    const id = this.nextId++;
    let token;
    if (onProgress) {
      token = progressToken ?? `${this.label.slice(0, 6)}-progress-${id}`;
      params = { ...params, _meta: { ...(params._meta || {}), progressToken: token } };
      this.progress.set(token, onProgress);
    }
    const promise = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: timed out after ${timeout * SLOW} ms waiting for the response to ` +
          `${method} (id ${id})` + (this.stderr ? `\nstderr: ${this.stderr}` : '')));
      }, timeout * SLOW);
      this.pending.set(id, { method, resolve, reject, timer });
    });
    promise.catch(() => { /* handled by whoever awaits it */ });
    this._send({ jsonrpc: '2.0', id, method, params });
    return { id, promise, progressToken: token };
  }

  request(method, params, opts) {
    return this.start(method, params, opts).promise;
  }

  notify(method, params = {}) {
    this._send({ jsonrpc: '2.0', method, params });
  }

  /* Sends notifications/cancelled for id and stops waiting for its response
   * (its promise rejects with a "cancelled" error; a response arriving later
   * is still recorded in this.responses). */
  cancel(id, reason = 'cancelled by the test') {
    this.cancelled.add(id);
    this.notify('notifications/cancelled', { requestId: id, reason });
    const p = this.pending.get(id);
    if (p) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(Object.assign(new Error(`request ${id} cancelled`), { cancelled: true }));
    }
  }

  async initialize({ protocolVersion = PROTOCOL_VERSION, capabilities = { roots: { listChanged: false } } } = {}) {
    const res = await this.request('initialize', {
      protocolVersion,
      capabilities,
      clientInfo: { name: 'corral-integration-tests', version: '1.0.0' },
    }, { timeout: 30000 });
    this.initializeResult = res;
    this.notify('notifications/initialized');
    return res;
  }

  /* Every tool over every page (follows nextCursor). */
  async listTools({ timeout = 30000 } = {}) {
    const tools = [];
    const seen = new Set();
    let cursor;
    for (let page = 0; page < 1000; page++) {
      const res = await this.request('tools/list', cursor === undefined ? {} : { cursor }, { timeout });
      if (!Array.isArray(res?.tools)) throw new Error(`tools/list returned no tools array: ${JSON.stringify(res)}`);
      tools.push(...res.tools);
      if (res.nextCursor === undefined || res.nextCursor === null) return tools;
      if (seen.has(res.nextCursor)) throw new Error(`tools/list repeated cursor ${res.nextCursor}`);
      seen.add(res.nextCursor);
      cursor = res.nextCursor;
    }
    throw new Error('tools/list: more than 1000 pages');
  }

  /* Lists tools until pred(names) holds, re-listing whenever a list_changed
   * notification arrives (or every second).  Returns the tools. */
  async waitTools(pred, what, timeout = 60000) {
    const deadline = Date.now() + timeout * SLOW;
    let names = [];
    for (;;) {
      const tools = await this.listTools();
      names = tools.map((t) => t.name);
      if (pred(names)) return tools;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; tools: ${names.join(', ')}`);
      }
      const seen = this.notifications.length;
      const until = Date.now() + 1000;
      while (this.notifications.length === seen && Date.now() < until && !this.closed) {
        await this._nextEvent(until - Date.now());
      }
    }
  }

  callTool(name, args = {}, opts) {
    return this.request('tools/call', { name, arguments: args }, opts);
  }

  /* The first notification with this method (and pred(params)) at index >= from
   * in this.notifications; waits for it. */
  async waitNotification(method, { from = 0, pred = () => true, timeout = 30000 } = {}) {
    const deadline = Date.now() + timeout * SLOW;
    for (;;) {
      for (let i = from; i < this.notifications.length; i++) {
        const n = this.notifications[i];
        if (n.method === method && pred(n.params)) return n;
      }
      if (this.closed) throw new Error(`${this.label}: closed while waiting for ${method}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.label}: timed out waiting for ${method}; got: ` +
          this.notifications.slice(from).map((n) => n.method).join(', '));
      }
      await this._nextEvent(left);
    }
  }

  /* SIGKILL to serve --stdio and its process tree (test cleanup). */
  kill() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const tree = descendants(this.child.pid);
    this.child.kill('SIGKILL');
    for (const p of tree) {
      try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
  }

  /* Closes our side.  For serve --stdio: waits for the process to exit and
   * returns {code, signal}. */
  async close(timeoutMs = 30000) {
    if (this.socket) {
      this.socket.end();
      this.socket.destroy();
      return null;
    }
    if (this.child) {
      try { this.child.stdin.end(); } catch { /* already closed */ }
      try {
        return await withTimeout(this.exit, timeoutMs * SLOW, 'corral serve --stdio to exit after stdin EOF');
      } catch (e) {
        this.kill();
        throw new Error(`${e.message}\nstderr:\n${this.stderr}`);
      }
    }
    return null;
  }
}

/* The text of a tools/call result's content blocks, joined. */
export function resultText(res) {
  return (res?.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

// ------------------------------------------------------------ machine locks

/* Takes an exclusive flock(1) on file, for things one test run at a time may
 * own on this machine (the docker engine that a test stops and starts, port
 * 5000): resolves {release()} once held, waiting up to timeout ms for another
 * holder.  The lock is held by a child `flock … cat` and dropped when its
 * stdin closes, so it also goes away when this process dies. */
export async function exclusiveLock(file, { timeout = 300000 } = {}) {
  const child = spawn('flock', ['--exclusive', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  child.stdin.on('error', () => { /* gone */ });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const locked = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('locked')) resolve();
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`flock ${file} exited with ${code}: ${err}`)));
  });
  try {
    await withTimeout(locked, timeout, `the lock ${file} (held by another test run?)`);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    async release() {
      child.stdin.end();
      await withTimeout(exited, 10000, `flock ${file} to exit`).catch(() => child.kill('SIGKILL'));
    },
  };
}
