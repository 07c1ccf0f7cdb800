/* sessfix.h - what the session core's unit tests share: the group's
 * config, loaded once from JSON by the group set-up and freed by its
 * tear-down, and fx_feed, which hands session.c one command line
 * and returns the replies it queued. Include after cmocka.h and
 * session.h; one test program is one translation unit, so the config
 * is that program's own. */
#ifndef SESSFIX_H
#define SESSFIX_H

static struct cfg *cfg;

/* fx_load - the group's config from json; 0, or -1 (cmocka then
 * fails the group) */
static inline int fx_load(const char *json)
{
	cfg = cfg_load_buf(json, NULL, NULL);
	return cfg ? 0 : -1;
}

/* fx_teardown - the group tear-down: free the config */
static inline int fx_teardown(void **state)
{
	(void)state;
	cfg_free(cfg);
	cfg = NULL;
	return 0;
}

/* fx_feed - one line; the action, and the replies it queued
 * (NUL-terminated, cut at size - 1) in out, then cleared from s */
static inline enum session_action fx_feed(struct session *s,
                                               const char *line,
                                               char *out, size_t size)
{
	enum session_action a = session_feed_line(s, line, strlen(line));
	size_t n = s->out.len < size - 1 ? s->out.len : size - 1;

	memcpy(out, s->out.p ? s->out.p : "", n);
	out[n] = '\0';
	s->out.len = 0;
	return a;
}

#endif
