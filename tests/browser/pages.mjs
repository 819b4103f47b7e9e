/*
 * pages.mjs - every page renders (200, or 404 for an unknown URL) without
 * console errors, loads nothing from any host but 127.0.0.1, fits a phone
 * screen without horizontal scrolling, and static files carry the right
 * content types. Screenshots of each page (phone 390x844 and desktop
 * 1280x800) go to screenshots/ for a person to look at.
 */
import fs from 'node:fs';
import path from 'node:path';
import { run, assert, assertEq, waitFor, waitStatus, SCREENSHOT_DIR } from './lib.mjs';

const PAGES = [
	{ name: 'home', url: '/', status: 200, h1: 'Real-time apps on one port' },
	{ name: 'chat-index', url: '/chat/', status: 200, h1: 'Chat rooms' },
	{ name: 'chat-room', url: '/chat/lobby/', status: 200, live: 'chat-status' },
	{ name: 'notifications', url: '/notifications/', status: 200, live: 'notify-status' },
	{ name: 'posts', url: '/posts/', status: 200, h1: 'Posts' },
	{ name: 'chart', url: '/chart/', status: 200, live: 'chart-status' },
	{ name: '404', url: '/no/such/page/', status: 404, h1: null }
];

const VIEWPORTS = [
	{ name: 'phone', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true,
		hasTouch: true },
	{ name: 'desktop', viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 }
];

function isLocal(url) {
	const u = new URL(url);
	if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:')
		return true;
	return u.hostname === '127.0.0.1';
}

await run('pages', async ({ browser, base, root }) => {
	fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
	const problems = [];

	for (const vp of VIEWPORTS) {
		const ctx = await browser.newContext({ viewport: vp.viewport,
			deviceScaleFactor: vp.deviceScaleFactor, isMobile: !!vp.isMobile, hasTouch: !!vp.hasTouch });
		for (const pg of PAGES) {
			const page = await ctx.newPage();
			const label = `${vp.name} ${pg.url}`;
			const errors = [];
			const foreign = [];
			page.on('console', (m) => {
				if (m.type() !== 'error')
					return;
				/* Chromium reports the document's own 404 status as a console error */
				if (pg.status === 404 && /status of 404/.test(m.text()))
					return;
				errors.push(m.text());
			});
			page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
			page.on('request', (r) => { if (!isLocal(r.url())) foreign.push(r.url()); });
			page.on('websocket', (w) => { if (!isLocal(w.url())) foreign.push(w.url()); });
			page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure().errorText}`));
			const sub = [];
			page.on('response', (r) => {
				if (r.request().resourceType() !== 'document' && r.status() >= 400)
					sub.push(`${r.status()} ${r.url()}`);
			});

			const resp = await page.goto(base + pg.url, { waitUntil: 'load' });
			if (resp.status() !== pg.status)
				problems.push(`${label}: status expected ${pg.status}, got ${resp.status()}`);
			const ctype = resp.headers()['content-type'] || '';
			if (!/^text\/html/.test(ctype))
				problems.push(`${label}: content-type expected text/html, got ${JSON.stringify(ctype)}`);
			if (pg.live) {
				await waitStatus(page, pg.live, 'live');
				if (pg.name === 'chart')
					await waitFor(async () => Number(await page.textContent('#chart-count')) >= 8,
						'a few chart points', 5000);
				if (pg.name === 'notifications') {
					const writer = await ctx.newPage();
					await writer.goto(base + '/posts/');
					await writer.fill('#id_message', `Hello from the ${vp.name} layout check!`);
					await Promise.all([writer.waitForNavigation(), writer.click('#post-submit')]);
					await writer.close();
					await waitFor(async () => (await page.$$('#notifications .notification')).length > 0,
						'a notification card after posting', 5000);
				}
				if (pg.name === 'chat-room') {
					await page.fill('#chat-message-input', 'Hi! This is how a chat line looks.');
					await page.press('#chat-message-input', 'Enter');
					await waitFor(async () => (await page.$$('#chat-log .msg')).length > 0,
						'the echo of the own message', 5000);
				}
			}
			if (pg.h1) {
				const h1 = (await page.textContent('h1')).trim();
				if (h1 !== pg.h1)
					problems.push(`${label}: h1 expected ${JSON.stringify(pg.h1)}, got ${JSON.stringify(h1)}`);
			}
			if (pg.status === 404) {
				const code = (await page.textContent('.error-code')).trim();
				if (code !== '404')
					problems.push(`${label}: 404 page shows code ${JSON.stringify(code)}`);
			}
			const meta = await page.$('meta[name="viewport"]');
			if (!meta)
				problems.push(`${label}: no viewport meta`);
			const css = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
			if (!/system-ui/.test(css))
				problems.push(`${label}: site.css not applied (body font ${css})`);
			const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
			if (over > 0)
				problems.push(`${label}: page is ${over}px wider than the viewport`);
			const navs = await page.$$eval('.site-nav a', (els) => els.map((e) => e.getAttribute('href')));
			if (JSON.stringify(navs) !== JSON.stringify(['/', '/chat/', '/notifications/', '/posts/', '/chart/']))
				problems.push(`${label}: nav links ${JSON.stringify(navs)}`);

			await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${pg.name}-${vp.name}.png`),
				fullPage: true, animations: 'disabled' });
			for (const e of errors)
				problems.push(`${label}: console: ${e}`);
			for (const f of foreign)
				problems.push(`${label}: request to a foreign host: ${f}`);
			for (const s of sub)
				problems.push(`${label}: subresource failed: ${s}`);
			await page.close();
		}
		await ctx.close();
	}

	/* static files and their types */
	const types = [
		['/static/css/site.css', /^text\/css/],
		['/static/js/chat.js', /^(text|application)\/javascript/],
		['/static/js/chart.js', /^(text|application)\/javascript/],
		['/static/img/favicon.svg', /^image\/svg\+xml/]
	];
	for (const [url, re] of types) {
		const r = await fetch(base + url);
		const body = await r.text();
		if (r.status !== 200)
			problems.push(`GET ${url}: status expected 200, got ${r.status}`);
		const ct = r.headers.get('content-type') || '';
		if (!re.test(ct))
			problems.push(`GET ${url}: content-type ${JSON.stringify(ct)} does not match ${re}`);
		const disk = fs.readFileSync(path.join(root, url.replace('/static/', 'static/')), 'utf8');
		if (body !== disk)
			problems.push(`GET ${url}: body differs from the file on disk (${body.length} vs ${disk.length} bytes)`);
	}
	const missing = await fetch(base + '/static/css/nope.css');
	await missing.text();
	if (missing.status !== 404)
		problems.push(`GET /static/css/nope.css: status expected 404, got ${missing.status}`);

	assert(problems.length === 0, `${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
	assertEq(fs.readdirSync(SCREENSHOT_DIR).filter((f) => f.endsWith('.png')).length >= PAGES.length * 2,
		true, 'screenshots written');
});

