/*
 * ws.js - a small WebSocket wrapper shared by the app pages.
 *
 * LiveSocket(opts) connects to ws(s)://<this host><opts.path> and mirrors
 * its state into opts.statusEl (text and data-state attribute):
 *   "connecting"   the first attempt, not open yet;
 *   "live"         the socket is open (set on its open event, left on its
 *                  close event or, when the peer began the closing
 *                  handshake and the close event has not come yet, within
 *                  250 ms of its readyState leaving OPEN: the WebSocket API
 *                  has no event for that);
 *   "reconnecting" it closed (or an attempt failed) and another attempt is
 *                  waiting or under way;
 *   "offline"      it closed and no attempt will follow (opts.reconnect is
 *                  false, or close() was called), or the browser reports
 *                  no network (attempts resume on its "online" event).
 * With opts.reconnect, attempts follow with exponential backoff (0.5 s
 * doubling up to 15 s, halved at random; reset once a connection opens). Incoming text frames are JSON-parsed and passed to
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
		this.watch = null; /* interval: readyState left OPEN before the close event */
		this.stopped = false;
		this.opened = false; /* a connection was open once: later attempts are "reconnecting" */
		var self = this;
		global.addEventListener('online', function () {
			if (self.opts.reconnect && !self.stopped && !self.ws)
				self.connectNow();
		});
		global.addEventListener('offline', function () {
			if (!self.stopped && !self.isLive())
				setStatus(self.opts.statusEl, 'offline');
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
		setStatus(this.opts.statusEl, this.opened || this.attempt ? 'reconnecting' : 'connecting');
		try {
			ws = new global.WebSocket(wsUrl(this.opts.path));
		} catch (e) {
			this.handleClose();
			return;
		}
		this.ws = ws;
		ws.onopen = function () {
			if (self.ws !== ws)
				return;
			self.attempt = 0;
			self.opened = true;
			setStatus(self.opts.statusEl, 'live');
			self.watch = global.setInterval(function () {
				if (ws.readyState !== global.WebSocket.OPEN) {
					self.unwatch();
					setStatus(self.opts.statusEl, self.opts.reconnect && !self.stopped &&
						global.navigator.onLine !== false ? 'reconnecting' : 'offline');
				}
			}, 250);
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
			self.unwatch();
			self.handleClose(ev);
		};
		/* onerror is always followed by onclose; nothing to do here. */
	};

	LiveSocket.prototype.unwatch = function () {
		if (this.watch) {
			global.clearInterval(this.watch);
			this.watch = null;
		}
	};

	LiveSocket.prototype.handleClose = function (ev) {
		var retry = this.opts.reconnect && !this.stopped;
		var online = global.navigator.onLine !== false;
		setStatus(this.opts.statusEl, retry && online ? 'reconnecting' : 'offline');
		if (this.opts.onClose)
			this.opts.onClose(ev);
		if (!retry)
			return;
		if (!online) {
			this.attempt++; /* the "online" event tries again */
			return;
		}
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
		setStatus(this.opts.statusEl, 'offline');
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
