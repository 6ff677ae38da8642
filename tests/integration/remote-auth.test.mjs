// The OAuth 2.1 client of remote units (issue 12), end to end and headless:
// a real authorization server on loopback (npm oauth2-mock-server: PKCE S256
// checked, signed JWTs, refresh tokens) guards a real MCP server — a second
// corral daemon's HTTP endpoint verifying the JWTs against the server's JWKS,
// fronting server-everything.  The test plays the browser: it follows the
// authorization URL that `corral auth start` prints and hands the redirect to
// `corral auth complete`.  Tokens live 6 s, so refreshes happen (inside the
// running session, before the expiry); a revoked
// refresh token sends the unit back to waiting for authorization; a wrong
// iss or state is refused and stores nothing.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CORRAL, McpClient, SLOW, cleanupRoot, corral, corralEnv, expectExit, expectOneLineError, installFixture,
  newRoot, resultText, run, socketPath, startDaemon, status, unitOf, waitFor, waitReady, waitStatus,
} from './lib.mjs';
import { authorize, browserScript, freePort, startAuthorizationServer } from './remoteutil.mjs';

// Seconds: short, so refreshes happen, but long enough that a call right after
// the unit is ready still has a live token on a slow (sanitizer) build.
const TOKEN_TTL = 6 * SLOW;
const UID = process.getuid();

/* The OAuth state of (uid, server) in the state database (read-only, as
 * the file's owner), or null.  Asynchronous: the authorization server runs
 * in this process and must keep answering meanwhile. */
