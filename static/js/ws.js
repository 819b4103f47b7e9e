/*
 * ws.js - a small WebSocket wrapper shared by the app pages.
 *
 * LiveSocket(opts) connects to ws(s)://<this host><opts.path>, mirrors its
 * state into opts.statusEl ("connecting" / "live" / "closed": text and
 * data-state attribute) and, when opts.reconnect is true, reconnects with
 * exponential backoff (0.5 s doubling up to 15 s, with jitter; reset once a
 * connection opens). Incoming text frames are JSON-parsed and passed to
 * opts.onMessage(obj); frames that are not JSON objects go to
 * opts.onBadMessage(text) if given and are otherwise ignored.
 * No data is ever inserted as HTML by this file.
 */
(function (global) {
	'use strict';

	function wsUrl(path) {
		var proto = global.location.protocol === 'https:' ? 'wss://' : 'ws://';
		return proto + global.location.host + path;
	}

	function setStatus(el, state) {
		if (!el)
			return;
		el.textContent = state;
		el.setAttribute('data-state', state);
	}

	function LiveSocket(opts) {
		this.opts = opts;
		this.ws = null;
		this.attempt = 0;
		this.timer = null;
		this.stopped = false;
		var self = this;
		global.addEventListener('online', function () {
			if (self.opts.reconnect && !self.stopped && !self.ws)
				self.connectNow();
		});
		this.connect();
	}

	LiveSocket.prototype.connectNow = function () {
		if (this.timer) {
			global.clearTimeout(this.timer);
			this.timer = null;
		}
		this.connect();
	};

	LiveSocket.prototype.connect = function () {
		var self = this;
		var ws;
		setStatus(this.opts.statusEl, 'connecting');
		try {
			ws = new global.WebSocket(wsUrl(this.opts.path));
		} catch (e) {
			this.handleClose();
			return;
		}
		this.ws = ws;
		ws.onopen = function () {
			self.attempt = 0;
			setStatus(self.opts.statusEl, 'live');
			if (self.opts.onOpen)
				self.opts.onOpen();
		};
		ws.onmessage = function (ev) {
			var obj = null;
			if (typeof ev.data === 'string') {
				try {
					obj = JSON.parse(ev.data);
				} catch (e) {
					obj = null;
				}
			}
			if (obj && typeof obj === 'object' && !Array.isArray(obj))
				self.opts.onMessage(obj);
			else if (self.opts.onBadMessage)
				self.opts.onBadMessage(String(ev.data));
		};
		ws.onclose = function (ev) {
			if (self.ws !== ws)
				return;
			self.ws = null;
			self.handleClose(ev);
		};
		/* onerror is always followed by onclose; nothing to do here. */
	};

	LiveSocket.prototype.handleClose = function (ev) {
		setStatus(this.opts.statusEl, 'closed');
		if (this.opts.onClose)
			this.opts.onClose(ev);
		if (!this.opts.reconnect || this.stopped)
			return;
		var base = Math.min(15000, 500 * Math.pow(2, this.attempt));
		var delay = base / 2 + Math.random() * base / 2;
		var self = this;
		this.attempt++;
		this.timer = global.setTimeout(function () {
			self.timer = null;
			if (!self.stopped)
				self.connect();
		}, delay);
	};

	/* Sends obj as JSON; returns false (and sends nothing) when not live. */
	LiveSocket.prototype.send = function (obj) {
		if (!this.ws || this.ws.readyState !== global.WebSocket.OPEN)
			return false;
		this.ws.send(JSON.stringify(obj));
		return true;
	};

	LiveSocket.prototype.isLive = function () {
		return !!this.ws && this.ws.readyState === global.WebSocket.OPEN;
	};

	LiveSocket.prototype.close = function () {
		this.stopped = true;
		if (this.timer) {
			global.clearTimeout(this.timer);
			this.timer = null;
		}
		if (this.ws)
			this.ws.close(1000);
	};

	/* Reads a {{ x|json_script:"id" }} element; returns fallback if absent/bad. */
	function readJsonScript(id, fallback) {
		var el = global.document.getElementById(id);
		if (!el)
			return fallback;
		try {
			return JSON.parse(el.textContent);
		} catch (e) {
			return fallback;
		}
	}

	global.Live = {
		LiveSocket: LiveSocket,
		wsUrl: wsUrl,
		setStatus: setStatus,
		readJsonScript: readJsonScript
	};
})(window);
