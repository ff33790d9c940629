/**
 * Wiring only: starts `python -m numpyro_lint server` with the chosen interpreter, keeps the server's
 * settings in step with VS Code's (and with workspace trust), registers the commands, drives the
 * status bar item and the model graph beside the editor. The decisions live in interpreter.ts,
 * settings.ts, status.ts and graph.ts.
 */
import * as vscode from 'vscode';
import {
    DidChangeConfigurationNotification,
    ExecuteCommandRequest,
    LanguageClient,
    LanguageClientOptions,
    ServerOptions,
    State,
} from 'vscode-languageclient/node';

import {
    chooseInterpreter,
    checkServerInstalled,
    InterpreterChoice,
    installLaunch,
    PythonEnvironments,
    resolveVariables,
    runProcess,
    serverLaunch,
} from './interpreter';
import {
    graphArguments,
    graphHtml,
    GraphResult,
    panelTitle,
    REFRESH_DELAY_MS,
    routeLensCommand,
    SERVER_SHOW_GRAPH_COMMAND,
} from './graph';
import { EXTENSION_SECTION, SERVER_SECTION, ServerSettings, serverSettings } from './settings';
import { ProgressValue, RUNNER_STATE_NOTIFICATION, RunnerStateParams, RunnerStatus } from './status';

/** Python files, and the documents whose Python code blocks the server lints (Markdown, Quarto, RST). */
export const LINTED_LANGUAGES = ['python', 'markdown', 'quarto', 'restructuredtext'];
export const DOCUMENT_SELECTOR = [
    ...LINTED_LANGUAGES.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
    ]),
    { notebook: 'jupyter-notebook', language: 'python' },
];

export const COMMANDS = {
    runSmoke: 'numpyroLint.runSmoke',
    fixAll: 'numpyroLint.fixAll',
    restart: 'numpyroLint.restart',
    showOutput: 'numpyroLint.showOutput',
    showGraph: 'numpyroLint.showGraph',
} as const;

/** Names the server knows (src/numpyro_lint/server). */
export const SERVER_RUN_SMOKE_COMMAND = 'numpyro-lint.runSmoke';
export const FIX_ALL_KIND = 'source.fixAll.numpyro-lint';

/** What the server's `numpyro-lint.runSmoke` command returns. */
type SmokeCommandResult = { findings?: number; error?: string };

const PYTHON_EXTENSION_ID = 'ms-python.python';
const INSTALL = 'Install';
const SHOW_OUTPUT = 'Show output';

let session: Session | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const output = vscode.window.createOutputChannel('numpyro-lint', { log: true });
    const item = vscode.window.createStatusBarItem('numpyroLint.status', vscode.StatusBarAlignment.Right, 100);
    item.name = 'numpyro-lint';
    item.command = COMMANDS.showOutput;
    const status = new RunnerStatus();
    const refresh = () => {
        const view = status.view();
        item.text = view.text;
        item.tooltip = view.tooltip;
    };
    refresh();
    item.show();
    session = new Session(output, status, refresh);
    const current = session;
    context.subscriptions.push(
        output,
        item,
        vscode.commands.registerCommand(COMMANDS.runSmoke, (uri?: unknown) => current.runSmoke(uri)),
        vscode.commands.registerCommand(COMMANDS.showGraph, () => current.showGraph()),
        vscode.commands.registerCommand(COMMANDS.fixAll, () => fixAll()),
        vscode.commands.registerCommand(COMMANDS.restart, () => current.restart()),
        vscode.commands.registerCommand(COMMANDS.showOutput, () => output.show()),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (event.affectsConfiguration(`${EXTENSION_SECTION}.interpreter`)) {
                void current.restart();
            } else if (event.affectsConfiguration(EXTENSION_SECTION)) {
                void current.sendConfiguration();
            }
        }),
        // Trust changes both the settings (smoke runs) and the interpreter (a restricted setting).
        vscode.workspace.onDidGrantWorkspaceTrust(() => void current.interpreterMayHaveChanged()),
    );
    const environments = await pythonEnvironments(output);
    if (environments?.onDidChangeActiveEnvironmentPath) {
        context.subscriptions.push(environments.onDidChangeActiveEnvironmentPath(() => void current.interpreterMayHaveChanged()));
    }
    await current.restart();
}

export async function deactivate(): Promise<void> {
    await session?.stop();
    session = undefined;
}