async function oauthRow(root, uid, name) {
  const r = await run('python3', ['-c', `import sqlite3,sys
c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True)
r=c.execute('SELECT state FROM oauth_tokens WHERE uid=? AND server=?',(int(sys.argv[2]),sys.argv[3])).fetchone()
print(r[0] if r else '')`, path.join(root, 'state.db'), String(uid), name]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim();
  return out ? JSON.parse(out) : null;
}

const NO_WRITE = { CORRAL_TEST_NO_STATE_WRITE: '1' };

describe('remote units with OAuth 2.1', { timeout: 600000 }, () => {
  let as;
  let rsRoot;
  let rsDaemon;
  let root;
  let daemon;
  let mcpUrl;
  let port;

  /* The resource server: corral's own HTTP endpoint with bearer tokens that
   * must carry scopes. */
  async function startResourceServer(scopes) {
    fs.mkdirSync(path.join(rsRoot, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(rsRoot, 'etc/corral.json'), JSON.stringify({
      http: { listen: [{ addr: `127.0.0.1:${port}`, level: 'anchor' }] },
      auth: { resource: mcpUrl, jwks_min_refresh_s: 0, clock_skew_s: 0, issuers: [{ issuer: as.url, scopes }] },
      users: { johndoe: 'anchor' },
    }));
    rsDaemon = await startDaemon(rsRoot);
    await waitReady(rsRoot, ['everything']);
  }

  before(async () => {
    as = await startAuthorizationServer({ ttl: TOKEN_TTL });
    rsRoot = newRoot('rauth-rs');
    await installFixture(rsRoot, 'everything');
    port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    await startResourceServer(['mcp']);
    root = newRoot('rauth');
  });

  after(async () => {
    if (daemon) await daemon.kill();
    if (rsDaemon) await rsDaemon.kill();
    await as?.stop();
    cleanupRoot(root);
    cleanupRoot(rsRoot);
  });

  test('a 401 at install leaves the server installed, waiting for authorization', async () => {
    const r = await corral(['install', mcpUrl, '--remote', '--yes', '--name', 'guarded'], { root });
    expectExit(r, 0, 'install of an OAuth-guarded server');
    daemon = await startDaemon(root, { env: { CORRAL_TEST_TIMESCALE: '10' } });
    const st = await waitStatus(root, (s) => unitOf(s, 'guarded')?.state === 'pending_auth',
      'guarded to wait for authorization');
    assert.match(unitOf(st, 'guarded').last_error, /needs authorization/);
    assert.equal(unitOf(st, 'guarded').restarts, 0);
    const s = await corral(['auth', 'status', 'guarded', '--json'], { root });
    expectExit(s, 0, 'auth status');
    assert.equal(JSON.parse(s.stdout).state, 'none');
  });

  test('auth start (dynamic registration) → the browser → auth complete: ready', async () => {
    // Root's `corral auth` goes through the running daemon, its state
    // database's one writer: CORRAL_TEST_NO_STATE_WRITE fails a write of the
    // CLI's own.
    const start = await corral(['auth', 'start', 'guarded'], { root, env: NO_WRITE });
    expectExit(start, 0, 'auth start');
    const url = new URL(start.stdout.trim());
    assert.equal(url.origin, as.url, 'the authorization endpoint of the server named by the metadata');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(url.searchParams.get('resource'), mcpUrl, 'RFC 8707 resource');
    assert.equal(url.searchParams.get('scope'), 'mcp', 'the scope of the challenge');
    // RFC 7591: a public client for the code grant with refresh tokens.
    assert.equal(as.log.registrations.length, 1);
    const reg = as.log.registrations[0];
    assert.deepEqual(reg.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(reg.redirect_uris, ['http://127.0.0.1:33418/callback']);
    assert.equal(reg.token_endpoint_auth_method, 'none');
    assert.equal(url.searchParams.get('client_id'), 'dcr-1');
    // Kept for the invoking user in the state database (0600), no file.
    assert.ok((await oauthRow(root, UID, 'guarded')).pending, 'the pending request is kept');
    assert.equal(fs.statSync(path.join(root, 'state.db')).mode & 0o777, 0o600);
    assert.ok(!fs.existsSync(path.join(root, 'oauth')));

    const redirect = await authorize(url.href);
    const done = await corral(['auth', 'complete', 'guarded', redirect], { root, env: NO_WRITE });
    expectExit(done, 0, 'auth complete');
    const tokenReq = as.log.token.find((t) => t.grant_type === 'authorization_code');
    assert.ok(tokenReq.code_verifier, 'PKCE verifier sent');
    assert.equal(tokenReq.resource, mcpUrl);
    const stored = await oauthRow(root, UID, 'guarded');
    assert.ok(stored.access_token && stored.refresh_token);

    await waitReady(root, ['guarded'], 60000);
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      await c.waitTools((n) => n.includes('guarded__everything__echo'), 'guarded__everything__echo');
      assert.equal(resultText(await c.callTool('guarded__everything__echo', { message: 'with a token' })),
        'Echo: with a token');
    } finally {
      await c.close();
    }
    // Never the token in status, info or listings.
    for (const args of [['auth', 'status', 'guarded'], ['info', 'guarded', '--json'], ['status', '--json']]) {
      const out = await corral(args, { root });
      assert.ok(!out.stdout.includes(stored.access_token), `token in ${args.join(' ')}`);
      assert.ok(!out.stdout.includes(stored.refresh_token), `refresh token in ${args.join(' ')}`);
    }
  });

  test('short-lived tokens are refreshed inside the session: every call works, none waits', async () => {
    // Before the in-session refresh, the first call after the expiry got the
    // 401 and the unit went through a restart; now each call must work the
    // first time, across more than two token lifetimes.
    await waitReady(root, ['guarded']);
    const before = as.log.refresh;
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      const until = Date.now() + TOKEN_TTL * 2.5 * 1000;
      let n = 0;
      while (Date.now() < until) {
        const res = await c.callTool('guarded__everything__echo', { message: `call ${n}` }, { timeout: 10000 });
        assert.equal(resultText(res), `Echo: call ${n}`, `call ${n}: ${JSON.stringify(res)}`);
        n++;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(n >= 10, `calls made: ${n}`);
    } finally {
      await c.close();
    }
    assert.ok(as.log.refresh >= before + 2, `refreshes: ${as.log.refresh - before}`);
    const last = as.log.token.filter((t) => t.grant_type === 'refresh_token').at(-1);
    assert.equal(last.resource, mcpUrl, 'refresh asks for the same resource');
    assert.equal(unitOf(await status(root), 'guarded').state, 'ready');
  });

  test('a revoked refresh token sends the unit back to waiting for authorization', async () => {
    as.log.revoked = true;
    const st = await waitStatus(root, (s) => /refresh token revoked|invalid_grant/.test(unitOf(s, 'guarded')?.last_error ?? ''),
      'guarded to report the refused refresh', 60000);
    const u = unitOf(st, 'guarded');
    assert.equal(u.state, 'pending_auth');
    assert.match(u.last_error, /needs authorization.*corral auth start guarded/);
    const s = JSON.parse((await corral(['auth', 'status', 'guarded', '--json'], { root })).stdout);
    assert.equal(s.state, 'expired');
    assert.match(s.error, /invalid_grant/);
    as.log.revoked = false;
  });

  test('a redirect from another issuer or with another state is refused and stores nothing', async () => {
    const start = await corral(['auth', 'start', 'guarded', '--client-id', 'corral-test'], { root });
    expectExit(start, 0, 'auth start');
    const redirect = new URL(await authorize(start.stdout.trim()));
    const before = await oauthRow(root, UID, 'guarded');

    const evil = new URL(redirect);
    evil.searchParams.set('iss', 'http://127.0.0.1:1/evil');
    let r = await corral(['auth', 'complete', 'guarded', evil.href], { root });
    expectOneLineError(r, ['iss', 'RFC 9207'], 'auth complete with another iss');
    assert.equal(r.code, 76);
    const other = new URL(redirect);
    other.searchParams.set('state', 'not-ours');
    r = await corral(['auth', 'complete', 'guarded', other.href], { root });
    expectOneLineError(r, ['state'], 'auth complete with another state');
    assert.equal(r.code, 64);
    assert.deepEqual(await oauthRow(root, UID, 'guarded'), before, 'nothing stored');

    // The real redirect still works afterwards.
    r = await corral(['auth', 'complete', 'guarded', redirect.href], { root });
    expectExit(r, 0, 'auth complete');
    await waitReady(root, ['guarded'], 60000);
  });

  test('logout forgets the tokens; set-token takes one from stdin', async () => {
    let r = await corral(['auth', 'logout', 'guarded'], { root, env: NO_WRITE });
    expectExit(r, 0, 'auth logout');
    assert.equal(await oauthRow(root, UID, 'guarded'), null);
    await waitStatus(root, (s) => unitOf(s, 'guarded')?.state === 'pending_auth', 'guarded after logout');
    // A token obtained elsewhere (here: minted by the same server for the resource).
    const tok = await as.issuer.buildToken({
      scopesOrTransform: (h, p) => { p.aud = mcpUrl; p.scope = 'mcp'; p.sub = 'johndoe'; },
      expiresIn: 600,
    });
    r = await corral(['auth', 'set-token', 'guarded'], { root, input: `${tok}\n`, env: NO_WRITE });
    expectExit(r, 0, 'auth set-token');
    await waitReady(root, ['guarded'], 60000);
    const st = await status(root);
    assert.equal(unitOf(st, 'guarded').state, 'ready');
  });

  test('auth start with $BROWSER: a loopback redirect listener completes it by itself', async () => {
    let r = await corral(['auth', 'logout', 'guarded'], { root });
    expectExit(r, 0, 'auth logout');
    await waitStatus(root, (s) => unitOf(s, 'guarded')?.state === 'pending_auth', 'guarded after logout');
    const browser = browserScript(root, { forge: true });
    r = await corral(['auth', 'start', 'guarded'], { root, env: { BROWSER: browser.script }, timeout: 60000 });
    expectExit(r, 0, 'auth start with $BROWSER');
    const url = new URL(r.stdout.trim());
    // RFC 8252 §7.3: 127.0.0.1, a port of the kernel's choosing, /callback.
    const redirect = new URL(url.searchParams.get('redirect_uri'));
    assert.equal(redirect.hostname, '127.0.0.1');
    assert.notEqual(redirect.port, '33418');
    assert.equal(redirect.pathname, '/callback');
    const log = fs.readFileSync(browser.log, 'utf8');
    assert.match(log, /^open http:\/\/127\.0\.0\.1:\d+\/authorize\?/m, log);
    assert.match(log, /^forged 400$/m, 'a redirect with another state is refused');
    assert.match(log, /^callback 200$/m, log);
    assert.match(r.stderr, /guarded is authorized/);
    // One-shot: the listener is gone.
    await assert.rejects(fetch(redirect.href), 'the listener is closed');
    // The daemon took the new token without a restart.
    await waitReady(root, ['guarded'], 60000);
    r = await corral(['call', 'guarded__everything__echo', 'message=via loopback'], { root });
    expectExit(r, 0, 'call after the loopback authorization');
    assert.match(r.stdout, /Echo: via loopback/);

    // Nobody follows the URL: a clear error, and the pending request stays for `auth complete`.
    r = await corral(['auth', 'start', 'guarded', '--listen', '--timeout', '1'], { root, env: { BROWSER: '' } });
    expectOneLineError(r, ['no redirect', 'auth complete'], 'a listener nobody calls');
    assert.equal(r.code, 75);
  });

  test('403 insufficient_scope: re-authorized once with the union of scopes, then a clear failure', async () => {
    // The resource server now wants a second scope.
    await rsDaemon.kill();
    rsDaemon = null;
    await startResourceServer(['mcp', 'files:write']);
    const st = await waitStatus(root, (s) => /insufficient_scope/.test(unitOf(s, 'guarded')?.last_error ?? ''),
      'guarded to report the scope it lacks', 60000);
    let u = unitOf(st, 'guarded');
    assert.equal(u.state, 'pending_auth', JSON.stringify(u));
    assert.match(u.last_error, /files:write/);
    const browser = browserScript(root);
    let r = await corral(['auth', 'start', 'guarded'], { root, env: { BROWSER: browser.script }, timeout: 60000 });
    expectExit(r, 0, 'auth start for the step-up');
    const asked = new URL(r.stdout.trim()).searchParams.get('scope').split(' ');
    assert.deepEqual(asked.sort(), ['files:write', 'mcp'], 'the union of what was granted and what is asked');
    await waitReady(root, ['guarded'], 60000);

    // An authorization server that grants less than asked: no second step-up loop.
    as.log.grant = 'mcp';
    r = await corral(['auth', 'start', 'guarded'], { root, env: { BROWSER: browser.script }, timeout: 60000 });
    expectExit(r, 0, 'auth start');
    const failed = await waitStatus(root, (s) => unitOf(s, 'guarded')?.state === 'failed',
      'guarded to fail after the step-up', 60000);
    u = unitOf(failed, 'guarded');
    assert.match(u.last_error, /still answers insufficient_scope.*files:write/, u.last_error);
    delete as.log.grant;
  });

  test('system mode: a local user keeps their own tokens, written by the daemon; old files imported', async () => {
    // Names unique to this run (two runs at once must not delete each other's).
    const RUN = (process.pid % 46656).toString(36);
    const GROUP = `c15tsock${RUN}`;
    const USER = `c15tuser${RUN}`;
    if (spawnSync('getent', ['group', GROUP]).status !== 0) execFileSync('groupadd', ['--system', GROUP]);
    if (spawnSync('id', ['-u', USER]).status !== 0) {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '-G', GROUP, USER]);
    }
    const prefix = ['setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--init-groups', '--'];
    const asUser = (args, opts = {}) => run(prefix[0], [...prefix.slice(1), CORRAL, '--root', root, ...args],
      { env: corralEnv({ HOME: '/nonexistent', BROWSER: '' }), timeout: 60000, ...opts });
    let c;
    try {
      await daemon.kill();
      daemon = null;
      // A token file of an earlier version: moved into the database at the
      // daemon's start, and removed.
      const old = path.join(root, 'oauth', '4242', 'guarded.json');
      fs.mkdirSync(path.dirname(old), { recursive: true, mode: 0o700 });
      fs.writeFileSync(old, JSON.stringify({ access_token: 'imported-secret-4242', resource: mcpUrl }), { mode: 0o600 });
      fs.chmodSync(root, 0o755);
      fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
      fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
        site: { socket_group: GROUP, admin_group: `c15tadm${RUN}` },
      }));
      daemon = await startDaemon(root, { args: ['--system'], env: { CORRAL_TEST_TIMESCALE: '10' } });
      await waitFor(() => !fs.existsSync(old), { what: 'the old token file to be imported' });
      assert.equal((await oauthRow(root, 4242, 'guarded')).access_token, 'imported-secret-4242');
      const rootToken = (await oauthRow(root, UID, 'guarded'))?.access_token;
      const uid = Number(execFileSync('id', ['-u', USER]).toString());

      // The user cannot open the database; the daemon acts for them.
      let r = expectExit(await asUser(['auth', 'status', 'guarded', '--json']), 0, 'user: auth status');
      assert.equal(JSON.parse(r.stdout).state, 'none', 'the user has no token of their own yet');
      r = expectExit(await asUser(['auth', 'start', 'guarded']), 0, 'user: auth start');
      assert.ok((await oauthRow(root, uid, 'guarded')).pending, 'the pending request is the user\'s row');
      r = expectExit(await asUser(['auth', 'complete', 'guarded', await authorize(r.stdout.trim())]), 0,
        'user: auth complete');
      const mine = await oauthRow(root, uid, 'guarded');
      assert.ok(mine.access_token && mine.refresh_token, 'the user\'s tokens');
      assert.notEqual(mine.access_token, rootToken);
      assert.equal((await oauthRow(root, UID, 'guarded'))?.access_token, rootToken, 'root\'s untouched');
      r = expectExit(await asUser(['auth', 'status', '--json']), 0, 'user: auth status');
      assert.deepEqual(JSON.parse(r.stdout).map((e) => [e.name, e.state]), [['guarded', 'authorized']]);

      // set-token through the daemon (stdin), then logout: the user's row only.
      r = expectExit(await asUser(['auth', 'set-token', 'guarded'], { input: 'user-set-token-7f3a\n' }), 0,
        'user: set-token');
      assert.equal((await oauthRow(root, uid, 'guarded')).access_token, 'user-set-token-7f3a');
      r = expectExit(await asUser(['auth', 'logout', 'guarded']), 0, 'user: logout');
      assert.equal(await oauthRow(root, uid, 'guarded'), null);
      assert.equal((await oauthRow(root, UID, 'guarded'))?.access_token, rootToken, 'root\'s untouched');

      // The management tools act for their caller too (not admins only).
      c = await McpClient.stdio(root, { prefix, env: { HOME: '/nonexistent' } });
      await c.initialize();
      let t = await c.callTool('corral__auth_start', { name: 'guarded' }, { timeout: 60000 });
      assert.ok(!t.isError, JSON.stringify(t));
      const redirect = await authorize(t.structuredContent.authorization_url);
      t = await c.callTool('corral__auth_complete', { name: 'guarded', code: redirect }, { timeout: 60000 });
      assert.ok(!t.isError, JSON.stringify(t));
      t = await c.callTool('corral__auth_status', { name: 'guarded' });
      assert.deepEqual(t.structuredContent.servers.map((e) => [e.name, e.state]), [['guarded', 'authorized']]);
      const viaTool = await oauthRow(root, uid, 'guarded');
      assert.ok(viaTool.access_token && viaTool.access_token !== rootToken);

      // No token in logs, info --json, status or the audit log.
      const secrets = [mine.access_token, mine.refresh_token, viaTool.access_token, 'user-set-token-7f3a',
        'imported-secret-4242'];
      const texts = [daemon.output(), c.stderr,
        (await corral(['info', 'guarded', '--json'], { root })).stdout,
        (await corral(['status', '--json'], { root })).stdout,
        (await corral(['audit', '--json'], { root })).stdout,
        (await asUser(['auth', 'status', '--json'])).stdout];
      for (const f of fs.readdirSync(path.join(root, 'log'))) texts.push(fs.readFileSync(path.join(root, 'log', f), 'utf8'));
      for (const s of secrets) for (const [i, text] of texts.entries()) assert.ok(!text.includes(s), `a token in text ${i}`);

      // Uninstall takes every user's tokens with it, deleted by the daemon:
      // root's CLI does not write the database while it runs.
      await c.close();
      c = null;
      expectExit(await corral(['uninstall', 'guarded'], { root, env: NO_WRITE }), 0, 'uninstall');
      for (const id of [UID, uid, 4242]) assert.equal(await oauthRow(root, id, 'guarded'), null, `uid ${id}'s row`);
    } finally {
      await c?.close();
      spawnSync('userdel', [USER]);
      spawnSync('groupdel', [GROUP]);
    }
  });
});
