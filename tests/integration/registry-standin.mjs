// A stand-in for the official MCP Registry's read API v0.1 (and Smithery's
// GET /servers/{qualifiedName} and GET /servers?q=&page=&pageSize=) on 127.0.0.1, for tests that cannot reach the
// real services.  It follows the published shapes: openapi.yaml's ServerList
// ({servers: [{server, _meta}], metadata: {nextCursor, count}}) and
// ServerResponse ({server, _meta}), server.json documents of the
// 2025-12-11 schema, 404 {"error": "..."} for unknown servers, opaque cursors.
// Bundles (.mcpb) are served from /bundles/NAME.  JSON answers carry an ETag
// (a hash of the body) and a Last-Modified; a request whose If-None-Match
// names the current ETag gets 304 Not Modified (RFC 9110 §13.1.2, §15.4.5),
// so a client's revalidation shows in `requests` (each {method, path, query,
// headers, status}).

import crypto from 'node:crypto';
import http from 'node:http';

export const SCHEMA = 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json';
const OFFICIAL = 'io.modelcontextprotocol.registry/official';

/* servers: server.json documents (several versions of one name allowed; the
 * last one given is the latest).  smithery: {qualifiedName: document}.
 * bundles: {name: Buffer}.  Resolves {url, requests, publish(server), close()}. */
