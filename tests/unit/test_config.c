/* engine/config.c: defaults, every key, every bad value with FILE:LINE, secrets from files and the
 * environment, the permission warning, policy merging and routes. */
#include "common/redact.h"
#include "common/util.h"
#include "engine/cloud.h"
#include "engine/config.h"
#include "tests/unit/tap.h"
#include "tests/unit/testdata.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_config.XXXXXX";
static char conf[300];

static void write_text(const char *path, const char *text, int mode)
{
	if (write_file_atomic(path, text, strlen(text), mode) < 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	chmod(path, (mode_t)mode); /* the umask does not decide what the test means */
}

/* Loads text as a config; returns config_load's result. */
static int load(const char *text, struct config *cfg, struct error *err)
{
	write_text(conf, text, 0600);
	error_clear(err);
	return config_load(conf, cfg, err);
}

/* text must fail at line with a message containing want. */
static void bad(const char *text, int line, const char *want, const char *what)
{
	struct config cfg;
	struct error err = {{0}};
	char prefix[320];

	snprintf(prefix, sizeof prefix, "%s:%d: ", conf, line);
	if (load(text, &cfg, &err) == 0) {
		ok(0, "%s: refused", what);
		config_free(&cfg);
		return;
	}
	ok(strncmp(err.msg, prefix, strlen(prefix)) == 0 && strstr(err.msg, want),
	   "%s -> line %d: %s", what, line, err.msg + strlen(conf) + 1);
}

static void test_defaults(void)
{
	struct config cfg;
	struct error err = {{0}};
	char missing[320];

	if (!ok(load("; nothing but a comment\n", &cfg, &err) == 0, "an empty file loads: %s",
	        err.msg))
		return;
	is_str(cfg.path, conf, "the file read");
	is_str(cfg.store_path, "/var/lib/leavesync/leavesync.db",
	       "store path default: absolute, never the current directory");
	ok(cfg.keep_history_days == 90, "keep_history_days default 90");
	ok(cfg.store_group == NULL, "no group by default");
	is_str(cfg.instance, "default", "instance default");
	ok(cfg.stale_after == 0, "stale_after default: off");
	is_str(cfg.backend, "graph", "backend default graph");
	ok(cfg.concurrency == 4 && cfg.mailbox_concurrency == 1 && cfg.max_attempts == 8 &&
	       cfg.max_leave_days == 366 && cfg.delete_min == 10 && cfg.delete_share == 0.5,
	   "[sync] defaults");
	is_str(cfg.ews.url, "https://outlook.office365.com/EWS/Exchange.asmx", "EWS url default");
	is_str(cfg.graph.url, "https://graph.microsoft.com/v1.0", "Graph url default");
	is_str(cfg.ews.authority, "https://login.microsoftonline.com", "authority default");
	is_str(cfg.ews.server_version, "Exchange2016", "server_version default");
	is_str(cfg.graph.mode, "delegated", "graph mode default");
	ok(cfg.ews.batch_size == 50 && cfg.graph.batch_size == 20, "batch sizes 50 and 20");
	ok(!cfg.ews.configured && !cfg.graph.configured, "no service configured");
	is_str(cfg.event.subject, "Out of office", "subject default");
	ok(cfg.event.sync && cfg.event.show_as == SHOW_OOF &&
	       cfg.event.sensitivity == SENS_PRIVATE && !cfg.event.include_note &&
	       cfg.event.reminder_minutes == -1 && !cfg.event.categories,
	   "event policy defaults: oof, private, no note, no reminder");
	is_str(cfg.default_time_zone, "UTC", "time_zone default");
	ok(cfg.warnings == NULL, "no warnings");
	config_free(&cfg);

	snprintf(missing, sizeof missing, "%s/none.conf", dir);
	setenv("LEAVESYNC_CONFIG", missing, 1);
	ok(config_load(NULL, &cfg, &err) < 0 && strstr(err.msg, "none.conf") &&
	       strstr(err.msg, "LEAVESYNC_CONFIG"),
	   "a missing $LEAVESYNC_CONFIG file is an error naming it: %s", err.msg);
	unsetenv("LEAVESYNC_CONFIG");
	ok(config_load(missing, &cfg, &err) < 0 && strstr(err.msg, "-c"),
	   "a missing -c FILE is an error: %s", err.msg);
}

/* -c, $LEAVESYNC_CONFIG, the user's file (not for root), /etc; never the current directory. */
static void test_find(void)
{
	char cwd[PATH_MAX], user_dir[400], user_conf[450], *found = NULL;
	struct error err = {{0}};
	struct stat st;
	bool system_conf = stat("/etc/leavesync/leavesync.conf", &st) == 0;

	if (!getcwd(cwd, sizeof cwd))
		cwd[0] = '\0';
	write_text(conf, "[sync]\n", 0600);
	ok(chdir(dir) == 0, "in a directory holding leavesync.conf");
	unsetenv("LEAVESYNC_CONFIG");
	setenv("HOME", dir, 1);
	unsetenv("XDG_CONFIG_HOME");
	if (!system_conf)
		ok(config_find(NULL, &found, &err) < 0 &&
		       strstr(err.msg, "/etc/leavesync/leavesync.conf") &&
		       strstr(err.msg, "not searched"),
		   "./leavesync.conf is not used; the message names the places searched: %s",
		   err.msg);
	else
		ok(1, "# SKIP /etc/leavesync/leavesync.conf exists on this machine");
	free(found);
	found = NULL;
	snprintf(user_dir, sizeof user_dir, "%s/xdg/leavesync", dir);
	snprintf(user_conf, sizeof user_conf, "%s/leavesync.conf", user_dir);
	{
		char xdg[400];

		snprintf(xdg, sizeof xdg, "%s/xdg", dir);
		mkdir(xdg, 0700);
		mkdir(user_dir, 0700);
		write_text(user_conf, "[sync]\n", 0600);
		setenv("XDG_CONFIG_HOME", xdg, 1);
	}
	if (geteuid() != 0) {
		ok(config_find(NULL, &found, &err) == 0 && found && !strcmp(found, user_conf),
		   "$XDG_CONFIG_HOME/leavesync/leavesync.conf is found: %s",
		   found ? found : err.msg);
	} else if (!system_conf) {
		ok(config_find(NULL, &found, &err) < 0 && !strstr(err.msg, user_conf),
		   "root does not read a user's file: %s", err.msg);
	} else {
		ok(1, "# SKIP /etc/leavesync/leavesync.conf exists on this machine");
	}
	free(found);
	found = NULL;
	setenv("LEAVESYNC_CONFIG", conf, 1);
	ok(config_find(NULL, &found, &err) == 0 && found && !strcmp(found, conf),
	   "$LEAVESYNC_CONFIG wins over the user's file");
	free(found);
	found = NULL;
	ok(config_find(user_conf, &found, &err) == 0 && found && !strcmp(found, user_conf),
	   "-c wins over $LEAVESYNC_CONFIG");
	free(found);
	unsetenv("LEAVESYNC_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	unlink(user_conf);
	rmdir(user_dir);
	snprintf(user_dir, sizeof user_dir, "%s/xdg", dir);
	rmdir(user_dir);
	if (cwd[0] && chdir(cwd) != 0)
		printf("# cannot return to %s\n", cwd);
}

/* Every problem of a file in one run, in line order, each with its line. */
static void test_all_errors(void)
{
	static const char text[] = "[sync]\n"
	                           "concurrency = 0\n"  /* 2 */
	                           "backend = caldav\n" /* 3 */
	                           "[event]\n"
	                           "show_as = away\n" /* 5 */
	                           "[stroe]\n"        /* 6: its keys are not reported */
	                           "path = x\n"
	                           "just words\n"            /* 8 */
	                           "[mailbox \"a@x.com\"]\n" /* 9: no backend */
	                           "[sync]\n";               /* 10: repeated */
	static const int lines[] = {2, 3, 5, 6, 8, 9, 10};
	struct config cfg;
	struct error err = {{0}};
	char **errors = NULL, prefix[340];
	size_t n = 0;
	bool in_order = true;

	write_text(conf, text, 0600);
	ok(config_load_all(conf, &cfg, &errors, &err) < 0, "a file with seven problems fails");
	while (errors && errors[n])
		n++;
	is_int((long long)n, 7, "all seven are reported");
	for (size_t i = 0; i < n && i < 7; i++) {
		snprintf(prefix, sizeof prefix, "%s:%d: ", conf, lines[i]);
		in_order = in_order && !strncmp(errors[i], prefix, strlen(prefix));
	}
	ok(in_order, "each names its line, in line order");
	snprintf(prefix, sizeof prefix, "%s:10: ", conf);
	ok(strstr(err.msg, "1 to 64") && strstr(err.msg, "caldav") && strstr(err.msg, prefix),
	   "err->msg holds them too, one per line");
	config_errors_free(errors);
}

static void test_new_keys(void)
{
	struct config cfg;
	struct error err = {{0}};

	ok(load("[store]\npath = /srv/ls.db\nkeep_history_days = 0\ngroup = leavesync-hr\n"
	        "[sync]\ninstance = Staging-2\nstale_after = 3600\n",
	        &cfg, &err) == 0,
	   "[store] group, keep_history_days, [sync] instance, stale_after load: %s", err.msg);
	ok(cfg.keep_history_days == 0, "keep_history_days 0: keep forever");
	is_str(cfg.store_group, "leavesync-hr", "group");
	is_str(cfg.instance, "staging-2", "instance, lower-cased");
	ok(cfg.stale_after == 3600, "stale_after");
	config_free(&cfg);
	bad("[sync]\ninstance = prod_1\n", 2, "letters, digits or '-'", "an instance with _");
	bad("[sync]\ninstance = abcdefghijabcdefghijabcdefghijabc\n", 2, "1 to 32",
	    "a 33-character instance");
	bad("[store]\nkeep_history_days = -1\n", 2, "0 (keep forever)", "keep_history_days -1");
	bad("[store]\ngroup = hr staff\n", 2, "group name", "a group with a space");
	bad("[sync]\nstale_after = soon\n", 2, "whole number", "stale_after soon");
}

static const char full[] = "; a full configuration\n"
                           "[store]\n"
                           "path = /var/lib/leavesync/leavesync.db\n"
                           "\n"
                           "[sync]\n"
                           "backend = ews\n"
                           "concurrency = 64\n"
                           "mailbox_concurrency = 4\n"
                           "max_attempts = 3\n"
                           "max_leave_days = 100\n"
                           "delete_share = 0.25\n"
                           "delete_min = 0\n"
                           "test_mailbox = probe@contoso.com\n"
                           "[ews]\n"
                           "tenant_id = t1\n"
                           "client_id = c1\n"
                           "client_secret = s3cret-in-file\n"
                           "client_secret_expires = 2027-06-30\n"
                           "url = http://127.0.0.1:8443/EWS/Exchange.asmx\n"
                           "authority = http://localhost:8443\n"
                           "server_version = Exchange2013_SP1\n"
                           "batch_size = 100\n"
                           "[graph]\n"
                           "tenant_id = t2\n"
                           "client_id = c2\n"
                           "mode = application\n"
                           "url = https://graph.microsoft.us/v1.0\n"
                           "redirect_uri = http://[::1]:8400/callback\n"
                           "batch_size = 20\n"
                           "cert_file = /etc/leavesync/app.pem\n"
                           "key_file = /etc/leavesync/app.key\n"
                           "[tls]\n"
                           "ca_file = /etc/leavesync/ca.pem\n"
                           "[event]\n"
                           "subject = Away\n"
                           "show_as = busy\n"
                           "sensitivity = normal\n"
                           "categories = Leave\n"
                           "time_zone = Europe/Riga\n"
                           "reminder = none\n"
                           "include_note = no\n"
                           "[kind \"Sick leave\"]\n"
                           "subject = Out of office\n"
                           "sensitivity = private\n"
                           "[kind \"Annual leave\"]  ; comment after a header\n"
                           "include_note = true\n"
                           "reminder = 30\n"
                           "[kind \"Unpaid\"]\n"
                           "sync = false\n"
                           "[mailbox \"Bob@Contoso.com\"]\n"
                           "backend = graph\n";

static void test_full(void)
{
	struct config cfg;
	struct error err = {{0}};
	struct event_policy scratch;
	const struct event_policy *p;

	unsetenv("LEAVESYNC_EWS_CLIENT_SECRET");
	if (!ok(load(full, &cfg, &err) == 0, "a full config loads: %s", err.msg))
		return;
	is_str(cfg.store_path, "/var/lib/leavesync/leavesync.db", "store path");
	ok(cfg.concurrency == 64 && cfg.mailbox_concurrency == 4 && cfg.max_attempts == 3 &&
	       cfg.max_leave_days == 100 && cfg.delete_share == 0.25 && cfg.delete_min == 0,
	   "[sync] values");
	is_str(cfg.test_mailbox, "probe@contoso.com", "test_mailbox");
	ok(cfg.ews.configured && cfg.graph.configured, "both services configured");
	is_str(cfg.ews.client_secret, "s3cret-in-file", "client_secret from the file");
	is_str(cfg.ews.client_secret_source, "config line 17", "its source names the line");
	is_str(cfg.ews.client_secret_expires, "2027-06-30", "client_secret_expires");
	is_str(cfg.ews.url, "http://127.0.0.1:8443/EWS/Exchange.asmx",
	       "http to loopback is allowed");
	is_str(cfg.ews.server_version, "Exchange2013_SP1", "server_version");
	ok(cfg.ews.batch_size == 100 && cfg.graph.batch_size == 20, "batch sizes");
	is_str(cfg.graph.mode, "application", "graph mode");
	is_str(cfg.graph.redirect_uri, "http://[::1]:8400/callback", "redirect_uri to [::1]");
	is_str(cfg.graph.cert_file, "/etc/leavesync/app.pem", "cert_file");
	is_str(cfg.ca_file, "/etc/leavesync/ca.pem", "ca_file");
	is_str(cfg.default_time_zone, "Europe/Riga", "time_zone");
	is_int((long long)cfg.nkinds, 3, "three kinds");
	is_int((long long)cfg.nroutes, 1, "one route");

	p = config_policy_for(&cfg, "Annual leave", &scratch);
	ok(p->include_note && p->reminder_minutes == 30, "[kind] sets include_note and reminder");
	ok(!strcmp(p->subject, "Away") && p->show_as == SHOW_BUSY &&
	       p->sensitivity == SENS_NORMAL && !strcmp(p->categories, "Leave"),
	   "... and inherits the rest from [event]");
	p = config_policy_for(&cfg, "Sick leave", &scratch);
	ok(!strcmp(p->subject, "Out of office") && p->sensitivity == SENS_PRIVATE &&
	       !p->include_note,
	   "sick leave: its own subject and sensitivity, no note");
	p = config_policy_for(&cfg, "Parental leave", &scratch);
	ok(p == &cfg.event, "an unknown kind takes [event]");
	p = config_policy_for(&cfg, "UNPAID", &scratch);
	ok(!p->sync, "kind names match ignoring case; sync = false");
	is_str(config_backend_for(&cfg, "bob@contoso.com"), "graph", "a routed mailbox");
	is_str(config_backend_for(&cfg, "BOB@contoso.com"), "graph", "routes ignore case");
	is_str(config_backend_for(&cfg, "alice@contoso.com"), "ews", "others take [sync] backend");
	config_free(&cfg);
}

static void test_bad_values(void)
{
	bad("[sync]\nconcurrency = 0\n", 2, "1 to 64", "concurrency 0");
	bad("[sync]\nconcurrency = 65\n", 2, "1 to 64", "concurrency 65");
	bad("[sync]\n\nconcurrency = 4x\n", 3, "whole number", "concurrency 4x");
	bad("[sync]\nmailbox_concurrency = 5\n", 2, "1 to 4", "mailbox_concurrency 5");
	bad("[sync]\ndelete_share = 1.5\n", 2, "0 to 1", "delete_share 1.5");
	bad("[sync]\ndelete_share = -0.1\n", 2, "0 to 1", "delete_share -0.1");
	bad("[sync]\nbackend = caldav\n", 2, "ews or graph", "backend caldav");
	bad("[sync]\ntest_mailbox = probe\n", 2, "email", "test_mailbox without @");
	bad("[ews]\nbatch_size = 101\n", 2, "1 to 100", "ews batch_size 101");
	bad("[graph]\nbatch_size = 21\n", 2, "1 to 20", "graph batch_size 21");
	bad("[graph]\nmode = app\n", 2, "delegated or application", "graph mode app");
	bad("[ews]\nserver_version = Exchange2019\n", 2, "Exchange2016", "server_version 2019");
	bad("[ews]\nurl = http://mail.contoso.com/EWS/Exchange.asmx\n", 2, "loopback",
	    "plain http to a remote host");
	bad("[graph]\nurl = http://127.attacker.example/v1.0\n", 2, "loopback",
	    "a host name that only starts with 127.");
	bad("[graph]\nauthority = ftp://login.example\n", 2, "https://", "an ftp authority");
	bad("[graph]\nurl = https://user@graph.microsoft.com\n", 2, "user info",
	    "a URL with user info");
	bad("[graph]\nredirect_uri = http://example.com/cb\n", 2, "loopback",
	    "a non-loopback http redirect_uri");
	bad("[ews]\nclient_secret_expires = 2027-02-30\n", 2, "YYYY-MM-DD", "a bad expiry date");
	bad("[event]\nshow_as = away\n", 2, "workingElsewhere", "show_as away");
	bad("[event]\nsensitivity = secret\n", 2, "confidential", "sensitivity secret");
	bad("[event]\ntime_zone = Mars/Olympus\n", 2, "IANA", "an unknown time zone");
	bad("[event]\nreminder = soon\n", 2, "none", "reminder soon");
	bad("[event]\nsubject = {name} is away\n", 2, "{name}", "an unknown placeholder");
	bad("[event]\ncategories = a;b\n", 2, "commas", "categories with ;");
	bad("[kind \"Sick leave\"]\ninclude_note = maybe\n", 2, "true or false",
	    "include_note maybe");
	bad("[kind \"Sick leave\"]\ntime_zone = UTC\n", 2, "unknown key", "time_zone in a [kind]");
	bad("[store]\npath =\n", 2, "empty", "an empty store path");
	bad("[graph]\ncloud = gcchigh\n", 2, "global, usgov, dod or china", "an unknown cloud");
	bad("[ews]\ncert_algorithm = ES256\n", 2, "RS256 or PS256", "an unknown cert_algorithm");
}

/* `cloud` derives authority, URL and token resource; explicit keys win. */
static void test_clouds(void)
{
	static const struct {
		const char *cloud, *authority, *ews_url, *ews_res, *graph_url, *graph_res;
	} want[] = {
	    {"global", "https://login.microsoftonline.com",
	     "https://outlook.office365.com/EWS/Exchange.asmx", "https://outlook.office365.com",
	     "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com"},
	    {"usgov", "https://login.microsoftonline.us",
	     "https://outlook.office365.us/EWS/Exchange.asmx", "https://outlook.office365.us",
	     "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us"},
	    {"dod", "https://login.microsoftonline.us",
	     "https://outlook-dod.office365.us/EWS/Exchange.asmx",
	     "https://outlook-dod.office365.us", "https://dod-graph.microsoft.us/v1.0",
	     "https://dod-graph.microsoft.us"},
	    {"china", "https://login.chinacloudapi.cn",
	     "https://partner.outlook.cn/EWS/Exchange.asmx", "https://partner.outlook.cn",
	     "https://microsoftgraph.chinacloudapi.cn/v1.0",
	     "https://microsoftgraph.chinacloudapi.cn"},
	};
	struct config cfg;
	struct error err = {{0}};
	char text[256];

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		snprintf(text, sizeof text, "[ews]\ncloud = %s\n[graph]\ncloud = %s\n",
		         want[i].cloud, want[i].cloud);
		if (!ok(load(text, &cfg, &err) == 0, "cloud = %s loads: %s", want[i].cloud,
		        err.msg))
			continue;
		ok(strcmp(cfg.ews.authority, want[i].authority) == 0 &&
		       strcmp(cfg.graph.authority, want[i].authority) == 0,
		   "%s: authority %s", want[i].cloud, cfg.graph.authority);
		is_str(cfg.ews.url, want[i].ews_url, "%s: EWS url", want[i].cloud);
		is_str(cfg.graph.url, want[i].graph_url, "%s: Graph url", want[i].cloud);
		is_str(service_resource(&cfg.ews, false), want[i].ews_res, "%s: EWS token resource",
		       want[i].cloud);
		is_str(service_resource(&cfg.graph, true), want[i].graph_res,
		       "%s: Graph token resource", want[i].cloud);
		config_free(&cfg);
	}
	ok(load("[ews]\nurl = https://127.0.0.1:8443/EWS/Exchange.asmx\ncloud = dod\n"
	        "authority = https://127.0.0.1:8443\n",
	        &cfg, &err) == 0,
	   "cloud with an explicit url and authority (the simulator, a hybrid server)");
	is_str(cfg.ews.url, "https://127.0.0.1:8443/EWS/Exchange.asmx", "the explicit url wins");
	is_str(cfg.ews.authority, "https://127.0.0.1:8443", "the explicit authority wins");
	is_str(service_resource(&cfg.ews, false), "https://outlook-dod.office365.us",
	       "the token is still for the DoD Exchange resource");
	config_free(&cfg);
	ok(load("[ews]\nurl = https://outlook-dod.office365.us/EWS/Exchange.asmx\n", &cfg, &err) ==
	           0 &&
	       strcmp(service_resource(&cfg.ews, false), "https://outlook-dod.office365.us") == 0,
	   "without cloud, a DoD Exchange url still gets the DoD resource");
	config_free(&cfg);
}

static void test_limits(void)
{
	struct config cfg;
	struct error err = {{0}};

	ok(load("[sync]\nbackend = ews\n", &cfg, &err) == 0, "defaults load");
	is_int((long long)cfg.limits.push_bytes, 256LL << 20, "push_size default 256M");
	is_int((long long)cfg.limits.push_records, 1000000, "push_records default 1000000");
	is_int((long long)cfg.limits.http.max_response_bytes, 16LL << 20, "response_size 16M");
	is_int((long long)cfg.limits.http.response_budget_bytes, 128LL << 20,
	       "response_budget 128M");
	is_int(cfg.limits.http.connect_timeout_ms, 10000, "connect_timeout 10 s");
	is_int(cfg.limits.http.timeout_ms, 120000, "request_timeout 120 s");
	is_int(cfg.limits.http.low_speed_bytes, 16, "low_speed_bytes 16");
	is_int(cfg.limits.http.low_speed_seconds, 30, "low_speed_time 30 s");
	config_free(&cfg);
	ok(load("[limits]\npush_size = 64K\npush_records = 10\nresponse_size = 2M\n"
	        "response_budget = 1G\nconnect_timeout = 5\nrequest_timeout = 60\n"
	        "low_speed_bytes = 100\nlow_speed_time = 10\n",
	        &cfg, &err) == 0,
	   "every [limits] key: %s", err.msg);
	is_int((long long)cfg.limits.push_bytes, 65536, "push_size 64K");
	is_int((long long)cfg.limits.push_records, 10, "push_records 10");
	is_int((long long)cfg.limits.http.max_response_bytes, 2LL << 20, "response_size 2M");
	is_int((long long)cfg.limits.http.response_budget_bytes, 1LL << 30, "response_budget 1G");
	is_int(cfg.limits.http.connect_timeout_ms, 5000, "connect_timeout 5 s");
	is_int(cfg.limits.http.timeout_ms, 60000, "request_timeout 60 s");
	is_int(cfg.limits.http.low_speed_bytes, 100, "low_speed_bytes 100");
	is_int(cfg.limits.http.low_speed_seconds, 10, "low_speed_time 10 s");
	config_free(&cfg);
	bad("[limits]\npush_size = 0\n", 2, "from 1K to 4G", "push_size 0");
	bad("[limits]\npush_size = 5G\n", 2, "from 1K to 4G", "push_size 5G");
	bad("[limits]\npush_size = 12Q\n", 2, "K, M or G", "push_size 12Q");
	bad("[limits]\npush_size = -1\n", 2, "expected a size", "push_size -1");
	bad("[limits]\npush_size = 99999999999999999999G\n", 2, "expected a size",
	    "push_size overflowing");
	bad("[limits]\npush_records = 0\n", 2, "1 to 100000000", "push_records 0");
	bad("[limits]\nresponse_size = 1K\n", 2, "from 64K to 1G", "response_size 1K");
	bad("[limits]\nrequest_timeout = 0\n", 2, "whole seconds from 1 to 3600",
	    "request_timeout 0");
	bad("[limits]\nlow_speed_bytes = fast\n", 2, "bytes per second", "low_speed_bytes fast");
	bad("[limits]\nmax_body = 1M\n", 2, "unknown key \"max_body\" in [limits]",
	    "an unknown [limits] key");
	ok(load("[sync]\nrun_deadline = 900\n", &cfg, &err) == 0 && cfg.run_deadline == 900,
	   "[sync] run_deadline = 900");
	config_free(&cfg);
	ok(load("[sync]\nbackend = ews\n", &cfg, &err) == 0 && cfg.run_deadline == 0,
	   "no run deadline by default");
	config_free(&cfg);
	bad("[sync]\nrun_deadline = -5\n", 2, "0 to 86400", "a negative run_deadline");
}

/* A URL with user info is refused, and the message shows it without the password. */
static void test_url_userinfo(void)
{
	struct config cfg;
	struct error err = {{0}};

	ok(load("[ews]\nurl = https://svc:Pa55w0rd-SECRET@mail.contoso.com/EWS/Exchange.asmx\n",
	        &cfg, &err) < 0,
	   "user info in [ews] url is refused");
	ok(strstr(err.msg, "user info") && strstr(err.msg, "https://mail.contoso.com/EWS") &&
	       !strstr(err.msg, "Pa55w0rd") && !strstr(err.msg, "svc:"),
	   "the message names the URL without its credentials: %s", err.msg);
	ok(load("[graph]\nauthority = https://u:Pa55w0rd-SECRET@login.example/x?token=y\n", &cfg,
	        &err) < 0 &&
	       !strstr(err.msg, "Pa55w0rd") && !strstr(err.msg, "token=y"),
	   "nor for an authority: %s", err.msg);
	ok(load("[graph]\nclient_secret = q8Z~configured.secret-42\n", &cfg, &err) == 0,
	   "a config with a secret loads");
	{
		char *shown = redact_dup("server said: q8Z~configured.secret-42 is wrong", 200);

		is_str(shown, "server said: [redacted] is wrong",
		       "the configured secret joins the redaction filter");
		free(shown);
	}
	config_free(&cfg);
}

static void test_bad_structure(void)
{
	bad("[store]\npath = x\n[stroe]\npath = y\n", 3, "unknown section [stroe]",
	    "an unknown section");
	bad("[sync]\nbackend = ews\nthreads = 4\n", 3, "unknown key \"threads\"", "an unknown key");
	bad("[kind \"Sick leave\"]\nsync = true\n\n[kind \"sick LEAVE\"]\nsync = false\n", 4,
	    "appears twice", "a duplicate kind section");
	bad("[sync]\nbackend = ews\n[sync]\nconcurrency = 2\n", 3, "first at line 1",
	    "a repeated section");
	bad("[mailbox \"a@x.com\"]\nbackend = ews\n[mailbox \"A@X.com\"]\nbackend = graph\n", 3,
	    "appears twice", "a duplicate mailbox section");
	bad("[sync]\nbackend = ews\nbackend = graph\n", 3, "set twice (first at line 2)",
	    "a key set twice");
	bad("[kind Sick leave]\nsync = false\n", 1, "double quotes", "a kind name without quotes");
	bad("[kind \"\"]\nsync = false\n", 1, "double quotes", "an empty kind name");
	bad("[mailbox \"alice\"]\nbackend = ews\n", 1, "email address", "a mailbox without @");
	bad("path = x\n", 1, "outside any section", "a key before any section");
	bad("[store]\njust some words\n", 2, "cannot read this line", "a line that is not a key");
	bad("[sync]\nbackend = ews\n  concurrency = 4\n", 3, "spaces", "an indented line");
	bad("[store\npath = x\n", 1, "closing ]", "a header without ]");
	bad("[ews]\nclient_secret = a\nclient_secret_file = /etc/x\n", 3, "keep one",
	    "client_secret and client_secret_file");
	bad("[event]\n; fine\nshow_as = oof\n[oops]\n", 4, "unknown section",
	    "an empty unknown section");
	{
		char big[400];

		memset(big, 'x', sizeof big);
		memcpy(big, "[store]\npath = ", 15);
		big[sizeof big - 2] = '\n';
		big[sizeof big - 1] = '\0';
		bad(big, 2, "longer than", "a very long line");
	}
	bad("[sync]\n[mailbox \"a@x.com\"]\n", 2, "no backend", "a mailbox without backend");
	bad("[mailbox \"a@x.com\"]\n; nothing\n[sync]\n", 1, "no backend",
	    "a mailbox without backend, then another section");
}

static void test_secrets(void)
{
	char secret_path[320], text[700];
	struct config cfg;
	struct error err = {{0}};

	snprintf(secret_path, sizeof secret_path, "%s/graph.secret", dir);
	write_text(secret_path, "  graph-secret-from-file \n\n", 0600);
	snprintf(text, sizeof text, "[graph]\nclient_id = c\nclient_secret_file = %s\n",
	         secret_path);
	unsetenv("LEAVESYNC_GRAPH_CLIENT_SECRET");
	ok(load(text, &cfg, &err) == 0, "client_secret_file loads: %s", err.msg);
	is_str(cfg.graph.client_secret, "graph-secret-from-file", "the file's secret, trimmed");
	ok(cfg.graph.client_secret_source && !strncmp(cfg.graph.client_secret_source, "file ", 5),
	   "source: %s", cfg.graph.client_secret_source);
	ok(cfg.warnings == NULL, "a 0600 config and secret file draw no warning");
	config_free(&cfg);

	setenv("LEAVESYNC_GRAPH_CLIENT_SECRET", "graph-secret-from-env", 1);
	ok(load(text, &cfg, &err) == 0, "loads with the environment set");
	is_str(cfg.graph.client_secret, "graph-secret-from-env",
	       "the environment overrides the file");
	is_str(cfg.graph.client_secret_source, "environment LEAVESYNC_GRAPH_CLIENT_SECRET",
	       "source names the variable, not the value");
	config_free(&cfg);
	unsetenv("LEAVESYNC_GRAPH_CLIENT_SECRET");

	setenv("LEAVESYNC_EWS_CLIENT_SECRET", "ews-secret-from-env", 1);
	ok(load("[ews]\nclient_secret = in-file\n", &cfg, &err) == 0 &&
	       !strcmp(cfg.ews.client_secret, "ews-secret-from-env"),
	   "LEAVESYNC_EWS_CLIENT_SECRET overrides client_secret");
	config_free(&cfg);
	unsetenv("LEAVESYNC_EWS_CLIENT_SECRET");

	write_text(secret_path, "  \n", 0600);
	bad(text, 3, "is empty", "an empty secret file");
	unlink(secret_path);
	bad(text, 3, "No such file", "a missing secret file");
	bad("[ews]\nclient_secret = hunter2-secret\n[sync]\nconcurrency = 0\n", 4, "1 to 64",
	    "an error after a secret");
	ok(load("[ews]\nclient_secret = hunter2-secret\n[sync]\nconcurrency = 0\n", &cfg, &err) <
	           0 &&
	       !strstr(err.msg, "hunter2"),
	   "error messages never carry the secret");
}

/* The commented example shipped in docs/ loads as it is (found in the source tree, testdata.h). */
static void test_example(void)
{
	struct config cfg;
	struct error err = {{0}};
	char path[PATH_MAX + 64];

	src_path(path, sizeof path, "docs/examples/leavesync.conf");
	if (!ok(access(path, R_OK) == 0, "%s readable (set LS_SRC_DIR to the source tree)", path))
		return;
	ok(config_load(path, &cfg, &err) == 0, "%s loads: %s", path, err.msg);
	is_int((long long)cfg.nkinds, 3, "it defines three kinds");
	config_free(&cfg);
}

static void test_permissions(void)
{
	struct config cfg;
	struct error err = {{0}};

	write_text(conf, "[store]\npath = x.db\n", 0644);
	ok(config_load(conf, &cfg, &err) == 0, "a 0644 config loads");
	ok(cfg.warnings && cfg.warnings[0] && strstr(cfg.warnings[0], "chmod 600") &&
	       strstr(cfg.warnings[0], conf) && !cfg.warnings[1],
	   "with one warning naming the fix: %s", cfg.warnings ? cfg.warnings[0] : "(none)");
	config_free(&cfg);
	write_text(conf, "[store]\npath = x.db\n", 0640);
	ok(config_load(conf, &cfg, &err) == 0 && !cfg.warnings,
	   "group-readable without a secret is fine (0640 root:leavesync, docs/operations.md)");
	config_free(&cfg);
	unsetenv("LEAVESYNC_GRAPH_CLIENT_SECRET");
	write_text(conf, "[graph]\nclient_secret = in-the-file\n", 0640);
	ok(config_load(conf, &cfg, &err) == 0 && cfg.warnings && strstr(cfg.warnings[0], "group"),
	   "group-readable with a secret in it is warned about");
	config_free(&cfg);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf, sizeof conf, "%s/leavesync.conf", dir);
	unsetenv("LEAVESYNC_CONFIG");
	test_defaults();
	test_find();
	test_all_errors();
	test_new_keys();
	test_full();
	test_bad_values();
	test_clouds();
	test_bad_structure();
	test_limits();
	test_url_userinfo();
	test_secrets();
	test_permissions();
	test_example();
	unlink(conf);
	rmdir(dir);
	return done_testing();
}
