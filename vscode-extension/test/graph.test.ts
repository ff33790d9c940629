import * as assert from 'assert';
import { graphArguments, graphHtml, panelTitle, routeLensCommand, safeSvg } from '../src/graph';

describe('the model graph webview', () => {
    it('asks the server for SVG, of one model when named', () => {
        assert.deepStrictEqual(graphArguments('file:///p/model.py'), ['file:///p/model.py', { format: 'svg' }]);
        assert.deepStrictEqual(graphArguments('file:///p/model.py', 'eight_schools'), [
            'file:///p/model.py',
            { format: 'svg', model: 'eight_schools' },
        ]);
    });

    it('shows the SVG with the models it draws and who laid it out, and allows no scripts', () => {
        const html = graphHtml(
            { format: 'svg', graph: '<?xml version="1.0"?><svg><g class="node"><text>theta ~ Normal</text></g></svg>', models: ['eight_schools'], renderer: 'graphviz' },
            '/p/eight_schools.py',
        );
        assert.match(html, /<div class="graph"><svg><g class="node"><text>theta ~ Normal<\/text><\/g><\/svg><\/div>/);
        assert.match(html, /eight_schools · from the code, nothing was run · laid out by Graphviz/);
        assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"/);
        assert.doesNotMatch(html, /<\?xml/);
    });

    it('says why there is no graph, escaped', () => {
        const html = graphHtml({ error: "no model named '<x>'" }, '/p/a&b.py');
        assert.match(html, /No graph for \/p\/a&amp;b\.py: no model named &#39;&lt;x&gt;&#39;/);
        assert.match(graphHtml(null, '/p/m.py'), /the server did not answer/);
    });

    it('strips scripts and event handlers from the SVG', () => {
        assert.strictEqual(safeSvg('<svg onload="alert(1)"><script>alert(2)</script><g/></svg>'), '<svg><g/></svg>');
    });

    it('titles the panel after the file', () => {
        assert.strictEqual(panelTitle('/p/models/eight_schools.py'), 'Model graph: eight_schools.py');
    });

    it("points a smoke-run lens at the extension's command, which checks workspace trust", () => {
        const lens = routeLensCommand(
            { command: { title: '▶ Smoke-run', command: 'numpyro-lint.runSmoke', arguments: ['file:///p/m.py'] } },
            'numpyro-lint.runSmoke',
            'numpyroLint.runSmoke',
        );
        assert.deepStrictEqual(lens.command, { title: '▶ Smoke-run', command: 'numpyroLint.runSmoke', arguments: ['file:///p/m.py'] });
        const other = routeLensCommand({ command: { title: 'x', command: 'other' } }, 'numpyro-lint.runSmoke', 'numpyroLint.runSmoke');
        assert.strictEqual(other.command?.command, 'other');
    });
});
