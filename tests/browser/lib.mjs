/*
 * lib.mjs - harness for the real-browser tests.
 *
 * Every test is `node <test>.mjs <server-binary> <repo-root>`. run() picks a
 * free port, starts the server on 127.0.0.1 with the repo's static/ and
 * templates/, waits until it answers HTTP, launches Debian's Chromium through
 * playwright-core, runs the test body, then closes the browser, sends
 * SIGTERM and requires the server to exit with status 0. Any failure (or the
 * hard timeout) prints the reason and the server's output and exits 1.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SCREENSHOT_DIR = path.join(HERE, 'screenshots');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];

export class TestFailure extends Error {}

export function fail(msg) {
	throw new TestFailure(msg);
}

export function assert(cond, msg) {
	if (!cond)
		fail(msg);
}

export function assertEq(got, expected, what) {
	if (got !== expected)
		fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
}

export function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* Polls fn() (sync or async) until it returns a truthy value; fails with `what` after timeoutMs.
 * The last value (or error) is included in the failure message. */
export async function waitFor(fn, what, timeoutMs = 5000, everyMs = 50) {
	const deadline = Date.now() + timeoutMs;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = `error: ${e.message}`;
		}
		if (Date.now() > deadline)
			fail(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
		await sleep(everyMs);
	}
}

function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/* Console errors and page errors of a page, collected for a later check. */
export function watchPage(page, label) {
	const errors = [];
	page.on('console', (msg) => {
		if (msg.type() === 'error')
			errors.push(`${label}: console.error: ${msg.text()}`);
	});
	page.on('pageerror', (err) => errors.push(`${label}: uncaught: ${err.message}`));
	return errors;
}

export async function statusText(page, id) {
	return (await page.textContent(`#${id}`)).trim();
}

export async function waitStatus(page, id, want, timeoutMs = 5000) {
	await waitFor(async () => (await statusText(page, id)) === want,
		`#${id} to read "${want}" on ${page.url()}`, timeoutMs);
}

/*
 * run(name, body, opts): body receives { browser, base, port, root, serverLog(),
 * stopServer(), startServer() }.
 * opts.timeoutMs is the hard limit for the whole test (default 90 s).
 */
export async function run(name, body, opts = {}) {
	const timeoutMs = opts.timeoutMs || 90000;
	const [binary, rootArg] = process.argv.slice(2);
	if (!binary) {
		console.error(`usage: node ${name}.mjs <channels-server binary> [repo root]`);
		process.exit(2);
	}
	if (!fs.existsSync('/usr/bin/chromium')) {
		console.log(`SKIP ${name}: /usr/bin/chromium not found (Debian package chromium)`);
		process.exit(77);
	}
	const root = path.resolve(rootArg || path.join(HERE, '..', '..'));
	let server = null;
	let browser = null;
	let out = '';
	let exited = null;
	let exitWaiters = [];

	const dumpServer = () => {
		console.error(`----- server output (${name}) -----`);
		console.error(out.length > 20000 ? '...' + out.slice(-20000) : out);
		console.error('----- end of server output -----');
	};
	const hard = setTimeout(() => {
		console.error(`FAIL ${name}: hard timeout of ${timeoutMs} ms reached`);
		dumpServer();
		if (server && exited === null)
			server.kill('SIGKILL');
		process.exit(1);
	}, timeoutMs);

	try {
		if (!fs.existsSync(binary))
			fail(`server binary ${binary} does not exist`);
		const port = await freePort();
		const args = ['--host', '127.0.0.1', '--port', String(port), '--chart-interval', '200',
			'--static-dir', path.join(root, 'static'),
			'--templates-dir', path.join(root, 'templates')];
		const base = `http://127.0.0.1:${port}`;
		const start = async () => {
			exited = null;
			exitWaiters = [];
			server = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
			server.stdout.on('data', (d) => { out += d; });
			server.stderr.on('data', (d) => { out += d; });
			server.on('error', (e) => { out += `spawn error: ${e.message}\n`; });
			server.on('exit', (code, signal) => {
				exited = { code, signal };
				exitWaiters.forEach((w) => w());
			});
			await waitFor(async () => {
				if (exited)
					fail(`server exited during startup: ${JSON.stringify(exited)} (args: ${args.join(' ')})`);
				try {
					const r = await fetch(base + '/', { redirect: 'manual' });
					await r.arrayBuffer();
					return true;
				} catch (e) {
					return false;
				}
			}, `the server to answer HTTP on ${base}`, 10000, 100);
		};
		const stop = async () => {
			if (exited)
				fail(`server exited before SIGTERM: ${JSON.stringify(exited)}`);
			server.kill('SIGTERM');
			await Promise.race([
				new Promise((resolve) => { if (exited) resolve(); else exitWaiters.push(resolve); }),
				sleep(10000)
			]);
			if (!exited)
				fail('server did not exit within 10 s of SIGTERM');
			if (exited.code !== 0)
				fail(`server exit after SIGTERM: expected code 0, got ${JSON.stringify(exited)}`);
		};
		await start();

		browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
			args: CHROMIUM_ARGS });
		/* stopServer() / startServer(): the same server stopped by SIGTERM (it
		 * must exit 0) and started again on the same port, same arguments. */
		await body({ browser, base, port, root, serverLog: () => out,
			stopServer: stop, startServer: start });
		await browser.close();
		browser = null;
		await stop();
		clearTimeout(hard);
		console.log(`PASS ${name}`);
		process.exit(0);
	} catch (e) {
		console.error(`FAIL ${name}: ${e instanceof TestFailure ? e.message : (e.stack || e)}`);
		if (browser)
			await browser.close().catch(() => {});
		if (server && !exited)
			server.kill('SIGKILL');
		dumpServer();
		clearTimeout(hard);
		process.exit(1);
	}
}
