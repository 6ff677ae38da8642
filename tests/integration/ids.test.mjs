// Exact JSON-RPC ids: every request id comes back byte-for-byte as the client
// sent it (integers past 2^53 and past cJSON's 63-digit limit, strings with
// \u0000 and any escape), through the gateway socket, the control socket,
// `serve --stdio` bridged to the daemon and `serve --stdio` embedded.  A
// message that is not well-formed UTF-8 is rejected whole with a parse error
// (RFC 8259 §8.1) and its bytes are never echoed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, PROTOCOL_VERSION, SLOW, cleanupRoot, controlPath, corralEnv, installMock, newRoot,
  sleep, socketPath, startDaemon, waitReady, withTimeout,
} from './lib.mjs';

/* A client that sends and receives raw bytes, line by line. */
class Raw {
  constructor(label) {
    this.label = label;
    this.buf = Buffer.alloc(0);
    this.lines = [];
    this.waiters = [];
    this.closed = false;
  }

  static async socket(p) {
    const r = new Raw(`socket ${p}`);
    const s = net.connect(p);
    await withTimeout(new Promise((res, rej) => { s.once('connect', res); s.once('error', rej); }),
      10000, `a connection to ${p}`);
    s.on('error', () => {});
    r._attach(s, s, () => s.destroy());
    return r;
  }

  static async stdio(root) {
    const r = new Raw(`serve --stdio (${root})`);
    const child = spawn(CORRAL, ['--root', root, 'serve', '--stdio'], {
      env: corralEnv(), stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin.on('error', () => {});
    r._attach(child.stdout, child.stdin, () => child.kill('SIGTERM'));
    return r;
  }

  _attach(readable, writable, close) {
    this.w = writable;
    this.close = close;
    readable.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      let nl;
      while ((nl = this.buf.indexOf(10)) >= 0) {
        this.lines.push(this.buf.subarray(0, nl));
        this.buf = this.buf.subarray(nl + 1);
      }
      this._wake();
    });
    readable.on('close', () => { this.closed = true; this._wake(); });
  }

  _wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  send(bytes) {
    this.w.write(Buffer.concat([Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), Buffer.from('\n')]));
  }

  /* The next line that is not a notification (or null after ms). */
  async next(ms = 20000) {
    const deadline = Date.now() + ms * SLOW;
    for (;;) {
      while (this.lines.length) {
        const l = this.lines.shift();
        if (!/"method"\s*:/.test(l.toString('latin1')) || /"result"|"error"/.test(l.toString('latin1'))) return l;
        this.notes = (this.notes || []).concat([l]);
      }
      if (this.closed) throw new Error(`${this.label}: closed`);
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => { clearTimeout(t); res(); });
      });
    }
  }

  async call(idText, method, params) {
    const p = params === undefined ? '' : `,"params":${params}`;
    this.send(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":'), Buffer.from(idText),
      Buffer.from(`,"method":"${method}"${p}}`)]));
    const l = await this.next();
    assert.ok(l, `${this.label}: no answer to ${method} id ${idText}`);
    return l;
  }
}

/* Id texts exactly as a client may write them. */
const ID_CASES = [
  '9007199254740991',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '1'.repeat(100),
  '1.50',
  '1e400',
  '-0',
  '"\\u0000x"',
  '"a\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\\n\\t"',
  '"\u00e9\u{1F600}"',
  '""',
];

function expectId(line, idText, what) {
  const want = Buffer.concat([Buffer.from('"id":'), Buffer.from(idText)]);
  assert.ok(line.includes(want), `${what}: id not echoed exactly\nsent:     ${idText}\nreceived: ${line}`);
  // The answer is one valid JSON text.
  JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(line));
}

const transports = [
  ['gateway socket', (t) => Raw.socket(socketPath(t.root)), true],
  ['control socket', (t) => Raw.socket(controlPath(t.root)), false],
  ['serve --stdio bridged to the daemon', (t) => Raw.stdio(t.root), true],
  ['serve --stdio embedded', (t) => Raw.stdio(t.bare), true],
];

