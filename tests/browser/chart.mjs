/*
 * chart.mjs - /chart/ receives points over /ws/two_url/ (server started with
 * --chart-interval 200): the count grows past 5 within a few seconds, the
 * last value is 0..100, the canvas is HiDPI-sized, follows resizes and is
 * not blank.
 */
import { run, assert, assertEq, waitFor, waitStatus, watchPage } from './lib.mjs';

async function canvasInfo(page) {
	return page.evaluate(() => {
		const c = document.getElementById('chart');
		const g = c.getContext('2d');
		const d = g.getImageData(0, 0, c.width, c.height).data;
		const bg = [d[0], d[1], d[2], d[3]];
		let differ = 0;
		const colors = new Set();
		for (let i = 0; i < d.length; i += 4) {
			if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) +
			    Math.abs(d[i + 3] - bg[3]) > 40) {
				differ++;
				colors.add(`${d[i] >> 4},${d[i + 1] >> 4},${d[i + 2] >> 4}`);
			}
		}
		return { width: c.width, height: c.height, cssW: c.clientWidth, cssH: c.clientHeight,
			dpr: window.devicePixelRatio, differ, total: d.length / 4, colors: colors.size };
	});
}

await run('chart', async ({ browser, base }) => {
	const ctx = await browser.newContext({ viewport: { width: 1000, height: 800 },
		deviceScaleFactor: 2 });
	const page = await ctx.newPage();
	const errors = watchPage(page, 'chart');
	await page.goto(base + '/chart/');
	const points = await page.$eval('#chart-points', (e) => JSON.parse(e.textContent));
	assert(Number.isInteger(points) && points > 0, `json_script chart-points, got ${points}`);
	await waitStatus(page, 'chart-status', 'live');

	const count = async () => Number((await page.textContent('#chart-count')).trim());
	const n1 = await waitFor(async () => { const n = await count(); return n >= 5 && n; },
		'#chart-count to reach 5', 5000);
	const last = (await page.textContent('#chart-last')).trim();
	assert(/^\d+(\.\d+)?$/.test(last) && Number(last) >= 0 && Number(last) <= 100,
		`#chart-last should be a number in 0..100, got ${JSON.stringify(last)}`);
	await waitFor(async () => (await count()) > n1, '#chart-count to keep increasing', 3000);

	let info = await canvasInfo(page);
	assertEq(info.dpr, 2, 'devicePixelRatio');
	assertEq(info.width, Math.round(info.cssW * 2), `canvas backing width (css ${info.cssW})`);
	assertEq(info.height, Math.round(info.cssH * 2), `canvas backing height (css ${info.cssH})`);
	assert(info.differ > info.total * 0.005 && info.colors >= 3,
		`canvas looks blank: ${info.differ} of ${info.total} pixels differ from the background, ` +
		`${info.colors} distinct colours`);

	/* a narrower window resizes the backing store and redraws */
	await page.setViewportSize({ width: 390, height: 844 });
	info = await waitFor(async () => {
		const i = await canvasInfo(page);
		return i.width === Math.round(i.cssW * 2) && i.cssW < 390 && i;
	}, 'the canvas to follow the resize', 3000);
	assert(info.differ > info.total * 0.005,
		`canvas blank after resize: ${info.differ} of ${info.total} pixels differ`);

	assertEq(errors.length, 0, `console/page errors: ${JSON.stringify(errors)}`);
});
