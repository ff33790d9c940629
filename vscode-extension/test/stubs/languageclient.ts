/** A stand-in for `vscode-languageclient/node`: records what the extension sends and lets a test play the server. */

export enum State {
    Stopped = 1,
    Running = 2,
    Starting = 3,
}

export enum TransportKind {
    stdio = 0,
    ipc = 1,
    pipe = 2,
    socket = 3,
}

export const DidChangeConfigurationNotification = { type: { method: 'workspace/didChangeConfiguration' } };
export const ExecuteCommandRequest = { type: { method: 'workspace/executeCommand' } };

type StateListener = (event: { oldState: State; newState: State }) => void;

export class LanguageClient {
    static instances: LanguageClient[] = [];

    state = State.Stopped;
    readonly sent: { method: string; params: unknown }[] = [];
    /** What the server answers to requests, by method. */
    readonly answers = new Map<string, unknown>();
    private readonly notificationHandlers = new Map<string, (params: unknown) => void>();
    private readonly stateListeners: StateListener[] = [];

    constructor(
        readonly id: string,
        readonly name: string,
        readonly serverOptions: { command: string; args: string[]; transport?: TransportKind; options?: { cwd?: string } },
        readonly clientOptions: Record<string, any>,
    ) {
        LanguageClient.instances.push(this);
    }

    /** The command line the real client (vscode-languageclient 9, `Executable`) spawns: it appends a flag naming the transport. */
    commandLine(): string[] {
        const { command, args, transport } = this.serverOptions;
        const flags = { [TransportKind.stdio]: ['--stdio'], [TransportKind.pipe]: ['--pipe=<name>'] } as Record<number, string[]>;
        return [command, ...args, ...(transport === undefined ? [] : flags[transport] ?? [])];
    }

    /** How the real client talks to the process: over its stdio unless a pipe or socket transport is named. */
    channel(): 'stdio' | 'other' {
        const transport = this.serverOptions.transport;
        return transport === undefined || transport === TransportKind.stdio ? 'stdio' : 'other';
    }

    async start(): Promise<void> {
        this.setState(State.Starting);
        this.setState(State.Running);
    }

    async stop(): Promise<void> {
        this.setState(State.Stopped);
    }

    needsStop(): boolean {
        return this.state !== State.Stopped;
    }

    onDidChangeState(listener: StateListener) {
        this.stateListeners.push(listener);
        return { dispose: () => undefined };
    }

    onNotification(method: string, handler: (params: unknown) => void) {
        this.notificationHandlers.set(method, handler);
        return { dispose: () => this.notificationHandlers.delete(method) };
    }

    async sendNotification(type: { method: string }, params: unknown): Promise<void> {
        this.sent.push({ method: type.method, params });
    }

    async sendRequest(type: { method: string }, params: unknown): Promise<unknown> {
        this.sent.push({ method: type.method, params });
        return this.answers.get(type.method) ?? null;
    }

    /** The server sends a notification to the client. */
    receive(method: string, params: unknown): void {
        this.notificationHandlers.get(method)?.(params);
    }

    private setState(newState: State): void {
        const oldState = this.state;
        this.state = newState;
        this.stateListeners.forEach((listener) => listener({ oldState, newState }));
    }
}
