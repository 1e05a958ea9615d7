// Chat with rooms, presence, typing notices and history on join.
//   node examples/chat/server.js        (or: npm run example:chat)
// then open http://localhost:3000 in two browser windows.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Hub } = require('switchboard/hub');

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';

// The page loads the browser client straight from the built package: one ES module, no bundler.
const clientFile = path.join(path.dirname(require.resolve('switchboard/package.json')), 'dist/esm/client/index.js');
const wireDir = path.join(path.dirname(clientFile), '../wire');
/** A module of dist/esm/wire by its plain file name only: no path can leave that directory. */
const WIRE_MODULE = /^\/wire\/[a-z0-9-]+\.js$/;
const page = fs.readFileSync(path.join(__dirname, 'index.html'));

const server = http.createServer((req, res) => {
  if (req.url === '/' || req.url === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  } else if (req.url === '/switchboard-client.js') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(fs.readFileSync(clientFile));
  } else if (WIRE_MODULE.test(req.url) && fs.existsSync(path.join(wireDir, req.url.slice('/wire/'.length)))) {
    // The client imports the protocol module (switchboard/wire) as '../wire/index.js', which resolves here.
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(fs.readFileSync(path.join(wireDir, req.url.slice('/wire/'.length))));
  } else {
    res.writeHead(404).end();
  }
});

const ROOM = /^[a-z0-9-]{1,32}$/;
const hub = new Hub({
  server,
  path: '/hub',
  history: { maxMessages: 100 }, // what a newcomer sees on joining
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
