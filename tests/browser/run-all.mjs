/*
 * run-all.mjs - runs every browser test one after the other:
 *   node run-all.mjs <channels-server binary> [repo root]
 * Prints one line per test and a closing "N passed, N failed" line.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
if (args.length < 1) {
	console.error('usage: node run-all.mjs <channels-server binary> [repo root]');
	process.exit(2);
}
let passed = 0;
let failed = 0;
for (const t of ['pages', 'chat', 'notifications', 'chart', 'reconnect']) {
	const r = spawnSync(process.execPath, [path.join(here, `${t}.mjs`), ...args],
		{ stdio: 'inherit', timeout: 150000 });
	if (r.status === 0)
		passed++;
	else
		failed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