export function startRegistry({ servers = [], smithery = {}, bundles = {} } = {}) {
  const docs = [...servers];
  const index = () => docs.map((server, i) => ({
    server,
    _meta: {
      [OFFICIAL]: {
        status: 'active',
        publishedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        isLatest: docs.findLastIndex((s) => s.name === server.name) === i,
      },
    },
  }));
  let entries = index();
  const requests = [];
  const LAST_MODIFIED = new Date(Date.UTC(2026, 0, 1)).toUTCString();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    const q = { method: req.method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers: req.headers };
    requests.push(q);
    res.on('finish', () => { q.status = res.statusCode; });
    const json = (r, status, body) => {
      const text = JSON.stringify(body);
      const etag = `"${crypto.createHash('sha256').update(text).digest('hex').slice(0, 20)}"`;
      const headers = { 'content-type': 'application/json', etag, 'last-modified': LAST_MODIFIED };
      if (status === 200 && req.headers['if-none-match'] === etag) {
        r.writeHead(304, headers);
        return r.end();
      }
      r.writeHead(status, headers);
      return r.end(text);
    };
    if (req.method !== 'GET') return json(res, 405, { error: 'Method not allowed' });
    if (u.pathname === '/v0.1/servers') {
      const search = u.searchParams.get('search') || '';
      const version = u.searchParams.get('version');
      const limit = Math.min(Number(u.searchParams.get('limit')) || 30, 100);
      let list = entries.filter((e) => e.server.name.includes(search));
      if (version === 'latest') list = list.filter((e) => e._meta[OFFICIAL].isLatest);
      else if (version) list = list.filter((e) => e.server.version === version);
      let start = 0;
      const cursor = u.searchParams.get('cursor');
      if (cursor) {
        let after;
        try { after = JSON.parse(Buffer.from(cursor, 'base64url').toString()); } catch { return json(res, 400, { error: 'Invalid cursor' }); }
        start = list.findIndex((e) => `${e.server.name}:${e.server.version}` === after) + 1;
      }
      const page = list.slice(start, start + limit);
      const more = start + limit < list.length;
      const last = page[page.length - 1];
      return json(res, 200, {
        servers: page,
        metadata: {
          count: page.length,
          ...(more ? { nextCursor: Buffer.from(JSON.stringify(`${last.server.name}:${last.server.version}`)).toString('base64url') } : {}),
        },
      });
    }
    let m = u.pathname.match(/^\/v0\.1\/servers\/([^/]+)\/versions\/([^/]+)$/);
    if (m) {
      const name = decodeURIComponent(m[1]);
      const ver = decodeURIComponent(m[2]);
      const hit = entries.filter((e) => e.server.name === name)
        .find((e) => (ver === 'latest' ? e._meta[OFFICIAL].isLatest : e.server.version === ver));
      if (!hit) return json(res, 404, { error: 'Server not found' });
      return json(res, 200, hit);
    }
    if (u.pathname === '/servers') {
      // Smithery's list: ?q=&page=&pageSize= (1-indexed pages, at most 100
      // a page), {servers: [...], pagination: {currentPage, pageSize,
      // totalPages, totalCount}}; a bearer API key is required.
      if (!/^Bearer \S+/.test(req.headers.authorization || '')) return json(res, 401, { error: 'Unauthorized' });
      const q = (u.searchParams.get('q') || '').toLowerCase();
      const page = Math.max(1, Number(u.searchParams.get('page')) || 1);
      const pageSize = Math.min(Math.max(1, Number(u.searchParams.get('pageSize')) || 10), 100);
      const list = Object.values(smithery).filter((d) =>
        [d.qualifiedName, d.displayName, d.description].some((t) => (t || '').toLowerCase().includes(q)));
      return json(res, 200, {
        servers: list.slice((page - 1) * pageSize, page * pageSize).map((d, i) => ({
          id: crypto.createHash('sha256').update(d.qualifiedName).digest('hex').slice(0, 12),
          qualifiedName: d.qualifiedName,
          namespace: d.qualifiedName.replace(/^@/, '').split('/')[0],
          slug: d.qualifiedName.split('/').at(-1),
          displayName: d.displayName ?? d.qualifiedName,
          description: d.description ?? '',
          iconUrl: null,
          verified: false,
          useCount: i,
          remote: Boolean(d.remote),
          isDeployed: Boolean(d.remote),
          createdAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
          homepage: `https://smithery.ai/server/${d.qualifiedName}`,
        })),
        pagination: { currentPage: page, pageSize, totalPages: Math.ceil(list.length / pageSize), totalCount: list.length },
      });
    }
    m = u.pathname.match(/^\/servers\/(.+)$/);
    if (m) {
      const doc = smithery[decodeURIComponent(m[1])];
      if (!doc) return json(res, 404, { error: 'Server not found' });
      return json(res, 200, doc);
    }
    m = u.pathname.match(/^\/bundles\/([^/]+)$/);
    if (m && bundles[m[1]]) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(bundles[m[1]]);
    }
    return json(res, 404, { error: 'Not found' });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}`;
      // publish(serverJson): a new version, the latest from now on.
      const publish = (doc) => { docs.push(doc); entries = index(); };
      resolve({ url, requests, publish, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

// ---- a minimal zip writer, for bundles no honest tool would make -----------

import zlib from 'node:zlib';

/* entries: [{name, data (Buffer|string), mode (e.g. 0o100644, 0o120777 for a
 * symlink whose data is its target), declaredSize (lie about the unpacked
 * size), deflate (bool)}].  Zip64 end records when there are more than 65535
 * entries (APPNOTE.TXT 4.3.14-4.3.16). */
export function makeZip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const raw = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? '');
    const data = e.deflate ? zlib.deflateRawSync(raw) : raw;
    const crc = zlib.crc32(raw);
    const usize = e.declaredSize ?? raw.length;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0, 6);
    lh.writeUInt16LE(e.deflate ? 8 : 0, 8);
    lh.writeUInt16LE(0, 10);
    lh.writeUInt16LE(0x21, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(usize, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(0, 28);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4); // made by unix: external attributes hold the mode
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0, 8);
    ch.writeUInt16LE(e.deflate ? 8 : 0, 10);
    ch.writeUInt16LE(0, 12);
    ch.writeUInt16LE(0x21, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20);
    ch.writeUInt32LE(usize, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, data);
    centrals.push(ch, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const n = entries.length;
  const tail = [];
  if (n > 0xffff) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE((3 << 8) | 45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(n), 24);
    z.writeBigUInt64LE(BigInt(n), 32);
    z.writeBigUInt64LE(BigInt(cd.length), 40);
    z.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(z, loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(n, 0xffff), 8);
  end.writeUInt16LE(Math.min(n, 0xffff), 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, ...tail, end]);
}
