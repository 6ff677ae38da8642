// A remote MCP server on loopback for the per-user session tests
// (users.test.mjs, issue 15): the real TypeScript SDK's Server over its
// Streamable HTTP server transport, one MCP session per client session, which
// knows its caller by the bearer token (tokens added by the test) and answers
// each identity differently — so a test sees which user's session a request
// travelled on:
//   tools: whoami (the caller's name), roots (asks the caller's client for
//     its roots during the call), roots_later {ms} (asks for roots ms after
//     the call, unrelated to any call), poke (sends the caller's session
//     resources/updated for its notes and a prompt list change that adds
//     extra_WHO to that session's prompts)
//   prompts: greet (says who asked), mine_WHO (one per identity)
//   resources: mem://WHO/notes; template mem://{user}/files/{name}
//   completion/complete: ["WHO-1"]
//   tasks: whoami as a task (MCP 2025-11-25 tasks, the SDK's in-memory task
//     store, whose tasks belong to the MCP session that made them)
//   notifications/roots/list_changed: the server asks the client for its
//     roots and keeps them per identity (rootsSeen)
// A token that is revoked (or unknown) gets 401 with an RFC 6750 challenge,
// also on a session already open.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export async function startUserUpstream(sdkDir) {
  const imp = async (p) => import(pathToFileURL(path.join(sdkDir, p)).href);
  const { Server } = await imp('server/index.js');
  const { StreamableHTTPServerTransport } = await imp('server/streamableHttp.js');
  const T = await imp('types.js');
  const { InMemoryTaskStore } = await imp('experimental/tasks/stores/in-memory.js');
  const taskStore = new InMemoryTaskStore();

  const tokens = new Map(); // token → identity
  const revoked = new Set();
  const sessions = new Map(); // MCP session id → { transport, server, who }
  const rootsSeen = {}; // identity → [uri] from a roots/list after list_changed
  const log = []; // { who, what } for every request

  function newServer(who) {
    const extra = [];
    const server = new Server({ name: 'users-upstream', version: '1.0.0' }, {
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true }, completions: {},
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      taskStore,
    });
    const note = (what) => log.push({ who, what });
    const text = (t) => ({ content: [{ type: 'text', text: t }] });
    server.setRequestHandler(T.ListToolsRequestSchema, async () => {
      note('tools/list');
      return { tools: ['whoami', 'roots', 'roots_later', 'poke'].map((name) => ({ name, inputSchema: { type: 'object' } })) };
    });
    server.setRequestHandler(T.CallToolRequestSchema, async (req, ctx) => {
      note(`call ${req.params.name}`);
      if (req.params.task) {
        const task = await ctx.taskStore.createTask({ ttl: 60000, pollInterval: 100 });
        await ctx.taskStore.storeTaskResult(task.taskId, 'completed', text(`task for ${who}`));
        return { task };
      }
      switch (req.params.name) {
        case 'whoami': return text(who);
        case 'roots': return text(JSON.stringify((await server.listRoots()).roots.map((r) => r.uri)));
        case 'roots_later': // asks for roots after the call ended: unrelated to any call
          setTimeout(() => {
            server.listRoots().then((r) => { rootsSeen[who] = r.roots.map((x) => x.uri); },
              (e) => { rootsSeen[who] = `error: ${e.message}`; });
          }, Number(req.params.arguments?.ms ?? 1000));
          return text('later');
        case 'poke':
          extra.push(`extra_${who}`);
          await server.sendResourceUpdated({ uri: `mem://${who}/notes` });
          await server.sendPromptListChanged();
          return text('poked');
        default: throw new Error(`no tool ${req.params.name}`);
      }
    });
    server.setRequestHandler(T.ListPromptsRequestSchema, async () => {
      note('prompts/list');
      return { prompts: [{ name: 'greet', arguments: [{ name: 'name' }] }, { name: `mine_${who}` },
        ...extra.map((name) => ({ name }))] };
    });
    server.setRequestHandler(T.GetPromptRequestSchema, async (req) => {
      note(`prompts/get ${req.params.name}`);
      return { messages: [{ role: 'user', content: { type: 'text', text: `${req.params.name} for ${who}` } }] };
    });
    server.setRequestHandler(T.ListResourcesRequestSchema, async () => {
      note('resources/list');
      return { resources: [{ uri: `mem://${who}/notes`, name: 'notes' }] };
    });
    server.setRequestHandler(T.ListResourceTemplatesRequestSchema, async () => ({
      resourceTemplates: [{ uriTemplate: 'mem://{user}/files/{name}', name: 'files' }],
    }));
    server.setRequestHandler(T.ReadResourceRequestSchema, async (req) => {
      note(`read ${req.params.uri}`);
      if (!req.params.uri.startsWith(`mem://${who}/`)) throw new Error(`not ${who}'s`);
      return { contents: [{ uri: req.params.uri, text: `${req.params.uri} read by ${who}` }] };
    });
    server.setRequestHandler(T.SubscribeRequestSchema, async (req) => {
      note(`subscribe ${req.params.uri}`);
      return {};
    });
    server.setRequestHandler(T.UnsubscribeRequestSchema, async (req) => {
      note(`unsubscribe ${req.params.uri}`);
      return {};
    });
    server.setRequestHandler(T.CompleteRequestSchema, async () => {
      note('complete');
      return { completion: { values: [`${who}-1`], hasMore: false } };
    });
    server.setNotificationHandler(T.RootsListChangedNotificationSchema, async () => {
      note('roots changed');
      try {
        rootsSeen[who] = (await server.listRoots()).roots.map((r) => r.uri);
      } catch (e) {
        rootsSeen[who] = `error: ${e.message}`;
      }
    });
    return server;
  }

  const httpServer = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    const tok = (req.headers.authorization || '').replace(/^Bearer /, '');
    const who = tokens.get(tok);
    if (!who || revoked.has(tok)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'text/plain' });
      res.end('unauthorized');
      return;
    }
    const body = raw ? JSON.parse(raw) : undefined;
    const sid = req.headers['mcp-session-id'];
    let entry = sid ? sessions.get(sid) : undefined;
    if (sid && (!entry || entry.who !== who)) {
      res.writeHead(404).end();
      return;
    }
    if (!entry) {
      const server = newServer(who);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server, who });
          log.push({ who, what: 'session' });
        },
      });
      transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
      await server.connect(transport);
      entry = { transport, server, who };
    }
    await entry.transport.handleRequest(req, res, body);
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${httpServer.address().port}/mcp`,
    addToken(who) {
      const t = `up-${who}-${randomUUID()}`;
      tokens.set(t, who);
      return t;
    },
    revoke(t) { revoked.add(t); },
    rootsSeen,
    log,
    count: (who, what) => log.filter((e) => e.who === who && e.what === what).length,
    openSessions: (who) => [...sessions.values()].filter((s) => s.who === who).length,
    async close() {
      for (const s of sessions.values()) await s.transport.close().catch(() => {});
      taskStore.cleanup();
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    },
  };
}
