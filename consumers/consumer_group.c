/*
 * consumer_group.c - a consumer's groups and its sends to groups and
 * channels. The layer is the one record of which groups a consumer's
 * channel is in: a consumer keeps no list of its own, and leaves them all
 * with layer_group_discard_all() when it closes (consumer.c).
 */
#include "consumer_int.h"

int consumer_group_add(struct consumer *c, const char *group)
{
	if (c->state == CONSUMER__ST_GONE)
		return CH_ECLOSED;
	return layer_group_add(c->layer, group, consumer_channel_name(c));
}

int consumer_group_discard(struct consumer *c, const char *group)
{
	if (c->state == CONSUMER__ST_GONE)
		return CH_ECLOSED;
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