type PythonExtensionEnvironments = PythonEnvironments & { onDidChangeActiveEnvironmentPath?: vscode.Event<unknown> };

/** The Python extension's environments API, or undefined when it is not installed or fails to activate. */
async function pythonEnvironments(output: vscode.LogOutputChannel): Promise<PythonExtensionEnvironments | undefined> {
    const extension = vscode.extensions.getExtension<{ environments?: PythonExtensionEnvironments }>(PYTHON_EXTENSION_ID);
    if (!extension) {
        return undefined;
    }
    try {
        const api = extension.isActive ? extension.exports : await extension.activate();
        return api?.environments;
    } catch (error) {
        output.warn(`The Python extension did not activate: ${String(error)}`);
        return undefined;
    }
}

function projectFolder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
}

/** The server's settings for a scope (a document or folder URI; the project folder by default). */
function settingsFor(scopeUri?: string): ServerSettings {
    const scope = scopeUri ? vscode.Uri.parse(scopeUri) : projectFolder()?.uri;
    return serverSettings(vscode.workspace.getConfiguration(EXTENSION_SECTION, scope), vscode.workspace.isTrusted);
}

/** One language client at a time; starts and stops are queued so that restarts never overlap. */
class Session {
    private client: LanguageClient | undefined;
    private interpreter: string[] | undefined;
    private graph: GraphView | undefined;
    private queue: Promise<void> = Promise.resolve();

    constructor(
        private readonly output: vscode.LogOutputChannel,
        private readonly status: RunnerStatus,
        private readonly refresh: () => void,
    ) {}

    restart(): Promise<void> {
        this.queue = this.queue.then(async () => {
            await this.stopClient();
            await this.start();
        });
        return this.queue;
    }

    stop(): Promise<void> {
        this.queue = this.queue.then(() => this.stopClient());
        return this.queue;
    }

    async interpreterMayHaveChanged(): Promise<void> {
        const choice = await this.chooseInterpreter();
        if (choice.command.join('\0') !== this.interpreter?.join('\0')) {
            await this.restart();
        } else {
            await this.sendConfiguration();
        }
    }

    async sendConfiguration(): Promise<void> {
        if (this.client?.state === State.Running) {
            await this.client.sendNotification(DidChangeConfigurationNotification.type, {
                settings: { [SERVER_SECTION]: settingsFor() },
            });
        }
    }

    /** Run the document `uri` (a code lens passes it), else the active one. */
    async runSmoke(uri?: unknown): Promise<void> {
        const document = vscode.window.activeTextEditor?.document;
        const target = typeof uri === 'string' ? uri : document?.languageId === 'python' ? document.uri.toString() : undefined;
        if (target === undefined) {
            void vscode.window.showWarningMessage('Open a Python file with a NumPyro model to run a smoke check.');
            return;
        }
        if (!vscode.workspace.isTrusted) {
            const manage = 'Manage Workspace Trust';
            const answer = await vscode.window.showWarningMessage(
                'Smoke checks run your model code, so they are off in untrusted workspaces.',
                manage,
            );
            if (answer === manage) {
                await vscode.commands.executeCommand('workbench.trust.manage');
            }
            return;
        }
        if (this.client?.state !== State.Running) {
            await this.notRunning();
            return;
        }
        let result: SmokeCommandResult | null;
        try {
            result = await this.client.sendRequest(ExecuteCommandRequest.type, {
                command: SERVER_RUN_SMOKE_COMMAND,
                arguments: [target],
            });
        } catch (error) {
            result = { error: String(error) };
        }
        // Findings arrive as diagnostics and in the status bar; only a run that did not happen needs a word.
        // The server warns about a missing runner itself.
        const error = result?.error;
        if (error && error !== 'cancelled' && error !== 'smoke runs are unavailable') {
            this.output.error(`Smoke check of ${target}: ${error}`);
            await this.offerOutput(`numpyro-lint: the smoke check did not run: ${error}`);
        }
    }

    /** The model graph of the active Python document in a webview beside it, redrawn as it changes. */
    async showGraph(): Promise<void> {
        // The active editor, else a visible Python one (focus may be in the Output panel, itself an editor).
        const document = [vscode.window.activeTextEditor, ...vscode.window.visibleTextEditors]
            .map((editor) => editor?.document)
            .find((candidate) => candidate?.languageId === 'python');
        if (!document) {
            void vscode.window.showWarningMessage('Open a Python file with a NumPyro model to see its graph.');
            return;
        }
        this.graph ??= new GraphView(() => this.client, () => (this.graph = undefined));
        await this.graph.show(document);
    }

