// A live leaderboard: some clients post scores, every viewer sees the top ten change.
//   node examples/leaderboard/server.js        (or: npm run example:leaderboard)
// then open http://localhost:3001 in a few browser windows.
//
// On several nodes sharing a Redis (docs/redis.md): give each the same REDIS_URL and its own PORT,
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3001 node examples/leaderboard/server.js
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3003 node examples/leaderboard/server.js
// (build the adapter first: node scripts/build.mjs --lib); a score posted on one node shows on
// the pages of every node. The scores then live in Redis too (a sorted set), so that every node
// answers with the same table.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Hub } = require('switchboard/hub');
const { serveClientModule } = require('../client-modules.js');

const PORT = Number(process.env.PORT ?? 3001);
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

// Viewers only listen; they need no history (the current top ten comes with a request).
const history = { maxMessages: 0 };
// With REDIS_URL the board's room is shared with every node given the same URL (npm install @switchboard/redis).
const adapter = REDIS_URL ? new (require('@switchboard/redis').RedisAdapter)({ url: REDIS_URL, history }) : undefined;
const hub = new Hub({ server, path: '/hub', adapter, history, rateLimit: { rate: 20, burst: 40 } });

/** Best score per player: in this process, or in Redis when several nodes share the board. */
const scores = REDIS_URL ? redisScores(REDIS_URL) : memoryScores();

hub.on('connection', (client) => {
  client.join('board');
  client.on('top', (_data, reply) => scores.top().then(reply, () => reply.error('unavailable', 'The scores cannot be read now')));
  client.on('score', async ({ player, score }, reply) => {
    player = String(player ?? '').trim().slice(0, 24);
    if (!player || !Number.isSafeInteger(score) || score < 0) return reply.error('bad_message', 'A player name and a whole, non-negative score');
    try {
      const { best, changed } = await scores.add(player, score);
      reply({ best });
      // A change carries the player's whole best score, not a difference: pages keep the highest
      // they have seen, so changes published by several nodes at once cannot undo each other.
      if (changed) hub.to('board').emit('best', { player, score: best });
    } catch {
      reply.error('unavailable', 'The score could not be stored');
    }
  });
});

function memoryScores() {
  const best = new Map();
  return {
    async add(player, score) {
      const old = best.get(player);
      if (old !== undefined && old >= score) return { best: old, changed: false };
      best.set(player, score);
      return { best: score, changed: true };
    },
    async top() {
      return [...best].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10).map(([player, score]) => ({ player, score }));
    },
  };
}

function redisScores(url) {
  const KEY = 'leaderboard:best';
  const redis = require('@redis/client').createClient({ url }); // the client @switchboard/redis uses
  redis.on('error', (error) => console.error(`leaderboard: redis: ${error.message}`));
  const connected = redis.connect();
  return {
    async add(player, score) {
      await connected;
      // GT: only a higher score replaces the stored one; CH: the reply counts it when it did.
      const changed = (await redis.zAdd(KEY, { score, value: player }, { comparison: 'GT', CH: true })) === 1;
      return { best: changed ? score : Number(await redis.zScore(KEY, player)), changed };
    },
    async top() {
      await connected;
      return (await redis.zRangeWithScores(KEY, 0, 9, { REV: true })).map(({ value, score }) => ({ player: value, score }));
    },
  };
}

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`leaderboard: listening on http://${HOST}:${port}`);
});
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
