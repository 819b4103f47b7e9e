/*
 * layer_hash.c - the intrusive string hash table of layer_int.h.
 */
#include "layer_int.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 32 bits: names are short ASCII strings. */
uint32_t layer__hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

int layer__hash_init(struct layer__hash *h, size_t buckets, size_t key_off)
{
	h->key_off = key_off;
	h->buckets = calloc(buckets, sizeof(*h->buckets));
	if (!h->buckets)
		return CH_ENOMEM;
	h->mask = buckets - 1;
	h->count = 0;
	return 0;
}

void layer__hash_destroy(struct layer__hash *h)
{
	free(h->buckets);
	h->buckets = NULL;
	h->count = 0;
}

struct layer__hnode *layer__hash_find(const struct layer__hash *h, const char *key,
				      uint32_t hash)
{
	struct layer__hnode *n;

	for (n = h->buckets[hash & h->mask]; n; n = n->next)
		if (n->hash == hash && strcmp(layer__hash_key(h, n), key) == 0)
			return n;
	return NULL;
}

static void grow(struct layer__hash *h)
{
	size_t nb = (h->mask + 1) * 2, i;
	struct layer__hnode **b = calloc(nb, sizeof(*b)), *n, *next;

	if (!b)
		return;
	for (i = 0; i <= h->mask; i++) {
		for (n = h->buckets[i]; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->mask = nb - 1;
}

void layer__hash_insert(struct layer__hash *h, struct layer__hnode *n)
{
	struct layer__hnode **b;

	if (h->count > h->mask)
		grow(h);
	n->hash = layer__hash_str(layer__hash_key(h, n));
	b = &h->buckets[n->hash & h->mask];
	n->next = *b;
	*b = n;
	h->count++;
}

void layer__hash_remove(struct layer__hash *h, struct layer__hnode *n)
{
	struct layer__hnode **p = &h->buckets[n->hash & h->mask];

	while (*p && *p != n)
		p = &(*p)->next;
	if (*p) {
		*p = n->next;
		h->count--;
	}
}
