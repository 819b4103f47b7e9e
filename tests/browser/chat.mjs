/*
 * chat.mjs - three visitors (separate cookie jars): alice and bob in room
 * "lobby", carol in room "other". Messages reach exactly their own room,
 * own lines are marked, text is never interpreted as HTML, empty messages are
 * not sent, a bad room name is refused by the server with an error.
 */
import { run, assert, assertEq, waitFor, waitStatus, watchPage, sleep } from './lib.mjs';

async function lines(page) {
	return page.$$eval('#chat-log .msg', (els) => els.map((e) => ({
		text: e.textContent, own: e.classList.contains('msg-own'),
		system: e.classList.contains('msg-system') })));
}

async function join(page, base, name, room) {
	await page.goto(base + '/chat/');
	await page.fill('#id_username', name);
	await page.fill('#id_room', room);
	const [resp] = await Promise.all([
		page.waitForNavigation(),
		page.click('#chat-join-submit')
	]);
	assertEq(resp.status(), 200, `${name}: status of the room page after POST /chat/`);
	assertEq(new URL(page.url()).pathname, `/chat/${room}/`, `${name}: URL after joining`);
	const who = await page.$eval('#username', (e) => JSON.parse(e.textContent));
	assertEq(who, name, `${name}: json_script #username on the room page`);
	const rn = await page.$eval('#room-name', (e) => JSON.parse(e.textContent));
	assertEq(rn, room, `${name}: json_script #room-name`);
	await waitStatus(page, 'chat-status', 'live');
	const shown = (await page.textContent('.whoami')).trim();
	assertEq(shown, name, `${name}: name shown in the header`);
}

function hasLine(ls, text) {
	return ls.some((l) => l.text === text);
}

await run('chat', async ({ browser, base }) => {
	const ctx = [await browser.newContext(), await browser.newContext(), await browser.newContext()];
	const [a, b, c] = await Promise.all(ctx.map((x) => x.newPage()));
	const errors = [...watchPage(a, 'alice'), ...watchPage(b, 'bob'), ...watchPage(c, 'carol')];

	await join(a, base, 'alice', 'lobby');
	await join(b, base, 'bob', 'lobby');
	await join(c, base, 'carol', 'other');

	/* A sends by clicking Send; the text holds markup that must stay text. */
	const msgA = 'hello from alice <img src=x onerror="window.__pwned=1"> & <b>bold</b>';
	await a.fill('#chat-message-input', msgA);
	await a.click('#chat-message-submit');
	assertEq(await a.inputValue('#chat-message-input'), '', 'alice: input cleared after Send');

	/* B sends with Enter. */
	const msgB = 'hi alice, bob here';
	await b.fill('#chat-message-input', msgB);
	await b.press('#chat-message-input', 'Enter');

	const lineA = `alice: ${msgA}`;
	const lineB = `bob: ${msgB}`;
	for (const [p, who] of [[a, 'alice'], [b, 'bob']]) {
		await waitFor(async () => {
			const ls = await lines(p);
			return hasLine(ls, lineA) && hasLine(ls, lineB);
		}, `${who} to see both "${lineA}" and "${lineB}"`);
	}

	/* C's own message appears for C only. */
	const msgC = 'carol was here';
	await c.fill('#chat-message-input', msgC);
	await c.press('#chat-message-input', 'Enter');
	await waitFor(async () => hasLine(await lines(c), `carol: ${msgC}`), 'carol to see her own line');

	/* empty / blank messages are not sent */
	await a.fill('#chat-message-input', '   ');
	await a.click('#chat-message-submit');
	await b.fill('#chat-message-input', '');
	await b.press('#chat-message-input', 'Enter');

	await sleep(700); /* let anything misrouted arrive */
	const la = await lines(a);
	const lb = await lines(b);
	const lc = await lines(c);
	const dump = (ls) => JSON.stringify(ls.map((l) => l.text));
	assertEq(la.length, 2, `alice's line count (lines: ${dump(la)})`);
	assertEq(lb.length, 2, `bob's line count (lines: ${dump(lb)})`);
	assertEq(lc.length, 1, `carol's line count (lines: ${dump(lc)})`);
	assert(!hasLine(lc, lineA) && !hasLine(lc, lineB), `carol saw lobby lines: ${dump(lc)}`);
	assert(!hasLine(la, `carol: ${msgC}`), `alice saw carol's line: ${dump(la)}`);
	assert(!hasLine(lb, `carol: ${msgC}`), `bob saw carol's line: ${dump(lb)}`);

	/* own lines are marked, others' are not */
	assert(la.find((l) => l.text === lineA).own, 'alice: her own line should have class msg-own');
	assert(!la.find((l) => l.text === lineB).own, "alice: bob's line must not have class msg-own");
	assert(lb.find((l) => l.text === lineB).own, 'bob: his own line should have class msg-own');
	assert(!lb.find((l) => l.text === lineA).own, "bob: alice's line must not have class msg-own");

	/* the markup in alice's message stayed text */
	for (const [p, who] of [[a, 'alice'], [b, 'bob']]) {
		const imgs = await p.$$eval('#chat-log img, #chat-log b', (els) => els.length);
		assertEq(imgs, 0, `${who}: elements created from message text`);
		assertEq(await p.evaluate(() => window.__pwned === undefined), true,
			`${who}: script from message text did not run`);
	}

	/* the room list shows lobby with 2 people and other with 1 */
	const d = await (await browser.newContext()).newPage();
	errors.push(...watchPage(d, 'dora'));
	await d.goto(base + '/chat/');
	const rooms = await d.$$eval('#room-list li', (els) => els.map((e) => ({
		href: e.querySelector('a') && e.querySelector('a').getAttribute('href'),
		members: e.querySelector('.badge') && e.querySelector('.badge').textContent.trim() })));
	const lobby = rooms.find((r) => r.href === '/chat/lobby/');
	const other = rooms.find((r) => r.href === '/chat/other/');
	assert(lobby && lobby.members === '2', `room list: lobby with 2 members, got ${JSON.stringify(rooms)}`);
	assert(other && other.members === '1', `room list: other with 1 member, got ${JSON.stringify(rooms)}`);

	/* a bad room name (browser check removed) is refused with an error, no redirect */
	await d.fill('#id_username', 'dora');
	await d.evaluate(() => document.getElementById('id_room').removeAttribute('pattern'));
	await d.fill('#id_room', 'bad room!');
	await Promise.all([d.waitForNavigation(), d.click('#chat-join-submit')]);
	assertEq(new URL(d.url()).pathname, '/chat/', 'URL after POSTing a bad room name');
	const err = await d.$('.alert-error');
	assert(err, 'an error message (.alert-error) after POSTing a bad room name');

	/* when the socket closes, the status says so (server stops at the end: checked by run) */
	for (const p of [a, b, c])
		assertEq(await p.textContent('#chat-status'), 'live', `status on ${p.url()}`);

	assertEq(errors.length, 0, `console/page errors: ${JSON.stringify(errors)}`);
});
