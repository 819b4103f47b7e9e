/*
 * main.c - channels-server: the installed apps (urls.c) on the server.
 */
#include "apps.h"

int main(int argc, char **argv)
{
	return server_main(argc, argv, apps_installed);
}
