#!/usr/bin/env node
// Loads the bundled client (argv[2]) from an empty folder where only `vscode` resolves, as VS Code loads
// it from the .vsix: a dependency left out of the bundle fails here instead of at a user's activation.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'numpyro-lint-bundle-'));
try {
    fs.copyFileSync(process.argv[2], path.join(folder, 'extension.js'));
    // Only module-level use of `vscode` happens on load: classes to extend and enums to read.
    fs.mkdirSync(path.join(folder, 'node_modules', 'vscode'), { recursive: true });
    fs.writeFileSync(
        path.join(folder, 'node_modules', 'vscode', 'index.js'),
        "module.exports = new Proxy({}, { get: (_, name) => (typeof name === 'string' ? class {} : undefined) });\n",
    );
    const extension = require(path.join(folder, 'extension.js'));
    for (const name of ['activate', 'deactivate']) {
        if (typeof extension[name] !== 'function') {
            throw new Error(`the bundle does not export ${name}()`);
        }
    }
    console.log(`${process.argv[2]} loads with only vscode available and exports activate/deactivate`);
} finally {
    fs.rmSync(folder, { recursive: true, force: true });
}
