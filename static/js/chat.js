/*
 * chat.js - the chat room page (templates/chat/room.html).
 * Sends {"message": text} (the server adds the session's username) and shows
 * each received {"username", "message"} as "username: message"; a received
 * {"error"} becomes a system line. Text only ever goes in via textContent.
 */
(function () {
	'use strict';

	var roomName = Live.readJsonScript('room-name', '');
	var userName = Live.readJsonScript('username', '');
	var log = document.getElementById('chat-log');
	var input = document.getElementById('chat-message-input');
	var button = document.getElementById('chat-message-submit');
	var form = document.getElementById('chat-form');
	var statusEl = document.getElementById('chat-status');
	var MAX_LINES = 500;

	function nearBottom() {
		return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
	}

	function addLine(cls, user, text) {
		var stick = nearBottom();
		var line = document.createElement('div');
		line.className = 'msg ' + cls;
		if (user !== null) {
			var who = document.createElement('span');
			who.className = 'msg-user';
			who.textContent = user;
			line.appendChild(who);
			line.appendChild(document.createTextNode(': '));
		}
		var body = document.createElement('span');
		body.className = 'msg-text';
		body.textContent = text;
		line.appendChild(body);
		/* the time is drawn by CSS from data-time, so the line's text stays "user: message" */
		line.setAttribute('data-time',
			new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
		log.appendChild(line);
		while (log.childNodes.length > MAX_LINES)
			log.removeChild(log.firstChild);
		if (stick)
			log.scrollTop = log.scrollHeight;
	}

	function systemLine(text) {
		addLine('msg-system', null, text);
	}

	var sock = new Live.LiveSocket({
		path: '/ws/chat/' + encodeURIComponent(roomName) + '/',
		statusEl: statusEl,
		reconnect: true,
		onOpen: function () {
			button.disabled = false;
		},
		onClose: function () {
			button.disabled = true;
		},
		onMessage: function (data) {
			if (data.error !== undefined) {
				systemLine(String(data.error));
				return;
			}
			if (data.message === undefined)
				return;
			var user = data.username === undefined ? '?' : String(data.username);
			addLine(user === userName ? 'msg-own' : 'msg-other', user, String(data.message));
		}
	});
	button.disabled = true;

	function send() {
		var text = input.value;
		if (text.trim() === '')
			return;
		if (!sock.send({ message: text })) {
			systemLine('Not connected: message not sent.');
			return;
		}
		input.value = '';
		input.focus();
	}

	input.addEventListener('keydown', function (e) {
		if (e.key === 'Enter' && !e.isComposing && !e.shiftKey) {
			e.preventDefault(); /* no implicit form submission as well */
			send();
		}
	});
	form.addEventListener('submit', function (e) {
		e.preventDefault();
		send();
	});
	button.addEventListener('click', function (e) {
		e.preventDefault();
		send();
	});
})();
