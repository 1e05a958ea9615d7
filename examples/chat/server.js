// Chat with rooms, presence, typing notices and history on join.
//   node examples/chat/server.js        (or: npm run example:chat)
// then open http://localhost:3000 in two browser windows.
//
// On several nodes sharing a Redis (docs/redis.md): give each the same REDIS_URL and its own PORT,
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3000 node examples/chat/server.js
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3002 node examples/chat/server.js
// (build the adapter first: node scripts/build.mjs --lib); a message typed on a page of one node
// appears on the pages of the other, and the member lists are the same on both.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Hub } = require('switchboard/hub');
const { serveClientModule } = require('../client-modules.js');

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL;

const page = fs.readFileSync(path.join(__dirname, 'index.html'));

const server = http.createServer((req, res) => {
  if (req.url === '/' || req.url === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  } else if (!serveClientModule(req.url, res)) {
    res.writeHead(404).end();
  }
});

const ROOM = /^[a-z0-9-]{1,32}$/;
const history = { maxMessages: 100 }; // what a newcomer sees on joining
// Alone, the hub keeps rooms, history and presence in this process; with REDIS_URL, in Redis,
// shared with every other node given the same URL (npm install @switchboard/redis).
const adapter = REDIS_URL ? new (require('@switchboard/redis').RedisAdapter)({ url: REDIS_URL, history }) : undefined;
const hub = new Hub({
  server,
  path: '/hub',
  adapter,
  history,
  canJoin: (_client, room) => ROOM.test(room),
});

// Authentication: a name sent in hello (a real app would check a token here).
hub.use((client, next) => {
  const name = String(client.handshake.auth?.name ?? '').trim();
  if (name.length < 1 || name.length > 32) return next(Object.assign(new Error('Pick a name of 1-32 characters'), { code: 'unauthorized' }));
  client.userId = name;
  client.presenceMeta = { name };
  next();
});

hub.on('connection', (client) => {
  // Messages go through the server, which stamps the author and keeps them in the room's history.
  client.on('say', ({ room, text }, reply) => {
    if (!client.rooms.has(room)) return reply.error('not_member', 'Join the room first');
    text = String(text ?? '').slice(0, 2000);
    if (!text) return reply.error('bad_message', 'Empty message');
    hub.to(room).emit('message', { name: client.userId, text, at: Date.now() }).then((mid) => reply({ mid }));
  });
  // Typing notices are volatile: no id, no history, dropped for slow connections.
  client.on('typing', ({ room }) => {
    if (client.rooms.has(room)) hub.to(room).except(client).volatile.emit('typing', { name: client.userId });
  });
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`chat: listening on http://${HOST}:${port}`);
});
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
