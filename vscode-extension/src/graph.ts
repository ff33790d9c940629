/**
 * The model graph beside the editor: what to ask the server's `numpyro-lint.showGraph` for, and the
 * webview's HTML for its answer. Plain functions (no `vscode`), so they are tested on their own;
 * extension.ts owns the panel and refreshes it when the document changes.
 */

/** The server's command (src/numpyro_lint/server/model_views.py). */
export const SERVER_SHOW_GRAPH_COMMAND = 'numpyro-lint.showGraph';
/** Milliseconds after the last edit before the graph is drawn again. */
export const REFRESH_DELAY_MS = 300;

/** What `numpyro-lint.showGraph` answers. */
export interface GraphResult {
    format?: string;
    graph?: string;
    models?: string[];
    renderer?: string;
    error?: string;
}

/** The arguments of `numpyro-lint.showGraph` for a document: always SVG (laid out by the server
 * without Graphviz when it has none). */
export function graphArguments(documentUri: string, model?: string): unknown[] {
    return [documentUri, model ? { format: 'svg', model } : { format: 'svg' }];
}

export function panelTitle(documentPath: string): string {
    const name = documentPath.split(/[\\/]/).pop() || documentPath;
    return `Model graph: ${name}`;
}

function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** SVG from the server with anything that could run removed (the webview allows no scripts anyway). */
export function safeSvg(svg: string): string {
    return svg
        .replace(/<\?xml[^>]*>/g, '')
        .replace(/<!DOCTYPE[^>]*>/gi, '')
        .replace(/<script[\s\S]*?<\/script>/gi, '')
        .replace(/\son\w+\s*=\s*("[^"]*"|'[^']*')/gi, '');
}

/** The webview's page: the graph (or why there is none), in the editor's colours, no scripts. */
export function graphHtml(result: GraphResult | null | undefined, documentPath: string): string {
    const csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
    let body: string;
    if (!result || result.error || !result.graph) {
        const why = result?.error ?? 'the server did not answer';
        body = `<p class="error">No graph for ${escapeHtml(documentPath)}: ${escapeHtml(why)}</p>`;
    } else {
        const models = (result.models ?? []).map(escapeHtml).join(', ');
        const by = result.renderer === 'graphviz' ? 'Graphviz' : 'numpyro-lint (install Graphviz for a better layout)';
        body = `<div class="graph">${safeSvg(result.graph)}</div>`
            + `<p class="caption">${models} · from the code, nothing was run · laid out by ${escapeHtml(by)}</p>`;
    }
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<style>
body { color: var(--vscode-editor-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); }
svg { color: var(--vscode-editor-foreground); max-width: 100%; height: auto; }
svg text { fill: currentColor; }
svg [fill="black"], svg marker path { fill: currentColor; }
svg [stroke="black"] { stroke: currentColor; }
svg polygon[fill="white"] { fill: transparent; }
.caption { opacity: 0.7; font-size: 0.9em; }
.error { color: var(--vscode-errorForeground); }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** A server code lens that runs a smoke check, pointed at the extension's command (which checks
 * workspace trust first); other lenses unchanged. */
export function routeLensCommand<T extends { command?: { command: string; arguments?: unknown[] } }>(
    lens: T,
    serverCommand: string,
    extensionCommand: string,
): T {
    if (lens.command?.command === serverCommand) {
        lens.command = { ...lens.command, command: extensionCommand };
    }
    return lens;
}
