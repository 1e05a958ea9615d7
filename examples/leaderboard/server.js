// A live leaderboard: some clients post scores, every viewer sees the top ten change.
//   node examples/leaderboard/server.js        (or: npm run example:leaderboard)
// then open http://localhost:3001 in a few browser windows.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Hub } = require('switchboard/hub');
const { serveClientModule } = require('../client-modules.js');

const PORT = Number(process.env.PORT ?? 3001);
const HOST = process.env.HOST ?? '127.0.0.1';

const page = fs.readFileSync(path.join(__dirname, 'index.html'));

const server = http.createServer((req, res) => {
  if (req.url === '/' || req.url === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  } else if (!serveClientModule(req.url, res)) {
    res.writeHead(404).end();
  }
});

// Viewers only listen; they need no history (the current top ten comes with a request).
const hub = new Hub({ server, path: '/hub', history: { maxMessages: 0 }, rateLimit: { rate: 20, burst: 40 } });

/** Best score per player. */
const scores = new Map();
const topTen = () =>
  [...scores]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 10)
    .map(([player, score], i) => ({ rank: i + 1, player, score }));

// Many scores in the same tick make one update.
let pending = false;
function publishTop() {
  if (pending) return;
  pending = true;
  setImmediate(() => {
    pending = false;
    hub.to('board').emit('top', topTen());
  });
}

hub.on('connection', (client) => {
  client.join('board');
  client.on('top', (_data, reply) => reply(topTen()));
  client.on('score', ({ player, score }, reply) => {
    player = String(player ?? '').trim().slice(0, 24);
    if (!player || !Number.isSafeInteger(score) || score < 0) return reply.error('bad_message', 'A player name and a whole, non-negative score');
    const best = Math.max(scores.get(player) ?? 0, score);
    scores.set(player, best);
    reply({ best });
    publishTop();
  });
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`leaderboard: listening on http://${HOST}:${port}`);
});
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
