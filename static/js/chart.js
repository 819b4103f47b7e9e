/*
 * chart.js - the live graph page (templates/chart/chart.html).
 *
 * Opens /ws/two_url/ (and opens it again after it closes, with ws.js'
 * backoff: the server sends a new series on each connection, appended to
 * the points already drawn); each {"data": 0..100} appends a point (the
 * newest `points` are kept) and schedules a redraw. The drawing is a small
 * hand-written canvas line chart: y axis fixed to 0..100 with grid lines,
 * x axis = sample number, the line with a light fill, and the last value
 * marked. The canvas backing store follows its CSS size times
 * devicePixelRatio, and is redrawn on resize.
 */
(function () {
	'use strict';

	var canvas = document.getElementById('chart');
	var countEl = document.getElementById('chart-count');
	var lastEl = document.getElementById('chart-last');
	var statusEl = document.getElementById('chart-status');
	var capacity = Number(Live.readJsonScript('chart-points', 100));
	if (!isFinite(capacity) || capacity < 2)
		capacity = 100;
	capacity = Math.min(Math.floor(capacity), 10000);

	var values = [];   /* the newest `capacity` values */
	var received = 0;  /* total points received; x of values[i] = first + i */
	var pending = false;

	function cssVar(name, fallback) {
		var v = getComputedStyle(canvas).getPropertyValue(name);
		return v && v.trim() ? v.trim() : fallback;
	}

	function niceStep(range, target) {
		var raw = range / Math.max(1, target);
		var mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
		var steps = [1, 2, 5, 10];
		for (var i = 0; i < steps.length; i++) {
			if (steps[i] * mag >= raw)
				return steps[i] * mag;
		}
		return 10 * mag;
	}

	function draw() {
		pending = false;
		var dpr = window.devicePixelRatio || 1;
		var w = canvas.clientWidth;
		var h = canvas.clientHeight;
		if (w === 0 || h === 0)
			return;
		var bw = Math.round(w * dpr);
		var bh = Math.round(h * dpr);
		if (canvas.width !== bw || canvas.height !== bh) {
			canvas.width = bw;
			canvas.height = bh;
		}
		var ctx = canvas.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);

		var colBg = cssVar('--chart-bg', '#ffffff');
		var colGrid = cssVar('--chart-grid', '#e3e7ee');
		var colAxis = cssVar('--chart-axis', '#8a94a6');
		var colText = cssVar('--chart-text', '#4a5568');
		var colLine = cssVar('--chart-line', '#2f6fde');
		var colFill = cssVar('--chart-fill', 'rgba(47, 111, 222, 0.12)');
		var font = '12px ' + cssVar('--chart-font', 'system-ui, sans-serif');

		ctx.fillStyle = colBg;
		ctx.fillRect(0, 0, w, h);
		ctx.font = font;

		var pad = { left: 40, right: 16, top: 14, bottom: 30 };
		var pw = w - pad.left - pad.right;
		var ph = h - pad.top - pad.bottom;
		if (pw < 20 || ph < 20)
			return;

		var first = received - values.length + 1; /* sample number of values[0] */
		var xMin = Math.max(1, first);
		var xMax = xMin + capacity - 1;
		function X(n) { return pad.left + (n - xMin) / (xMax - xMin) * pw; }
		function Y(v) { return pad.top + (1 - v / 100) * ph; }

		/* y grid and labels: 0, 25, 50, 75, 100 */
		ctx.lineWidth = 1;
		ctx.textAlign = 'right';
		ctx.textBaseline = 'middle';
		for (var v = 0; v <= 100; v += 25) {
			var y = Math.round(Y(v)) + 0.5;
			ctx.strokeStyle = colGrid;
			ctx.beginPath();
			ctx.moveTo(pad.left, y);
			ctx.lineTo(pad.left + pw, y);
			ctx.stroke();
			ctx.fillStyle = colText;
			ctx.fillText(String(v), pad.left - 6, y);
		}

		/* x ticks and labels (sample numbers) */
		var maxTicks = Math.max(2, Math.floor(pw / 60));
		var step = niceStep(xMax - xMin, maxTicks);
		ctx.textAlign = 'center';
		ctx.textBaseline = 'top';
		ctx.strokeStyle = colAxis;
		for (var n = Math.ceil(xMin / step) * step; n <= xMax; n += step) {
			var x = Math.round(X(n)) + 0.5;
			ctx.beginPath();
			ctx.moveTo(x, pad.top + ph);
			ctx.lineTo(x, pad.top + ph + 4);
			ctx.stroke();
			ctx.fillStyle = colText;
			ctx.fillText(String(n), x, pad.top + ph + 7);
		}

		/* axes */
		ctx.strokeStyle = colAxis;
		ctx.beginPath();
		ctx.moveTo(pad.left + 0.5, pad.top);
		ctx.lineTo(pad.left + 0.5, pad.top + ph + 0.5);
		ctx.lineTo(pad.left + pw, pad.top + ph + 0.5);
		ctx.stroke();

		if (values.length === 0) {
			ctx.fillStyle = colText;
			ctx.textAlign = 'center';
			ctx.textBaseline = 'middle';
			ctx.fillText('waiting for data…', pad.left + pw / 2, pad.top + ph / 2);
			return;
		}

		/* filled area, then the line */
		var i;
		ctx.beginPath();
		ctx.moveTo(X(first), Y(0));
		for (i = 0; i < values.length; i++)
			ctx.lineTo(X(first + i), Y(values[i]));
		ctx.lineTo(X(first + values.length - 1), Y(0));
		ctx.closePath();
		ctx.fillStyle = colFill;
		ctx.fill();

		ctx.beginPath();
		for (i = 0; i < values.length; i++) {
			if (i === 0)
				ctx.moveTo(X(first), Y(values[0]));
			else
				ctx.lineTo(X(first + i), Y(values[i]));
		}
		ctx.strokeStyle = colLine;
		ctx.lineWidth = 2;
		ctx.lineJoin = 'round';
		ctx.stroke();

		/* last value: a dot and its label */
		var lx = X(first + values.length - 1);
		var last = values[values.length - 1];
		var ly = Y(last);
		ctx.beginPath();
		ctx.arc(lx, ly, 4, 0, 2 * Math.PI);
		ctx.fillStyle = colLine;
		ctx.fill();
		var label = String(last);
		ctx.font = 'bold ' + font;
		var tw = ctx.measureText(label).width;
		var tx = lx + 8 + tw > pad.left + pw ? lx - 8 - tw : lx + 8;
		var ty = Math.min(Math.max(ly - 10, pad.top + 6), pad.top + ph - 6);
		ctx.textAlign = 'left';
		ctx.textBaseline = 'middle';
		ctx.fillStyle = colBg;
		ctx.fillRect(tx - 3, ty - 9, tw + 6, 18);
		ctx.fillStyle = colLine;
		ctx.fillText(label, tx, ty);
	}

	function scheduleDraw() {
		if (pending)
			return;
		pending = true;
		window.requestAnimationFrame(draw);
	}

	function addPoint(v) {
		values.push(v);
		if (values.length > capacity)
			values.shift();
		received++;
		countEl.textContent = String(received);
		lastEl.textContent = String(v);
		scheduleDraw();
	}

	if (window.ResizeObserver)
		new ResizeObserver(scheduleDraw).observe(canvas);
	else
		window.addEventListener('resize', scheduleDraw);
	/* devicePixelRatio changes (zoom, moving to another screen) */
	if (window.matchMedia) {
		var watchDpr = function () {
			var mq = window.matchMedia('(resolution: ' + (window.devicePixelRatio || 1) + 'dppx)');
			var once = function () {
				mq.removeEventListener('change', once);
				scheduleDraw();
				watchDpr();
			};
			if (mq.addEventListener)
				mq.addEventListener('change', once);
		};
		watchDpr();
	}
	if (window.matchMedia) {
		var dark = window.matchMedia('(prefers-color-scheme: dark)');
		if (dark.addEventListener)
			dark.addEventListener('change', scheduleDraw);
	}
	scheduleDraw();

	new Live.LiveSocket({
		path: '/ws/two_url/',
		statusEl: statusEl,
		reconnect: true, /* as chat: the points go on after a server restart */
		onMessage: function (msg) {
			var v = Number(msg.data);
			if (msg.data === null || msg.data === undefined || !isFinite(v))
				return;
			addPoint(Math.max(0, Math.min(100, v)));
		}
	});
})();