describe('exact JSON-RPC ids', { timeout: 600000 }, () => {
  const t = {};
  let daemon;

  before(async () => {
    t.root = newRoot('ids');
    t.bare = newRoot('ids-embedded');
    await installMock(t.root, 'mock');
    await installMock(t.bare, 'mock');
    daemon = await startDaemon(t.root);
    await waitReady(t.root, ['mock']);
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(t.root);
    cleanupRoot(t.bare);
  });

  for (const [name, open, mcp] of transports) {
    describe(name, () => {
      let c;
      before(async () => {
        c = await open(t);
        if (mcp) {
          const l = await c.call('"\\u0000init"', 'initialize',
            JSON.stringify({ protocolVersion: PROTOCOL_VERSION, capabilities: {},
              clientInfo: { name: 'ids-test', version: '1' } }));
          expectId(l, '"\\u0000init"', 'initialize');
          c.send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
        }
      });
      after(() => c?.close());

      test('ping answers every id byte-for-byte', async () => {
        for (const id of ID_CASES) expectId(await c.call(id, 'ping', '{}'), id, `ping ${id}`);
      });

      test('errors carry the exact id too', async () => {
        for (const id of ID_CASES.slice(0, 5)) {
          const l = await c.call(id, 'no/such/method', '{}');
          expectId(l, id, `no/such/method ${id}`);
          assert.match(l.toString(), /"error"/);
        }
      });

      test('ill-formed UTF-8 is a parse error with id null, never echoed', async () => {
        const bad = [
          Buffer.from('{"jsonrpc":"2.0","id":"\xff\xfe","method":"ping"}', 'latin1'),
          Buffer.from('{"jsonrpc":"2.0","id":"\xc0\xaf","method":"ping"}', 'latin1'), // overlong '/'
          Buffer.from('{"jsonrpc":"2.0","id":"\xed\xa0\x80","method":"ping"}', 'latin1'), // surrogate
          Buffer.from('{"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":"\xe2\x82"}}', 'latin1'),
        ];
        for (const b of bad) {
          c.send(b);
          const l = await c.next();
          assert.ok(l, `no answer to ill-formed UTF-8 ${b.toString('hex')}`);
          const text = new TextDecoder('utf-8', { fatal: true }).decode(l); // throws if ill-formed
          const m = JSON.parse(text);
          assert.equal(m.id, null, `id not null: ${text}`);
          assert.equal(m.error?.code, -32700, `not a parse error: ${text}`);
        }
        // The session still works.
        expectId(await c.call('5', 'ping', '{}'), '5', 'ping after ill-formed input');
      });

      if (mcp) {
        test('tools/call and progress tokens keep their exact text', async () => {
          const id = '9007199254740993';
          const token = '"tok\\u0000en"';
          const l = await c.call(id, 'tools/call',
            `{"name":"mock__sleep","arguments":{"ms":200},"_meta":{"progressToken":${token}}}`);
          expectId(l, id, 'tools/call');
          assert.match(l.toString(), /slept 200 ms/);
          const notes = (c.notes || []).map(String).filter((n) => n.includes('notifications/progress'));
          c.notes = [];
          assert.ok(notes.length > 0, 'no progress notifications');
          for (const n of notes) assert.ok(n.includes(`"progressToken":${token}`), `token changed: ${n}`);
        });

        test('cancellation matches the exact id, not its double', async () => {
          // 2^53 + 1 and 2^53 are the same double: cancelling one must not
          // cancel the other.
          const ms = 1500;
          c.send(`{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"mock__sleep","arguments":{"ms":${ms}}}}`);
          await sleep(100);
          c.send('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9007199254740992}}');
          const l = await c.next(ms * 4);
          assert.ok(l, 'the call was cancelled by a different id');
          expectId(l, '9007199254740993', 'uncancelled call');

          c.send(`{"jsonrpc":"2.0","id":9007199254740995,"method":"tools/call","params":{"name":"mock__sleep","arguments":{"ms":${ms}}}}`);
          await sleep(100);
          c.send('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9007199254740995}}');
          const none = await c.next(ms + 1000);
          assert.equal(none, null, `a cancelled call was answered: ${none}`);
        });
      }
    });
  }
});
