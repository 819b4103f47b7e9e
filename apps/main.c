/*
 * main.c - channels-server: the installed apps (apps/meson.build) on the server.
 */
#include "apps.h"

int main(int argc, char **argv)
{
	return server_main(argc, argv, apps_installed);
}
