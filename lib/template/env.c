/*
 * env.c - template environments: loading through a callback, a compile-once
 * cache shared by all threads, and the directory loader.
 *
 * The cache only grows: a template, once compiled, stays until
 * tmpl_env_free, so renders use it without holding the lock. Sources are not
 * reloaded when the files change (restart to pick up edits).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "template_int.h"

#define CACHE_BUCKETS	  64
#define MAX_TEMPLATE_SIZE (16u << 20)

struct cache_entry {
	struct cache_entry *next;
	char *name;
	struct tmpl *t;
};

struct tmpl_env {
	tmpl_load_cb load;
	void *ud;
	char *dir; /* tmpl_env_new_dir: ud points here; owned */
	char *static_url;
	pthread_mutex_t lock; /* guards buckets */
	struct cache_entry *buckets[CACHE_BUCKETS];
};

struct tmpl_env *tmpl_env_new(tmpl_load_cb load, void *ud, const char *static_url)
{
	struct tmpl_env *env = calloc(1, sizeof(*env));
	if (!env)
		return NULL;
	env->load = load;
	env->ud = ud;
	env->static_url = strdup(static_url ? static_url : "/static/");
	if (!env->static_url || pthread_mutex_init(&env->lock, NULL) != 0) {
		free(env->static_url);
		free(env);
		return NULL;
	}
	return env;
}

void tmpl_env_free(struct tmpl_env *env)
{
	if (!env)
		return;
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		struct cache_entry *e = env->buckets[b];
		while (e) {
			struct cache_entry *next = e->next;
			tmpl_free(e->t);
			free(e->name);
			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&env->lock);
	free(env->static_url);
	free(env->dir);
	free(env);
}

const char *tmpl__env_static_url(const struct tmpl_env *env)
{
	return env->static_url;
}

static size_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CACHE_BUCKETS;
}

/* Caller holds env->lock. */
static struct tmpl *cache_find(struct tmpl_env *env, const char *name, size_t b)
{
	for (struct cache_entry *e = env->buckets[b]; e; e = e->next)
		if (!strcmp(e->name, name))
			return e->t;
	return NULL;
}

int tmpl__env_get(struct tmpl_env *env, const char *name, const struct tmpl **out, char *err,
		  size_t errlen)
{
	size_t b = hash_name(name);
	pthread_mutex_lock(&env->lock);
	struct tmpl *t = cache_find(env, name, b);
	pthread_mutex_unlock(&env->lock);
	if (t) {
		*out = t;
		return CH_OK;
	}
	/* load and compile without the lock; a racing thread's copy may win */
	char *src = NULL;
	size_t len = 0;
	int rc = env->load(env->ud, name, &src, &len);
	if (rc != 0) {
		free(src);
		if (err && errlen)
			snprintf(err, errlen, "%s",
				 rc == CH_ENOTFOUND ? "template not found" : ch_strerror(rc));
		return rc;
	}
	char perr[200];
	rc = tmpl_parse(src, len, &t, perr, sizeof(perr));
	free(src);
	if (rc != CH_OK) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", name, perr);
		LOG(LOG_WARN, "template", "%s: %s", name, perr);
		return rc;
	}
	struct cache_entry *e = calloc(1, sizeof(*e));
	char *dup = strdup(name);
	if (!e || !dup) {
		free(e);
		free(dup);
		tmpl_free(t);
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return CH_ENOMEM;
	}
	pthread_mutex_lock(&env->lock);
	struct tmpl *other = cache_find(env, name, b);
	if (other) {
		free(e);
		free(dup);
		tmpl_free(t);
		t = other;
	} else {
		e->name = dup;
		e->t = t;
		e->next = env->buckets[b];
		env->buckets[b] = e;
	}
	pthread_mutex_unlock(&env->lock);
	*out = t;
	return CH_OK;
}

int tmpl_render(struct tmpl_env *env, const char *name, json_t *ctx, char **out, size_t *outlen,
		char *err, size_t errlen)
{
	*out = NULL;
	if (outlen)
		*outlen = 0;
	const struct tmpl *t;
	int rc = tmpl__env_get(env, name, &t, err, errlen);
	if (rc != CH_OK)
		return rc;
	return tmpl__render(env, t, ctx, env->static_url, out, outlen, err, errlen);
}

/* ---- directory loader ---- */

static bool name_is_safe(const char *name)
{
	if (!name[0] || name[0] == '/' || strchr(name, '\\'))
		return false;
	for (const char *seg = name; seg;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len == 2 && seg[0] == '.' && seg[1] == '.')
			return false;
		seg = slash ? slash + 1 : NULL;
	}
	return true;
}

static int dir_load(void *ud, const char *name, char **src, size_t *len)
{
	const char *dir = ud;
	if (!name_is_safe(name))
		return CH_ENOTFOUND;
	size_t plen = strlen(dir) + strlen(name) + 2;
	char *path = malloc(plen);
	if (!path)
		return CH_ENOMEM;
	snprintf(path, plen, "%s/%s", dir, name);
	/* O_NONBLOCK: opening a FIFO must not hang; it is refused below */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return CH_ENOTFOUND;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_TEMPLATE_SIZE) {
		close(fd);
		return CH_ENOTFOUND;
	}
	size_t size = (size_t)st.st_size, got = 0;
	char *buf = malloc(size + 1);
	if (!buf) {
		close(fd);
		return CH_ENOMEM;
	}
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*src = buf;
	*len = got;
	return 0;
}

struct tmpl_env *tmpl_env_new_dir(const char *dir, const char *static_url)
{
	char *copy = strdup(dir);
	if (!copy)
		return NULL;
	struct tmpl_env *env = tmpl_env_new(dir_load, copy, static_url);
	if (!env) {
		free(copy);
		return NULL;
	}
	env->dir = copy;
	return env;
}
