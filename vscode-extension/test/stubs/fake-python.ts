/**
 * Plays `python` for the extension tests: `-c "import numpyro_lint"` succeeds only once
 * `-m pip install numpyro-lint` has run (a marker file at $FAKE_PYTHON_MARKER records that).
 */
import * as fs from 'fs';

const args = process.argv.slice(2);
// Interpreter options such as -I come before -c/-m, as with a real python.
while (args.length > 0 && args[0].startsWith('-') && args[0] !== '-c' && args[0] !== '-m') {
    args.shift();
}
const marker = process.env.FAKE_PYTHON_MARKER ?? '';
fs.appendFileSync(`${marker}.calls`, `${JSON.stringify(args)}\n`);
if (args[0] === '-c' && args[1] === 'import numpyro_lint') {
    if (fs.existsSync(marker)) {
        process.exit(0);
    }
    process.stderr.write("ModuleNotFoundError: No module named 'numpyro_lint'\n");
    process.exit(1);
} else if (args.join(' ') === '-m pip install numpyro-lint') {
    fs.writeFileSync(marker, 'installed');
    process.stdout.write('Successfully installed numpyro-lint-0.1.0\n');
    process.exit(0);
}
process.stderr.write(`fake python: unexpected arguments ${JSON.stringify(args)}\n`);
process.exit(2);
