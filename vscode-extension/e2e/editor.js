// @ts-check
/**
 * What a user does in VS Code, as calls on a Playwright page showing code-server's workbench. Every step
 * waits for what the user would see (a row, a hover, a menu), never for a fixed time.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { errors } = require('playwright-core');

/** Bounds on waiting, not expectations of speed: the first diagnostics include starting the server. */
const TIMEOUT_MS = { ui: 20_000, server: 60_000 };
/** The numpyro-lint status bar item when the language server is not running (src/status.ts). */
const STOPPED = 'numpyro-lint: stopped';

/** @typedef {{ code: string, line: number, column: number, message: string }} Problem */

class Editor {
    /**
     * @param {import('playwright-core').Page} page
     * @param {{ workspace: string, screenshots: string }} folders
     */
    constructor(page, folders) {
        this.page = page;
        this.workspace = folders.workspace;
        this.screenshots = folders.screenshots;
        this.shots = 0;
    }

    /** Loads the workbench and waits until the Explorer shows the workspace. */
    async load(url) {
        await this.page.goto(url);
        await this.page.locator('.explorer-folders-view').waitFor({ timeout: TIMEOUT_MS.ui });
    }

    /** Opens a workspace file from the Explorer and waits for its editor. */
    async openFile(name) {
        await this.page.getByRole('treeitem', { name }).click();
        await this.page.locator(`.tab[data-resource-name="${name}"]`).waitFor({ timeout: TIMEOUT_MS.ui });
        await this.textArea().waitFor({ timeout: TIMEOUT_MS.ui });
    }

    /** Runs a command from the Command Palette by its title, e.g. "View: Toggle Problems". */
    async command(title) {
        await this.page.keyboard.press('F1');
        const input = this.page.locator('.quick-input-widget input');
        await input.waitFor({ timeout: TIMEOUT_MS.ui });
        await input.fill(`>${title}`);
        await this.page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().click();
    }

    /** Puts the cursor at a 1-based line and column of the active editor (Go to Line). */
    async goTo(line, column) {
        await this.textArea().focus();
        await this.page.keyboard.press('Control+G');
        const input = this.page.locator('.quick-input-widget input');
        await input.waitFor({ timeout: TIMEOUT_MS.ui });
        await input.fill(`:${line}:${column}`);
        await input.press('Enter');
        await this.page.locator('.statusbar-item', { hasText: `Ln ${line}, Col ${column}` }).waitFor({ timeout: TIMEOUT_MS.ui });
    }

    /** Shows the hover at the cursor and returns its text once it contains `expected`. */
    async hoverText(expected) {
        await this.page.keyboard.press('Control+K');
        await this.page.keyboard.press('Control+I');
        const hover = this.page.locator('.monaco-hover:visible', { hasText: expected }).first();
        await hover.waitFor({ timeout: TIMEOUT_MS.server });
        return hover.innerText();
    }

    /** Opens Quick Fix at the cursor and applies, with the keyboard, the action whose title contains `title`. */
    async applyQuickFix(title) {
        await this.textArea().focus();
        await this.page.keyboard.press('Control+.');
        const menu = this.page.locator('.action-widget');
        const actions = menu.locator('.monaco-list-row.action');
        await actions.first().waitFor({ timeout: TIMEOUT_MS.server });
        const titles = await actions.evaluateAll((rows) => rows.map((row) => row.getAttribute('aria-label') ?? ''));
        const wanted = titles.findIndex((label) => label.includes(title));
        if (wanted < 0) {
            throw new Error(`no quick fix titled ${JSON.stringify(title)}; offered: ${JSON.stringify(titles)}`);
        }
        const focused = await actions.evaluateAll((rows) => rows.findIndex((row) => row.classList.contains('focused')));
        for (let step = Math.max(focused, 0); step < wanted; step += 1) {
            await this.page.keyboard.press('ArrowDown');
        }
        await menu.locator('.monaco-list-row.action.focused', { hasText: title }).waitFor({ timeout: TIMEOUT_MS.ui });
        await this.page.keyboard.press('Enter');
        await menu.waitFor({ state: 'hidden', timeout: TIMEOUT_MS.ui });
    }

    /**
     * Waits until the file's tab shows unsaved changes, saves it, waits until the tab is clean again and
     * returns the file's text on disk.
     */
    async save(name) {
        const dirty = this.page.locator(`.tab.dirty[data-resource-name="${name}"]`);
        await dirty.waitFor({ timeout: TIMEOUT_MS.ui });
        await this.textArea().focus();
        await this.page.keyboard.press('Control+S');
        await dirty.waitFor({ state: 'detached', timeout: TIMEOUT_MS.ui });
        return fs.readFileSync(path.join(this.workspace, name), 'utf8');
    }

