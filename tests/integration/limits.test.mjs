// Rate limits and guardrails on tool calls (issue 15): a result over
// limits.max_result_bytes is refused whole; a concurrency cap refuses the
// call past it at once; `corral limit set` (the state database) gives a
// token bucket per user per tool — N calls allowed, the N+1th refused with
// retryAfterMs, one more after waiting that long; refusals are audit rows
// with outcome "limited".  Counted, never timed.  Also /metrics (issue 15):
// admins only, Prometheus text that a parser written to the format's spec
// reads, with counters equal to the audit log's rows.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  EX, McpClient, RpcError, cleanupRoot, corral, expectExit, expectOneLineError, installMock,
  newRoot, sleep, socketPath, startDaemon, waitFor, waitReady,
} from './lib.mjs';

const LIMITED = -32005;
const NOT_ADMIN = `corral-nobody-${process.pid}`; // no such passwd entry: never an admin
const TOO_LARGE = -32006;
const ENV_SECRET = `env-secret-${process.pid}-x7`;
const LATER_SECRET = `later-secret-${process.pid}-q2`;
const OAUTH_SECRET = `oauth-access-${process.pid}-k9`;
const SMITHERY_KEY = `smithery-key-${process.pid}-m4`;

async function refused(p) {
  try {
    const r = await p;
    assert.fail(`expected a refusal, got ${JSON.stringify(r)}`);
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    return e;
  }
}

