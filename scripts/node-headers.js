// Where the headers of a given Node are: the first directory (a prefix holding include/node, or
// a source tree holding src/) whose node_version.h is exactly that version. Used by
// build-addon.js; pure apart from reading the candidates' node_version.h.
'use strict';
var fs = require('fs');
var path = require('path');

/** "vMAJOR.MINOR.PATCH" of the headers under `dir`, or null when it holds none. */
function headerVersion(dir) {
  var files = [path.join(dir, 'include', 'node', 'node_version.h'), path.join(dir, 'src', 'node_version.h')];
  for (var i = 0; i < files.length; i++) {
    var text;
    try {
      text = fs.readFileSync(files[i], 'utf8');
    } catch (e) {
      continue;
    }
    var parts = ['MAJOR', 'MINOR', 'PATCH'].map(function (part) {
      var m = new RegExp('#define NODE_' + part + '_VERSION (\\d+)').exec(text);
      return m ? m[1] : '?';
    });
    return 'v' + parts.join('.');
  }
  return null;
}

/**
 * Where a Node's headers may be, most specific first: npm's `nodedir` setting when given, the
 * prefix of the binary itself (<prefix>/bin/node), the prefix it was configured with.
 */
function candidateDirs(execPath, configuredPrefix, npmNodedir) {
  var dirs = [];
  if (npmNodedir) dirs.push(npmNodedir);
  dirs.push(path.dirname(path.dirname(fs.realpathSync(execPath))));
  if (typeof configuredPrefix === 'string' && configuredPrefix !== '') dirs.push(configuredPrefix);
  return dirs.filter(function (d, i) {
    return dirs.indexOf(d) === i;
  });
}

/** { dir: the first candidate with exactly `version`'s headers, or null; rejected: why not the others }. */
function chooseNodedir(version, dirs) {
  var rejected = [];
  for (var i = 0; i < dirs.length; i++) {
    var v = headerVersion(dirs[i]);
    if (v === version) return { dir: dirs[i], rejected: rejected };
    rejected.push(dirs[i] + (v ? ' has the headers of ' + v : ' has no Node headers'));
  }
  return { dir: null, rejected: rejected };
}

module.exports = { headerVersion: headerVersion, candidateDirs: candidateDirs, chooseNodedir: chooseNodedir };
