#!/usr/bin/env node
// `npm run build:addon` (and the install step of `npm ci`): builds the native addon with
// node-gyp against the headers of the Node that runs this script, never a fixed path.
//
// node-gyp on its own downloads the headers of the running version from nodejs.org, which fails
// offline, and npm's `nodedir` setting may name another Node's headers. Every usual way of
// installing Node puts them beside the binary: Debian's and NodeSource's packages in
// /usr/include/node, the official tarballs (and nvm, fnm, volta) in <prefix>/include/node.
// So the first directory whose node_version.h is exactly this Node's version is used
// (node-headers.js); only when none is found does node-gyp fall back to downloading, and says so.
'use strict';
var childProcess = require('child_process');
var headers = require('./node-headers');

var variables = (process.config && process.config.variables) || {};
var dirs = headers.candidateDirs(process.execPath, variables.node_prefix, process.env.npm_config_nodedir);
var choice = headers.chooseNodedir(process.version, dirs);
var args = ['rebuild'];
// node-gyp reads npm's nodedir setting from the environment even when given --nodedir, and its
// headers may not be this Node's: the choice above has already considered it.
var env = Object.assign({}, process.env);
delete env.npm_config_nodedir;
if (choice.dir) {
  args.push('--nodedir=' + choice.dir);
  console.log('build-addon: Node ' + process.version + ' (' + process.execPath + '), headers from ' + choice.dir);
} else {
  console.warn(
    'build-addon: no headers of Node ' + process.version + ' beside it (' + choice.rejected.join('; ') + '); ' +
      'node-gyp downloads them from nodejs.org. Offline, install Node with its headers (scripts/check-node.js says how).',
  );
}
// The project's node-gyp (a devDependency); without dev dependencies, the one npm brings.
var gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch (e) {
  gyp = process.env.npm_config_node_gyp;
  if (!gyp) {
    console.error('build-addon: node-gyp not found (npm ci installs it)');
    process.exit(1);
  }
}
// This very Node runs node-gyp, so the addon is built for it whatever `node` the PATH gives.
var r = childProcess.spawnSync(process.execPath, [gyp].concat(args), { stdio: 'inherit', env: env });
if (r.error) {
  console.error('build-addon: ' + r.error.message);
  process.exit(1);
}
process.exit(r.status === null ? 1 : r.status);
