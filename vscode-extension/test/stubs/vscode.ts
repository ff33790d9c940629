/**
 * A stand-in for the `vscode` module, just large enough for extension.ts: settings come from the
 * defaults in package.json plus what a test sets, messages are answered by `stub.answer`, and what the
 * extension asks of VS Code is recorded for the test to read.
 */
import * as fs from 'fs';
import * as path from 'path';

interface Message {
    severity: 'information' | 'warning' | 'error';
    text: string;
    items: string[];
}

type Listener<T> = (event: T) => unknown;

const contributed: Record<string, { default?: unknown }> = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'),
).contributes.configuration.properties;

export class Uri {
    private constructor(
        readonly scheme: string,
        readonly path: string,
    ) {}

    static file(fsPath: string): Uri {
        return new Uri('file', fsPath);
    }

    static parse(value: string): Uri {
        const match = /^([a-z][\w+.-]*):\/\/(.*)$/i.exec(value);
        return match ? new Uri(match[1], match[2]) : new Uri('file', value);
    }

    get fsPath(): string {
        return this.path;
    }

    toString(): string {
        return `${this.scheme}://${this.path}`;
    }
}

export enum StatusBarAlignment {
    Left = 1,
    Right = 2,
}

export enum ProgressLocation {
    Notification = 15,
}

export enum ViewColumn {
    Active = -1,
    Beside = -2,
    One = 1,
}

/** A webview panel as the extension sees it; `html` is what it would show. */
export interface StubWebviewPanel {
    viewType: string;
    title: string;
    showOptions: unknown;
    options: unknown;
    webview: { html: string };
    revealed: number;
    disposed: boolean;
    reveal(column?: ViewColumn, preserveFocus?: boolean): void;
    onDidDispose(listener: () => void): { dispose(): void };
    dispose(): void;
}

export interface StubStatusBarItem {
    id: string;
    name?: string;
    text: string;
    tooltip?: string;
    command?: string;
    visible: boolean;
}

function emitter<T>() {
    const listeners: Listener<T>[] = [];
    const event = (listener: Listener<T>) => {
        listeners.push(listener);
        return { dispose: () => listeners.splice(listeners.indexOf(listener), 1) };
    };
    return { event, fire: (value: T) => listeners.map((listener) => listener(value)) };
}

function freshState() {
    return {
        /** Settings the user set, by key under `numpyroLint.` (e.g. `smoke.enabled`). */
        userSettings: new Map<string, unknown>(),
        isTrusted: true,
        workspaceFolders: [{ uri: Uri.file('/project'), name: 'project', index: 0 }],
        activeDocument: undefined as { uri: Uri; languageId: string } | undefined,
        /** Documents in visible editors besides the active one. */
        visibleDocuments: [] as { uri: Uri; languageId: string }[],
        commands: new Map<string, (...args: unknown[]) => unknown>(),
        executed: [] as { command: string; args: unknown[] }[],
        messages: [] as Message[],
        /** Which button the user clicks on a message; undefined closes it. */
        answer: (_message: Message): string | undefined => undefined,
        statusItems: [] as StubStatusBarItem[],
        outputShown: 0,
        log: [] as string[],
        extensions: new Map<string, unknown>(),
        configurationChanged: emitter<{ affectsConfiguration(section: string): boolean }>(),
        trustGranted: emitter<void>(),
        panels: [] as StubWebviewPanel[],
        documentChanged: emitter<{ document: { uri: Uri } }>(),
        activeEditorChanged: emitter<{ document: { uri: Uri; languageId: string } } | undefined>(),
    };
}

export const stub = {
    state: freshState(),
    reset(): void {
        stub.state = freshState();
    },
    /** Change a user setting the way the Settings editor does, firing onDidChangeConfiguration. */
    changeSetting(key: string, value: unknown): void {
        stub.state.userSettings.set(key, value);
        const full = `numpyroLint.${key}`;
        stub.state.configurationChanged.fire({
            affectsConfiguration: (section: string) => full === section || full.startsWith(`${section}.`),
        });
    },
    grantTrust(): void {
        stub.state.isTrusted = true;
        stub.state.trustGranted.fire();
    },
};

