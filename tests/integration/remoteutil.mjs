// Peers for the remote-unit tests (issue 12): real server-everything over
// its own HTTP transports, a small scripted HTTP peer, a real authorization
// server (npm oauth2-mock-server) with dynamic client registration in front,
// and a headless "browser" that follows an authorization URL.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { FIXTURES, waitFor } from './lib.mjs';

export const EVERYTHING = path.join(FIXTURES,
  'everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/* server-everything in `mode` (streamableHttp or sse) on port; resolves once
 * it accepts connections. */
export async function startEverything(mode, port) {
  const child = spawn(process.execPath, [EVERYTHING, mode], {
    env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await waitFor(() => new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve(Promise.reject(Object.assign(new Error(`server-everything ${mode} exited:\n${out}`), { fatal: true })));
      return;
    }
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  }), { timeout: 30000, what: `server-everything ${mode} on port ${port}` });
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/* A small HTTP peer answering every request with handler(req, body, res);
 * records the requests.  url ends in /mcp. */
export async function startPeer(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/mcp`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/* oauth2-mock-server, with a dynamic client registration endpoint (RFC 7591)
 * added in front of it since it has none: its RFC 8414 document is the
 * server's own OpenID configuration plus registration_endpoint.  Tokens live
 * ttl seconds; log.revoked makes refreshes fail with invalid_grant;
 * tokens carry the scope asked for (else "mcp"), or log.grant when set. */
export async function startAuthorizationServer({ ttl = 4 } = {}) {
  const mod = path.join(FIXTURES, 'oauth2-mock-server/node_modules/oauth2-mock-server/dist/index.mjs');
  const { OAuth2Issuer, OAuth2Service } = await import(pathToFileURL(mod).href);
  const issuer = new OAuth2Issuer();
  await issuer.keys.generate('RS256');
  const service = new OAuth2Service(issuer);
  const log = { token: [], refresh: 0, revoked: false, registrations: [], authorize: [], scopes: new Map() };
  // The scope asked for at the authorization endpoint, by code.
  service.on('beforeAuthorizeRedirect', (authorizeRedirectUri, req) => {
    log.authorize.push({ ...req.query });
    const code = authorizeRedirectUri.url.searchParams.get('code');
    if (code) log.scopes.set(code, req.query.scope);
  });
  // RFC 8707: the token is for the resource the client asked for, and only then.
  service.on('beforeTokenSigning', (token, req) => {
    token.payload.aud = req.body?.resource;
    token.payload.scope = log.grant ?? log.scopes.get(req.body?.code) ?? log.lastScope ?? 'mcp';
    if (req.body?.code) log.lastScope = token.payload.scope;
    token.payload.exp = Math.floor(Date.now() / 1000) + ttl;
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
    if (resp.body) {
      resp.body.expires_in = ttl;
      // RFC 6749 §5.1: the scope granted, as the token carries it.
      resp.body.scope = log.grant ?? log.lastScope ?? 'mcp';
    }
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
export async function authorize(url) {
  const r = await fetch(url, { redirect: 'manual' });
  assert.equal(r.status, 302, `authorize: ${r.status} ${await r.text()}`);
  return r.headers.get('location');
}

/* A $BROWSER for `corral auth start`: a shell script that follows the
 * authorization URL with curl, like a signed-in browser, and then the
 * redirect to corral's loopback listener; it records both in log.  With
 * forge, it first calls the listener with another state. */
export function browserScript(dir, { forge = false } = {}) {
  const script = path.join(dir, 'browser.sh');
  const log = path.join(dir, 'browser.log');
  fs.rmSync(log, { force: true });
  fs.writeFileSync(script, `#!/bin/sh
set -e
echo "open $1" >>"${log}"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$1")
echo "redirect $loc" >>"${log}"
${forge ? `curl -s -o /dev/null -w 'forged %{http_code}\\n' "\${loc%%\\?*}?code=stolen&state=forged" >>"${log}"` : ''}
curl -s -o /dev/null -w 'callback %{http_code}\\n' "$loc" >>"${log}"
`, { mode: 0o755 });
  return { script, log };
}
