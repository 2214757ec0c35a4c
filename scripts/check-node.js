#!/usr/bin/env node
// `npm run setup` and scripts/install-deps.sh start here: wgmpls needs the Node.js that
// package.json's "engines" names (>= 20). Debian 12's own nodejs package is 18, so a plain
// Debian 12 fails here, with what to do instead of a compile error later.
// Plain ES5-era JavaScript on purpose: it must run, and explain, on any old Node.
'use strict';
var path = require('path');
var pkg = require(path.join(__dirname, '..', 'package.json'));

var wanted = /^>=\s*(\d+)$/.exec(pkg.engines.node);
if (!wanted) {
  console.error('scripts/check-node.js: cannot read engines.node "' + pkg.engines.node + '" in package.json');
  process.exit(2);
}
var needMajor = Number(wanted[1]);
var major = Number(process.versions.node.split('.')[0]);
if (major >= needMajor) {
  if (process.argv.indexOf('--quiet') < 0) console.log('Node.js ' + process.version + ' (' + process.execPath + '): ok, wgmpls needs >= ' + needMajor);
  process.exit(0);
}
console.error(
  [
    'wgmpls needs Node.js >= ' + needMajor + ', but ' + process.execPath + ' is ' + process.version + '.',
    "Debian 12's own nodejs package is 18. Install Node.js " + needMajor + ' (or newer) with its headers, e.g.:',
    '  - NodeSource packages: https://github.com/nodesource/distributions (apt-get install nodejs;',
    '    the headers come in /usr/include/node),',
    '  - or the official binaries from https://nodejs.org/en/download (include/node is in the tarball),',
    '    with its bin/ first on PATH (also for root: sudo keeps only secure_path),',
    'then run `npm run setup` again. The addon is built against the Node that runs the build.',
  ].join('\n'),
);
process.exit(1);
