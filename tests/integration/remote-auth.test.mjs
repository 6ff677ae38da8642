// The OAuth 2.1 client of remote units (issue 12), end to end and headless:
// a real authorization server on loopback (npm oauth2-mock-server: PKCE S256
// checked, signed JWTs, refresh tokens) guards a real MCP server — a second
// corral daemon's HTTP endpoint verifying the JWTs against the server's JWKS,
// fronting server-everything.  The test plays the browser: it follows the
// authorization URL that `corral auth start` prints and hands the redirect to
// `corral auth complete`.  Tokens live 4 s, so refreshes happen; a revoked
// refresh token sends the unit back to waiting for authorization; a wrong
// iss or state is refused and stores nothing.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, McpClient, cleanupRoot, corral, expectExit, expectOneLineError, installFixture,
  newRoot, resultText, socketPath, startDaemon, status, unitOf, waitFor, waitReady, waitStatus,
} from './lib.mjs';

const TOKEN_TTL = 4; // seconds

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/* oauth2-mock-server, with a dynamic client registration endpoint (RFC 7591)
 * added in front of it since it has none: its RFC 8414 document is the
 * server's own OpenID configuration plus registration_endpoint. */
async function startAuthorizationServer() {
  const mod = path.join(FIXTURES, 'oauth2-mock-server/node_modules/oauth2-mock-server/dist/index.mjs');
  const { OAuth2Issuer, OAuth2Service } = await import(pathToFileURL(mod).href);
  const issuer = new OAuth2Issuer();
  await issuer.keys.generate('RS256');
  const service = new OAuth2Service(issuer);
  const log = { token: [], refresh: 0, revoked: false, registrations: [] };
  // RFC 8707: the token is for the resource the client asked for, and only then.
  service.on('beforeTokenSigning', (token, req) => {
    token.payload.aud = req.body?.resource;
    token.payload.scope = 'mcp';
    token.payload.exp = Math.floor(Date.now() / 1000) + TOKEN_TTL;
  });
  service.on('beforeResponse', (resp, req) => {
    log.token.push({ ...req.body });
    if (req.body.grant_type === 'refresh_token') {
      log.refresh++;
      if (log.revoked) {
        resp.statusCode = 400;
        resp.body = { error: 'invalid_grant', error_description: 'refresh token revoked' };
        return;
      }
    }
    if (resp.body) resp.body.expires_in = TOKEN_TTL;
  });
  const server = http.createServer(async (req, res) => {
    if (req.url === '/.well-known/oauth-authorization-server') {
      const doc = await (await fetch(`${issuer.url}/.well-known/openid-configuration`)).json();
      doc.registration_endpoint = `${issuer.url}/register`;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(doc));
    }
    if (req.url === '/register' && req.method === 'POST') {
      let body = '';
      for await (const c of req) body += c;
      const reg = JSON.parse(body);
      log.registrations.push(reg);
      res.writeHead(201, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ ...reg, client_id: `dcr-${log.registrations.length}` }));
    }
    return service.requestHandler(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer, url: issuer.url, log,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/* Follows the authorization URL like a browser that is already signed in:
 * the server redirects to the redirect URI with the code. */
async function authorize(url) {
  const r = await fetch(url, { redirect: 'manual' });
  assert.equal(r.status, 302, `authorize: ${r.status} ${await r.text()}`);
  return r.headers.get('location');
}

describe('remote units with OAuth 2.1', { timeout: 600000 }, () => {
  let as;
  let rsRoot;
  let rsDaemon;
  let root;
  let daemon;
  let mcpUrl;

  before(async () => {
    as = await startAuthorizationServer();
    // The resource server: corral's own HTTP endpoint with bearer tokens.
    rsRoot = newRoot('rauth-rs');
    await installFixture(rsRoot, 'everything');
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    fs.mkdirSync(path.join(rsRoot, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(rsRoot, 'etc/corral.json'), JSON.stringify({
      http: { listen: [{ addr: `127.0.0.1:${port}`, level: 'anchor' }] },
      auth: { resource: mcpUrl, jwks_min_refresh_s: 0, clock_skew_s: 0, issuers: [{ issuer: as.url, scopes: ['mcp'] }] },
      users: { johndoe: 'anchor' },
    }));
    rsDaemon = await startDaemon(rsRoot);
    await waitReady(rsRoot, ['everything']);
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
    const st = await waitStatus(root, (s) => unitOf(s, 'guarded')?.state === 'unavailable',
      'guarded to wait for authorization');
    assert.match(unitOf(st, 'guarded').last_error, /needs authorization/);
    const s = await corral(['auth', 'status', 'guarded', '--json'], { root });
    expectExit(s, 0, 'auth status');
    assert.equal(JSON.parse(s.stdout).state, 'none');
  });

  test('auth start (dynamic registration) → the browser → auth complete: ready', async () => {
    const start = await corral(['auth', 'start', 'guarded'], { root });
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
    const oauthFile = path.join(root, 'servers/guarded/oauth.json');
    assert.equal(fs.statSync(oauthFile).mode & 0o777, 0o600);

    const redirect = await authorize(url.href);
    const done = await corral(['auth', 'complete', 'guarded', redirect], { root });
    expectExit(done, 0, 'auth complete');
    const tokenReq = as.log.token.find((t) => t.grant_type === 'authorization_code');
    assert.ok(tokenReq.code_verifier, 'PKCE verifier sent');
    assert.equal(tokenReq.resource, mcpUrl);
    const stored = JSON.parse(fs.readFileSync(oauthFile, 'utf8'));
    assert.ok(stored.access_token && stored.refresh_token);
    assert.equal(fs.statSync(oauthFile).mode & 0o777, 0o600);

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

  test('short-lived tokens are refreshed and calls keep working', async () => {
    const before = as.log.refresh;
    await new Promise((r) => setTimeout(r, (TOKEN_TTL + 2) * 1000));
    const c = await McpClient.connect(socketPath(root));
    try {
      await c.initialize();
      await waitFor(async () => {
        try {
          const res = await c.callTool('guarded__everything__echo', { message: 'refreshed' }, { timeout: 10000 });
          return resultText(res) === 'Echo: refreshed';
        } catch {
          return false;
        }
      }, { timeout: 60000, interval: 500, what: 'a call after the token expired' });
    } finally {
      await c.close();
    }
    assert.ok(as.log.refresh > before, `refreshes: ${as.log.refresh}`);
    const last = as.log.token.filter((t) => t.grant_type === 'refresh_token').at(-1);
    assert.equal(last.resource, mcpUrl, 'refresh asks for the same resource');
  });

  test('a revoked refresh token sends the unit back to waiting for authorization', async () => {
    as.log.revoked = true;
    const st = await waitStatus(root, (s) => /refresh token revoked|invalid_grant/.test(unitOf(s, 'guarded')?.last_error ?? ''),
      'guarded to report the refused refresh', 60000);
    const u = unitOf(st, 'guarded');
    assert.equal(u.state, 'unavailable');
    assert.match(u.last_error, /needs authorization.*corral auth start guarded/);
    const s = JSON.parse((await corral(['auth', 'status', 'guarded', '--json'], { root })).stdout);
    assert.equal(s.state, 'expired');
    assert.match(s.error, /invalid_grant/);
    as.log.revoked = false;
  });

  test('a redirect from another issuer or with another state is refused and stores nothing', async () => {
    const oauthFile = path.join(root, 'servers/guarded/oauth.json');
    const start = await corral(['auth', 'start', 'guarded', '--client-id', 'corral-test'], { root });
    expectExit(start, 0, 'auth start');
    const redirect = new URL(await authorize(start.stdout.trim()));
    const before = fs.readFileSync(oauthFile, 'utf8');

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
    assert.equal(fs.readFileSync(oauthFile, 'utf8'), before, 'nothing stored');

    // The real redirect still works afterwards.
    r = await corral(['auth', 'complete', 'guarded', redirect.href], { root });
    expectExit(r, 0, 'auth complete');
    await waitReady(root, ['guarded'], 60000);
  });

  test('logout forgets the tokens; set-token takes one from stdin', async () => {
    let r = await corral(['auth', 'logout', 'guarded'], { root });
    expectExit(r, 0, 'auth logout');
    assert.ok(!fs.existsSync(path.join(root, 'servers/guarded/oauth.json')));
    await waitStatus(root, (s) => unitOf(s, 'guarded')?.state === 'unavailable', 'guarded after logout');
    // A token obtained elsewhere (here: minted by the same server for the resource).
    const tok = await as.issuer.buildToken({
      scopesOrTransform: (h, p) => { p.aud = mcpUrl; p.scope = 'mcp'; p.sub = 'johndoe'; },
      expiresIn: 600,
    });
    r = await corral(['auth', 'set-token', 'guarded'], { root, input: `${tok}\n` });
    expectExit(r, 0, 'auth set-token');
    await waitReady(root, ['guarded'], 60000);
    const st = await status(root);
    assert.equal(unitOf(st, 'guarded').state, 'ready');
  });
});
