// Serves the hub's browser client to the example pages straight from the built package, as ES
// modules, no bundler: dist/esm/client/index.js and what it imports (dist/esm/wire/,
// dist/esm/protocol/switchboard-error.js), under /switchboard/ with their relative imports intact.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const esmDir = path.join(path.dirname(require.resolve('switchboard/package.json')), 'dist/esm');
/** A module of the browser client's directories, by plain file names only: no path can leave them. */
const CLIENT_MODULE = /^\/switchboard\/(client|wire|protocol)\/[a-z0-9-]+\.js$/;

/** Answers a request for one of the client's modules; false when `url` is not one. */
function serveClientModule(url, res) {
  if (!CLIENT_MODULE.test(url)) return false;
  const file = path.join(esmDir, url.slice('/switchboard/'.length));
  if (!fs.existsSync(file)) return false;
  res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(fs.readFileSync(file));
  return true;
}

module.exports = { serveClientModule };
