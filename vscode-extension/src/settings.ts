/**
 * The extension's `numpyroLint.*` settings as the server reads them: the `[tool.numpyro-lint]` table shape,
 * kebab-case keys, sent as `initializationOptions` and as the `numpyro-lint` section of
 * `workspace/configuration`.
 *
 * Only settings the user actually set are sent. The server puts the editor's settings over the nearest
 * pyproject.toml, so sending the contributed defaults would silently override a project's own table.
 * Smoke runs execute model code, so in an untrusted workspace `smoke.enabled` is always sent as false,
 * which also overrides a pyproject.toml that turns them on.
 */

/** The configuration section the server asks for. */
export const SERVER_SECTION = 'numpyro-lint';

/** The extension's own configuration section. */
export const EXTENSION_SECTION = 'numpyroLint';

/** What `vscode.WorkspaceConfiguration` offers for section `numpyroLint`. */
export interface SettingsSource {
    get<T>(key: string): T | undefined;
    inspect<T>(key: string): ScopedValues<T> | undefined;
}

export interface ScopedValues<T> {
    globalValue?: T;
    workspaceValue?: T;
    workspaceFolderValue?: T;
    globalLanguageValue?: T;
    workspaceLanguageValue?: T;
    workspaceFolderLanguageValue?: T;
}

export interface SmokeOptions {
    enabled?: boolean;
    'on-open'?: boolean;
    python?: string;
    platform?: string;
    'timeout-s'?: number;
    'memory-mb'?: number;
}

export interface ServerSettings {
    select?: string[];
    ignore?: string[];
    'wide-prior-scale'?: number;
    'debounce-ms'?: number;
    'inlay-hints'?: boolean;
    'conventional-names'?: boolean;
    smoke?: SmokeOptions;
}

/** Extension setting (under `numpyroLint.`) -> key in the server's table. */
const TOP_LEVEL: ReadonlyArray<[string, Exclude<keyof ServerSettings, 'smoke'>]> = [
    ['select', 'select'],
    ['ignore', 'ignore'],
    ['widePriorScale', 'wide-prior-scale'],
    ['debounceMs', 'debounce-ms'],
    ['inlayHints', 'inlay-hints'],
    ['conventionalNames', 'conventional-names'],
];

const SMOKE: ReadonlyArray<[string, keyof SmokeOptions]> = [
    ['smoke.enabled', 'enabled'],
    ['smoke.onOpen', 'on-open'],
    ['smoke.python', 'python'],
    ['smoke.platform', 'platform'],
    ['smoke.timeoutS', 'timeout-s'],
    ['smoke.memoryMb', 'memory-mb'],
];

/** The server's settings for one scope (a workspace folder or document), gated by workspace trust. */
export function serverSettings(source: SettingsSource, isTrusted: boolean): ServerSettings {
    const settings: ServerSettings = {};
    for (const [name, key] of TOP_LEVEL) {
        const value = userValue(source, name);
        if (value !== undefined) {
            (settings as Record<string, unknown>)[key] = value;
        }
    }
    const smoke: SmokeOptions = {};
    for (const [name, key] of SMOKE) {
        const value = userValue(source, name);
        if (value !== undefined) {
            (smoke as Record<string, unknown>)[key] = value;
        }
    }
    if (!isTrusted) {
        smoke.enabled = false;
        delete smoke.python;
    }
    if (Object.keys(smoke).length > 0) {
        settings.smoke = smoke;
    }
    return settings;
}

/** The effective value of a setting the user set somewhere, else undefined; empty strings count as unset. */
function userValue(source: SettingsSource, name: string): unknown {
    const scoped = source.inspect<unknown>(name);
    const isSet =
        scoped !== undefined &&
        [
            scoped.globalValue,
            scoped.workspaceValue,
            scoped.workspaceFolderValue,
            scoped.globalLanguageValue,
            scoped.workspaceLanguageValue,
            scoped.workspaceFolderLanguageValue,
        ].some((value) => value !== undefined && value !== null);
    if (!isSet) {
        return undefined;
    }
    // `get` rather than the scoped values: it applies precedence, and in an untrusted workspace it leaves
    // out workspace values of restricted settings.
    const value = source.get<unknown>(name);
    if (value === null || value === '') {
        return undefined;
    }
    return Array.isArray(value) ? [...value] : value;
}
