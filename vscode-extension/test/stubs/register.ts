/** Import first: makes `require('vscode')` and `require('vscode-languageclient/node')` load the stubs. */
import Module = require('module');

const aliases: Record<string, string> = {
    vscode: require.resolve('./vscode'),
    'vscode-languageclient/node': require.resolve('./languageclient'),
};

const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolveFilename = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]): string {
    return aliases[request] ?? resolveFilename.call(this, request, ...rest);
};
