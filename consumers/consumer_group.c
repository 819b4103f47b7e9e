/*
 * consumer_group.c - a consumer's groups (the first one inline, the others
 * on its extra block; names interned per thread) and its sends to groups
 * and channels.
 */
#include "consumer_int.h"

#include <stdlib.h>
#include <string.h>

int consumer_group_add(struct consumer *c, const char *group)
{
	if (c->state == CONSUMER__ST_GONE)
		return CH_ECLOSED;
	int rc = layer_group_add(c->layer, group, consumer_channel_name(c));
	if (rc != 0)
		return rc;
	if (c->group && strcmp(c->group->name, group) == 0)
		return 0;
	for (struct group_ref *g = c->extra ? c->extra->groups : NULL; g; g = g->next)
		if (strcmp(g->g->name, group) == 0)
			return 0;
	struct gname *name = consumer__gname_get(group);
	if (!name)
		return CH_ENOMEM;
	if (!c->group) {
		c->group = name;
		return 0;
	}
	struct consumer_extra *x = consumer__extra(c);
	struct group_ref *g = x ? malloc(sizeof(*g)) : NULL;
	if (!g) {
		consumer__gname_put(name);
		return CH_ENOMEM;
	}
	g->g = name;
	g->next = x->groups;
	x->groups = g;
	return 0;
}

int consumer_group_discard(struct consumer *c, const char *group)
{
	if (c->state == CONSUMER__ST_GONE)
		return CH_ECLOSED;
	if (c->group && strcmp(c->group->name, group) == 0) {
		consumer__gname_put(c->group);
		c->group = NULL;
	}
	for (struct group_ref **pp = c->extra ? &c->extra->groups : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if (strcmp((*pp)->g->name, group) == 0) {
			struct group_ref *g = *pp;
			*pp = g->next;
			consumer__gname_put(g->g);
			free(g);
			break;
		}
	}
	return layer_group_discard(c->layer, group, consumer_channel_name(c));
}

int consumer_group_send(struct consumer *c, const char *group, json_t *msg)
{
	return layer_group_send(c->layer, group, msg);
}

int consumer_channel_send(struct consumer *c, const char *channel, json_t *msg)
{
	return layer_send(c->layer, channel, msg);
}


void consumer__groups_leave(struct consumer *c, const char *channel)
{
	if (c->group) {
		layer_group_discard(c->layer, c->group->name, channel);
		consumer__gname_put(c->group);
		c->group = NULL;
	}
	struct consumer_extra *x = c->extra;
	while (x && x->groups) {
		struct group_ref *g = x->groups;
		x->groups = g->next;
		layer_group_discard(c->layer, g->g->name, channel);
		consumer__gname_put(g->g);
		free(g);
	}
}