    /** Opens the Problems panel. */
    async showProblems() {
        if (!(await this.page.locator('.markers-panel').isVisible())) {
            await this.page.keyboard.press('Control+Shift+M');
        }
        await this.page.locator('.markers-panel').waitFor({ timeout: TIMEOUT_MS.ui });
    }

    /**
     * Waits until the Problems panel lists findings that satisfy `done`, and returns them. Fails at once,
     * with `whyNot`, if the numpyro-lint status bar item says the server stopped.
     * @param {(problems: Problem[]) => boolean} done
     * @param {string} description what is being waited for, for the error message
     * @returns {Promise<Problem[]>}
     */
    async waitForProblems(done, description) {
        await this.showProblems();
        const deadline = Date.now() + TIMEOUT_MS.server;
        const panel = this.page.locator('.markers-panel');
        const rows = panel.locator('.monaco-list-row');
        const stopped = this.page.locator('.statusbar-item', { hasText: STOPPED });
        for (;;) {
            const before = await panel.innerText();
            const problems = parseProblems(await rows.allInnerTexts());
            if (done(problems)) {
                return problems;
            }
            if (await stopped.count()) {
                throw new Error(`the status bar says "${STOPPED}" while waiting for ${description}`);
            }
            if (Date.now() > deadline) {
                throw new Error(`timed out waiting for ${description}; Problems lists ${JSON.stringify(problems)}`);
            }
            // Wait for the panel to change (diagnostics arrived) or the server to stop; the page checks
            // on every animation frame. Running out of time is reported above, with what was listed.
            await this.page.waitForFunction(
                ({ previous, stoppedText }) =>
                    /** @type {HTMLElement | null} */ (document.querySelector('.markers-panel'))?.innerText !== previous ||
                    Array.from(document.querySelectorAll('.statusbar-item')).some((item) => item.textContent?.includes(stoppedText)),
                { previous: before, stoppedText: STOPPED },
                { timeout: Math.max(1, deadline - Date.now()) },
            ).catch((error) => {
                if (!(error instanceof errors.TimeoutError)) {
                    throw error;
                }
            });
        }
    }

    /**
     * Waits until the Output panel shows `text`. The panel wraps long lines into several view lines (where
     * depends on the panel's width and the line's length), so its text is compared with runs of white
     * space, line breaks included, read as one space.
     */
    async waitForOutput(text) {
        await this.page.waitForFunction(
            (wanted) => (/** @type {HTMLElement | null} */ (document.querySelector('.panel .output-view'))?.innerText ?? '')
                .replace(/\s+/g, ' ').includes(wanted),
            text.replace(/\s+/g, ' '),
            { timeout: TIMEOUT_MS.ui },
        );
    }

    /** Waits until a code lens of the active editor reads `text` (in part), and returns its whole text. */
    async codeLensText(text) {
        const lens = this.page.locator('.editor-instance .codelens-decoration', { hasText: text }).first();
        await lens.waitFor({ timeout: TIMEOUT_MS.server });
        return lens.innerText();
    }

    /**
     * Waits until a webview's page (an iframe inside the workbench, in an iframe of its own) shows
     * `selector` with `text`, and returns that element's text.
     */
    async webviewText(selector, text) {
        const deadline = Date.now() + TIMEOUT_MS.server;
        for (;;) {
            for (const frame of this.page.frames()) {
                const found = frame.locator(selector, { hasText: text });
                if (await found.count().catch(() => 0)) {
                    return (await found.first().textContent()) ?? "";
                }
            }
            if (Date.now() > deadline) {
                throw new Error(`no webview shows ${selector} with ${JSON.stringify(text)}`);
            }
            await this.page.waitForEvent('framenavigated', { timeout: 1_000 }).catch(() => undefined);
        }
    }

    /** Saves a screenshot of the whole window as screenshots/NN-<name>.png; returns its path. */
    async screenshot(name) {
        this.shots += 1;
        const file = path.join(this.screenshots, `${String(this.shots).padStart(2, '0')}-${name}.png`);
        await this.page.screenshot({ path: file });
        return file;
    }

    textArea() {
        return this.page.locator('.editor-instance .monaco-editor textarea').first();
    }
}

/**
 * Problems panel rows as findings. A finding row reads "<message>\n<source>\n<code>\n[Ln 7, Col 5]";
 * file rows ("model.py\n2") are left out.
 * @param {string[]} texts
 * @returns {Problem[]}
 */
function parseProblems(texts) {
    /** @type {Problem[]} */
    const problems = [];
    for (const text of texts) {
        const where = /\[Ln (\d+), Col (\d+)\]\s*$/.exec(text);
        if (!where) {
            continue;
        }
        const code = /\b(NPL\d{3})\b/.exec(text);
        problems.push({
            code: code ? code[1] : '',
            line: Number(where[1]),
            column: Number(where[2]),
            message: text.split('\n')[0],
        });
    }
    return problems;
}

module.exports = { Editor, parseProblems, TIMEOUT_MS };
