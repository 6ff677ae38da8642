// The HTTP endpoint behind OAuth 2.1 bearer tokens, end to end: a real
// authorization server on loopback (npm oauth2-mock-server through
// tests/fixtures/auth-server.mjs) issues the tokens, corral's daemon verifies
// them, and curl is the client.  Every refusal the issue lists answers with
// the right status and WWW-Authenticate; a valid token sees exactly the tools
// its level reaches and a hidden tool answers like an unknown one.  (Static
// API tokens over HTTP are in http.test.mjs.)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  FIXTURES, REPO, cleanupRoot, corral, expectExit, installFixture, newRoot, run, startDaemon,
  waitReady,
} from './lib.mjs';

const RESOURCE = 'http://localhost:8080/mcp';
const META = 'http://localhost:8080/.well-known/oauth-protected-resource/mcp';
const JSON_SSE = 'application/json, text/event-stream';

function startAuthServer() {
  const child = spawn('node', [path.join(REPO, 'tests/fixtures/auth-server.mjs')], {
    env: { ...process.env, CORRAL_FIXTURES_DIR: FIXTURES }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/ready (\d+)/);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    });
    child.on('exit', (code) => reject(new Error(`auth server exited with ${code}`)));
  });
}

async function curl(args) {
  const r = await run('curl', ['-sS', '-D', '-', '--max-time', '20', ...args]);
  assert.equal(r.code, 0, `curl ${args.join(' ')}: ${r.stderr}`);
  const blocks = r.stdout.split('\r\n\r\n');
  let i = 0;
  while (/^HTTP\/1\.1 100/.test(blocks[i])) i++;
  const head = blocks[i].split('\r\n');
  const headers = {};
  for (const line of head.slice(1)) {
    const k = line.indexOf(':');
    headers[line.slice(0, k).toLowerCase()] = line.slice(k + 1).trim();
  }
  return { status: Number(head[0].split(' ')[1]), headers, body: blocks.slice(i + 1).join('\r\n\r\n') };
}

function post(url, body, token, extra = {}) {
  const h = { 'content-type': 'application/json', accept: JSON_SSE, ...extra };
  if (token) h.authorization = `Bearer ${token}`;
  const args = ['-X', 'POST', url, '--data-binary', JSON.stringify(body)];
  for (const [k, v] of Object.entries(h)) args.push('-H', `${k}: ${v}`);
  return curl(args);
}

/* The JSON-RPC message of a POST answer, JSON or one SSE event. */
function message(r) {
  if (/^\s*\{/.test(r.body)) return JSON.parse(r.body);
  const data = r.body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('');
  return JSON.parse(data);
}

const INIT = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};