describe('rate limits and guardrails', { timeout: 240000 }, () => {
  let root; let daemon; let client; let base; let metricsBase;
  const tokens = {};

  before(async () => {
    root = newRoot('limits');
    fs.chmodSync(root, 0o755);
    await installMock(root, 'lim');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
      limits: { max_result_bytes: 4096, rules: [{ server: 'lim', tool: 'sleep', concurrent: 2 }] },
      // System mode, so that admins are root and the admin group only.
      site: { socket_group: 'root' },
      tools: { deny: ['lim__add-tool'] },
      auth: { resource: 'http://127.0.0.1/mcp' },
      http: { public_url: 'http://127.0.0.1', listen: ['127.0.0.1:0'] },
      // /metrics on an address of its own too, with the same admin check.
      metrics: { listen: '127.0.0.1:0' },
      // Arguments logged, redacted, capped at 1 KiB.
      audit: { arguments: true, arguments_max_bytes: 1024 },
      smithery_api_key: SMITHERY_KEY,
    }));
    // Secrets corral knows: a server's secrets.json, an OAuth token file.
    fs.writeFileSync(path.join(root, 'servers/lim/secrets.json'), JSON.stringify({ env: { LIM_API_KEY: ENV_SECRET } }), { mode: 0o600 });
    fs.mkdirSync(path.join(root, 'oauth/0'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(root, 'oauth/0/remote.json'), JSON.stringify({ access_token: OAUTH_SECRET, token_endpoint: 'https://idp.example/token' }), { mode: 0o600 });
    for (const u of ['root', NOT_ADMIN]) {
      const r = expectExit(await corral(['token', 'create', '--user', u, '--level', 'trusted', '--json'], { root }), 0);
      tokens[u] = JSON.parse(r.stdout).token;
    }
    daemon = await startDaemon(root, { args: ['--system'] });
    await waitReady(root, ['lim']);
    base = daemon.httpBase();
    const mm = daemon.output().match(/metrics on \S+ \(port (\d+), auth bearer\)/);
    assert.ok(mm, daemon.output());
    metricsBase = `http://127.0.0.1:${mm[1]}`;
    client = await McpClient.connect(socketPath(root));
    await client.initialize();
  });

  after(async () => {
    await client?.close();
    await daemon?.stop().catch(() => daemon.kill());
    cleanupRoot(root);
  });

  test('a result over max_result_bytes is refused whole, never truncated', async () => {
    const e = await refused(client.callTool('lim__echo', { text: 'x'.repeat(5000) }));
    assert.equal(e.code, TOO_LARGE, e.message);
    assert.match(e.rpcMessage, /result too large: lim__echo answered \d+ bytes, over the cap of 4096/);
    assert.ok(e.data.resultBytes > 5000 && e.data.maxResultBytes === 4096, JSON.stringify(e.data));
    const ok = await client.callTool('lim__echo', { text: 'x'.repeat(3000) });
    assert.equal(ok.content[0].text.length, 3000);
  });

  test('a concurrency cap refuses the call past it at once', async () => {
    const a = client.start('tools/call', { name: 'lim__sleep', arguments: { ms: 4000 } });
    const b = client.start('tools/call', { name: 'lim__sleep', arguments: { ms: 4000 } });
    const e = await refused(client.callTool('lim__sleep', { ms: 1 }));
    assert.equal(e.code, LIMITED, e.message);
    assert.equal(e.data.limit.reason, 'concurrency');
    assert.ok(e.data.retryAfterMs > 0, JSON.stringify(e.data));
    // Other tools of the server are not capped.
    await client.callTool('lim__echo', { text: 'meanwhile' });
    await a.promise;
    await b.promise;
    // The slots came back.
    await client.callTool('lim__sleep', { ms: 1 });
  });

  test('corral limit set: N calls, the N+1th refused with retryAfterMs, one more after it', async () => {
    // The daemon writes the row and applies it (no reload asked):
    // CORRAL_TEST_NO_STATE_WRITE fails any write of the CLI's own.
    const env = { CORRAL_TEST_NO_STATE_WRITE: '1' };
    expectExit(await corral(['limit', 'set', 'lim__echo', '--calls', '3', '--per', '12'], { root, env }), 0, 'limit set');
    const list = JSON.parse(expectExit(await corral(['limit', 'list', '--json'], { root }), 0, 'limit list').stdout);
    assert.equal(list.max_result_bytes, 4096);
    assert.deepEqual(list.rules.map((r) => [r.server, r.tool, r.calls, r.period_s, r.source]),
      [['lim', 'sleep', 0, 0, 'corral.json'], ['lim', 'echo', 3, 12, 'database']]);

    for (let i = 0; i < 3; i++) await client.callTool('lim__echo', { text: `call ${i}` });
    const e = await refused(client.callTool('lim__echo', { text: 'one too many' }));
    assert.equal(e.code, LIMITED, e.message);
    assert.equal(e.data.limit.reason, 'rate');
    assert.equal(e.data.limit.calls, 3);
    // A token every 4 s: the wait is at most that.
    assert.ok(e.data.retryAfterMs > 0 && e.data.retryAfterMs <= 4000, JSON.stringify(e.data));
    // Another tool is not counted in echo's bucket.
    await client.callTool('lim__sleep', { ms: 1 });

    await sleep(e.data.retryAfterMs + 20);
    await client.callTool('lim__echo', { text: 'refilled' });
    const again = await refused(client.callTool('lim__echo', { text: 'empty again' }));
    assert.equal(again.code, LIMITED);

    expectExit(await corral(['limit', 'clear', 'lim__echo'], { root, env }), 0, 'limit clear');
    for (let i = 0; i < 5; i++) await client.callTool('lim__echo', { text: `free ${i}` });
  });

  test('refusals are audit rows: "limited", "denied" (tool lists), "not_found"', async () => {
    // Refused before any server sees them: a denied tool answers like a
    // missing one, and both are in the log.
    for (const t of ['lim__add-tool', 'lim__nosuch', 'nosrv__echo']) {
      const e = await refused(client.callTool(t, {}));
      assert.equal(e.code, -32602, e.message);
    }
    let rows;
    await waitFor(async () => {
      rows = JSON.parse(expectExit(await corral(['audit', '--json'], { root }), 0, 'audit').stdout);
      return rows.filter((r) => r.outcome === 'limited').length >= 3 && rows.some((r) => r.server === 'nosrv');
    }, { timeout: 20000, what: 'three "limited" audit rows and the refused ones' });
    assert.deepEqual(rows.filter((r) => ['denied', 'not_found'].includes(r.outcome))
      .map((r) => [r.server, r.tool, r.outcome]),
    [['lim', 'add-tool', 'denied'], ['lim', 'nosuch', 'not_found'], ['nosrv', 'echo', 'not_found']]);
    const limited = rows.filter((r) => r.outcome === 'limited');
    assert.deepEqual(limited.map((r) => r.tool).sort(), ['echo', 'echo', 'sleep']);
    assert.ok(limited.every((r) => r.server === 'lim' && r.duration_ms === 0 && r.response_bytes === 0));
    const big = rows.find((r) => r.tool === 'echo' && r.outcome === 'error');
    assert.ok(big, 'the oversize call is an "error" row');
  });

  test('bad limits are refused: the CLI and corral.json', async () => {
    expectOneLineError(expectExit(await corral(['limit', 'set', 'lim', '--calls', '3'], { root }), EX.USAGE), ['--per']);
    expectOneLineError(expectExit(await corral(['limit', 'set', 'lim'], { root }), EX.USAGE), ['limits nothing']);
    expectOneLineError(expectExit(await corral(['limit', 'clear', 'nothere'], { root, env: { CORRAL_TEST_NO_STATE_WRITE: '1' } }), EX.NOINPUT), ['nothere']);
    const r = await corral(['config', 'set', 'limits.rules', '[{"server":"x","calls":1}]'], { root });
    expectExit(r, EX.CONFIG);
    assert.match(r.stderr, /period_s/);
  });

  test('/metrics: admins only; Prometheus text whose counters equal the audit rows', async () => {
    const get = (user) => fetch(`${base}/metrics`, user ? { headers: { authorization: `Bearer ${tokens[user]}` } } : {});
    assert.equal((await get(null)).status, 401);
    const denied = await get(NOT_ADMIN);
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /for admins/);

    // The crash tool makes the server exit: one automatic restart.
    await refused(client.callTool('lim__crash', {})).catch(() => {});
    await waitFor(async () => {
      const fams = parseExposition(await (await get('root')).text());
      const r = fams.get('corral_unit_restarts_total')?.samples.find((x) => x.labels.server === 'lim');
      const up = fams.get('corral_unit_up')?.samples.find((x) => x.labels.server === 'lim' && x.labels.state === 'ready');
      return r?.value === 1 && up?.value === 1;
    }, { timeout: 60000, what: 'lim restarted once and ready' });

    const res = await get('root');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const fams = parseExposition(await res.text());
    for (const [name, type] of [['corral_tool_calls_total', 'counter'], ['corral_tool_call_duration_seconds', 'histogram'],
      ['corral_unit_up', 'gauge'], ['corral_unit_restarts_total', 'counter'], ['corral_unit_oom_kills_total', 'counter']]) {
      assert.equal(fams.get(name)?.type, type, name);
    }
    assert.equal(fams.get('corral_unit_oom_kills_total').samples.find((x) => x.labels.server === 'lim').value, 0);
    // Only one state of lim is 1.
    assert.equal(fams.get('corral_unit_up').samples.filter((x) => x.labels.server === 'lim' && x.value === 1).length, 1);

    let rows;
    await waitFor(async () => {
      rows = JSON.parse(expectExit(await corral(['audit', '--json'], { root }), 0, 'audit').stdout);
      return rows.some((r) => r.tool === 'crash');
    }, { timeout: 20000, what: 'the crash call in the audit log' });
    const want = new Map();
    for (const r of rows) {
      const k = JSON.stringify([r.user ?? '', r.server, r.tool, r.outcome]);
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const have = new Map();
    for (const x of fams.get('corral_tool_calls_total').samples) {
      have.set(JSON.stringify([x.labels.user, x.labels.server, x.labels.tool, x.labels.outcome]), x.value);
    }
    assert.deepEqual(have, want);
    // The histogram counts the forwarded calls (not the refused ones).
    const echoCount = fams.get('corral_tool_call_duration_seconds').samples
      .find((x) => x.name.endsWith('_count') && x.labels.server === 'lim' && x.labels.tool === 'echo').value;
    assert.equal(echoCount, rows.filter((r) => r.server === 'lim' && r.tool === 'echo' &&
      ['ok', 'tool_error', 'error'].includes(r.outcome)).length);
    // Refused calls are not timed.
    assert.ok(!fams.get('corral_tool_call_duration_seconds').samples.some((x) => x.labels.server === 'nosrv'));

    // The separate listener: the same check and the same text, nothing else.
    const own = (user, p = '/metrics', init = {}) => fetch(`${metricsBase}${p}`,
      { ...init, headers: { ...(user ? { authorization: `Bearer ${tokens[user]}` } : {}), ...init.headers } });
    assert.equal((await own(null)).status, 401);
    assert.equal((await own(NOT_ADMIN)).status, 403);
    const there = await own('root');
    assert.equal(there.status, 200);
    assert.match(there.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const theirs = parseExposition(await there.text());
    assert.equal(theirs.get('corral_unit_restarts_total').samples.find((x) => x.labels.server === 'lim').value, 1);
    assert.ok(theirs.get('corral_tool_calls_total').samples.length >= have.size);
    for (const p of ['/mcp', '/health', '/servers/lim/mcp', '/.well-known/oauth-protected-resource']) {
      assert.equal((await own('root', p)).status, 404, p);
    }
    assert.equal((await own('root', '/mcp', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 404);
    const listeners = JSON.parse(expectExit(await corral(['status', '--json'], { root }), 0).stdout).http;
    assert.deepEqual(listeners.map((l) => [l.serves, l.auth]).sort(), [['mcp', 'bearer'], ['metrics', 'bearer']]);
  });

  test('"audit": {"arguments": true}: arguments logged with every known secret redacted, capped', async () => {
    const audit = async (...a) => JSON.parse(expectExit(await corral(['audit', '--json', '--server', 'lim', ...a], { root }), 0, 'audit').stdout);
    const first = await corral(['audit', '--json', '--server', 'lim'], { root });
    const before = first.code === EX.NOINPUT ? 0 : JSON.parse(expectExit(first, 0, 'audit').stdout).length;
    const tok = tokens[NOT_ADMIN];
    await client.callTool('lim__echo', {
      text: `env ${ENV_SECRET}, token ${tok}, oauth ${OAUTH_SECRET}, site ${SMITHERY_KEY}.`,
      password: 'plain-password-value', nested: { note: 'kept as it is' },
    });
    // A secret that appears while the daemon runs is known at once.
    fs.writeFileSync(path.join(root, 'servers/lim/secrets.json'),
      JSON.stringify({ env: { LIM_API_KEY: ENV_SECRET, LATER: LATER_SECRET } }), { mode: 0o600 });
    await client.callTool('lim__echo', { text: `later ${LATER_SECRET}` });
    // Past the cap: cut, still JSON, the secret near the cut gone whole.
    await client.callTool('lim__echo', { text: `${'y'.repeat(990)}${ENV_SECRET}${'z'.repeat(1000)}` });
    const rows = await waitFor(async () => {
      const a = await audit();
      return a.length >= before + 3 ? a.slice(before) : null;
    }, { timeout: 20000, what: 'three audit rows with arguments' });
    assert.deepEqual(rows[0].arguments, {
      text: 'env [redacted], token [redacted], oauth [redacted], site [redacted].',
      password: '[redacted]', nested: { note: 'kept as it is' },
    });
    assert.deepEqual(rows[1].arguments, { text: 'later [redacted]' });
    assert.equal(typeof rows[2].arguments, 'string');
    assert.match(rows[2].arguments, /^\{"text":"y+\[truncated, \d+ bytes in all\]$/);
    assert.ok(JSON.stringify(rows[2].arguments).length <= 1024);
    const st = JSON.parse(expectExit(await corral(['status', '--json'], { root }), 0).stdout).audit;
    assert.equal(st.arguments, true);
    assert.ok(st.secrets_known >= 4, JSON.stringify(st));
    // Text output: arguments only with --arguments.
    const plain = expectExit(await corral(['audit', '--server', 'lim'], { root }), 0).stdout;
    assert.ok(!plain.includes('arguments:'), plain);
    const shown = expectExit(await corral(['audit', '--server', 'lim', '--arguments'], { root }), 0).stdout;
    assert.match(shown, /arguments: \{"text":"later \[redacted\]"\}/);
    // Nowhere: not in what audit prints, not in the database's files.
    const secretPart = tok.slice(tok.indexOf('_', 7) + 1);
    for (const s of [ENV_SECRET, LATER_SECRET, OAUTH_SECRET, SMITHERY_KEY, secretPart, 'plain-password-value']) {
      assert.ok(!shown.includes(s) && !JSON.stringify(rows).includes(s), `${s} in audit's output`);
      // The OAuth token itself is kept in the database (oauth_tokens), by design.
      if (s === OAUTH_SECRET) continue;
      for (const f of ['state.db', 'state.db-wal']) {
        const p = path.join(root, f);
        if (fs.existsSync(p)) assert.ok(!fs.readFileSync(p).includes(s), `${s} in ${f}`);
      }
    }
  });

  test('a read-only or corrupt state database: calls go on, the failure is shown, rows and limits survive', async () => {
    const db = path.join(root, 'state.db');
    const side = [db, `${db}-wal`, `${db}-shm`];
    const immutable = (on) => {
      for (const f of side) {
        if (fs.existsSync(f)) execFileSync('chattr', [on ? '+i' : '-i', f]);
      }
    };
    const audit = async () => JSON.parse(expectExit(await corral(['audit', '--json', '--server', 'lim'], { root }), 0, 'audit').stdout);
    const auditStatus = async () => JSON.parse(expectExit(await corral(['status', '--json'], { root }), 0, 'status').stdout).audit;
    const failing = (what) => waitFor(async () => {
      const a = await auditStatus();
      return a.ok === false && a.pending > 0 ? a : null;
    }, { timeout: 20000, what: `status to report the ${what} database` });
    const mark = (t) => ({ text: t });
    // A limit kept in the database: two echo calls an hour for everyone.
    expectExit(await corral(['limit', 'set', 'lim__echo', '--calls', '2', '--per', '3600'], { root }), 0, 'limit set');
    await sleep(600);
    const echoOk = (rows) => rows.filter((r) => r.tool === 'echo' && r.outcome === 'ok').length;
    const okBefore = echoOk(await audit());
    const logAt = daemon.output().length;

    // Read-only, even for root: the files immutable (chattr +i).
    immutable(true);
    try {
      assert.equal((await client.callTool('lim__echo', mark('while read-only'))).content[0].text, 'while read-only');
      const a = await failing('read-only');
      assert.match(a.error, /not permitted|read-?only|I\/O/i, a.error);
      // The database's limits are kept over a reload that cannot read them.
      expectExit(await corral(['reload'], { root }), 0, 'reload while read-only');
    } finally {
      immutable(false);
    }
    await waitFor(async () => (await auditStatus()).ok === true, { timeout: 20000, what: 'the audit log to work again' });
    assert.equal(echoOk(await audit()), okBefore + 1, 'the held row was written, once');
    assert.match(daemon.output().slice(logAt), /audit log: .*state\.db/, 'the failure is in the daemon log');

    // Corrupt: a file that is not a database put in its place (its WAL gone with it).
    fs.writeFileSync(`${db}.new`, 'this is not an SQLite database '.repeat(200));
    fs.renameSync(`${db}.new`, db);
    for (const f of side.slice(1)) fs.rmSync(f, { force: true });
    assert.equal((await client.callTool('lim__echo', mark('while corrupt'))).content[0].text, 'while corrupt');
    const c = await failing('corrupt');
    assert.match(c.error, /not a database|malformed/i, c.error);
    const unreadable = await corral(['audit'], { root });
    assert.equal(unreadable.code, EX.DATAERR, unreadable.stderr);
    expectExit(await corral(['reload'], { root }), 0, 'reload while corrupt');
    // The two echo calls of the hour are spent: the database's rule still holds.
    const e = await refused(client.callTool('lim__echo', mark('third')));
    assert.equal(e.code, LIMITED, e.message);
    assert.equal(e.data.limit.calls, 2);
    // The operator moves the broken file away: a fresh database gets the held rows.
    fs.rmSync(db);
    const fresh = await waitFor(async () => {
      const r = await corral(['audit', '--json', '--server', 'lim'], { root });
      return r.code === 0 && JSON.parse(r.stdout).length >= 2 ? JSON.parse(r.stdout) : null;
    }, { timeout: 20000, what: 'the held rows in a fresh database' });
    assert.deepEqual(fresh.map((r) => [r.tool, r.outcome]), [['echo', 'ok'], ['echo', 'limited']]);
    assert.equal((await auditStatus()).ok, true);
  });
});

describe('a /metrics listener of its own without auth', { timeout: 120000 }, () => {
  let root;
  after(() => cleanupRoot(root));

  test('"auth": "none" serves /metrics to anyone and nothing else; "bearer" without "auth" is refused', async () => {
    root = newRoot('metrics-listen');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.chmodSync(root, 0o755);
    // System mode: an anonymous caller is no admin, so only "none" lets it in.
    const conf = (metrics) => fs.writeFileSync(path.join(root, 'etc/corral.json'),
      JSON.stringify({ metrics, site: { socket_group: 'root' } }));
    conf({ listen: '127.0.0.1:0', auth: 'bearer' });
    const refusedStart = await corral(['daemon', '--system'], { root, timeout: 30000 });
    assert.equal(refusedStart.code, EX.CONFIG, refusedStart.stderr);
    expectOneLineError(refusedStart, ['metrics.auth', 'corral.json "auth"']);
    conf({ listen: '127.0.0.1:0', auth: 'none', port: 1 });
    const unknown = await corral(['daemon', '--system'], { root, timeout: 30000 });
    assert.equal(unknown.code, EX.CONFIG, unknown.stderr);
    expectOneLineError(unknown, ['metrics.port']);

    conf({ listen: '127.0.0.1:0', auth: 'none' });
    const d = await startDaemon(root, { args: ['--system'] });
    try {
      const m = d.output().match(/metrics on \S+ \(port (\d+), auth none\)/);
      assert.ok(m, d.output());
      const url = `http://127.0.0.1:${m[1]}`;
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      assert.ok(parseExposition(await res.text()).has('corral_metrics_series_overflow_total'));
      assert.equal((await fetch(`${url}/mcp`, { method: 'POST', body: '{}' })).status, 404);
      assert.equal((await fetch(`${url}/health`)).status, 404);
    } finally {
      await d.stop().catch(() => d.kill());
    }
  });
});

/* A parser for the Prometheus text exposition format 0.0.4, written from
 * https://prometheus.io/docs/instrumenting/exposition_formats/ : it throws on
 * anything the format does not allow and checks the histogram rules
 * (cumulative buckets, an le="+Inf" bucket equal to _count).  Returns
 * name → {type, help, samples: [{name, labels, value}]}. */
function parseExposition(text) {
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const fams = new Map();
  const family = (name) => {
    if (!fams.has(name)) fams.set(name, { type: 'untyped', help: null, samples: [] });
    return fams.get(name);
  };
  const baseOf = (name) => {
    for (const suf of ['_bucket', '_sum', '_count']) {
      const b = name.slice(0, -suf.length);
      if (name.endsWith(suf) && fams.get(b)?.type === 'histogram') return b;
    }
    return name;
  };
  assert.ok(text.endsWith('\n'), 'the text ends with a newline');
  for (const line of text.split('\n').slice(0, -1)) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = line.match(/^# (HELP|TYPE) (\S+) (.*)$/);
      if (!m) continue; // other comments are allowed
      assert.match(m[2], NAME, line);
      const f = family(m[2]);
      if (m[1] === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]), line);
        assert.equal(f.samples.length, 0, `TYPE after samples: ${line}`);
        f.type = m[3];
      } else {
        f.help = m[3];
      }
      continue;
    }
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = {};
    if (m[3] !== undefined && m[3] !== '') {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let pos = 0;
      while (pos < m[3].length) {
        re.lastIndex = pos;
        const l = re.exec(m[3]);
        assert.ok(l, `bad labels: ${line}`);
        assert.ok(!(l[1] in labels), `label twice: ${line}`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
    }
    const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : m[4] === 'NaN' ? NaN : Number(m[4]);
    assert.ok(m[4] === 'NaN' || !Number.isNaN(v), `bad value: ${line}`);
    family(baseOf(m[1])).samples.push({ name: m[1], labels, value: v });
  }
  for (const [name, f] of fams) {
    if (f.type === 'counter') for (const s of f.samples) assert.ok(s.value >= 0, `${name} negative`);
    if (f.type !== 'histogram') continue;
    const groups = new Map();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const k = JSON.stringify(rest);
      if (!groups.has(k)) groups.set(k, { buckets: [], count: null, sum: null });
      const g = groups.get(k);
      if (s.name === `${name}_bucket`) g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
      else if (s.name === `${name}_count`) g.count = s.value;
      else if (s.name === `${name}_sum`) g.sum = s.value;
      else assert.fail(`stray sample in histogram ${name}: ${s.name}`);
    }
    for (const [k, g] of groups) {
      assert.ok(g.buckets.length > 0 && g.count !== null && g.sum !== null, `${name}${k}: buckets, _sum, _count`);
      for (let i = 1; i < g.buckets.length; i++) {
        assert.ok(g.buckets[i][0] > g.buckets[i - 1][0], `${name}${k}: le increasing`);
        assert.ok(g.buckets[i][1] >= g.buckets[i - 1][1], `${name}${k}: cumulative`);
      }
      assert.equal(g.buckets.at(-1)[0], Infinity, `${name}${k}: an le="+Inf" bucket`);
      assert.equal(g.buckets.at(-1)[1], g.count, `${name}${k}: +Inf bucket = _count`);
    }
  }
  return fams;
}
