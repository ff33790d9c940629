/**
 * Which Python runs the server, following Microsoft's vscode-python-tools-extension-template: the
 * `numpyroLint.interpreter` setting, else the environment selected in the Python extension, else `python3`.
 * No VS Code import here: the Python extension's API is passed in, so the choice is testable on its own.
 */
import { spawn } from 'child_process';

/** The oldest Python that numpyro-lint supports (`requires-python` in pyproject.toml). */
export const MIN_PYTHON: readonly [number, number] = [3, 10];

/** The part of the Python extension's `environments` API used here (ms-python.python exports). */
export interface PythonEnvironments {
    getActiveEnvironmentPath(resource?: unknown): { id: string; path: string };
    resolveEnvironment(environment: { id: string; path: string } | string): Promise<ResolvedEnvironment | undefined>;
}

export interface ResolvedEnvironment {
    executable: { uri?: { fsPath: string } };
    version?: { major: number; minor: number; micro?: number };
}

export type InterpreterSource = 'setting' | 'python-extension' | 'fallback';

export interface InterpreterChoice {
    /** The interpreter and any arguments that come before `-m`, e.g. `["/venv/bin/python"]`. */
    command: string[];
    source: InterpreterSource;
    /** Why an earlier source was passed over, for the output channel. */
    note?: string;
}

/** Values for `${workspaceFolder}`, `${userHome}` and `${env:NAME}` in the interpreter setting. */
export interface Variables {
    workspaceFolder?: string;
    userHome?: string;
    env: Record<string, string | undefined>;
}

export function resolveVariables(values: readonly string[], variables: Variables): string[] {
    return values.map((value) =>
        value.replace(/\$\{(workspaceFolder|userHome|env:([^}]+))\}/g, (match, name: string, envName?: string) => {
            if (envName !== undefined) {
                return variables.env[envName] ?? '';
            }
            const replacement = name === 'workspaceFolder' ? variables.workspaceFolder : variables.userHome;
            return replacement ?? match;
        }),
    );
}

export function fallbackPython(platform: NodeJS.Platform = process.platform): string {
    // On Windows `python3` is often the Microsoft Store stub; `python` is what installers put on PATH.
    return platform === 'win32' ? 'python' : 'python3';
}

/** The interpreter to run the server with; never throws. */
export async function chooseInterpreter(
    setting: readonly string[] | undefined,
    environments: PythonEnvironments | undefined,
    resource?: unknown,
    platform: NodeJS.Platform = process.platform,
): Promise<InterpreterChoice> {
    const configured = (setting ?? []).filter((part) => part.trim() !== '');
    if (configured.length > 0) {
        return { command: configured, source: 'setting' };
    }
    const fallback = (note?: string): InterpreterChoice => ({ command: [fallbackPython(platform)], source: 'fallback', note });
    if (environments === undefined) {
        return fallback();
    }
    let environment: ResolvedEnvironment | undefined;
    try {
        environment = await environments.resolveEnvironment(environments.getActiveEnvironmentPath(resource));
    } catch (error) {
        return fallback(`the Python extension could not resolve its selected interpreter (${String(error)})`);
    }
    const executable = environment?.executable.uri?.fsPath;
    if (!executable) {
        return fallback('the Python extension has no interpreter selected');
    }
    const version = environment?.version;
    if (version && !isSupported(version)) {
        return fallback(
            `the Python extension's interpreter ${executable} is Python ${version.major}.${version.minor}; ` +
                `numpyro-lint needs Python ${MIN_PYTHON.join('.')} or newer`,
        );
    }
    return { command: [executable], source: 'python-extension' };
}

function isSupported(version: { major: number; minor: number }): boolean {
    const [major, minor] = MIN_PYTHON;
    return version.major > major || (version.major === major && version.minor >= minor);
}

export interface Launch {
    command: string;
    args: string[];
}

function withModule(interpreter: readonly string[], moduleArgs: string[]): Launch {
    return { command: interpreter[0], args: [...interpreter.slice(1), ...moduleArgs] };
}

/** The server over stdio. The flag is named here, not left to the client's `TransportKind.stdio`, so that this is the whole command line. */
export function serverLaunch(interpreter: readonly string[]): Launch {
    return withModule(interpreter, ['-m', 'numpyro_lint', 'server', '--stdio']);
}

export function installLaunch(interpreter: readonly string[]): Launch {
    return withModule(interpreter, ['-m', 'pip', 'install', 'numpyro-lint']);
}

export function importCheckLaunch(interpreter: readonly string[]): Launch {
    return withModule(interpreter, ['-c', 'import numpyro_lint']);
}

/** `installed`: the import works; `missing`: Python ran but cannot import numpyro_lint; `no-python`: it did not run. */
export type ServerAvailability = { state: 'installed' } | { state: 'missing'; detail: string } | { state: 'no-python'; detail: string };

export interface ProcessResult {
    /** Exit code, or null when the process could not be started (or was killed). */
    code: number | null;
    output: string;
    error?: string;
}

export type RunProcess = (launch: Launch) => Promise<ProcessResult>;

export async function checkServerInstalled(interpreter: readonly string[], run: RunProcess = runProcess): Promise<ServerAvailability> {
    const result = await run(importCheckLaunch(interpreter));
    if (result.code === 0) {
        return { state: 'installed' };
    }
    if (result.code === null) {
        return { state: 'no-python', detail: result.error ?? result.output };
    }
    return { state: 'missing', detail: result.output.trim() };
}

/** Runs `launch` to completion; `onOutput` sees stdout and stderr as they come (pip is slow to finish). */
export function runProcess(
    launch: Launch,
    options: { timeoutMs?: number; onOutput?: (text: string) => void } = {},
): Promise<ProcessResult> {
    return new Promise((resolve) => {
        let output = '';
        let settled = false;
        const finish = (result: ProcessResult) => {
            if (!settled) {
                settled = true;
                clearTimeout(timer);
                resolve(result);
            }
        };
        const child = spawn(launch.command, launch.args, { windowsHide: true, stdio: ['ignore', 'pipe', 'pipe'] });
        const timer = setTimeout(() => {
            child.kill();
            finish({ code: null, output, error: `timed out after ${options.timeoutMs} ms` });
        }, options.timeoutMs ?? 30_000);
        const collect = (chunk: Buffer) => {
            const text = chunk.toString();
            output += text;
            options.onOutput?.(text);
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        child.on('error', (error) => finish({ code: null, output, error: error.message }));
        child.on('close', (code) => finish({ code, output }));
    });
}
