/*
 * notifications.js - the gossip notifications page
 * (templates/gossip/notifications.html). Every JSON event received on
 * /notifications/ (e.g. {"type": "name.gossip", "event": "New Post",
 * "sender": ..., "message": ...}) becomes a card at the top of #notifications.
 */
(function () {
	'use strict';

	var list = document.getElementById('notifications');
	var empty = document.getElementById('notifications-empty');
	var MAX_CARDS = 200;

	function field(obj, key, fallback) {
		var v = obj[key];
		if (v === undefined || v === null || v === '')
			return fallback;
		return typeof v === 'string' ? v : JSON.stringify(v);
	}

	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	function addCard(ev) {
		var now = new Date();
		var card = el('li', 'notification card');
		var head = el('div', 'notification-head');
		head.appendChild(el('strong', 'notification-event', field(ev, 'event', field(ev, 'type', 'event'))));
		var time = el('time', 'notification-time',
			now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }));
		time.dateTime = now.toISOString();
		head.appendChild(time);
		card.appendChild(head);
		var from = el('div', 'notification-sender');
		from.appendChild(document.createTextNode('from '));
		from.appendChild(el('strong', null, field(ev, 'sender', 'someone')));
		card.appendChild(from);
		card.appendChild(el('p', 'notification-message', field(ev, 'message', '')));
		list.insertBefore(card, list.firstChild);
		while (list.children.length > MAX_CARDS)
			list.removeChild(list.lastChild);
		if (empty)
			empty.hidden = true;
	}

	new Live.LiveSocket({
		path: '/notifications/',
		statusEl: document.getElementById('notify-status'),
		reconnect: true,
		onMessage: addCard
	});
})();
