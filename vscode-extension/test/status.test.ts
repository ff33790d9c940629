import * as assert from 'assert';
import { RunnerStatus } from '../src/status';

function running(): RunnerStatus {
    const status = new RunnerStatus();
    status.setServerState('running');
    return status;
}

const text = (status: RunnerStatus) => status.view().text;

describe('status bar text', () => {
    it('shows the server starting, then idle once it runs', () => {
        const status = new RunnerStatus();
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: starting');
        status.setServerState('running');
        assert.strictEqual(text(status), 'numpyro-lint: idle');
        assert.match(status.view().tooltip, /No smoke run yet/);
    });

    it('follows a smoke run through compiling and sampling to its findings', () => {
        const status = running();
        status.onProgress('run-1', { kind: 'begin', title: 'numpyro-lint smoke run', message: 'model.py' });
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: compiling');
        status.onProgress('run-1', { kind: 'report', message: 'compiling model' });
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: compiling');
        status.onProgress('run-1', { kind: 'report', message: 'warmup 10/50' });
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: sampling');
        assert.match(status.view().tooltip, /warmup 10\/50/);
        status.onProgress('run-1', { kind: 'report', message: 'Sampling 5/20' });
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: sampling');
        status.onProgress('run-1', { kind: 'end', message: '3 findings' });
        assert.strictEqual(text(status), '$(warning) numpyro-lint: 3 findings');
        assert.match(status.view().tooltip, /Last smoke run: 3 findings/);
    });

    it('says "1 finding" and shows a check for a clean run', () => {
        const status = running();
        status.onProgress(7, { kind: 'begin', title: 'numpyro-lint smoke run' });
        status.onProgress(7, { kind: 'end', message: '1 finding' });
        assert.strictEqual(text(status), '$(warning) numpyro-lint: 1 finding');
        status.onProgress(8, { kind: 'begin', title: 'numpyro-lint smoke run' });
        status.onProgress(8, { kind: 'end', message: '0 findings' });
        assert.strictEqual(text(status), '$(check) numpyro-lint: 0 findings');
    });

    it('ignores progress that is not a smoke run', () => {
        const status = running();
        status.onProgress('index', { kind: 'begin', title: 'Indexing workspace', message: '3/40 files' });
        status.onProgress('index', { kind: 'end' });
        assert.strictEqual(text(status), 'numpyro-lint: idle');
    });

    it('keeps showing a run still going when another one ends', () => {
        const status = running();
        status.onProgress('a', { kind: 'begin', title: 'numpyro-lint smoke run', message: 'a.py' });
        status.onProgress('b', { kind: 'begin', title: 'numpyro-lint smoke run', message: 'b.py' });
        status.onProgress('a', { kind: 'report', message: 'sampling 1/10' });
        status.onProgress('a', { kind: 'end', message: '2 findings' });
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: compiling');
        status.onProgress('b', { kind: 'end', message: '0 findings' });
        assert.strictEqual(text(status), '$(check) numpyro-lint: 0 findings');
    });

    it('says in the tooltip when the last run was cancelled or failed', () => {
        const status = running();
        status.onProgress('a', { kind: 'begin', title: 'numpyro-lint smoke run' });
        status.onProgress('a', { kind: 'end', message: '2 findings' });
        status.onProgress('b', { kind: 'begin', title: 'numpyro-lint smoke run' });
        status.onProgress('b', { kind: 'end', message: 'failed: runner exited with code 137' });
        assert.strictEqual(text(status), '$(warning) numpyro-lint: 2 findings');
        assert.match(status.view().tooltip, /Last smoke run: failed: runner exited with code 137/);
    });

    it('follows the numpyro-lint/runnerState notification', () => {
        const status = running();
        status.onRunnerState({ state: 'compiling' });
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: compiling');
        status.onRunnerState({ state: 'sampling' });
        assert.strictEqual(text(status), '$(sync~spin) numpyro-lint: sampling');
        status.onRunnerState({ state: 'idle', findings: 4 });
        assert.strictEqual(text(status), '$(warning) numpyro-lint: 4 findings');
        status.onRunnerState({ state: 'idle' });
        assert.strictEqual(text(status), '$(warning) numpyro-lint: 4 findings', 'findings stay until the next run reports');
    });

    it('shows a stopped server, and forgets runs it had in progress', () => {
        const status = running();
        status.onProgress('a', { kind: 'begin', title: 'numpyro-lint smoke run', message: 'compiling' });
        status.setServerState('stopped');
        assert.strictEqual(text(status), '$(error) numpyro-lint: stopped');
        status.setServerState('running');
        assert.strictEqual(text(status), 'numpyro-lint: idle');
    });
});
