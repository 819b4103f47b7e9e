/*
 * posts.js - shows each post's ISO-8601 creation time in the visitor's local
 * time (templates/gossip/posts.html). Leaves the text alone when unparsable.
 */
(function () {
	'use strict';

	var times = document.querySelectorAll('time.post-time');
	for (var i = 0; i < times.length; i++) {
		var iso = times[i].getAttribute('datetime');
		var d = new Date(iso);
		if (!iso || isNaN(d.getTime()))
			continue;
		times[i].textContent = d.toLocaleString([], {
			dateStyle: 'medium', timeStyle: 'short'
		});
		times[i].title = iso;
	}
})();