    private async chooseInterpreter(): Promise<InterpreterChoice> {
        const folder = projectFolder();
        const setting = vscode.workspace.getConfiguration(EXTENSION_SECTION, folder?.uri).get<string[]>('interpreter') ?? [];
        const resolved = resolveVariables(setting, {
            workspaceFolder: folder?.uri.fsPath,
            userHome: process.env.HOME ?? process.env.USERPROFILE,
            env: process.env,
        });
        return chooseInterpreter(resolved, await pythonEnvironments(this.output), folder?.uri);
    }

    private async start(): Promise<void> {
        this.status.setServerState('starting');
        this.refresh();
        const choice = await this.chooseInterpreter();
        this.interpreter = choice.command;
        if (choice.note) {
            this.output.warn(`Not using the Python extension's interpreter: ${choice.note}.`);
        }
        this.output.info(`Interpreter (from ${choice.source}): ${choice.command.join(' ')}`);
        const availability = await checkServerInstalled(choice.command);
        if (availability.state !== 'installed') {
            this.status.setServerState('stopped');
            this.refresh();
            if (availability.state === 'no-python') {
                this.output.error(`Could not run ${choice.command.join(' ')}: ${availability.detail}`);
                void this.cannotRunPython(choice.command);
            } else {
                this.output.warn(`${choice.command.join(' ')} cannot import numpyro_lint: ${availability.detail}`);
                void this.offerInstall(choice.command);
            }
            return;
        }
        const client = new LanguageClient('numpyro-lint', 'numpyro-lint', serverOptions(choice.command), this.clientOptions());
        client.onDidChangeState((event) => {
            this.status.setServerState(
                event.newState === State.Running ? 'running' : event.newState === State.Starting ? 'starting' : 'stopped',
            );
            this.refresh();
        });
        client.onNotification(RUNNER_STATE_NOTIFICATION, (params: RunnerStateParams) => {
            this.status.onRunnerState(params);
            this.refresh();
        });
        this.client = client;
        try {
            await client.start();
        } catch (error) {
            this.output.error(`The numpyro-lint server did not start: ${String(error)}`);
            this.status.setServerState('stopped');
            this.refresh();
            void this.notRunning();
        }
    }

    private async stopClient(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (client?.needsStop()) {
            try {
                await client.stop();
            } catch (error) {
                this.output.warn(`Stopping the server: ${String(error)}`);
            }
        }
    }

    private clientOptions(): LanguageClientOptions {
        return {
            documentSelector: DOCUMENT_SELECTOR,
            outputChannel: this.output,
            initializationOptions: settingsFor(),
            middleware: {
                provideCodeLenses: async (document, token, next) => {
                    const lenses = await next(document, token);
                    return lenses?.map((lens) => routeLensCommand(lens, SERVER_RUN_SMOKE_COMMAND, COMMANDS.runSmoke));
                },
                handleWorkDoneProgress: (token, params, next) => {
                    this.status.onProgress(token, params as ProgressValue);
                    this.refresh();
                    next(token, params);
                },
                workspace: {
                    configuration: async (params, token, next) => {
                        const answers = await next(params, token);
                        if (!Array.isArray(answers)) {
                            return answers;
                        }
                        return params.items.map((item, index) =>
                            item.section === SERVER_SECTION ? settingsFor(item.scopeUri) : answers[index],
                        );
                    },
                },
            },
        };
    }

    private async offerInstall(interpreter: string[]): Promise<void> {
        const answer = await vscode.window.showInformationMessage(
            `numpyro-lint is not installed in ${interpreter.join(' ')}. Install it with pip?`,
            INSTALL,
        );
        if (answer !== INSTALL) {
            return;
        }
        const launch = installLaunch(interpreter);
        this.output.info(`$ ${launch.command} ${launch.args.join(' ')}`);
        const result = await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: 'Installing numpyro-lint' },
            () => runProcess(launch, { timeoutMs: 10 * 60_000, onOutput: (text) => this.output.append(text) }),
        );
        if (result.code === 0) {
            this.output.info('numpyro-lint installed; starting the server.');
            await this.restart();
        } else {
            this.output.error(`pip install failed${result.error ? `: ${result.error}` : ` with exit code ${result.code}`}`);
            await this.offerOutput('numpyro-lint: pip install failed.');
        }
    }

    private async cannotRunPython(interpreter: string[]): Promise<void> {
        const openSettings = 'Open settings';
        const answer = await vscode.window.showErrorMessage(
            `numpyro-lint could not run ${interpreter.join(' ')}. Select a Python interpreter or set numpyroLint.interpreter.`,
            openSettings,
            SHOW_OUTPUT,
        );
        if (answer === openSettings) {
            await vscode.commands.executeCommand('workbench.action.openSettings', `${EXTENSION_SECTION}.interpreter`);
        } else if (answer === SHOW_OUTPUT) {
            this.output.show();
        }
    }

    private notRunning(): Promise<void> {
        return this.offerOutput('The numpyro-lint server is not running.');
    }

    private async offerOutput(message: string): Promise<void> {
        if ((await vscode.window.showErrorMessage(message, SHOW_OUTPUT)) === SHOW_OUTPUT) {
            this.output.show();
        }
    }
}

