import * as assert from 'assert';
import {
    checkServerInstalled,
    chooseInterpreter,
    installLaunch,
    PythonEnvironments,
    resolveVariables,
    runProcess,
    serverLaunch,
} from '../src/interpreter';

/** The Python extension with `executable` selected (at `version`), recording the resource it was asked about. */
function pythonExtension(executable: string | undefined, version = { major: 3, minor: 12 }) {
    const asked: unknown[] = [];
    const environments: PythonEnvironments = {
        getActiveEnvironmentPath(resource) {
            asked.push(resource);
            return { id: 'active', path: executable ?? '' };
        },
        async resolveEnvironment() {
            return { executable: { uri: executable ? { fsPath: executable } : undefined }, version };
        },
    };
    return { environments, asked };
}

describe('choosing the interpreter that runs the server', () => {
    it('uses numpyroLint.interpreter when it is set, over the Python extension', async () => {
        const { environments, asked } = pythonExtension('/envs/selected/bin/python');
        const choice = await chooseInterpreter(['/opt/py/bin/python', '-X', 'utf8'], environments);
        assert.deepStrictEqual(choice, { command: ['/opt/py/bin/python', '-X', 'utf8'], source: 'setting' });
        assert.deepStrictEqual(asked, [], 'the Python extension is not consulted');
    });

    it("uses the Python extension's selected interpreter for the workspace when the setting is empty", async () => {
        const { environments, asked } = pythonExtension('/project/.venv/bin/python');
        for (const setting of [[], [''], undefined]) {
            const choice = await chooseInterpreter(setting, environments, 'file:///project');
            assert.deepStrictEqual(choice, { command: ['/project/.venv/bin/python'], source: 'python-extension' });
        }
        assert.deepStrictEqual(asked, ['file:///project', 'file:///project', 'file:///project']);
    });

    it('falls back to python3 without the Python extension (python on Windows)', async () => {
        assert.deepStrictEqual(await chooseInterpreter([], undefined, undefined, 'linux'), {
            command: ['python3'],
            source: 'fallback',
            note: undefined,
        });
        assert.deepStrictEqual((await chooseInterpreter([], undefined, undefined, 'win32')).command, ['python']);
    });

    it('falls back, saying why, when the selected interpreter is older than Python 3.10', async () => {
        const { environments } = pythonExtension('/usr/bin/python3.9', { major: 3, minor: 9 });
        const choice = await chooseInterpreter([], environments, undefined, 'linux');
        assert.deepStrictEqual(choice.command, ['python3']);
        assert.match(choice.note ?? '', /\/usr\/bin\/python3\.9 is Python 3\.9; numpyro-lint needs Python 3\.10 or newer/);
    });

    it('falls back when the Python extension has no interpreter or fails', async () => {
        const none = await chooseInterpreter([], pythonExtension(undefined).environments, undefined, 'linux');
        assert.deepStrictEqual(none.command, ['python3']);
        assert.match(none.note ?? '', /no interpreter selected/);

        const broken: PythonEnvironments = {
            getActiveEnvironmentPath: () => ({ id: 'x', path: 'x' }),
            resolveEnvironment: async () => {
                throw new Error('discovery crashed');
            },
        };
        const failed = await chooseInterpreter([], broken, undefined, 'linux');
        assert.deepStrictEqual(failed.command, ['python3']);
        assert.match(failed.note ?? '', /discovery crashed/);
    });

    it('expands ${workspaceFolder}, ${userHome} and ${env:NAME} in the setting', () => {
        const resolved = resolveVariables(['${workspaceFolder}/.venv/bin/python', '${userHome}/x', '${env:PYFLAGS}'], {
            workspaceFolder: '/work/proj',
            userHome: '/home/me',
            env: { PYFLAGS: '-I' },
        });
        assert.deepStrictEqual(resolved, ['/work/proj/.venv/bin/python', '/home/me/x', '-I']);
    });
});

describe('commands run in the chosen interpreter', () => {
    it('starts the server as `<python> -m numpyro_lint server --stdio`, keeping leading arguments', () => {
        assert.deepStrictEqual(serverLaunch(['/venv/bin/python']), {
            command: '/venv/bin/python',
            args: ['-m', 'numpyro_lint', 'server', '--stdio'],
        });
        assert.deepStrictEqual(serverLaunch(['py', '-3.11']), { command: 'py', args: ['-3.11', '-m', 'numpyro_lint', 'server', '--stdio'] });
    });

    it('installs with `<python> -m pip install numpyro-lint` into that same interpreter', () => {
        assert.deepStrictEqual(installLaunch(['/venv/bin/python']), {
            command: '/venv/bin/python',
            args: ['-m', 'pip', 'install', 'numpyro-lint'],
        });
    });

    it('tells an interpreter without numpyro_lint from one that does not run at all', async () => {
        const ran: string[][] = [];
        const installed = await checkServerInstalled(['/venv/bin/python'], async (launch) => {
            ran.push([launch.command, ...launch.args]);
            return { code: 0, output: '' };
        });
        assert.deepStrictEqual(installed, { state: 'installed' });
        assert.deepStrictEqual(ran, [['/venv/bin/python', '-c', 'import numpyro_lint']]);

        const missing = await checkServerInstalled(['python3'], async () => ({
            code: 1,
            output: "ModuleNotFoundError: No module named 'numpyro_lint'\n",
        }));
        assert.deepStrictEqual(missing, { state: 'missing', detail: "ModuleNotFoundError: No module named 'numpyro_lint'" });

        const absent = await checkServerInstalled(['/no/such/python']);
        assert.strictEqual(absent.state, 'no-python');
    });

    it('streams a process’s output and reports its exit code', async () => {
        const seen: string[] = [];
        const result = await runProcess(
            { command: process.execPath, args: ['-e', 'console.log("hello"); process.exit(3)'] },
            { onOutput: (text) => seen.push(text) },
        );
        assert.strictEqual(result.code, 3);
        assert.strictEqual(result.output, 'hello\n');
        assert.deepStrictEqual(seen.join(''), 'hello\n');
    });
});
