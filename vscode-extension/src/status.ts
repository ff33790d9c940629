/**
 * What the status bar item says about the smoke runner: idle, compiling, sampling, or the findings of
 * the last run. Fed by the server's work-done progress (`$/progress`) for smoke runs and by its
 * `numpyro-lint/runnerState` notification; whichever spoke last wins.
 */

export type RunnerState = 'idle' | 'compiling' | 'sampling';

/** Params of the `numpyro-lint/runnerState` notification. */
export interface RunnerStateParams {
    state: RunnerState;
    findings?: number;
}

export const RUNNER_STATE_NOTIFICATION = 'numpyro-lint/runnerState';

/** The `value` of a `$/progress` notification (LSP WorkDoneProgressBegin | Report | End). */
export type ProgressValue =
    | { kind: 'begin'; title: string; message?: string }
    | { kind: 'report'; message?: string }
    | { kind: 'end'; message?: string };

export type ServerState = 'starting' | 'running' | 'stopped';

export interface StatusView {
    text: string;
    tooltip: string;
}

/** The runner phase a progress title or message speaks of, if any. */
export function phaseOf(text: string | undefined): Exclude<RunnerState, 'idle'> | undefined {
    const lower = (text ?? '').toLowerCase();
    if (lower.includes('warmup') || lower.includes('sampl')) {
        return 'sampling';
    }
    if (lower.includes('compil')) {
        return 'compiling';
    }
    return undefined;
}

/** The number in an end message such as "3 findings" or "1 finding". */
export function findingsIn(message: string | undefined): number | undefined {
    const match = /(\d+)\s+findings?\b/i.exec(message ?? '');
    return match ? Number(match[1]) : undefined;
}

export class RunnerStatus {
    /** Smoke runs in progress, by progress token, in the order they last reported. */
    private readonly runs = new Map<string | number, RunnerState>();
    private state: RunnerState = 'idle';
    private findings: number | undefined;
    /** The latest begin/report message of a run in progress. */
    private lastMessage: string | undefined;
    /** How the last run ended, as the server put it ("3 findings", "cancelled", "failed: ..."). */
    private outcome: string | undefined;
    private server: ServerState = 'starting';

    setServerState(server: ServerState): void {
        this.server = server;
        if (server !== 'running') {
            this.runs.clear();
            this.state = 'idle';
        }
    }

    /** Take one `$/progress` value; progress that is not about a smoke run is ignored. */
    onProgress(token: string | number, value: ProgressValue): void {
        if (value.kind === 'begin') {
            const phase = phaseOf(value.message) ?? phaseOf(value.title);
            if (phase === undefined && !/smoke/i.test(value.title)) {
                return;
            }
            // A run's first phase is starting the runner and tracing the model: call it compiling.
            this.track(token, phase ?? 'compiling');
            this.lastMessage = value.message;
        } else if (this.runs.has(token)) {
            if (value.kind === 'report') {
                this.track(token, phaseOf(value.message) ?? this.runs.get(token)!);
                this.lastMessage = value.message ?? this.lastMessage;
            } else {
                this.runs.delete(token);
                this.findings = findingsIn(value.message) ?? this.findings;
                this.outcome = value.message;
                this.state = [...this.runs.values()].pop() ?? 'idle';
            }
        }
    }

    onRunnerState(params: RunnerStateParams): void {
        this.state = params.state;
        if (typeof params.findings === 'number') {
            this.findings = params.findings;
            this.outcome = undefined;
        }
        if (params.state === 'idle') {
            this.runs.clear();
        }
    }

    view(): StatusView {
        const clickHint = 'Click to show the numpyro-lint output.';
        if (this.server === 'stopped') {
            return { text: '$(error) numpyro-lint: stopped', tooltip: `The numpyro-lint server is not running. ${clickHint}` };
        }
        if (this.server === 'starting') {
            return { text: '$(sync~spin) numpyro-lint: starting', tooltip: `Starting the numpyro-lint server. ${clickHint}` };
        }
        const detail = this.lastMessage ? ` (${this.lastMessage})` : '';
        if (this.state === 'compiling') {
            return { text: '$(sync~spin) numpyro-lint: compiling', tooltip: `Smoke run: compiling the model${detail}. ${clickHint}` };
        }
        if (this.state === 'sampling') {
            return { text: '$(sync~spin) numpyro-lint: sampling', tooltip: `Smoke run: sampling${detail}. ${clickHint}` };
        }
        const outcome = this.outcome ?? (this.findings === undefined ? undefined : plural(this.findings));
        const tooltip = outcome ? `Last smoke run: ${outcome}. ${clickHint}` : `No smoke run yet. ${clickHint}`;
        if (this.findings === undefined) {
            return { text: 'numpyro-lint: idle', tooltip };
        }
        const icon = this.findings === 0 ? '$(check)' : '$(warning)';
        return { text: `${icon} numpyro-lint: ${plural(this.findings)}`, tooltip };
    }

    private track(token: string | number, state: RunnerState): void {
        this.runs.delete(token);
        this.runs.set(token, state);
        this.state = state;
    }
}

function plural(findings: number): string {
    return `${findings} ${findings === 1 ? 'finding' : 'findings'}`;
}