type GraphClient = () => LanguageClient | undefined;

/** One webview beside the editor showing the graph of a document: the active Python one it follows,
 * redrawn a moment after each change. */
class GraphView {
    private panel: vscode.WebviewPanel | undefined;
    private document: vscode.TextDocument | undefined;
    private timer: ReturnType<typeof setTimeout> | undefined;
    private readonly listeners: vscode.Disposable[] = [];

    constructor(
        private readonly client: GraphClient,
        private readonly onClosed: () => void,
    ) {}

    async show(document: vscode.TextDocument): Promise<void> {
        this.document = document;
        if (!this.panel) {
            this.panel = vscode.window.createWebviewPanel(
                'numpyroLint.graph',
                panelTitle(document.uri.fsPath),
                { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
                { enableScripts: false },
            );
            this.panel.onDidDispose(() => this.dispose());
            this.listeners.push(
                vscode.workspace.onDidChangeTextDocument((event) => {
                    if (event.document.uri.toString() === this.document?.uri.toString()) {
                        this.redrawSoon();
                    }
                }),
                vscode.window.onDidChangeActiveTextEditor((editor) => {
                    if (editor?.document.languageId === 'python' && editor.document !== this.document) {
                        this.document = editor.document;
                        this.redrawSoon();
                    }
                }),
            );
        } else {
            this.panel.reveal(vscode.ViewColumn.Beside, true);
        }
        await this.redraw();
    }

    private redrawSoon(): void {
        if (this.timer) {
            clearTimeout(this.timer);
        }
        this.timer = setTimeout(() => void this.redraw(), REFRESH_DELAY_MS);
    }

    async redraw(): Promise<void> {
        const panel = this.panel;
        const document = this.document;
        if (!panel || !document) {
            return;
        }
        const client = this.client();
        let result: GraphResult | null = null;
        if (client?.state === State.Running) {
            try {
                result = (await client.sendRequest(ExecuteCommandRequest.type, {
                    command: SERVER_SHOW_GRAPH_COMMAND,
                    arguments: graphArguments(document.uri.toString()),
                })) as GraphResult | null;
            } catch (error) {
                result = { error: String(error) };
            }
        } else {
            result = { error: 'the numpyro-lint server is not running' };
        }
        if (this.panel === panel) {
            panel.title = panelTitle(document.uri.fsPath);
            panel.webview.html = graphHtml(result, document.uri.fsPath);
        }
    }

    private dispose(): void {
        if (this.timer) {
            clearTimeout(this.timer);
        }
        this.listeners.splice(0).forEach((listener) => listener.dispose());
        this.panel = undefined;
        this.onClosed();
    }
}

function serverOptions(interpreter: readonly string[]): ServerOptions {
    const launch = serverLaunch(interpreter);
    // No `transport`: with none the client talks over the process's stdio and adds nothing to `args`
    // (`TransportKind.stdio` would append a second `--stdio`).
    return {
        command: launch.command,
        args: launch.args,
        options: { cwd: projectFolder()?.uri.fsPath },
    };
}

async function fixAll(): Promise<void> {
    const languageId = vscode.window.activeTextEditor?.document.languageId;
    if (languageId === undefined || !LINTED_LANGUAGES.includes(languageId)) {
        void vscode.window.showWarningMessage('Open a Python file (or a Markdown document) to fix its numpyro-lint findings.');
        return;
    }
    await vscode.commands.executeCommand('editor.action.codeAction', { kind: FIX_ALL_KIND, apply: 'first' });
}
