/* serve-load: the load generator of `make bench` for leavesync serve (tools/bench-serve).
 *
 *   serve-load --url URL --key-file FILE [--cacert FILE] [--threads T] [--singles N]
 *              [--batches B] [--batch-size S] [--mailboxes M] [--prefix P]
 *
 * Phase 1: T threads, each with one keep-alive connection, send N single upserts in all
 * (PUT /v1/leave/{id}, distinct ids). Phase 2: one connection sends B batches of S records
 * (POST /v1/leave, a JSON array). Prints one JSON object: requests per second, p50/p99/max latency
 * per phase, and how many answers were not 200/201. Loopback only: the URL must name 127.0.0.1 or
 * [::1]; every loop is bounded by its count. */
#include "common/buf.h"
#include "common/util.h"

#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	const char *url, *cacert, *prefix;
	char key[128];
	int threads, singles, batches, batch_size, mailboxes;
};

struct worker {
	const struct opts *o;
	int first, count; /* ids first .. first+count-1 */
	int64_t *lat_us;  /* one per request */
	int errors;
	long last_status;
};

static size_t discard(void *p, size_t s, size_t n, void *u)
{
	(void)p, (void)u;
	return s * n;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static CURL *handle(const struct opts *o, struct curl_slist **hdrs)
{
	CURL *c = curl_easy_init();
	char auth[200];

	snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->key);
	*hdrs = curl_slist_append(NULL, auth);
	*hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (o->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	return c;
}

static void record_json(struct buf *b, const struct opts *o, int i)
{
	buf_printf(
	    b,
	    "{\"id\":\"%s-%d\",\"mailbox\":\"user%d@contoso.com\",\"kind\":\"Annual leave\","
	    "\"start\":\"2027-%02d-%02d\",\"end\":\"2027-%02d-%02d\",\"status\":\"approved\","
	    "\"revision\":1}",
	    o->prefix, i, i % o->mailboxes, 1 + i % 12, 1 + i % 27, 1 + i % 12, 2 + i % 27);
}

static void *single_worker(void *arg)
{
	struct worker *w = arg;
	struct curl_slist *hdrs;
	CURL *c = handle(w->o, &hdrs);
	struct buf body = BUF_INIT;
	char url[512];

	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
	for (int k = 0; k < w->count; k++) {
		int i = w->first + k;
		int64_t t0;
		long status = 0;

		buf_reset(&body);
		record_json(&body, w->o, i);
		snprintf(url, sizeof url, "%s/v1/leave/%s-%d", w->o->url, w->o->prefix, i);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
		t0 = now_us();
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		w->lat_us[k] = now_us() - t0;
		if (status != 200 && status != 201) {
			w->errors++;
			w->last_status = status;
		}
	}
	buf_free(&body);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const int64_t *sorted, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return n ? (double)sorted[i] / 1000.0 : 0;
}

static void print_phase(const char *name, int64_t *lat, size_t n, int64_t wall_us, int errors,
                        bool last)
{
	qsort(lat, n, sizeof *lat, cmp64);
	printf("  \"%s\": {\"requests\": %zu, \"seconds\": %.3f, \"per_second\": %.1f, "
	       "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, \"errors\": %d}%s\n",
	       name, n, (double)wall_us / 1e6, (double)n / ((double)wall_us / 1e6),
	       pct(lat, n, 0.50), pct(lat, n, 0.99), n ? (double)lat[n - 1] / 1000.0 : 0, errors,
	       last ? "" : ",");
}

static int singles(const struct opts *o)
{
	pthread_t *th = xcalloc((size_t)o->threads, sizeof *th);
	struct worker *w = xcalloc((size_t)o->threads, sizeof *w);
	int64_t *lat = xcalloc((size_t)o->singles + 1, sizeof *lat), t0;
	int per = o->singles / o->threads, errors = 0;
	long last_status = 0;

	for (int t = 0; t < o->threads; t++) {
		w[t] = (struct worker){
		    .o = o, .first = t * per, .count = per, .lat_us = lat + t * per};
		if (t == o->threads - 1)
			w[t].count = o->singles - t * per;
	}
	t0 = now_us();
	for (int t = 0; t < o->threads; t++)
		pthread_create(&th[t], NULL, single_worker, &w[t]);
	for (int t = 0; t < o->threads; t++) {
		pthread_join(th[t], NULL);
		errors += w[t].errors;
		if (w[t].last_status)
			last_status = w[t].last_status;
	}
	print_phase("single_upserts", lat, (size_t)o->singles, now_us() - t0, errors, false);
	if (errors)
		fprintf(stderr, "serve-load: %d single upserts failed (last status %ld)\n", errors,
		        last_status);
	free(lat);
	free(w);
	free(th);
	return errors ? -1 : 0;
}

static int batches(const struct opts *o)
{
	struct curl_slist *hdrs;
	CURL *c = handle(o, &hdrs);
	int64_t *lat = xcalloc((size_t)o->batches + 1, sizeof *lat), t0 = now_us();
	struct buf body = BUF_INIT;
	char url[512];
	int errors = 0;

	snprintf(url, sizeof url, "%s/v1/leave", o->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	for (int b = 0; b < o->batches; b++) {
		int64_t s;
		long status = 0;

		buf_reset(&body);
		buf_puts(&body, "[");
		for (int r = 0; r < o->batch_size; r++) {
			if (r)
				buf_puts(&body, ",");
			/* ids after the singles' */
			record_json(&body, o, o->singles + b * o->batch_size + r);
		}
		buf_puts(&body, "]");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
		s = now_us();
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		lat[b] = now_us() - s;
		if (status != 200) {
			errors++;
			fprintf(stderr, "serve-load: batch %d: status %ld\n", b, status);
		}
	}
	print_phase("batches", lat, (size_t)o->batches, now_us() - t0, errors, true);
	buf_free(&body);
	free(lat);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return errors ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"url", required_argument, NULL, 'u'},
	                                   {"key-file", required_argument, NULL, 'k'},
	                                   {"cacert", required_argument, NULL, 'c'},
	                                   {"threads", required_argument, NULL, 't'},
	                                   {"singles", required_argument, NULL, 'n'},
	                                   {"batches", required_argument, NULL, 'b'},
	                                   {"batch-size", required_argument, NULL, 's'},
	                                   {"mailboxes", required_argument, NULL, 'm'},
	                                   {"prefix", required_argument, NULL, 'p'},
	                                   {NULL, 0, NULL, 0}};
	struct opts o = {.threads = 4,
	                 .singles = 10000,
	                 .batches = 20,
	                 .batch_size = 1000,
	                 .mailboxes = 1000,
	                 .prefix = "L"};
	const char *key_file = NULL;
	FILE *f;
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			o.url = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'c':
			o.cacert = optarg;
			break;
		case 't':
			o.threads = atoi(optarg);
			break;
		case 'n':
			o.singles = atoi(optarg);
			break;
		case 'b':
			o.batches = atoi(optarg);
			break;
		case 's':
			o.batch_size = atoi(optarg);
			break;
		case 'm':
			o.mailboxes = atoi(optarg);
			break;
		case 'p':
			o.prefix = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!o.url || !key_file || o.threads < 1 || o.threads > 64 || o.singles < o.threads ||
	    o.singles > 10000000 || o.batches < 0 || o.batches > 100000 || o.batch_size < 1 ||
	    o.batch_size > 100000 || o.mailboxes < 1) {
		fputs("usage: serve-load --url URL --key-file FILE [--cacert FILE] [--threads T] "
		      "[--singles N] [--batches B] [--batch-size S] [--mailboxes M] [--prefix P]\n",
		      stderr);
		return 2;
	}
	if (!strstr(o.url, "://127.0.0.1:") && !strstr(o.url, "://[::1]:")) {
		fputs("serve-load: loopback URLs only (127.0.0.1 or [::1])\n", stderr);
		return 2;
	}
	if (!(f = fopen(key_file, "r")) || !fgets(o.key, sizeof o.key, f)) {
		fprintf(stderr, "serve-load: cannot read %s\n", key_file);
		return 2;
	}
	fclose(f);
	o.key[strcspn(o.key, "\r\n")] = '\0';
	curl_global_init(CURL_GLOBAL_DEFAULT);
	printf("{\n");
	rc |= singles(&o);
	if (o.batches > 0)
		rc |= batches(&o);
	else
		printf("  \"batches\": null\n");
	printf("}\n");
	curl_global_cleanup();
	return rc ? 1 : 0;
}
