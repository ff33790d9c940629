// @ts-check
/**
 * What the end-to-end test checks in the real editor, in order, on workspace/model.py (and, last, workspace/guide.md). Each check is a
 * name and a function of the Editor (editor.js); run.js takes a screenshot after each one. Add a check
 * by appending to CHECKS; a check may rely on the state the checks before it leave (the open file).
 */
'use strict';

const assert = require('assert/strict');

const MODEL = 'model.py';
const GUIDE = 'guide.md';

/** `code@line`, sorted, for comparing what Problems lists with what is expected. */
function codesAndLines(problems) {
    return problems.map((problem) => `${problem.code}@${problem.line}`).sort();
}

/** @type {{ name: string, run: (editor: import('./editor').Editor) => Promise<void> }[]} */
const CHECKS = [
    {
        name: 'problems-panel-lists-the-findings',
        async run(editor) {
            await editor.openFile(MODEL);
            const expected = ['NPL102@8', 'NPL201@7'];
            const problems = await editor.waitForProblems(
                (listed) => expected.every((item) => codesAndLines(listed).includes(item)),
                `NPL201 on line 7 and NPL102 on line 8 of ${MODEL}`,
            );
            assert.deepEqual(codesAndLines(problems), expected);
            assert.match(problems.find((problem) => problem.code === 'NPL102')?.message ?? '', /`print\(\)` in model `model`/);
            assert.match(problems.find((problem) => problem.code === 'NPL201')?.message ?? '', /Observed site "y"/);
        },
    },
    {
        name: 'hover-shows-the-rule-documentation',
        async run(editor) {
            await editor.goTo(8, 6);
            const hover = await editor.hoverText('What it does');
            for (const part of ['NPL102: model-io', 'What it does', 'Why is this bad?', 'Use instead']) {
                assert.ok(hover.includes(part), `the hover lacks ${JSON.stringify(part)}:\n${hover}`);
            }
        },
    },
    {
        name: 'quick-fix-replaces-print',
        async run(editor) {
            await editor.goTo(8, 6);
            await editor.applyQuickFix('Use `jax.debug.print`');
            const saved = await editor.save(MODEL);
            assert.match(saved, /^import jax$/m);
            assert.match(saved, /^ {4}jax\.debug\.print\("mu is \{\}", mu\)$/m);
            assert.doesNotMatch(saved, /^ {4}print\(/m);
            // The import moved the observed site down a line; only its finding is left.
            await editor.waitForProblems(
                (listed) => codesAndLines(listed).join() === 'NPL201@8',
                `only NPL201, now on line 8, after the fix`,
            );
        },
    },
    {
        name: 'show-output-command-shows-the-server-log',
        async run(editor) {
            await editor.command('numpyro-lint: Show output');
            await editor.waitForOutput('pulled diagnostics, utf-16 positions');
        },
    },
    {
        name: 'code-lens-above-the-model-offers-a-smoke-run',
        async run(editor) {
            await editor.openFile(MODEL);
            const lens = await editor.codeLensText('Smoke-run');
            assert.equal(lens.trim(), '▶ Smoke-run');
        },
    },
    {
        name: 'show-model-graph-opens-a-webview-beside-the-editor',
        async run(editor) {
            await editor.openFile(MODEL); // the command is offered for the Python file that has focus
            await editor.command('numpyro-lint: Show model graph');
            await editor.page.locator('.tab', { hasText: `Model graph: ${MODEL}` }).waitFor({ timeout: 20_000 });
            const caption = await editor.webviewText('.caption', 'nothing was run');
            assert.match(caption, /^model · from the code, nothing was run/);
            assert.match(await editor.webviewText('svg', 'y ~ Normal'), /mu ~ Normal/);
        },
    },
    {
        name: 'model-graph-is-redrawn-when-the-model-changes',
        async run(editor) {
            await editor.goTo(8, 1);
            await editor.page.keyboard.press('End');
            await editor.page.keyboard.press('Enter');
            await editor.page.keyboard.type('numpyro.sample("z", dist.Normal(mu, 2.0))');
            assert.match(await editor.webviewText('svg', 'z ~ Normal'), /mu ~ Normal/);
        },
    },
    {
        name: 'markdown-code-blocks-are-linted-at-the-documents-lines',
        async run(editor) {
            await editor.openFile(GUIDE);
            const expected = ['NPL102@11', 'NPL401@18'];
            const problems = await editor.waitForProblems(
                (listed) => expected.every((item) => codesAndLines(listed).includes(item)),
                `NPL102 on line 11 and NPL401 (a block without imports) on line 18 of ${GUIDE}`,
            );
            assert.match(problems.find((problem) => problem.code === 'NPL401')?.message ?? '', /scale/);
        },
    },
];

module.exports = { CHECKS };
