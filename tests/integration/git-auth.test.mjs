// Private git repositories over HTTP: Debian's `git http-backend` behind a
// loopback HTTP server that demands Basic auth, as a forge does.  Credentials
// come from corral.json "git_auth" (a token file) or ~/.git-credentials, are
// sent only when the server asks, are not retried once refused, and never
// reach the manifest, the log or an error message.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gitEnv as gitEnvFor, gitRunner } from './gitutil.mjs';

import {
  EX, MOCK_SERVER, cleanupRoot, corral, expectExit, expectOneLineError, newRoot,
} from './lib.mjs';

const work = newRoot('gitauth');
const srv = path.join(work, 'srv');
const USER = 'alice';
const PASS = 'pa:ss/w%rd-7c1e';   // needs percent-encoding in ~/.git-credentials
const TOKEN = 'tok-5f0a9d2b1e';
let server;
let base;
let requests = 0;
let unauthorized = 0;

const gitEnv = gitEnvFor(work);
const git = gitRunner(gitEnv);

function accepted(req) {
  const h = req.headers.authorization || '';
  if (!h.startsWith('Basic ')) return false;
  const [u, ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
  const p = rest.join(':');
  return (u === USER && p === PASS) || (u === 'x-access-token' && p === TOKEN);
}

/* CGI: git http-backend answers with headers, a blank line, then the body. */
function backend(req, res) {
  const u = new URL(req.url, 'http://x');
  const cgi = spawn('git', ['http-backend'], {
    env: {
      ...gitEnv, GIT_PROJECT_ROOT: srv, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: u.pathname,
      QUERY_STRING: u.search.slice(1), REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] || '', REMOTE_USER: 'alice', REMOTE_ADDR: '127.0.0.1',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] || '',
      GIT_PROTOCOL: req.headers['git-protocol'] || '',
    },
  });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  cgi.stdout.on('data', (d) => {
    if (started) { res.write(d); return; }
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    started = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString().split('\r\n')) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === 'status') status = parseInt(v, 10);
      else res.setHeader(k, v);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  cgi.stdout.on('end', () => res.end());
}

before(async () => {
  const wt = path.join(work, 'wt');
  fs.mkdirSync(wt, { recursive: true });
  git(wt, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(wt, 'package.json'),
    `${JSON.stringify({ name: 'private-mcp', version: '1.0.0', bin: 'server.mjs' })}\n`);
  fs.copyFileSync(MOCK_SERVER, path.join(wt, 'server.mjs'));
  git(wt, 'add', '-A');
  git(wt, 'commit', '-q', '-m', 'initial');
  git(work, 'clone', '-q', '--bare', wt, path.join(srv, 'private.git'));
  server = http.createServer((req, res) => {
    requests++;
    if (!accepted(req)) {
      unauthorized++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="forge"' });
      res.end('no');
      return;
    }
    backend(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  if (server) server.close();
  cleanupRoot(work);
});

function homeWith(credentials) {
  const home = fs.mkdtempSync(path.join(work, 'home-'));
  if (credentials !== undefined) fs.writeFileSync(path.join(home, '.git-credentials'), credentials, { mode: 0o600 });
  return home;
}

const install = (root, home) => corral(['install', `${base}/private.git`, '--yes'],
  { root, env: { HOME: home }, timeout: 120000 });

function expectNoSecrets(root) {
  for (const f of [path.join(root, 'servers', 'private', 'manifest.json'), path.join(root, 'log', 'private.log')]) {
    if (!fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, 'utf8');
    for (const secret of [PASS, encodeURIComponent(PASS), TOKEN]) {
      assert.equal(text.includes(secret), false, `${f} holds a credential`);
    }
  }
}

describe('private git repositories over http', () => {
  test('no credentials: exit 77 saying what to configure, nothing installed', async () => {
    const root = newRoot('gitauth1');
    try {
      const r = await install(root, homeWith());
      expectExit(r, EX.NOPERM);
      expectOneLineError(r, ['authentication required', 'git_auth', '.git-credentials']);
      assert.equal(fs.existsSync(path.join(root, 'servers', 'private')), false);
    } finally {
      cleanupRoot(root);
    }
  });

  test('refused credentials are not retried, and are not shown', async () => {
    const root = newRoot('gitauth2');
    try {
      const home = homeWith(`${base.replace('://', `://${USER}:wrong-password@`)}\n`);
      const before401 = unauthorized;
      const r = await install(root, home);
      expectExit(r, EX.NOPERM);
      expectOneLineError(r, ['authentication failed', '.git-credentials']);
      assert.equal(r.stderr.includes('wrong-password'), false);
      assert.ok(unauthorized - before401 <= 3, `asked ${unauthorized - before401} times`);
    } finally {
      cleanupRoot(root);
    }
  });

  test('~/.git-credentials (percent-encoded, matched by host) installs; nothing secret is kept', async () => {
    const root = newRoot('gitauth3');
    try {
      const enc = `${encodeURIComponent(USER)}:${encodeURIComponent(PASS)}`;
      const home = homeWith([
        'https://alice:other@example.org',                       // another host
        `${base.replace('://', `://${enc}@`)}/elsewhere.git`,       // same host, another path
        `${base.replace('://', `://${enc}@`)}`,
      ].join('\n') + '\n');
      const r = await install(root, home);
      expectExit(r, 0);
      const m = JSON.parse(fs.readFileSync(path.join(root, 'servers', 'private', 'manifest.json'), 'utf8'));
      assert.equal(m.source.resolved.url, `${base}/private.git`);
      expectNoSecrets(root);
      assert.equal(r.stderr.includes(PASS), false);
    } finally {
      cleanupRoot(root);
    }
  });

  test('corral.json "git_auth" token file installs; a bad "git_auth" is a config error', async () => {
    const root = newRoot('gitauth4');
    try {
      const tokenFile = path.join(work, 'token');
      fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
      fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
      const config = path.join(root, 'etc', 'corral.json');
      fs.writeFileSync(config, JSON.stringify({ git_auth: { [`${base}/`]: { token_file: 'relative' } } }));
      let r = await install(root, homeWith());
      expectExit(r, EX.CONFIG);
      expectOneLineError(r, ['git_auth', 'token_file']);

      fs.writeFileSync(config, JSON.stringify({ git_auth: { [`${base}/`]: { token_file: tokenFile } } }));
      r = await install(root, homeWith());
      expectExit(r, 0);
      expectNoSecrets(root);
      assert.ok(requests > 0);
    } finally {
      cleanupRoot(root);
    }
  });
});
