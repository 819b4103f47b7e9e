/*
 * status.js - the live status page (templates/status.html, server/status.c).
 *
 * Opens /status/ws/ (with the page's ?token= when there is one); each
 * message is the server's totals. Counters become per-second rates from
 * the previous message; every series keeps its newest 120 points and is
 * drawn on its own canvas by a small hand-written line chart (y from 0 to
 * the series' maximum, rounded up). The socket reconnects with a doubling
 * delay (1 s to 30 s) and the indicator says which state it is in.
 */
(function () {
	'use strict';

	var KEEP = 120;
	var conn = document.getElementById('status-conn');
	var charts = {
		http: { el: document.getElementById('c-http'), series: [[]] },
		msgs: { el: document.getElementById('c-msgs'), series: [[], []] },
		open: { el: document.getElementById('c-open'), series: [[]] },
		lag: { el: document.getElementById('c-lag'), series: [[]] },
		queue: { el: document.getElementById('c-queue'), series: [[]] }
	};
	var prev = null;
	var prevAt = 0;
	var delay = 1000;

	function state(s, text) {
		conn.setAttribute('data-state', s);
		conn.textContent = text;
	}

	function cssVar(el, name, fallback) {
		var v = getComputedStyle(el).getPropertyValue(name);
		return v && v.trim() ? v.trim() : fallback;
	}

	function niceMax(v) {
		if (!(v > 0))
			return 1;
		var mag = Math.pow(10, Math.floor(Math.log(v) / Math.LN10));
		var steps = [1, 2, 5, 10];
		for (var i = 0; i < steps.length; i++)
			if (steps[i] * mag >= v)
				return steps[i] * mag;
		return 10 * mag;
	}

	function draw(ch) {
		var c = ch.el;
		var dpr = window.devicePixelRatio || 1;
		var w = c.clientWidth, h = c.clientHeight;
		if (!w || !h)
			return;
		if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
			c.width = Math.round(w * dpr);
			c.height = Math.round(h * dpr);
		}
		var ctx = c.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.fillStyle = cssVar(c, '--chart-bg', '#ffffff');
		ctx.fillRect(0, 0, w, h);
		var pad = { left: 44, right: 10, top: 10, bottom: 18 };
		var pw = w - pad.left - pad.right, ph = h - pad.top - pad.bottom;
		var max = 0;
		ch.series.forEach(function (s) {
			s.forEach(function (v) { max = Math.max(max, v); });
		});
		max = niceMax(max);
		ctx.strokeStyle = cssVar(c, '--chart-grid', '#e3e7ee');
		ctx.fillStyle = cssVar(c, '--chart-text', '#4a5568');
		ctx.font = '11px ' + cssVar(c, '--chart-font', 'system-ui, sans-serif');
		ctx.textAlign = 'right';
		ctx.textBaseline = 'middle';
		for (var g = 0; g <= 4; g++) {
			var y = pad.top + ph - ph * g / 4;
			ctx.beginPath();
			ctx.moveTo(pad.left, y);
			ctx.lineTo(pad.left + pw, y);
			ctx.stroke();
			var label = max * g / 4;
			ctx.fillText(label >= 10 || label === 0 ? String(Math.round(label)) : label.toFixed(1),
				pad.left - 6, y);
		}
		var colors = [cssVar(c, '--chart-line', '#2f6fde'), '#d9822b'];
		ch.series.forEach(function (s, k) {
			if (s.length < 2)
				return;
			ctx.strokeStyle = colors[k % colors.length];
			ctx.lineWidth = 2;
			ctx.beginPath();
			s.forEach(function (v, i) {
				var x = pad.left + pw * (i + KEEP - s.length) / (KEEP - 1);
				var y = pad.top + ph - ph * v / max;
				if (i === 0)
					ctx.moveTo(x, y);
				else
					ctx.lineTo(x, y);
			});
			ctx.stroke();
		});
	}

	function push(ch, k, v) {
		var s = ch.series[k];
		s.push(v);
		if (s.length > KEEP)
			s.shift();
	}

	function text(id, v) {
		document.getElementById(id).textContent = String(v);
	}

	function onSnapshot(m) {
		var now = Date.now();
		if (prev) {
			var dt = Math.max(0.001, (now - prevAt) / 1000);
			push(charts.http, 0, (m.http_responses - prev.http_responses) / dt);
			push(charts.msgs, 0, (m.ws_messages_in - prev.ws_messages_in) / dt);
			push(charts.msgs, 1, (m.ws_messages_out - prev.ws_messages_out) / dt);
		}
		push(charts.open, 0, m.ws_open);
		push(charts.lag, 0, m.loop_lag_ms);
		push(charts.queue, 0, m.view_queue);
		prev = m;
		prevAt = now;
		text('s-layer', m.layer);
		text('s-accepted', m.ws_accepted);
		text('s-refused', m.ws_refused);
		text('s-1008', m.closes_1008);
		text('s-1013', m.closes_1013);
		text('s-dropped', m.layer_dropped);
		Object.keys(charts).forEach(function (k) { draw(charts[k]); });
	}

	function connect() {
		var token = new URLSearchParams(location.search).get('token');
		var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
			'/status/ws/' + (token ? '?token=' + encodeURIComponent(token) : '');
		var ws = new WebSocket(url);
		state('connecting', 'connecting');
		ws.onopen = function () {
			delay = 1000;
			state('live', 'live');
		};
		ws.onmessage = function (e) {
			try {
				onSnapshot(JSON.parse(e.data));
			} catch (err) {
				/* a malformed message is skipped */
			}
		};
		ws.onclose = function () {
			prev = null; /* rates restart: the counters may have been reset */
			state('closed', 'reconnecting in ' + Math.round(delay / 1000) + ' s');
			setTimeout(connect, delay);
			delay = Math.min(delay * 2, 30000);
		};
	}

	window.addEventListener('resize', function () {
		Object.keys(charts).forEach(function (k) { draw(charts[k]); });
	});
	connect();
})();