function show(severity: Message['severity']) {
    return async (text: string, ...items: string[]): Promise<string | undefined> => {
        const message = { severity, text, items };
        stub.state.messages.push(message);
        return stub.state.answer(message);
    };
}

export const window = {
    get activeTextEditor() {
        const document = stub.state.activeDocument;
        return document ? { document } : undefined;
    },
    get visibleTextEditors() {
        return stub.state.visibleDocuments.map((document) => ({ document }));
    },
    createOutputChannel(_name: string, _options?: unknown) {
        const log = (line: string) => stub.state.log.push(line);
        return {
            info: log,
            warn: log,
            error: log,
            append: log,
            appendLine: log,
            show: () => (stub.state.outputShown += 1),
            dispose: () => undefined,
        };
    },
    createStatusBarItem(id: string, _alignment?: StatusBarAlignment, _priority?: number) {
        const item: StubStatusBarItem & { show(): void; hide(): void; dispose(): void } = {
            id,
            text: '',
            visible: false,
            show: () => (item.visible = true),
            hide: () => (item.visible = false),
            dispose: () => (item.visible = false),
        };
        stub.state.statusItems.push(item);
        return item;
    },
    showInformationMessage: show('information'),
    showWarningMessage: show('warning'),
    showErrorMessage: show('error'),
    withProgress<R>(_options: unknown, task: () => Promise<R>): Promise<R> {
        return task();
    },
    createWebviewPanel(viewType: string, title: string, showOptions: unknown, options: unknown): StubWebviewPanel {
        const disposed = emitter<void>();
        const panel: StubWebviewPanel = {
            viewType,
            title,
            showOptions,
            options,
            webview: { html: '' },
            revealed: 0,
            disposed: false,
            reveal: () => (panel.revealed += 1),
            onDidDispose: (listener) => disposed.event(listener),
            dispose: () => {
                panel.disposed = true;
                disposed.fire();
            },
        };
        stub.state.panels.push(panel);
        return panel;
    },
    onDidChangeActiveTextEditor: (listener: Listener<{ document: { uri: Uri; languageId: string } } | undefined>) =>
        stub.state.activeEditorChanged.event(listener),
};

export const workspace = {
    get isTrusted() {
        return stub.state.isTrusted;
    },
    get workspaceFolders() {
        return stub.state.workspaceFolders;
    },
    getConfiguration(section: string, _scope?: unknown) {
        const property = (key: string) => contributed[`${section}.${key}`];
        return {
            get<T>(key: string): T | undefined {
                const user = stub.state.userSettings;
                return (user.has(key) ? user.get(key) : property(key)?.default) as T | undefined;
            },
            inspect<T>(key: string) {
                return {
                    key: `${section}.${key}`,
                    defaultValue: property(key)?.default as T | undefined,
                    globalValue: stub.state.userSettings.get(key) as T | undefined,
                };
            },
        };
    },
    onDidChangeConfiguration: (listener: Listener<{ affectsConfiguration(section: string): boolean }>) =>
        stub.state.configurationChanged.event(listener),
    onDidGrantWorkspaceTrust: (listener: Listener<void>) => stub.state.trustGranted.event(listener),
    onDidChangeTextDocument: (listener: Listener<{ document: { uri: Uri } }>) => stub.state.documentChanged.event(listener),
};

export const commands = {
    registerCommand(id: string, callback: (...args: unknown[]) => unknown) {
        stub.state.commands.set(id, callback);
        return { dispose: () => stub.state.commands.delete(id) };
    },
    async executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
        stub.state.executed.push({ command, args });
        return stub.state.commands.get(command)?.(...args);
    },
};

export const extensions = {
    getExtension(id: string) {
        return stub.state.extensions.get(id);
    },
};
