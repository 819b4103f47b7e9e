/*
 * notifications.mjs - tab 1 watches /notifications/; a second visitor (named
 * "dora" through the chat form) writes a post on /posts/. Tab 1 must show a
 * "New Post" card with sender and message within 5 s, and the post must be
 * listed on /posts/.
 */
import { run, assert, assertEq, waitFor, waitStatus, watchPage } from './lib.mjs';

await run('notifications', async ({ browser, base }) => {
	const watcherCtx = await browser.newContext();
	const writerCtx = await browser.newContext();
	const watcher = await watcherCtx.newPage();
	const writer = await writerCtx.newPage();
	const errors = [...watchPage(watcher, 'watcher'), ...watchPage(writer, 'writer')];

	await watcher.goto(base + '/notifications/');
	await waitStatus(watcher, 'notify-status', 'live');
	assertEq(await watcher.$$eval('#notifications .notification', (e) => e.length), 0,
		'cards before any post');

	/* the writer picks a display name (stored in the session cookie) */
	await writer.goto(base + '/chat/');
	await writer.fill('#id_username', 'dora');
	await writer.fill('#id_room', 'posting');
	await Promise.all([writer.waitForNavigation(), writer.click('#chat-join-submit')]);
	assertEq(new URL(writer.url()).pathname, '/chat/posting/', 'URL after choosing a name');

	const resp = await writer.goto(base + '/posts/');
	assertEq(resp.status(), 200, 'GET /posts/ status');
	const message = `gossip <i>${Date.now()}</i> & friends`;
	await writer.fill('#id_message', message);
	const t0 = Date.now();
	const [after] = await Promise.all([writer.waitForNavigation(), writer.click('#post-submit')]);
	assertEq(after.status(), 200, 'status of the page after POST /posts/ (following the 302)');
	assertEq(new URL(writer.url()).pathname, '/posts/', 'URL after POST /posts/');

	const card = await waitFor(async () => {
		const cards = await watcher.$$eval('#notifications .notification', (els) => els.map((e) => ({
			event: (e.querySelector('.notification-event') || {}).textContent,
			sender: (e.querySelector('.notification-sender strong') || {}).textContent,
			message: (e.querySelector('.notification-message') || {}).textContent,
			time: (e.querySelector('.notification-time') || {}).textContent,
			text: e.textContent })));
		return cards.find((c) => c.message === message);
	}, `a notification card with message ${JSON.stringify(message)}`, 5000);
	console.log(`notification arrived ${Date.now() - t0} ms after submitting`);
	assertEq(card.event, 'New Post', 'card event');
	assertEq(card.sender, 'dora', 'card sender');
	assert(/\d/.test(card.time || ''), `card shows a local time, got ${JSON.stringify(card.time)}`);
	assertEq(await watcher.$$eval('#notifications i', (e) => e.length), 0,
		'elements created from message text');
	assertEq(await watcher.isVisible('#notifications-empty'), false,
		'"No notifications yet" hidden once a card arrived');

	const posts = await writer.$$eval('#posts .post', (els) => els.map((e) => ({
		sender: e.querySelector('.post-sender').textContent.trim(),
		message: e.querySelector('.post-message').textContent })));
	assert(posts.length >= 1, 'at least one post listed on /posts/');
	assertEq(posts[0].message, message, 'newest post message on /posts/');
	assertEq(posts[0].sender, 'dora', 'newest post sender on /posts/');

	/* a second post arrives on top */
	const second = `second ${Date.now()}`;
	await writer.fill('#id_message', second);
	await Promise.all([writer.waitForNavigation(), writer.click('#post-submit')]);
	await waitFor(async () => (await watcher.$eval('#notifications .notification .notification-message',
		(e) => e.textContent)) === second, 'the second post to be the top card', 5000);

	assertEq(await watcher.textContent('#notify-status'), 'live', 'watcher status');
	assertEq(errors.length, 0, `console/page errors: ${JSON.stringify(errors)}`);
});
