import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { serverSettings, SettingsSource } from '../src/settings';

const contributed: Record<string, { type: string; default?: unknown; enum?: string[] }> = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'),
).contributes.configuration.properties;

/** `numpyroLint` settings as VS Code shows them: package.json defaults, overridden by what the user set. */
function configuration(user: Record<string, unknown>): SettingsSource {
    const defaultOf = (key: string) => contributed[`numpyroLint.${key}`]?.default;
    return {
        get: <T>(key: string) => (key in user ? user[key] : defaultOf(key)) as T,
        inspect: <T>(key: string) => ({ defaultValue: defaultOf(key) as T, globalValue: user[key] as T }),
    };
}

describe('settings sent to the server', () => {
    it('sends nothing the user did not set, so pyproject.toml keeps its say', () => {
        assert.deepStrictEqual(serverSettings(configuration({}), true), {});
    });

    it('maps every setting to the kebab-case key of [tool.numpyro-lint]', () => {
        const user = {
            select: ['NPL1', 'NPL401'],
            ignore: ['NPL203'],
            widePriorScale: 50,
            debounceMs: 300,
            inlayHints: true,
            conventionalNames: false,
            'smoke.enabled': true,
            'smoke.onOpen': false,
            'smoke.python': '/envs/jax/bin/python',
            'smoke.platform': 'gpu',
            'smoke.timeoutS': 30,
            'smoke.memoryMb': 2048,
        };
        assert.deepStrictEqual(serverSettings(configuration(user), true), {
            select: ['NPL1', 'NPL401'],
            ignore: ['NPL203'],
            'wide-prior-scale': 50,
            'debounce-ms': 300,
            'inlay-hints': true,
            'conventional-names': false,
            smoke: {
                enabled: true, 'on-open': false, python: '/envs/jax/bin/python', platform: 'gpu', 'timeout-s': 30,
                'memory-mb': 2048,
            },
        });
    });

    it('sends a setting set back to its default value (the user chose it over pyproject.toml)', () => {
        assert.deepStrictEqual(serverSettings(configuration({ widePriorScale: 100 }), true), { 'wide-prior-scale': 100 });
    });

    it('treats an empty smoke.python as unset', () => {
        assert.deepStrictEqual(serverSettings(configuration({ 'smoke.python': '' }), true), {});
    });

    it('every contributed setting but the interpreter reaches the server', () => {
        const sample = (property: { type: string; enum?: string[] }): unknown =>
            property.enum?.[0] ?? { array: ['NPL1'], number: 7, integer: 7, boolean: true, string: 'x' }[property.type];
        const user = Object.fromEntries(
            Object.entries(contributed)
                .filter(([name]) => name !== 'numpyroLint.interpreter')
                .map(([name, property]) => [name.slice('numpyroLint.'.length), sample(property)]),
        );
        const sent = serverSettings(configuration(user), true);
        const keys = [...Object.keys(sent).filter((key) => key !== 'smoke'), ...Object.keys(sent.smoke ?? {}).map((key) => `smoke.${key}`)];
        assert.strictEqual(keys.length, Object.keys(user).length, `sent ${JSON.stringify(sent)} for ${JSON.stringify(user)}`);
    });
});

describe('workspace trust', () => {
    it('turns smoke runs off in an untrusted workspace even when the user enabled them', () => {
        const user = { 'smoke.enabled': true, 'smoke.python': '/envs/jax/bin/python', 'smoke.platform': 'cpu', select: ['NPL'] };
        assert.deepStrictEqual(serverSettings(configuration(user), false), {
            select: ['NPL'],
            smoke: { enabled: false, platform: 'cpu' },
        });
    });

    it('sends smoke.enabled = false in an untrusted workspace even when unset, overriding pyproject.toml', () => {
        assert.deepStrictEqual(serverSettings(configuration({}), false), { smoke: { enabled: false } });
    });

    it('honours smoke.enabled once the workspace is trusted', () => {
        const source = configuration({ 'smoke.enabled': true });
        assert.deepStrictEqual(serverSettings(source, false).smoke, { enabled: false });
        assert.deepStrictEqual(serverSettings(source, true).smoke, { enabled: true });
    });
});
