import './stubs/register';
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stub, Uri } from './stubs/vscode';
import { LanguageClient } from './stubs/languageclient';
import { activate, deactivate } from '../src/extension';

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
const fakePython = [process.execPath, path.join(__dirname, 'stubs', 'fake-python.js')];

let marker: string;

function context() {
    return { subscriptions: [] as { dispose(): unknown }[] } as any;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
    for (let waited = 0; !check(); waited += 20) {
        if (waited > 5000) {
            assert.fail(`timed out waiting for ${what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

const client = () => LanguageClient.instances[LanguageClient.instances.length - 1];
const statusText = () => stub.state.statusItems[0].text;
const configurationSent = () =>
    client()
        .sent.filter((message) => message.method === 'workspace/didChangeConfiguration')
        .map((message) => (message.params as any).settings['numpyro-lint']);

describe('the extension in VS Code (stubbed)', () => {
    beforeEach(() => {
        stub.reset();
        LanguageClient.instances = [];
        marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fake-python-')), 'installed');
        process.env.FAKE_PYTHON_MARKER = marker;
        fs.writeFileSync(marker, 'installed');
        stub.state.userSettings.set('interpreter', fakePython);
    });

    afterEach(async () => {
        await deactivate();
        delete process.env.FAKE_PYTHON_MARKER;
    });

    it('registers every command package.json contributes, and shows the status bar item', async () => {
        await activate(context());
        const contributed = manifest.contributes.commands.map((command: { command: string }) => command.command).sort();
        assert.deepStrictEqual([...stub.state.commands.keys()].sort(), contributed);
        assert.deepStrictEqual(contributed, [
            'numpyroLint.fixAll',
            'numpyroLint.restart',
            'numpyroLint.runSmoke',
            'numpyroLint.showGraph',
            'numpyroLint.showOutput',
        ]);
        const item = stub.state.statusItems[0];
        assert.strictEqual(item.visible, true);
        assert.strictEqual(item.text, 'numpyro-lint: idle');
        assert.strictEqual(item.command, 'numpyroLint.showOutput');
    });

    it('starts `<interpreter> -m numpyro_lint server --stdio` over stdio with the user settings as initializationOptions', async () => {
        stub.state.userSettings.set('select', ['NPL1']);
        stub.state.userSettings.set('smoke.enabled', true);
        await activate(context());
        assert.strictEqual(LanguageClient.instances.length, 1);
        const { serverOptions, clientOptions } = client();
        assert.strictEqual(serverOptions.command, fakePython[0]);
        // What the real client spawns: the flag once, and the process's stdio as the channel.
        assert.deepStrictEqual(client().commandLine(), [fakePython[0], fakePython[1], '-m', 'numpyro_lint', 'server', '--stdio']);
        assert.strictEqual(client().channel(), 'stdio');
        assert.deepStrictEqual(clientOptions.initializationOptions, { select: ['NPL1'], smoke: { enabled: true } });
    });

    it('prefers the interpreter selected in the Python extension when numpyroLint.interpreter is empty', async () => {
        stub.state.userSettings.set('interpreter', []);
        stub.state.extensions.set('ms-python.python', {
            isActive: true,
            exports: {
                environments: {
                    getActiveEnvironmentPath: () => ({ id: 'venv', path: process.execPath }),
                    resolveEnvironment: async () => ({ executable: { uri: { fsPath: process.execPath } }, version: { major: 3, minor: 12 } }),
                },
            },
        });
        await activate(context());
        // Node is not Python: the import check fails, so the user is offered an install into that interpreter.
        await eventually(() => stub.state.messages.length > 0, 'a message');
        assert.match(stub.state.messages[0].text, new RegExp(`numpyro-lint is not installed in ${process.execPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    });

    it('answers workspace/configuration for section numpyro-lint, and leaves other sections to VS Code', async () => {
        stub.state.userSettings.set('widePriorScale', 20);
        await activate(context());
        const configuration = client().clientOptions.middleware.workspace.configuration;
        const params = { items: [{ section: 'numpyro-lint', scopeUri: 'file:///project/model.py' }, { section: 'python' }] };
        const answers = await configuration(params, undefined, async () => [null, { analysis: {} }]);
        assert.deepStrictEqual(answers, [{ 'wide-prior-scale': 20 }, { analysis: {} }]);
    });

    it('keeps smoke runs off until the workspace is trusted, then tells the server', async () => {
        stub.state.isTrusted = false;
        stub.state.userSettings.set('smoke.enabled', true);
        await activate(context());
        assert.deepStrictEqual(client().clientOptions.initializationOptions, { smoke: { enabled: false } });
        stub.grantTrust();
        await eventually(() => configurationSent().length > 0, 'didChangeConfiguration');
        assert.deepStrictEqual(configurationSent(), [{ smoke: { enabled: true } }]);
        assert.strictEqual(LanguageClient.instances.length, 1, 'same interpreter: no restart needed');
    });

    it('sends changed settings to the running server, and restarts it when the interpreter changes', async () => {
        await activate(context());
        stub.changeSetting('ignore', ['NPL401']);
        await eventually(() => configurationSent().length > 0, 'didChangeConfiguration');
        assert.deepStrictEqual(configurationSent(), [{ ignore: ['NPL401'] }]);

        stub.changeSetting('interpreter', [...fakePython, '-I']);
        await eventually(() => LanguageClient.instances.length === 2, 'a second client');
        assert.deepStrictEqual(client().serverOptions.args, [fakePython[1], '-I', '-m', 'numpyro_lint', 'server', '--stdio']);
        assert.strictEqual(LanguageClient.instances[0].state, 1 /* stopped */);
    });

    it('"Run smoke check now" asks the server to run the active document', async () => {
        await activate(context());
        stub.state.activeDocument = { uri: Uri.file('/project/model.py'), languageId: 'python' };
        await stub.state.commands.get('numpyroLint.runSmoke')!();
        const request = client().sent.find((message) => message.method === 'workspace/executeCommand');
        assert.deepStrictEqual(request?.params, { command: 'numpyro-lint.runSmoke', arguments: ['file:///project/model.py'] });
    });

    it('a smoke-run code lens runs its document through the extension, so trust is checked first', async () => {
        await activate(context());
        const lenses = await client().clientOptions.middleware.provideCodeLenses({}, undefined, async () => [
            { command: { title: '▶ Smoke-run', command: 'numpyro-lint.runSmoke', arguments: ['file:///project/other.py'] } },
        ]);
        assert.strictEqual(lenses[0].command.command, 'numpyroLint.runSmoke');
        await stub.state.commands.get(lenses[0].command.command)!(...lenses[0].command.arguments);
        const request = client().sent.find((message) => message.method === 'workspace/executeCommand');
        assert.deepStrictEqual(request?.params, { command: 'numpyro-lint.runSmoke', arguments: ['file:///project/other.py'] });

        client().sent.length = 0;
        stub.state.isTrusted = false;
        await stub.state.commands.get('numpyroLint.runSmoke')!('file:///project/other.py');
        assert.deepStrictEqual(client().sent, []);
    });

    it('"Show model graph" opens a webview beside the editor and redraws it when the document changes', async () => {
        await activate(context());
        const model = { uri: Uri.file('/project/model.py'), languageId: 'python' };
        stub.state.activeDocument = model;
        client().answers.set('workspace/executeCommand', {
            format: 'svg', graph: '<svg><text>theta ~ Normal</text></svg>', models: ['model'], renderer: 'numpyro-lint',
        });
        await stub.state.commands.get('numpyroLint.showGraph')!();
        assert.strictEqual(stub.state.panels.length, 1);
        const panel = stub.state.panels[0];
        assert.strictEqual(panel.title, 'Model graph: model.py');
        assert.deepStrictEqual(panel.showOptions, { viewColumn: -2 /* Beside */, preserveFocus: true });
        assert.deepStrictEqual(panel.options, { enableScripts: false });
        assert.match(panel.webview.html, /theta ~ Normal/);
        const request = client().sent.find((message) => message.method === 'workspace/executeCommand');
        assert.deepStrictEqual(request?.params, {
            command: 'numpyro-lint.showGraph', arguments: ['file:///project/model.py', { format: 'svg' }],
        });

        client().answers.set('workspace/executeCommand', {
            format: 'svg', graph: '<svg><text>tau ~ HalfCauchy</text></svg>', models: ['model'],
        });
        stub.state.documentChanged.fire({ document: { uri: Uri.file('/project/other.py') } });
        stub.state.documentChanged.fire({ document: model });
        await eventually(() => /tau ~ HalfCauchy/.test(panel.webview.html), 'the graph to be redrawn');

        await stub.state.commands.get('numpyroLint.showGraph')!();
        assert.strictEqual(stub.state.panels.length, 1, 'one panel, revealed again');
        assert.strictEqual(panel.revealed, 1);
        panel.dispose();
        await stub.state.commands.get('numpyroLint.showGraph')!();
        assert.strictEqual(stub.state.panels.length, 2, 'a closed panel is opened anew');
    });

    it('"Show model graph" uses a visible Python editor when focus is in another one (the Output panel)', async () => {
        await activate(context());
        stub.state.activeDocument = { uri: Uri.parse('output://numpyro-lint'), languageId: 'log' };
        stub.state.visibleDocuments = [{ uri: Uri.file('/project/model.py'), languageId: 'python' }];
        await stub.state.commands.get('numpyroLint.showGraph')!();
        assert.strictEqual(stub.state.panels[0]?.title, 'Model graph: model.py');
    });

    it('"Show model graph" says what it needs when no Python file is open', async () => {
        await activate(context());
        await stub.state.commands.get('numpyroLint.showGraph')!();
        assert.deepStrictEqual(stub.state.panels, []);
        assert.deepStrictEqual(stub.state.messages.map((m) => m.text), ['Open a Python file with a NumPyro model to see its graph.']);
    });

    it('"Run smoke check now" says why when the server could not run it', async () => {
        await activate(context());
        stub.state.activeDocument = { uri: Uri.file('/project/model.py'), languageId: 'python' };
        client().answers.set('workspace/executeCommand', { error: 'the run failed; see the log' });
        await stub.state.commands.get('numpyroLint.runSmoke')!();
        assert.deepStrictEqual(stub.state.messages.map((message) => [message.severity, message.text, message.items]), [
            ['error', 'numpyro-lint: the smoke check did not run: the run failed; see the log', ['Show output']],
        ]);

        stub.state.messages = [];
        client().answers.set('workspace/executeCommand', { findings: 2 });
        await stub.state.commands.get('numpyroLint.runSmoke')!();
        assert.deepStrictEqual(stub.state.messages, [], 'findings show as diagnostics, not as a message');
    });

    it('"Run smoke check now" refuses in an untrusted workspace and offers to manage trust', async () => {
        stub.state.isTrusted = false;
        stub.state.answer = (message) => message.items[0];
        await activate(context());
        stub.state.activeDocument = { uri: Uri.file('/project/model.py'), languageId: 'python' };
        await stub.state.commands.get('numpyroLint.runSmoke')!();
        assert.strictEqual(client().sent.filter((message) => message.method === 'workspace/executeCommand').length, 0);
        assert.match(stub.state.messages[0].text, /untrusted/);
        assert.ok(stub.state.executed.some((call) => call.command === 'workbench.trust.manage'));
    });

    it('"Fix all" applies the source.fixAll.numpyro-lint code action', async () => {
        await activate(context());
        stub.state.activeDocument = { uri: Uri.file('/project/model.py'), languageId: 'python' };
        await stub.state.commands.get('numpyroLint.fixAll')!();
        assert.deepStrictEqual(
            stub.state.executed.find((call) => call.command === 'editor.action.codeAction')?.args,
            [{ kind: 'source.fixAll.numpyro-lint', apply: 'first' }],
        );
    });

    it('lints Markdown, Quarto and reStructuredText documents (their Python code blocks) besides Python', async () => {
        await activate(context());
        const languages = client().clientOptions.documentSelector.map((filter: { language: string }) => filter.language);
        for (const language of ['python', 'markdown', 'quarto', 'restructuredtext']) {
            assert.ok(languages.includes(language), language);
        }
        stub.state.activeDocument = { uri: Uri.file('/project/guide.md'), languageId: 'markdown' };
        await stub.state.commands.get('numpyroLint.fixAll')!();
        assert.ok(stub.state.executed.some((call) => call.command === 'editor.action.codeAction'));
    });

        it('"Restart server" starts a new client; "Show output" shows the channel', async () => {
        await activate(context());
        await stub.state.commands.get('numpyroLint.restart')!();
        assert.strictEqual(LanguageClient.instances.length, 2);
        assert.strictEqual(LanguageClient.instances[0].state, 1 /* stopped */);
        await stub.state.commands.get('numpyroLint.showOutput')!();
        assert.strictEqual(stub.state.outputShown, 1);
    });

    it('offers to pip install numpyro-lint into the interpreter that lacks it, then starts the server', async () => {
        fs.rmSync(marker);
        stub.state.answer = (message) => (message.items.includes('Install') ? 'Install' : undefined);
        await activate(context());
        assert.strictEqual(statusText(), '$(error) numpyro-lint: stopped');
        await eventually(() => LanguageClient.instances.length === 1, 'the server to start after the install');
        assert.match(stub.state.messages[0].text, /numpyro-lint is not installed in .*fake-python\.js\. Install it with pip\?/);
        const calls = fs.readFileSync(`${marker}.calls`, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
        assert.deepStrictEqual(calls, [['-c', 'import numpyro_lint'], ['-m', 'pip', 'install', 'numpyro-lint'], ['-c', 'import numpyro_lint']]);
        await eventually(() => statusText() === 'numpyro-lint: idle', 'the status bar to show idle');
    });

    it('does not install anything when the user dismisses the offer', async () => {
        fs.rmSync(marker);
        await activate(context());
        await eventually(() => stub.state.messages.length === 1, 'the install offer');
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.ok(!fs.existsSync(marker));
        assert.strictEqual(LanguageClient.instances.length, 0);
    });

    it('says so, with a way to the setting, when the interpreter cannot be run', async () => {
        stub.state.userSettings.set('interpreter', ['/no/such/python']);
        stub.state.answer = (message) => (message.items.includes('Open settings') ? 'Open settings' : undefined);
        await activate(context());
        await eventually(() => stub.state.executed.length > 0, 'the settings to open');
        assert.match(stub.state.messages[0].text, /could not run \/no\/such\/python/);
        assert.deepStrictEqual(stub.state.executed[0], { command: 'workbench.action.openSettings', args: ['numpyroLint.interpreter'] });
    });

    it('shows smoke-run progress and runnerState notifications in the status bar', async () => {
        await activate(context());
        const progress = client().clientOptions.middleware.handleWorkDoneProgress;
        const forwarded: unknown[] = [];
        const next = (_token: unknown, value: unknown) => forwarded.push(value);
        progress('t1', { kind: 'begin', title: 'numpyro-lint smoke run', message: 'model.py' }, next);
        assert.strictEqual(statusText(), '$(sync~spin) numpyro-lint: compiling');
        progress('t1', { kind: 'report', message: 'warmup 5/20' }, next);
        assert.strictEqual(statusText(), '$(sync~spin) numpyro-lint: sampling');
        progress('t1', { kind: 'end', message: '2 findings' }, next);
        assert.strictEqual(statusText(), '$(warning) numpyro-lint: 2 findings');
        assert.strictEqual(forwarded.length, 3, 'VS Code still shows the progress itself');

        client().receive('numpyro-lint/runnerState', { state: 'sampling' });
        assert.strictEqual(statusText(), '$(sync~spin) numpyro-lint: sampling');
        client().receive('numpyro-lint/runnerState', { state: 'idle', findings: 0 });
        assert.strictEqual(statusText(), '$(check) numpyro-lint: 0 findings');
    });
});
