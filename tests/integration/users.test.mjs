// Users and per-user servers (issue 15): a system-mode daemon on a private
// root (`corral daemon --system`), real local users made with useradd (and
// removed after), each running the real CLI as themselves through setpriv.
// alice and bob install servers through the control socket; each sees the
// global server and their own, never the other's (list, status, tools, call,
// logs, uninstall, stop), over the unix sockets and over HTTP with a token
// each; an admin (a member of the site's admin group) sees everything; the
// site policy refuses what users may not install.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, EX, FIXTURES, MOCK_SERVER, REPO, cleanupRoot, corral, corralEnv, emptyPkg, expectExit,
  expectOneLineError, installMock, newRoot, run, sleep, startDaemon, status, unitOf, waitFor, waitReady, withTimeout,
} from './lib.mjs';
import { startUserUpstream } from './users-upstream.mjs';

// Names unique to this run: two runs at once on one machine (worktrees, CI
// next to a developer's run) would otherwise delete each other's users.
const RUN = (process.pid % 46656).toString(36);
const SOCK_GROUP = `c15sock${RUN}`;
const ADMIN_GROUP = `c15adm${RUN}`;
const ALICE = `c15alice${RUN}`;
const BOB = `c15bob${RUN}`;
const CAROL = `c15carol${RUN}`; // an admin through ADMIN_GROUP
const SDK = path.join(FIXTURES, 'sdk/node_modules/@modelcontextprotocol/sdk/dist/esm');
const sdk = async (p) => import(pathToFileURL(path.join(SDK, p)).href);

function sh(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status;
}

function makeUsers() {
  for (const g of [SOCK_GROUP, ADMIN_GROUP]) if (sh('getent', ['group', g]) !== 0) execFileSync('groupadd', ['--system', g]);
  for (const [u, groups] of [[ALICE, SOCK_GROUP], [BOB, SOCK_GROUP], [CAROL, `${SOCK_GROUP},${ADMIN_GROUP}`]]) {
    if (sh('id', ['-u', u]) !== 0) {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '-G', groups, u]);
    }
  }
}

function removeUsers() {
  for (const u of [ALICE, BOB, CAROL]) sh('userdel', [u]);
  for (const g of [SOCK_GROUP, ADMIN_GROUP]) sh('groupdel', [g]);
}

/* `corral --root ROOT ARGS…` as a local user (with their groups). */
function as(user, root, args, opts = {}) {
  return run('setpriv', [`--reuid=${user}`, `--regid=${user}`, '--init-groups', '--',
    CORRAL, '--root', root, ...args], { env: corralEnv({ HOME: '/nonexistent' }), ...opts });
}

async function listNames(user, root) {
  const r = expectExit(await as(user, root, ['list', '--json']), 0, `${user}: list`);
  return JSON.parse(r.stdout).map((s) => s.name).sort();
}

async function statusNames(user, root) {
  const r = expectExit(await as(user, root, ['status', '--json']), 0, `${user}: status`);
  return JSON.parse(r.stdout).units.map((u) => u.name).sort();
}

async function toolServers(user, root) {
  const r = expectExit(await as(user, root, ['tools', '--json']), 0, `${user}: tools`);
  return [...new Set(JSON.parse(r.stdout).map((t) => t.name.split('__')[0]))].sort();
}

function writeConfig(root, site, extra = {}) {
  fs.writeFileSync(path.join(root, 'etc', 'corral.json'), JSON.stringify({
    site: { socket_group: SOCK_GROUP, admin_group: ADMIN_GROUP, ...site }, ...extra,
  }));
}

/* A user's install of the mock server (a local directory and an absolute
 * command: the test site allows both for users). */
function userInstall(user, root, name, extra = []) {
  return as(user, root, ['install', emptyPkg(root, `pkg-${name}`), '--name', name, '--yes', ...extra,
    '--', process.execPath, MOCK_SERVER, 'ok'], { timeout: 120000 });
}

