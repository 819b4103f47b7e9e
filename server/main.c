/*
 * main.c - server_main(): the whole main() of a program serving a list of
 * apps (apps/main.c is channels-server's).
 */
#include <malloc.h>

#include "server.h"

int server_main(int argc, char **argv, const struct server_app *const apps[])
{
	struct server_config cfg;
	/* No fastbins: each handshake frees a burst of small transients (request
	 * copies, router kwargs, lws' header table) between long-lived
	 * allocations, and fastbin consolidation left ~40 B of holes per idle
	 * WebSocket (benchmark M3). tcache still serves the hot small sizes;
	 * no throughput change measured on M2. */
	mallopt(M_MXFAST, 0);
	server_config_init(&cfg);
	int rc = server_config_parse(&cfg, apps, argc, argv);
	if (rc != 0) {
		json_decref(cfg.settings);
		return rc > 0 ? 0 : 2;
	}
	rc = server_run(&cfg, apps);
	json_decref(cfg.settings);
	return rc == 0 ? 0 : 1;
}