describe('HTTP with OAuth 2.1 bearer tokens', { timeout: 600000 }, () => {
  let root;
  let daemon;
  let as;
  let base;

  const mint = async (q) => {
    const r = await fetch(`${as.url}/test/token?aud=${encodeURIComponent(RESOURCE)}&scope=mcp&${q}`);
    assert.equal(r.status, 200);
    return r.text();
  };

  /* A session for token: initialize + initialized; returns the session id. */
  const session = async (token) => {
    const r = await post(`${base}/mcp`, INIT, token);
    assert.equal(r.status, 200, r.body);
    const sid = r.headers['mcp-session-id'];
    const n = await post(`${base}/mcp`, { jsonrpc: '2.0', method: 'notifications/initialized' }, token,
      { 'mcp-session-id': sid });
    assert.equal(n.status, 202);
    return sid;
  };
  const call = async (token, sid, method, params, id = 2) => message(await post(`${base}/mcp`,
    { jsonrpc: '2.0', id, method, params }, token, { 'mcp-session-id': sid }));

  before(async () => {
    as = await startAuthServer();
    root = newRoot('auth-http');
    await installFixture(root, 'everything');
    // echo needs anchor; the rest of the server trusted (the default).
    expectExit(await corral(['access', 'everything', 'anchor', '--tool', 'echo'], { root }), 0);
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/corral.json'), JSON.stringify({
      http: { listen: [{ addr: '127.0.0.1:0', level: 'anchor' }] },
      auth: {
        resource: RESOURCE,
        jwks_min_refresh_s: 0,
        issuers: [{ issuer: as.url, scopes: ['mcp'], level_claim: 'corral_level' }],
      },
      users: { alice: 'trusted', pat: 'public' },
    }));
    daemon = await startDaemon(root);
    await waitReady(root, ['everything']);
    base = daemon.httpBase();
  });

  after(async () => {
    if (daemon) await daemon.kill();
    if (as) as.child.kill();
    cleanupRoot(root);
  });

  test('no token: 401 pointing at the protected-resource metadata', async () => {
    const r = await post(`${base}/mcp`, INIT);
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], `Bearer scope="mcp", resource_metadata="${META}"`);
    const doc = await curl([`${base}/.well-known/oauth-protected-resource/mcp`]);
    assert.equal(doc.status, 200);
    const j = JSON.parse(doc.body);
    assert.equal(j.resource, RESOURCE);
    assert.deepEqual(j.authorization_servers, [as.url]);
    assert.deepEqual(j.scopes_supported, ['mcp']);
  });

  const refusals = [
    ['expired', 'case=expired', 'token expired'],
    ['not yet valid', 'case=nbf&kid=ec-1', 'token not valid yet (nbf)'],
    ['wrong iss', 'case=wrong-iss', 'token issuer is not trusted'],
    ['bad signature', 'case=bad-sig&kid=ed-1', 'token signature is invalid'],
    ['alg none', 'case=alg-none', "token alg 'none' is not accepted"],
    ['HS256 keyed with the RSA public key', 'case=hs256-pubkey', "token alg 'HS256' is not accepted"],
    ['unknown kid', 'case=unknown-kid', 'token signed with an unknown key'],
  ];
  for (const [what, q, why] of refusals) {
    test(`${what}: 401 invalid_token`, async () => {
      const r = await post(`${base}/mcp`, INIT, await mint(q));
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'],
        `Bearer error="invalid_token", scope="mcp", resource_metadata="${META}", error_description="${why}"`);
    });
  }

  test('wrong audience: 401 invalid_token', async () => {
    const r = await fetch(`${as.url}/test/token?aud=https://elsewhere.example/mcp&scope=mcp`);
    const res = await post(`${base}/mcp`, INIT, await r.text());
    assert.equal(res.status, 401);
    assert.match(res.headers['www-authenticate'], /error_description="token audience is not this resource"/);
  });

  test('missing scope: 403 insufficient_scope naming it', async () => {
    const r = await fetch(`${as.url}/test/token?aud=${encodeURIComponent(RESOURCE)}&scope=files`);
    const res = await post(`${base}/mcp`, INIT, await r.text());
    assert.equal(res.status, 403);
    assert.match(res.headers['www-authenticate'], /^Bearer error="insufficient_scope", scope="mcp", /);
  });

  test('key rotation: a token from a new key is accepted on first sight', async () => {
    await fetch(`${as.url}/test/rotate?kid=rsa-rotated&alg=RS256`, { method: 'POST' });
    const r = await post(`${base}/mcp`, INIT, await mint('kid=rsa-rotated'));
    assert.equal(r.status, 200, r.body);
  });

  test('a valid token sees exactly the tools its level reaches', async () => {
    // alice is trusted ("users"): everything's tools but echo (anchor).
    const alice = await mint('sub=alice');
    let sid = await session(alice);
    let tools = (await call(alice, sid, 'tools/list', {})).result.tools.map((t) => t.name);
    assert.ok(tools.includes('everything__get-sum'), tools.join(' '));
    assert.ok(!tools.includes('everything__echo'), tools.join(' '));
    const hidden = await call(alice, sid, 'tools/call', { name: 'everything__echo', arguments: { message: 'x' } });
    const unknown = await call(alice, sid, 'tools/call', { name: 'everything__no-such-tool', arguments: {} });
    assert.ok(hidden.error, JSON.stringify(hidden));
    assert.equal(hidden.error.code, unknown.error.code);
    assert.equal(hidden.error.message.replaceAll('echo', 'X'), unknown.error.message.replaceAll('no-such-tool', 'X'));

    // The level claim says anchor: echo too.
    const boss = await mint('sub=bob&level=anchor');
    sid = await session(boss);
    tools = (await call(boss, sid, 'tools/list', {})).result.tools.map((t) => t.name);
    assert.ok(tools.includes('everything__echo'), tools.join(' '));

    // pat is public: nothing of a trusted server.
    const pat = await mint('sub=pat');
    sid = await session(pat);
    tools = (await call(pat, sid, 'tools/list', {})).result.tools.map((t) => t.name);
    assert.deepEqual(tools.filter((t) => t.startsWith('everything__')), []);

    // A token is checked on every request, not only at initialize.
    const r = await post(`${base}/mcp`, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, undefined,
      { 'mcp-session-id': sid });
    assert.equal(r.status, 401);
  });
});