describe('users: per-user servers in a system-mode store', { timeout: 600000 }, () => {
  let root;
  let daemon;
  let base;
  const tokens = {};

  before(async () => {
    makeUsers();
    root = newRoot('users');
    fs.chmodSync(root, 0o755);
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    // Users may install local directories and name host paths here, so the
    // mock server can be used; the defaults are checked further down.
    writeConfig(root, { user_sources: ['npm', 'local'], user_mounts: true }, {
      auth: { resource: 'http://127.0.0.1/mcp' },
      http: { level: 'anchor', public_url: 'http://127.0.0.1', listen: ['127.0.0.1:0'] },
    });
    await installMock(root, 'shared', 'risky');
    for (const u of [ALICE, BOB, CAROL]) {
      const r = expectExit(await corral(['token', 'create', '--user', u, '--level', 'trusted', '--json'], { root }), 0);
      tokens[u] = JSON.parse(r.stdout).token;
    }
    daemon = await startDaemon(root, { args: ['--system'] });
    await waitReady(root, ['shared']);
    const m = daemon.output().match(/MCP over HTTP on \S+ \(port (\d+)/);
    assert.ok(m, daemon.output());
    base = `http://127.0.0.1:${m[1]}`;
  });

  after(async () => {
    if (daemon) await daemon.kill();
    cleanupRoot(root);
    removeUsers();
  });

  test('the sockets are the site group\'s; a user\'s install goes through the daemon and is theirs', async () => {
    for (const s of ['control.sock', 'mcp.sock']) {
      const st = fs.statSync(path.join(root, 'run', s));
      assert.equal(st.mode & 0o777, 0o660, s);
      assert.equal(st.gid, Number(execFileSync('getent', ['group', SOCK_GROUP]).toString().split(':')[2]), s);
    }
    expectExit(await userInstall(ALICE, root, 'alice-srv'), 0, 'alice install');
    expectExit(await userInstall(BOB, root, 'bob-srv'), 0, 'bob install');
    const m = JSON.parse(fs.readFileSync(path.join(root, 'servers/alice-srv/manifest.json'), 'utf8'));
    assert.equal(m.owner, ALICE);
    assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'servers/shared/manifest.json'), 'utf8')).owner, null);
    await waitReady(root, ['shared', 'alice-srv', 'bob-srv']);
  });

  test('each user sees the global server and their own, never the other\'s; an admin sees all', async () => {
    assert.deepEqual(await listNames(ALICE, root), ['alice-srv', 'shared']);
    assert.deepEqual(await listNames(BOB, root), ['bob-srv', 'shared']);
    assert.deepEqual(await listNames(CAROL, root), ['alice-srv', 'bob-srv', 'shared']);
    assert.deepEqual(await statusNames(ALICE, root), ['alice-srv', 'shared']);
    assert.deepEqual(await statusNames(BOB, root), ['bob-srv', 'shared']);
    assert.deepEqual(await statusNames(CAROL, root), ['alice-srv', 'bob-srv', 'shared']);
    assert.deepEqual(await toolServers(ALICE, root), ['alice-srv', 'shared']);
    assert.deepEqual(await toolServers(BOB, root), ['bob-srv', 'shared']);
    assert.deepEqual(await toolServers(CAROL, root), ['alice-srv', 'bob-srv', 'shared']);

    const own = expectExit(await as(ALICE, root, ['call', 'alice-srv__echo', 'text=hi']), 0);
    assert.match(own.stdout, /hi/);
    expectExit(await as(CAROL, root, ['call', 'bob-srv__echo', 'text=admin']), 0, 'admin calls bob\'s');
  });

  test('another user\'s server answers exactly like one that does not exist', async () => {
    for (const [verb, args] of [['call', ['bob-srv__echo', 'text=x']], ['logs', ['bob-srv']],
      ['uninstall', ['bob-srv']], ['stop', ['bob-srv']], ['restart', ['bob-srv']],
      ['disable', ['bob-srv']], ['info', ['bob-srv']], ['access', ['bob-srv', 'public']]]) {
      const theirs = await as(ALICE, root, [verb, ...args]);
      const none = await as(ALICE, root, [verb, ...args.map((a) => a.replace('bob-srv', 'nosuch-srv'))]);
      assert.equal(theirs.code, EX.NOINPUT, `${verb}: ${theirs.stderr}`);
      assert.equal(none.code, EX.NOINPUT, `${verb} nosuch: ${none.stderr}`);
      assert.equal(theirs.stderr.replaceAll('bob-srv', 'X'), none.stderr.replaceAll('nosuch-srv', 'X'), verb);
    }
    assert.ok(fs.existsSync(path.join(root, 'servers/bob-srv/manifest.json')), 'bob-srv is still there');
    // A global server is the admins' to change.
    for (const args of [['stop', 'shared'], ['disable', 'shared'], ['uninstall', 'shared']]) {
      const r = await as(ALICE, root, args);
      assert.equal(r.code, EX.NOPERM, `${args.join(' ')}: ${r.stderr}`);
      expectOneLineError(r, ['global']);
    }
    // Their own: managed by them.
    expectExit(await as(ALICE, root, ['disable', 'alice-srv']), 0);
    expectExit(await as(ALICE, root, ['enable', 'alice-srv']), 0);
    const logs = await as(ALICE, root, ['logs', 'alice-srv']);
    expectExit(logs, 0, 'alice: logs of her own server');
  });

  test('logs -f through the daemon: a user follows their own server\'s log, never another\'s', async () => {
    // bob following alice's server: as for a name never installed.
    const theirs = await as(BOB, root, ['logs', '-f', 'alice-srv'], { timeout: 30000 });
    const none = await as(BOB, root, ['logs', '-f', 'nosuch-srv'], { timeout: 30000 });
    assert.equal(theirs.code, EX.NOINPUT, theirs.stderr);
    assert.equal(theirs.stderr.replaceAll('alice-srv', 'X'), none.stderr.replaceAll('nosuch-srv', 'X'));

    const child = spawn('setpriv', [`--reuid=${ALICE}`, `--regid=${ALICE}`, '--init-groups', '--',
      CORRAL, '--root', root, 'logs', '-f', 'alice-srv'], { env: corralEnv({ HOME: '/nonexistent' }) });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const pids = () => [...out.matchAll(/corral: started pid (\d+)/g)].map((m) => m[1]);
      await waitFor(() => pids().length >= 1, { what: `the log so far (stdout ${out}, stderr ${err})`, timeout: 30000 });
      const before = new Set(pids());
      expectExit(await as(ALICE, root, ['restart', 'alice-srv']), 0, 'alice restarts her server');
      // The restarted server's first line arrives while the follow runs.
      await waitFor(() => pids().some((p) => !before.has(p)), { what: `the new line through logs -f (stdout ${out}, stderr ${err})`, timeout: 60000 });
    } finally {
      child.kill('SIGTERM');
    }
    await exited;
    // The daemon ends its child (`corral --as-user ALICE logs -f`) once the
    // client is gone.
    const followers = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n')
      .filter((l) => l.includes(root) && l.includes(`--as-user ${ALICE}`) && / logs -f /.test(l));
    await waitFor(() => followers().length === 0, { what: 'the daemon to end the follow', timeout: 30000 });
  });

  test('over HTTP: each token\'s user sees the global server and their own', async () => {
    const { Client } = await sdk('client/index.js');
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    const servers = async (user) => {
      const c = new Client({ name: 'corral-users-test', version: '1.0.0' });
      await withTimeout(c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${tokens[user]}` } },
      })), 30000, `${user} connects`);
      try {
        const names = (await c.listTools()).tools.map((t) => t.name);
        let called = null;
        try {
          await c.callTool({ name: 'bob-srv__echo', arguments: { text: 'x' } });
          called = 'ok';
        } catch (e) {
          called = e.message;
        }
        // The gateway's own corral__* tools (mgmt-tools.test.mjs) aside.
        const servers = names.map((n) => n.split('__')[0]).filter((n) => n !== 'corral');
        return { servers: [...new Set(servers)].sort(), called };
      } finally {
        await c.close();
      }
    };
    const a = await servers(ALICE);
    assert.deepEqual(a.servers, ['alice-srv', 'shared']);
    assert.match(a.called, /unknown tool 'bob-srv__echo': no server 'bob-srv'/);
    const b = await servers(BOB);
    assert.deepEqual(b.servers, ['bob-srv', 'shared']);
    assert.equal(b.called, 'ok');
    assert.deepEqual((await servers(CAROL)).servers, ['alice-srv', 'bob-srv', 'shared']);
    // One server passed through: bob's is not there for alice.
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } };
    const post = (user, p) => fetch(`${base}${p}`, {
      method: 'POST', body: JSON.stringify(init),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        authorization: `Bearer ${tokens[user]}` },
    });
    assert.equal((await post(ALICE, '/servers/bob-srv/mcp')).status, 404);
    assert.equal((await post(BOB, '/servers/bob-srv/mcp')).status, 200);
  });

  test('tool allow/deny lists and the default denylist, in lists and on calls, per user', async () => {
    const tools = async (user) => {
      const r = expectExit(await as(user, root, ['tools', '--json']), 0, `${user}: tools`);
      return JSON.parse(r.stdout).map((t) => t.name).filter((n) => !n.startsWith('alice-srv') || user === ALICE).sort();
    };
    const call = (user, name) => as(user, root, ['call', name]);
    // The default denylist: non-admins do not get tools named like writes or commands.
    assert.ok(!(await tools(ALICE)).includes('shared__write_note'));
    assert.ok((await tools(CAROL)).includes('shared__write_note'), 'admins are not under the default denylist');
    const hidden = await call(ALICE, 'shared__write_note');
    const missing = await call(ALICE, 'shared__no_such_tool');
    assert.equal(hidden.code, missing.code, hidden.stderr);
    assert.equal(hidden.stderr.replaceAll('write_note', 'X'), missing.stderr.replaceAll('no_such_tool', 'X'));
    expectExit(await call(CAROL, 'shared__write_note'), 0, 'carol calls write_note');

    writeConfig(root, {}, { tools: {
      deny: ['shared__crash'],
      users: { [ALICE]: { allow: ['shared__echo', 'shared__write_note', 'alice-srv__*'] },
        [BOB]: { deny: ['bob-srv__echo'] } },
    } });
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    assert.deepEqual((await tools(ALICE)).filter((n) => n.startsWith('shared__')), ['shared__echo', 'shared__write_note']);
    expectExit(await call(ALICE, 'shared__write_note'), 0, 'an allow lifts the default denylist');
    assert.notEqual((await call(ALICE, 'shared__sleep')).code, 0, 'outside alice\'s allow list');
    const bob = await tools(BOB);
    assert.ok(!bob.includes('bob-srv__echo') && bob.includes('bob-srv__sleep') && !bob.includes('shared__crash'), bob.join(' '));
    assert.notEqual((await as(BOB, root, ['call', 'bob-srv__echo', 'text=x'])).code, 0);
    const carol = await tools(CAROL);
    assert.ok(!carol.includes('shared__crash') && carol.includes('shared__run_command'), 'deny wins for admins');
    // The same over HTTP for alice's token.
    const { Client } = await sdk('client/index.js');
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    const c = new Client({ name: 'corral-users-test', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${tokens[ALICE]}` } },
    }));
    try {
      const names = (await c.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('shared__')).sort();
      assert.deepEqual(names, ['shared__echo', 'shared__write_note']);
      await assert.rejects(c.callTool({ name: 'shared__run_command', arguments: {} }), /unknown tool/);
    } finally {
      await c.close();
    }
    writeConfig(root, {});
    expectExit(await corral(['reload'], { root }), 0, 'reload');
  });

  test('API tokens and limits are the store owner\'s: a user and a group admin get exit 77 from the daemon', async () => {
    for (const u of [ALICE, CAROL]) {
      for (const args of [['token', 'create', '--user', u, '--level', 'anchor'], ['token', 'list'],
        ['token', 'revoke', 'c0ffee000001'], ['limit', 'set', 'shared', '--calls', '1', '--per', '60'],
        ['limit', 'clear', '--all']]) {
        const r = await as(u, root, args);
        assert.equal(r.code, EX.NOPERM, `${u}: ${args.join(' ')}: ${r.stderr}`);
        expectOneLineError(r, [args[0] === 'token' ? 'API tokens are the store owner' : 'limits are set by the store']);
      }
    }
  });

  test('the audit log and daily aggregates match the calls made, exactly; a locked database never stops calls', async () => {
    const key = (r) => `${r.user}|${r.interface ?? ''}|${r.server}__${r.tool}|${r.outcome}`;
    const audit = async () => JSON.parse(expectExit(await corral(['audit', '--json'], { root }), 0, 'audit').stdout);
    const daily = async () => JSON.parse(expectExit(await corral(['metrics', '--json'], { root }), 0, 'metrics').stdout);
    const count = (rows, k) => rows.filter((r) => key(r) === k).length;
    const calls = (rows, u, t) => rows.filter((r) => r.user === u && `${r.server}__${r.tool}` === t)
      .reduce((n, r) => n + r.calls, 0);
    // The earlier tests' refused calls are rows too; the writer flushes
    // every 200 ms, so let those land before counting.
    await sleep(600);
    const before = await audit();
    const dBefore = await daily();
    const offMark = `arguments-off-${process.pid}`;
    for (let i = 0; i < 3; i++) expectExit(await as(ALICE, root, ['call', 'alice-srv__echo', `text=${offMark}`]), 0);
    for (let i = 0; i < 2; i++) expectExit(await as(BOB, root, ['call', 'shared__echo', 'text=b']), 0);
    const want = { [`${ALICE}|unix|alice-srv__echo|ok`]: 3, [`${BOB}|unix|shared__echo|ok`]: 2 };
    const rows = await waitFor(async () => {
      const a = await audit();
      return a.length >= before.length + 5 ? a : null;
    }, { timeout: 20000, what: 'five new audit rows' });
    assert.equal(rows.length, before.length + 5, 'exactly the calls made');
    for (const [k, n] of Object.entries(want)) assert.equal(count(rows, k) - count(before, k), n, k);
    const fresh = rows.slice(before.length);
    for (const r of fresh) {
      assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(r.duration_ms >= 0 && r.request_bytes > 0 && r.response_bytes > 0, JSON.stringify(r));
      assert.ok(!JSON.stringify(r).includes('text'), 'no argument values');
    }
    // Argument logging is off by default: no value in the database's files.
    for (const f of ['state.db', 'state.db-wal']) {
      const p = path.join(root, f);
      if (fs.existsSync(p)) assert.ok(!fs.readFileSync(p).includes(offMark), `an argument value in ${f}`);
    }
    const dAfter = await daily();
    assert.equal(calls(dAfter, ALICE, 'alice-srv__echo') - calls(dBefore, ALICE, 'alice-srv__echo'), 3);
    assert.equal(calls(dAfter, BOB, 'shared__echo') - calls(dBefore, BOB, 'shared__echo'), 2);
    // Filters.
    const onlyBob = JSON.parse(expectExit(await corral(['audit', '--json', '--user', BOB, '--server', 'shared'], { root }), 0).stdout);
    assert.ok(onlyBob.length >= 2 && onlyBob.every((r) => r.user === BOB && r.server === 'shared'));
    // The log is root's.
    const denied = await as(ALICE, root, ['audit']);
    assert.equal(denied.code, EX.NOPERM, denied.stderr);
    // A database locked by someone else: the call is served, the failure is
    // reported in status, and the row arrives once the lock goes.
    const db = path.join(root, 'state.db');
    const locker = spawn('python3', ['-c', `import sqlite3,sys,time
c=sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN EXCLUSIVE')
print('locked', flush=True)
sys.stdin.read()`, db], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => locker.stdout.once('data', resolve));
    try {
      expectExit(await as(ALICE, root, ['call', 'alice-srv__echo', 'text=locked']), 0, 'a call while the log is locked');
      const st = await waitFor(async () => {
        const s = JSON.parse(expectExit(await corral(['status', '--json'], { root }), 0).stdout);
        return s.audit && s.audit.ok === false ? s : null;
      }, { timeout: 20000, what: 'status to report the audit failure' });
      assert.match(st.audit.error, /lock|busy/i);
      assert.equal(st.audit.pending, 1);
    } finally {
      locker.stdin.end();
    }
    await waitFor(async () => (await audit()).length === rows.length + 1, { timeout: 20000, what: 'the held row to be written' });
  });

  test('site policy: what a user may not install is refused before anything is fetched', async () => {
    writeConfig(root, {}); // the defaults: no local sources, no host paths, no --sandbox none
    const before_ = fs.readdirSync(path.join(root, 'servers')).sort();
    const cases = [
      [['install', emptyPkg(root, 'pkg-x'), '--name', 'x1', '--yes'], /local sources are for admins/],
      [['install', 'npm:@modelcontextprotocol/server-memory', '--name', 'x2', '--yes', '--sandbox', 'none'],
        /--sandbox none is for admins/],
      [['install', `file://${root}`, '--name', 'x3', '--yes'], /git repository on this host|git sources are for admins/],
      [['install', 'npm:@modelcontextprotocol/server-memory', '--name', 'x4', '--yes', '--mount', '/etc'],
        /--mount is for admins/],
      [['install', 'npm:@modelcontextprotocol/server-memory', '--name', 'x5', '--yes', '--', 'node', '/etc/shadow'],
        /names a host path/],
      [['install', 'npm:@modelcontextprotocol/server-memory', '--name', 'x6', '--yes', '--remote'],
        /remote servers are for admins|--remote/],
    ];
    for (const [args, want] of cases) {
      const r = await as(ALICE, root, args);
      assert.equal(r.code, EX.NOPERM, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      expectOneLineError(r, [want]);
    }
    // A name another user holds is taken, without saying whose.
    writeConfig(root, { user_sources: ['local'], user_mounts: true });
    const taken = await userInstall(ALICE, root, 'bob-srv', ['--force']);
    assert.equal(taken.code, EX.CANTCREAT, taken.stderr);
    expectOneLineError(taken, ['taken']);
    assert.ok(!taken.stderr.includes(BOB));
    // Quota: one server each.
    writeConfig(root, { user_sources: ['local'], user_mounts: true, user_max_servers: 1 });
    const over = await userInstall(ALICE, root, 'alice-two');
    assert.equal(over.code, EX.NOPERM, over.stderr);
    expectOneLineError(over, ['quota']);
    assert.deepEqual(fs.readdirSync(path.join(root, 'servers')).sort(), before_);
    assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'servers/bob-srv/manifest.json'), 'utf8')).owner, BOB);
  });

  test('a hidden tool on /servers/NAME/mcp is refused by corral: answered as a missing one, logged denied, never sent', async () => {
    // The default denylist hides shared__write_note from alice.  On the
    // single-server endpoint corral must answer it as the server answers a
    // name it does not have, without the call (or its arguments) reaching it.
    const { Client } = await sdk('client/index.js');
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    const c = new Client({ name: 'corral-users-test', version: '1.0.0' });
    await withTimeout(c.connect(new StreamableHTTPClientTransport(new URL(`${base}/servers/shared/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${tokens[ALICE]}` } },
    })), 30000, 'alice connects to /servers/shared/mcp');
    const audit = async () => {
      const r = await corral(['audit', '--json', '--server', 'shared'], { root });
      return r.code === EX.NOINPUT ? [] : JSON.parse(expectExit(r, 0, 'audit').stdout); // no database yet
    };
    const denied = (rows) => rows.filter((r) => r.user === ALICE && r.tool === 'write_note' && r.outcome === 'denied').length;
    const serverSaw = async (re) => (expectExit(await corral(['logs', 'shared'], { root }), 0, 'logs shared')
      .stdout.match(re) || []).length;
    await sleep(600);
    const before_ = denied(await audit());
    const sawBefore = await serverSaw(/call write_note/g);
    const ask = (name, args) => c.callTool({ name, arguments: args })
      .then((r) => JSON.stringify(r), (e) => `error ${e.code} ${e.message}`);
    try {
      assert.ok(!(await c.listTools()).tools.some((t) => t.name === 'write_note'));
      const hidden = [await ask('write_note', { note: 'H1DDEN-ARG' }), await ask('write_note', { note: 'H1DDEN-ARG' })];
      const missing = await ask('no_such_tool', {});
      for (const h of hidden) {
        assert.equal(h.replaceAll('write_note', 'T'), missing.replaceAll('no_such_tool', 'T'), h);
        assert.doesNotMatch(h, /corral-unlisted/);
      }
    } finally {
      await c.close();
    }
    await waitFor(async () => denied(await audit()) === before_ + 2, { timeout: 20000, what: 'two denied rows for write_note' });
    // What reached the server (the risky mock logs every call): never the
    // hidden tool or its arguments, and one probe for an unlisted name only.
    assert.equal(await serverSaw(/call write_note/g), sawBefore, 'write_note never reached the server');
    assert.equal(await serverSaw(/H1DDEN-ARG/g), 0, 'nor its arguments');
    assert.equal(await serverSaw(/call no_such_tool \{\}/g), 1, 'a missing name is the server\'s to answer');
    assert.equal(await serverSaw(/call corral-unlisted-[0-9a-f]{16} \{\}/g), 1, 'one probe, then the template');
  });

  test('a global remote server: each user through a session and token of their own; none without one', async () => {
    // The upstream is this daemon's own HTTP endpoint, /servers/shared/mcp:
    // it knows each caller by the bearer token (corral token) and its audit
    // log says who called, and bob's tool list there lacks shared__sleep.
    const cfg = { auth: { resource: 'http://127.0.0.1/mcp' },
      http: { level: 'anchor', public_url: 'http://127.0.0.1', listen: ['127.0.0.1:0'] } };
    writeConfig(root, {}, { ...cfg, tools: { users: { [BOB]: { deny: ['shared__sleep'] } } } });
    expectExit(await corral(['reload'], { root }), 0, 'reload');
    const url = `${base}/servers/shared/mcp`;
    expectExit(await corral(['install', url, '--remote', '--yes', '--name', 'up'], { root }), 0, 'install up');
    await waitFor(async () => unitOf(await status(root), 'up')?.state === 'pending_auth' || null,
      { timeout: 30000, what: 'up waiting for the daemon\'s own authorization' });
    // Each user's own token for it (the daemon's user, root, has none):
    // `corral auth set-token` as the user, through the daemon where that
    // works, else (tokens in files per user) written as root for them.
    const tokenFile = (user) => path.join(root, 'oauth', execFileSync('id', ['-u', user]).toString().trim(), 'up.json');
    const setToken = async (user) => {
      if ((await as(user, root, ['auth', 'set-token', 'up'], { input: `${tokens[user]}\n` })).code === 0) return;
      fs.mkdirSync(path.dirname(tokenFile(user)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(tokenFile(user), JSON.stringify({ access_token: tokens[user], resource: url }), { mode: 0o600 });
    };
    await setToken(ALICE);
    await setToken(BOB);
    const upTools = async (user) => JSON.parse(expectExit(await as(user, root, ['tools', '--json']), 0, `${user}: tools`).stdout)
      .map((t) => t.name).filter((n) => n.startsWith('up__')).sort();
    const aliceTools = await upTools(ALICE);
    assert.ok(aliceTools.includes('up__echo') && aliceTools.includes('up__sleep'), aliceTools.join(' '));
    const bobTools = await upTools(BOB);
    assert.ok(bobTools.includes('up__echo') && !bobTools.includes('up__sleep'), `bob's list is his session's: ${bobTools}`);
    const upstream = async () => {
      const r = await corral(['audit', '--json', '--server', 'shared'], { root });
      return r.code === EX.NOINPUT ? [] // no database yet
        : JSON.parse(expectExit(r, 0, 'audit').stdout).filter((x) => x.interface === 'http' && x.tool === 'echo');
    };
    await sleep(600);
    const seen = await upstream();
    assert.match(expectExit(await as(ALICE, root, ['call', 'up__echo', 'text=from-alice']), 0, 'alice calls up').stdout, /from-alice/);
    assert.match(expectExit(await as(BOB, root, ['call', 'up__echo', 'text=from-bob']), 0, 'bob calls up').stdout, /from-bob/);
    const rows = await waitFor(async () => {
      const a = await upstream();
      return a.length >= seen.length + 2 ? a : null;
    }, { timeout: 20000, what: 'the upstream\'s audit rows' });
    assert.deepEqual(rows.slice(seen.length).map((r) => r.user).sort(), [ALICE, BOB].sort(),
      'the upstream saw each user\'s own token');
    assert.equal(unitOf(await status(root), 'up').user_sessions, 2);
    // Without a token of their own: refused, told what to run; no tools listed.
    const carol = await as(CAROL, root, ['call', 'up__echo', 'text=x']);
    assert.notEqual(carol.code, 0);
    expectOneLineError(carol, [/serves each user with their own authorization.*corral auth start up/]);
    assert.deepEqual(await upTools(CAROL), []);
    // Logout closes that user's session (the sweep runs every 5 s).
    if ((await as(ALICE, root, ['auth', 'logout', 'up'])).code !== 0) fs.rmSync(tokenFile(ALICE));
    await waitFor(async () => unitOf(await status(root), 'up').user_sessions === 1 || null,
      { timeout: 20000, what: 'alice\'s session to close' });
    expectOneLineError(await as(ALICE, root, ['call', 'up__echo', 'text=x']), [/corral auth start up/]);
    expectExit(await as(BOB, root, ['call', 'up__echo', 'text=still']), 0, 'bob\'s session lives on');
    expectExit(await corral(['uninstall', 'up'], { root }), 0, 'uninstall up');
    writeConfig(root, {}, cfg);
    expectExit(await corral(['reload'], { root }), 0, 'reload');
  });

  test('a global remote server per user: prompts, resources, completions, notifications and roots are each user\'s own', async () => {
    // The upstream (users-upstream.mjs) answers each identity differently:
    // prompts mine_WHO and "greet for WHO", resource mem://WHO/notes, …
    const up = await startUserUpstream(SDK);
    const T = await sdk('types.js');
    const { Client } = await sdk('client/index.js');
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    const clients = [];
    try {
      expectExit(await corral(['install', up.url, '--remote', '--yes', '--name', 'pu'], { root }), 0, 'install pu');
      const upTok = { root: up.addToken('root'), [ALICE]: up.addToken(ALICE), [BOB]: up.addToken(BOB), [CAROL]: up.addToken(CAROL) };
      expectExit(await corral(['auth', 'set-token', 'pu'], { root, input: `${upTok.root}\n` }), 0, 'root: set-token');
      for (const u of [ALICE, BOB]) expectExit(await as(u, root, ['auth', 'set-token', 'pu'], { input: `${upTok[u]}\n` }), 0, `${u}: set-token`);
      await waitReady(root, ['pu']);
      const connect = async (user, token) => {
        const events = [];
        const c = new Client({ name: `users-${user}`, version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
        c.setRequestHandler(T.ListRootsRequestSchema, async () => ({ roots: [{ uri: `file:///home/${user}`, name: user }] }));
        c.setNotificationHandler(T.ResourceUpdatedNotificationSchema, (n) => { events.push(`updated ${n.params.uri}`); });
        c.setNotificationHandler(T.PromptListChangedNotificationSchema, () => { events.push('prompts changed'); });
        c.setNotificationHandler(T.TaskStatusNotificationSchema, (n) => { events.push(`task ${n.params.taskId} ${n.params.status}`); });
        await withTimeout(c.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        })), 30000, `${user} connects`);
        clients.push(c);
        return { c, events };
      };
      const a = await connect(ALICE, tokens[ALICE]);
      const b = await connect(BOB, tokens[BOB]);
      const puNames = (items, key = 'name') => items.map((x) => x[key]).filter((n) => n.startsWith('pu__')).sort();
      // Lists: each user's own session's, never the daemon's (root's mine_root).
      assert.deepEqual(puNames((await a.c.listPrompts()).prompts), ['pu__greet', `pu__mine_${ALICE}`]);
      assert.deepEqual(puNames((await b.c.listPrompts()).prompts), ['pu__greet', `pu__mine_${BOB}`]);
      const aRes = (await a.c.listResources()).resources.map((r) => r.uri);
      assert.ok(aRes.includes(`mem://${ALICE}/notes`) && !aRes.some((u) => u.includes(BOB) || u.includes('root')), aRes.join(' '));
      assert.ok((await a.c.listResourceTemplates()).resourceTemplates.some((t) => t.uriTemplate === 'mem://{user}/files/{name}'));
      // prompts/get, resources/read (a listed URI and a template's), completion/complete.
      assert.equal((await a.c.getPrompt({ name: 'pu__greet', arguments: { name: 'x' } })).messages[0].content.text, `greet for ${ALICE}`);
      assert.equal((await b.c.getPrompt({ name: 'pu__greet', arguments: { name: 'x' } })).messages[0].content.text, `greet for ${BOB}`);
      assert.equal((await a.c.readResource({ uri: `mem://${ALICE}/notes` })).contents[0].text, `mem://${ALICE}/notes read by ${ALICE}`);
      assert.equal((await b.c.readResource({ uri: `mem://${BOB}/files/f1` })).contents[0].text, `mem://${BOB}/files/f1 read by ${BOB}`);
      await assert.rejects(b.c.readResource({ uri: `mem://${ALICE}/notes` }), /not found|no ready server|not .*'s/i, 'bob reads alice\'s notes');
      assert.deepEqual((await a.c.complete({ ref: { type: 'ref/prompt', name: 'pu__greet' }, argument: { name: 'name', value: '' } })).completion.values, [`${ALICE}-1`]);
      assert.deepEqual((await b.c.complete({ ref: { type: 'ref/resource', uri: 'mem://{user}/files/{name}' }, argument: { name: 'name', value: '' } })).completion.values, [`${BOB}-1`]);
      // Notifications of alice's session reach alice's client only.
      await a.c.subscribeResource({ uri: `mem://${ALICE}/notes` });
      await b.c.subscribeResource({ uri: `mem://${BOB}/notes` });
      assert.equal(up.count(ALICE, `subscribe mem://${ALICE}/notes`), 1, 'alice\'s subscription went on her session');
      assert.equal(up.count('root', `subscribe mem://${ALICE}/notes`), 0);
      // (Each heard its own session open: its lists changed then.)
      a.events.length = 0;
      b.events.length = 0;
      await a.c.callTool({ name: 'pu__poke', arguments: {} });
      await waitFor(() => a.events.includes(`updated mem://${ALICE}/notes`) && a.events.includes('prompts changed') || null,
        { timeout: 15000, what: `alice's notifications (${a.events})` });
      await waitFor(async () => (puNames((await a.c.listPrompts()).prompts).includes(`pu__extra_${ALICE}`)) || null,
        { timeout: 15000, what: 'alice\'s prompt list to follow her session' });
      assert.deepEqual(puNames((await b.c.listPrompts()).prompts), ['pu__greet', `pu__mine_${BOB}`]);
      assert.deepEqual(b.events, [], 'bob heard nothing of alice\'s session');
      // Roots: asked during a call, and after a roots change, of that user's client.
      assert.deepEqual(JSON.parse((await a.c.callTool({ name: 'pu__roots', arguments: {} })).content[0].text), [`file:///home/${ALICE}`]);
      await a.c.sendRootsListChanged();
      await b.c.sendRootsListChanged();
      await waitFor(() => up.rootsSeen[ALICE] && up.rootsSeen[BOB] || null, { timeout: 15000, what: `roots after list_changed (${JSON.stringify(up.rootsSeen)})` });
      assert.deepEqual(up.rootsSeen[ALICE], [`file:///home/${ALICE}`]);
      assert.deepEqual(up.rootsSeen[BOB], [`file:///home/${BOB}`]);
      assert.equal(up.rootsSeen.root, undefined, 'the daemon\'s own session never heard a user\'s roots change');
      // The unit's own session (root's token) asking for roots outside a call
      // never reaches a user's client, though alice used the server last.
      expectExit(await corral(['call', 'pu__roots_later', 'ms=1500'], { root }), 0, 'root: roots_later');
      assert.equal((await a.c.callTool({ name: 'pu__whoami', arguments: {} })).content[0].text, ALICE);
      await waitFor(() => up.rootsSeen.root || null, { timeout: 15000, what: 'the unit\'s own roots request to be answered' });
      assert.match(String(up.rootsSeen.root), /^error: .*no client/, 'the unit\'s session got no user\'s roots');
      // Tasks: made on alice's session, read through it (the upstream's
      // tasks belong to the MCP session that made them).
      const created = await a.c.request({ method: 'tools/call', params: { name: 'pu__whoami', arguments: {}, task: { ttl: 60000 } } },
        T.CreateTaskResultSchema);
      assert.match(created.task.taskId, /^pu__./);
      const st = await waitFor(async () => {
        const x = await a.c.request({ method: 'tasks/get', params: { taskId: created.task.taskId } }, T.GetTaskResultSchema);
        return x.status === 'completed' ? x : null;
      }, { timeout: 15000, what: 'alice\'s task' });
      assert.equal(st.taskId, created.task.taskId);
      const tres = await a.c.request({ method: 'tasks/result', params: { taskId: created.task.taskId } }, T.CallToolResultSchema);
      assert.equal(tres.content[0].text, `task for ${ALICE}`);
      await assert.rejects(b.c.request({ method: 'tasks/get', params: { taskId: created.task.taskId } }, T.GetTaskResultSchema),
        /not found|unknown task/i, 'bob reads alice\'s task');
      // Its status notification (the SDK sends one when the result is
      // stored) reached alice's client, with the aggregate's id, not bob's.
      await waitFor(() => a.events.includes(`task ${created.task.taskId} completed`) || null,
        { timeout: 15000, what: `alice's task status notification (${a.events})` });
      assert.ok(!b.events.some((e) => e.startsWith('task ')), `bob heard alice's task: ${b.events}`);
      // A user without a token (carol): none of its prompts or resources.
      const cl = await connect(CAROL, tokens[CAROL]);
      assert.deepEqual(puNames((await cl.c.listPrompts()).prompts), []);
      assert.ok(!(await cl.c.listResources()).resources.some((r) => r.uri.startsWith('mem://')));
      // An HTTP caller whose token's user has no local account: refused in
      // one line, never served with the daemon's token.
      const ghost = `c15ghost${RUN}`;
      const gtok = JSON.parse(expectExit(await corral(['token', 'create', '--user', ghost, '--level', 'trusted', '--json'], { root }), 0).stdout).token;
      const g = await connect(ghost, gtok);
      assert.deepEqual(puNames((await g.c.listTools()).tools), []);
      assert.deepEqual(puNames((await g.c.listPrompts()).prompts), []);
      await assert.rejects(g.c.callTool({ name: 'pu__whoami', arguments: {} }), /serves each user through their own session, and this client's user has no local account/);
      await assert.rejects(g.c.getPrompt({ name: 'pu__greet', arguments: { name: 'x' } }), /no local account/);
      assert.equal(up.count('root', 'call whoami') + up.count('root', 'prompts/get greet'), 0, 'nothing on the daemon\'s session');

      // A 401 on one user's session is that user's: the upstream revokes
      // alice's token; bob's session and the unit go on.
      assert.equal((await a.c.callTool({ name: 'pu__whoami', arguments: {} })).content[0].text, ALICE);
      up.revoke(upTok[ALICE]);
      const refused = await waitFor(() => a.c.callTool({ name: 'pu__whoami', arguments: {} })
        .then(() => null, (e) => (/corral auth start pu/.test(e.message) ? e.message : null)),
      { timeout: 15000, what: 'alice told to authorize again' });
      assert.match(refused, /needs authorization/);
      assert.equal((await b.c.callTool({ name: 'pu__whoami', arguments: {} })).content[0].text, BOB);
      assert.equal(unitOf(await status(root), 'pu').state, 'ready');

      // runtime.sessions_max and runtime.session_idle_s (read on reload,
      // no restart): one user's session at a time (bob's is open), then
      // sessions closed after 2 s unused.
      const mpath = path.join(root, 'servers/pu/manifest.json');
      const setRuntime = async (kv) => {
        const m = JSON.parse(fs.readFileSync(mpath, 'utf8'));
        Object.assign(m.runtime, kv);
        fs.writeFileSync(mpath, JSON.stringify(m));
        expectExit(await corral(['reload'], { root }), 0, 'reload');
      };
      await setRuntime({ sessions_max: 1 });
      expectExit(await as(CAROL, root, ['auth', 'set-token', 'pu'], { input: `${upTok[CAROL]}\n` }), 0, 'carol: set-token');
      const over = await as(CAROL, root, ['call', 'pu__whoami']);
      assert.notEqual(over.code, 0, over.stdout);
      expectOneLineError(over, [/server 'pu' has reached its limit of 1 users' sessions \(runtime\.sessions_max\)/]);
      const bobSessions = up.count(BOB, 'session');
      await setRuntime({ session_idle_s: 2 });
      await waitFor(async () => unitOf(await status(root), 'pu').user_sessions === 0 || null,
        { timeout: 15000, what: 'the idle sessions to close' });
      assert.equal(up.openSessions(BOB), 0, 'the upstream saw bob\'s session end');
      await setRuntime({ session_idle_s: 600 }); // the reopened one stays for what follows
      assert.equal((await b.c.callTool({ name: 'pu__whoami', arguments: {} })).content[0].text, BOB, 'bob again');
      assert.equal(up.count(BOB, 'session'), bobSessions + 1, 'through a new session');
      // Bob's client is still subscribed to his notes: asked again on the new session.
      await waitFor(() => up.count(BOB, `subscribe mem://${BOB}/notes`) === 2 || null,
        { timeout: 15000, what: 'bob\'s subscription made again on his new session' });
      assert.equal(unitOf(await status(root), 'pu').state, 'ready');
      assert.match(expectExit(await corral(['status'], { root }), 0).stdout, /^pu: 1 user session open/m);
    } finally {
      for (const c of clients) await c.close().catch(() => {});
      await up.close();
      expectExit(await corral(['uninstall', 'pu'], { root }), 0, 'uninstall pu');
    }
  });

  test('a per-user server on MCP 2026-07-28: each user\'s own session follows its list changes', async () => {
    // The SDK v2 server (tests/fixtures/modern-http-server.mjs) tells of list
    // changes only on a subscriptions/listen stream: its tool `grow` adds
    // `grown`.  Alice's list comes from her own session, which must listen.
    const child = spawn(process.execPath, [path.join(REPO, 'tests/fixtures/modern-http-server.mjs'), '--modern-only'], {
      env: { ...process.env, CORRAL_SDK2_DIR: path.join(FIXTURES, 'sdk2') }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.resume();
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      await waitFor(() => /listening /.test(out) || null, { timeout: 30000, what: 'the SDK v2 server to listen' });
      const url = out.match(/listening (\S+)/)[1];
      expectExit(await corral(['install', url, '--remote', '--yes', '--name', 'mod'], { root }), 0, 'install mod');
      expectExit(await as(ALICE, root, ['auth', 'set-token', 'mod'], { input: 'alice-token\n' }), 0, 'alice: set-token');
      const modTools = async () => JSON.parse(expectExit(await as(ALICE, root, ['tools', '--json']), 0, 'alice: tools').stdout)
        .map((t) => t.name).filter((n) => n.startsWith('mod__'));
      const first = await modTools();
      assert.ok(first.includes('mod__grow') && !first.includes('mod__grown'), first.join(' '));
      expectExit(await as(ALICE, root, ['call', 'mod__grow']), 0, 'alice: grow');
      await waitFor(async () => (await modTools()).includes('mod__grown') || null,
        { timeout: 15000, what: 'alice\'s list to follow the server\'s list change' });
      // The open listen stream is no use of the session: it still closes when idle.
      const mpath = path.join(root, 'servers/mod/manifest.json');
      const m = JSON.parse(fs.readFileSync(mpath, 'utf8'));
      m.runtime.session_idle_s = 2;
      fs.writeFileSync(mpath, JSON.stringify(m));
      expectExit(await corral(['reload'], { root }), 0, 'reload');
      await waitFor(async () => unitOf(await status(root), 'mod').user_sessions === 0 || null,
        { timeout: 15000, what: 'alice\'s idle session to close' });
    } finally {
      child.kill('SIGKILL');
      await exited;
      expectExit(await corral(['uninstall', 'mod'], { root }), 0, 'uninstall mod');
    }
  });

  test('a user uninstalls their own server; --as-user is the same rules for root', async () => {
    const r = await corral(['--as-user', ALICE, 'list', '--json'], { root });
    assert.deepEqual(JSON.parse(expectExit(r, 0).stdout).map((s) => s.name).sort(), ['alice-srv', 'shared']);
    expectExit(await as(ALICE, root, ['uninstall', 'alice-srv']), 0, 'alice uninstalls hers');
    assert.ok(!fs.existsSync(path.join(root, 'servers/alice-srv')));
    assert.deepEqual(await listNames(CAROL, root), ['bob-srv', 'shared']);
  });
});
