/*
 * reconnect.mjs - the pages survive a server restart, and their connection
 * indicators tell the truth. /chart/, /notifications/ and a chat room are
 * open; the server is stopped (SIGTERM) and started again on the same port:
 * every indicator goes from "live" to "reconnecting" and back to "live", and
 * the chart's points arrive again. Then with the browser offline the server
 * stops again: every indicator reads "offline" until the network is back.
 * Throughout, each page records every indicator change and samples it every
 * 20 ms together with its sockets' readyState: "live" is shown only while
 * one of its WebSockets is open (or, after the server began the closing
 * handshake, CLOSING for at most 400 ms: no event tells a page of that
 * state, ws.js polls it), and never while one is open.
 */
import { run, assert, assertEq, waitFor, waitStatus, watchPage, sleep } from './lib.mjs';

/* Runs in every page before its scripts: counts its WebSockets and records
 * (indicator, a socket is open) at each indicator change and every 20 ms. */
function instrument() {
	const Orig = window.WebSocket;
	const sockets = [];
	window.__log = [];
	function Tracked(url, protocols) {
		const ws = protocols === undefined ? new Orig(url) : new Orig(url, protocols);
		sockets.push(ws);
		return ws;
	}
	Tracked.prototype = Orig.prototype;
	for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'])
		Tracked[k] = Orig[k];
	window.WebSocket = Tracked;
	const record = (why) => {
		const el = document.querySelector('.status');
		if (!el)
			return;
		window.__log.push({ why, state: el.getAttribute('data-state'), text: el.textContent.trim(),
			open: sockets.some((s) => s.readyState === Orig.OPEN),
			states: sockets.map((s) => s.readyState).join(''), t: Date.now() });
	};
	document.addEventListener('DOMContentLoaded', () => {
		const el = document.querySelector('.status');
		if (el)
			new MutationObserver(() => record('change')).observe(el,
				{ attributes: true, childList: true, characterData: true, subtree: true });
		setInterval(() => record('sample'), 20);
	});
}

async function checkTruth(page, label) {
	const log = await page.evaluate(() => window.__log);
	assert(log.length > 10, `${label}: too few indicator records (${log.length})`);
	let closingSince = null;
	for (const r of log) {
		assertEq(r.text, r.state, `${label}: indicator text vs data-state`);
		assert(['connecting', 'live', 'reconnecting', 'offline'].includes(r.state),
			`${label}: unknown indicator state ${JSON.stringify(r)}`);
		const closing = r.state === 'live' && !r.open && r.states.includes('2');
		closingSince = closing ? (closingSince === null ? r.t : closingSince) : null;
		if (closing && r.t - closingSince <= 400)
			continue;
		assert((r.state === 'live') === r.open,
			`${label}: indicator "${r.state}" while a socket is ${r.open ? '' : 'not '}open ` +
			`(${r.why}: ${JSON.stringify(r)}; before: ${JSON.stringify(log.slice(Math.max(0, log.indexOf(r) - 3), log.indexOf(r)))})`);
	}
	return log.map((r) => r.state);
}

await run('reconnect', async ({ browser, base, stopServer, startServer }) => {
	const ctx = await browser.newContext();
	await ctx.addInitScript(instrument);
	const chart = await ctx.newPage();
	const notes = await ctx.newPage();
	const chat = await ctx.newPage();
	const errors = [...watchPage(chart, 'chart'), ...watchPage(notes, 'notifications'),
		...watchPage(chat, 'chat')];

	await chart.goto(base + '/chart/');
	await notes.goto(base + '/notifications/');
	await chat.goto(base + '/chat/');
	await chat.fill('#id_username', 'rita');
	await chat.fill('#id_room', 'lobby');
	await Promise.all([chat.waitForNavigation(), chat.click('#chat-join-submit')]);
	const pages = [[chart, 'chart-status'], [notes, 'notify-status'], [chat, 'chat-status']];
	for (const [p, id] of pages)
		await waitStatus(p, id, 'live');

	const count = async () => Number((await chart.textContent('#chart-count')).trim());
	await waitFor(async () => (await count()) >= 3, '#chart-count to reach 3', 5000);

	/* 1. a restart: reconnecting while down, live again after, points again */
	await stopServer();
	for (const [p, id] of pages)
		await waitStatus(p, id, 'reconnecting', 5000);
	await sleep(1500); /* attempts fail meanwhile: still reconnecting, never live */
	for (const [p, id] of pages)
		assertEq((await p.textContent('#' + id)).trim(), 'reconnecting', `#${id} while down`);
	const n0 = await count();
	await startServer();
	for (const [p, id] of pages)
		await waitStatus(p, id, 'live', 20000);
	await waitFor(async () => (await count()) >= n0 + 3,
		`#chart-count to grow past ${n0 + 3} after the restart`, 5000);

	/* 2. no network: offline, then live once it is back */
	await ctx.setOffline(true);
	await stopServer();
	for (const [p, id] of pages)
		await waitStatus(p, id, 'offline', 5000);
	await startServer();
	await sleep(500);
	for (const [p, id] of pages)
		assertEq((await p.textContent('#' + id)).trim(), 'offline', `#${id} while offline`);
	await ctx.setOffline(false);
	for (const [p, id] of pages)
		await waitStatus(p, id, 'live', 10000);
	const n1 = await count();
	await waitFor(async () => (await count()) >= n1 + 3, 'chart points after going online', 5000);

	for (const [p, id] of pages) {
		const states = await checkTruth(p, id);
		for (const s of ['live', 'reconnecting', 'offline'])
			assert(states.includes(s), `${id}: never read "${s}" (${[...new Set(states)]})`);
	}
	assertEq(errors.filter((e) => !/WebSocket|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED/.test(e)).length,
		0, `console/page errors: ${JSON.stringify(errors)}`);
}, { timeoutMs: 110000 });
