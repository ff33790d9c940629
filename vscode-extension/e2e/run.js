#!/usr/bin/env node
// @ts-check
/**
 * The extension end to end in a real VS Code: installs the .vsix into a fresh code-server, opens a
 * scratch copy of workspace/ with the numpyro-lint server run by --python, shows it in headless Chromium
 * and runs checks.js against the page. Screenshots (one per check) and the editor's logs go to --out.
 * Nothing leaves 127.0.0.1: the page may only load from code-server, which has no extension gallery.
 *
 * Usage: node run.js --code-server <folder where setup.sh installed it> --vsix <file> --python <interpreter>
 *                    --out <folder> [--browser /usr/bin/chromium]
 * Exit status 0 when every check passed, 1 otherwise.
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { CHECKS } = require('./checks');
const { startCodeServer } = require('./code-server');
const { Editor } = require('./editor');

const OPTIONS = { 'code-server': '', vsix: '', python: '', out: '', browser: '/usr/bin/chromium' };

function parseArguments(argv) {
    const options = { ...OPTIONS };
    for (let i = 0; i < argv.length; i += 2) {
        const name = argv[i].replace(/^--/, '');
        if (!(name in options) || argv[i + 1] === undefined) {
            throw new Error(`unknown option or missing value: ${argv[i]}`);
        }
        options[name] = path.resolve(argv[i + 1]);
    }
    for (const [name, value] of Object.entries(options)) {
        if (!value || !fs.existsSync(value)) {
            throw new Error(`--${name}: ${value ? `${value} does not exist` : 'required'}`);
        }
    }
    return options;
}

/** A scratch copy of workspace/ whose settings run the server with `python`. */
function makeWorkspace(scratch, python) {
    const workspace = path.join(scratch, 'workspace');
    fs.cpSync(path.join(__dirname, 'workspace'), workspace, { recursive: true });
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(
        path.join(workspace, '.vscode', 'settings.json'),
        JSON.stringify({ 'numpyroLint.interpreter': [python] }, null, 2),
    );
    return workspace;
}

/** Only code-server's own pages and what they make (blob:, data:) load; anything else is refused and named. */
async function keepLocal(page, serverUrl, refused) {
    const origin = new URL(serverUrl).origin;
    await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(origin) || url.startsWith('blob:') || url.startsWith('data:')) {
            return route.continue();
        }
        refused.push(url);
        return route.abort('blockedbyclient');
    });
}

/** The numpyro-lint output channel (the server's stderr and the client's log), as the editor wrote it. */
function extensionLog(logs) {
    const found = fs.readdirSync(logs, { recursive: true, encoding: 'utf8' })
        .filter((name) => /numpyro-lint/i.test(path.basename(name)) && name.endsWith('.log'));
    return found.map((name) => `--- ${name}\n${fs.readFileSync(path.join(logs, name), 'utf8')}`).join('\n');
}

async function runChecks(editor) {
    let failed = false;
    for (const check of CHECKS) {
        const started = Date.now();
        try {
            await check.run(editor);
            console.log(`ok    ${check.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        } catch (error) {
            failed = true;
            console.log(`FAIL  ${check.name}: ${error instanceof Error ? error.message : String(error)}`);
        }
        console.log(`      screenshot: ${path.relative(process.cwd(), await editor.screenshot(check.name))}`);
        if (failed) {
            // The checks after it start from the state this one should have left.
            return false;
        }
    }
    return true;
}

async function main() {
    const options = parseArguments(process.argv.slice(2));
    const screenshots = path.join(options.out, 'screenshots');
    const logs = path.join(options.out, 'logs');
    fs.rmSync(screenshots, { recursive: true, force: true });
    fs.rmSync(logs, { recursive: true, force: true });
    fs.mkdirSync(screenshots, { recursive: true });
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'numpyro-lint-e2e-'));
    const workspace = makeWorkspace(scratch, options.python);
    const entry = path.join(options['code-server'], 'node_modules', 'code-server', 'out', 'node', 'entry.js');

    const server = await startCodeServer({ entry, scratch, vsix: options.vsix });
    const stopOnSignal = () => void server.stop().finally(() => process.exit(130));
    process.once('SIGINT', stopOnSignal);
    process.once('SIGTERM', stopOnSignal);
    /** @type {import('playwright-core').Browser | undefined} */
    let browser;
    /** @type {string[]} */
    const refused = [];
    let passed = false;
    try {
        console.log(`code-server at ${server.url}, workspace ${workspace}`);
        // Chromium's sandbox cannot start as root (CI containers); the page is our own local editor.
        const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
        browser = await chromium.launch({ executablePath: options.browser, args });
        const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
        await keepLocal(page, server.url, refused);
        const editor = new Editor(page, { workspace, screenshots });
        await editor.load(server.folderUrl(workspace));
        passed = await runChecks(editor);
    } catch (error) {
        console.log(`FAIL  ${error instanceof Error ? error.stack : String(error)}`);
    } finally {
        await browser?.close();
        await server.stop();
        fs.cpSync(path.join(scratch, 'user-data', 'logs'), logs, { recursive: true });
        fs.rmSync(scratch, { recursive: true, force: true });
    }
    if (refused.length) {
        console.log(`the page tried to load from outside code-server (refused): ${[...new Set(refused)].join(', ')}`);
    }
    if (!passed) {
        console.log(`\nThe numpyro-lint output channel:\n${extensionLog(logs) || '(no log found)'}`);
        console.log(`\ncode-server's log is under ${path.relative(process.cwd(), logs)}`);
    }
    console.log(passed ? `e2e-vscode: all ${CHECKS.length} checks passed` : 'e2e-vscode: FAILED');
    return passed ? 0 : 1;
}

main().then(
    (status) => process.exit(status),
    (error) => {
        console.error(`e2e-vscode: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
    },
);
