// @ts-check
/**
 * One code-server for one test run: a scratch HOME, user data and extensions folder, the .vsix installed
 * into it, listening on 127.0.0.1 on a port the OS picks, in a process group of its own so that stopping
 * it also stops the extension host and the numpyro-lint server it started.
 */
'use strict';

const { spawn, execFile } = require('child_process');
const fs = require('fs');
const path = require('path');
const { promisify } = require('util');

/** User settings: nothing that phones home, nothing that opens on its own over the editor. */
const USER_SETTINGS = {
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.enableExperiments': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': false,
    'window.commandCenter': false,
    // Saving is a step of the test (and the tab's unsaved marker the event it waits on).
    'files.autoSave': 'off',
};

class CodeServer {
    /**
     * @param {import('child_process').ChildProcess} process
     * @param {string} url
     * @param {() => string} log what code-server has printed so far
     */
    constructor(process, url, log) {
        this.process = process;
        this.url = url;
        this.log = log;
    }

    /** The workbench URL with `folder` open. */
    folderUrl(folder) {
        return `${this.url}?folder=${encodeURIComponent(folder)}`;
    }

    /** Stops the whole process group; resolves once the leader has exited. */
    async stop() {
        if (this.process.exitCode !== null || this.process.signalCode !== null) {
            killGroup(this.process.pid, 'SIGKILL');
            return;
        }
        const exited = new Promise((resolve) => this.process.once('exit', resolve));
        killGroup(this.process.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(this.process.pid, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
        // Children that outlived the leader (the extension host, the language server) go too.
        killGroup(this.process.pid, 'SIGKILL');
    }
}

/** @param {number | undefined} pid @param {NodeJS.Signals} signal */
function killGroup(pid, signal) {
    if (pid === undefined) {
        return;
    }
    try {
        process.kill(-pid, signal);
    } catch (error) {
        if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ESRCH') {
            throw error;
        }
    }
}

/**
 * The environment code-server and everything it starts run in: HOME and the XDG folders inside the
 * scratch folder, and no extension gallery, so nothing is read from or written to the user's setup or
 * fetched from the network.
 * @param {string} scratch
 */
function isolatedEnvironment(scratch) {
    const home = path.join(scratch, 'home');
    fs.mkdirSync(home, { recursive: true });
    return {
        ...process.env,
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
        XDG_DATA_HOME: path.join(home, '.local', 'share'),
        XDG_CACHE_HOME: path.join(home, '.cache'),
        EXTENSIONS_GALLERY: '{}',
    };
}

/**
 * @param {{ entry: string, scratch: string, vsix: string }} options `entry`: code-server's out/node/entry.js
 * @returns {Promise<CodeServer>}
 */
async function startCodeServer({ entry, scratch, vsix }) {
    const env = isolatedEnvironment(scratch);
    const userData = path.join(scratch, 'user-data');
    const extensions = path.join(scratch, 'extensions');
    const config = path.join(scratch, 'code-server.yaml');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
    fs.writeFileSync(config, 'auth: none\n');
    const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];

    const installed = await promisify(execFile)(process.execPath, [entry, ...common, '--install-extension', vsix], { env });
    if (!/was successfully installed/.test(installed.stdout)) {
        throw new Error(`code-server did not install ${vsix}:\n${installed.stdout}${installed.stderr}`);
    }

    const args = [
        entry, ...common,
        '--bind-addr', '127.0.0.1:0',
        '--auth', 'none',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--disable-proxy',
        '--ignore-last-opened',
    ];
    const child = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const url = await new Promise((resolve, reject) => {
        const onData = (/** @type {Buffer} */ chunk) => {
            output += chunk.toString();
            const listening = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
            if (listening) {
                resolve(listening[1]);
            }
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('error', reject);
        child.once('exit', (code, signal) => reject(new Error(`code-server exited (${signal ?? code}) before listening:\n${output}`)));
    });
    return new CodeServer(child, url, () => output);
}

module.exports = { startCodeServer, killGroup };
