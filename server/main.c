/*
 * main.c - channels-server: the shipped apps on the server.
 */
#include <stdio.h>

#include "apps.h"
#include "server.h"

int main(int argc, char **argv)
{
	struct server_config cfg;
	server_config_init(&cfg);
	int rc = server_config_parse(&cfg, argc, argv);
	if (rc != 0) {
		json_decref(cfg.settings);
		return rc > 0 ? 0 : 2;
	}
	rc = server_run(&cfg, &apps_default);
	json_decref(cfg.settings);
	return rc == 0 ? 0 : 1;
}
