/* m365sim on-premises mode (onprem.h): the fixture's "onprem" object, and how Exchange Server's
 * IIS signs in an EWS request.
 *
 * NTLM, server side, per [MS-NLMP] (https://learn.microsoft.com/en-us/openspecs/windows_protocols/
 * ms-nlmp/): NEGOTIATE_MESSAGE (2.2.1.1) -> 401 with a CHALLENGE_MESSAGE (2.2.1.2) carrying a fresh
 * ServerChallenge, NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY and the TargetInfo AV pairs (2.2.2.1)
 * -> AUTHENTICATE_MESSAGE (2.2.1.3) whose NTLMv2 response (2.2.2.8) must match
 *    NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || temp), NTOWFv2 =
 * HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) || UserDom)) (3.3.2). LM and NTLMv1
 * responses (a 24-byte NtChallengeResponse, 3.3.1) and anonymous ones are refused, as a server with
 * "Network security: LAN Manager authentication level" = "Send NTLMv2 response only. Refuse LM &
 * NTLM" does. A challenge is used once. The connection stays signed in for the requests that follow
 * on it (IIS's authPersistNonNTLM default: "true", Microsoft Learn, IIS <windowsAuthentication>),
 * so a client pays one handshake per connection. Basic (RFC 7617): only over HTTPS (IIS's Basic
 * authentication page: "Basic authentication ... transmits unencrypted base64-encoded passwords
 * across the network" -- Exchange requires SSL on /EWS). Negotiate is offered but only an NTLM
 * token inside it is understood (what Windows clients send without Kerberos); a Kerberos token is
 * refused: the simulator has no KDC (docs/onprem.md). 401 answers carry one WWW-Authenticate line
 * per method offered, as IIS sends them. */
#include "tools/m365sim/onprem.h"

#include "common/util.h"
#include "tools/m365sim/ews_int.h"
#include "tools/m365sim/sim_core.h"

#include <gssapi/gssapi.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

/* ---- MD4 (RFC 1320): OpenSSL 3 keeps it in the legacy provider only ---- */

#define MD4_F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define MD4_G(x, y, z) (((x) & (y)) | ((x) & (z)) | ((y) & (z)))
#define MD4_H(x, y, z) ((x) ^ (y) ^ (z))
#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void md4_block(uint32_t st[4], const unsigned char *p)
{
	static const int r1[4] = {3, 7, 11, 19}, r2[4] = {3, 5, 9, 13}, r3[4] = {3, 9, 11, 15};
	static const int o2[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
	static const int o3[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
	uint32_t x[16], a = st[0], b = st[1], c = st[2], d = st[3], t;

	for (int i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 16; i++) {
		t = a + MD4_F(b, c, d) + x[i];
		a = d, d = c, c = b, b = ROTL(t, r1[i % 4]);
	}
	for (int i = 0; i < 16; i++) {
		t = a + MD4_G(b, c, d) + x[o2[i]] + 0x5a827999u;
		a = d, d = c, c = b, b = ROTL(t, r2[i % 4]);
	}
	for (int i = 0; i < 16; i++) {
		t = a + MD4_H(b, c, d) + x[o3[i]] + 0x6ed9eba1u;
		a = d, d = c, c = b, b = ROTL(t, r3[i % 4]);
	}
	st[0] += a, st[1] += b, st[2] += c, st[3] += d;
}

void sim_md4(const void *data, size_t len, unsigned char out[16]);
void sim_md4(const void *data, size_t len, unsigned char out[16])
{
	uint32_t st[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
	const unsigned char *p = data;
	unsigned char tail[128] = {0};
	size_t full = len / 64 * 64, rest = len - full, tlen;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t i = 0; i < full; i += 64)
		md4_block(st, p + i);
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tlen = rest < 56 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tlen - 8 + i] = (unsigned char)(bits >> (8 * i));
	md4_block(st, tail);
	if (tlen == 128)
		md4_block(st, tail + 64);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (unsigned char)(st[i] >> (8 * j));
}

/* ---- strings ---- */

/* UTF-8 -> UTF-16LE (upper-cased when upper); returns bytes written, -1 when it does not fit or
 * is not UTF-8. */
static long utf16le(const char *s, bool upper, unsigned char *out, size_t cap)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t cp;
		int extra = *p < 0x80             ? 0
		            : (*p & 0xe0) == 0xc0 ? 1
		            : (*p & 0xf0) == 0xe0 ? 2
		            : (*p & 0xf8) == 0xf0 ? 3
		                                  : -1;
		if (extra < 0)
			return -1;
		cp = extra == 0 ? *p : (uint32_t)(*p & (0x3f >> extra));
		for (int i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		p += extra + 1;
		if (upper)
			cp = (uint32_t)towupper((wint_t)cp);
		if (cp >= 0x10000) {
			if (n + 4 > cap)
				return -1;
			cp -= 0x10000;
			uint32_t hi = 0xd800 + (cp >> 10), lo = 0xdc00 + (cp & 0x3ff);
			out[n++] = (unsigned char)hi, out[n++] = (unsigned char)(hi >> 8);
			out[n++] = (unsigned char)lo, out[n++] = (unsigned char)(lo >> 8);
		} else {
			if (n + 2 > cap)
				return -1;
			out[n++] = (unsigned char)cp, out[n++] = (unsigned char)(cp >> 8);
		}
	}
	return (long)n;
}

/* UTF-16LE (from a message) -> UTF-8 for comparisons; BMP only, "" when malformed. */
static void from_utf16le(const unsigned char *p, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i + 1 < len && n + 4 < cap; i += 2) {
		unsigned cp = p[i] | (unsigned)p[i + 1] << 8;
		if (cp < 0x80) {
			out[n++] = (char)cp;
		} else if (cp < 0x800) {
			out[n++] = (char)(0xc0 | cp >> 6);
			out[n++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[n++] = (char)(0xe0 | cp >> 12);
			out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[n++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[n] = '\0';
}

/* ---- fixture ---- */

static char *str_or(json_t *o, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? xstrdup(v) : def ? xstrdup(def) : NULL;
}

int sim_onprem_load(struct sim *s, json_t *o, char *why, size_t whylen)
{
	struct sim_onprem *op = xcalloc(1, sizeof *op);
	struct sim_tenant *t = sim_find_tenant(s, json_string_value(json_object_get(o, "tenant")));
	json_t *accounts = json_object_get(o, "accounts"), *a, *methods;
	size_t i;
	const char *build;

	s->onprem = op;
	if (!t) {
		snprintf(why, whylen, "onprem.tenant names no tenant of the fixture");
		return -1;
	}
	op->tenant_id = xstrdup(t->id);
	op->netbios_domain = str_or(o, "netbios_domain", "FABRIKAM");
	op->dns_domain = str_or(o, "dns_domain", t->domain);
	op->server = str_or(o, "server", "EX01");
	build = json_string_value(json_object_get(o, "build"));
	if (sscanf(build ? build : "15.1.2507.6", "%d.%d.%d.%d", &op->build[0], &op->build[1],
	           &op->build[2], &op->build[3]) != 4) {
		snprintf(why, whylen, "onprem.build: expected MAJOR.MINOR.BUILD.REVISION");
		return -1;
	}
	sim_onprem_set_build(s, op->build);
	methods = json_object_get(o, "methods");
	if (!methods) {
		op->negotiate = op->ntlm = op->basic = true;
	} else {
		json_array_foreach(methods, i, a)
		{
			const char *m = json_string_value(a);
			op->ntlm |= m && strcasecmp(m, "NTLM") == 0;
			op->negotiate |= m && strcasecmp(m, "Negotiate") == 0;
			op->basic |= m && strcasecmp(m, "Basic") == 0;
		}
	}
	op->naccounts = json_array_size(accounts);
	op->accounts = xcalloc(op->naccounts ? op->naccounts : 1, sizeof *op->accounts);
	json_array_foreach(accounts, i, a)
	{
		struct sim_onprem_account *acc = &op->accounts[i];
		json_t *scope = json_object_get(a, "scope");

		acc->user = str_or(a, "user", NULL);
		acc->password = str_or(a, "password", NULL);
		if (!acc->user || !acc->password) {
			snprintf(why, whylen, "onprem.accounts[%zu]: needs user and password", i);
			return -1;
		}
		acc->upn = xmalloc(strlen(acc->user) + strlen(op->dns_domain) + 2);
		sprintf(acc->upn, "%s@%s", acc->user, op->dns_domain);
		sim_lower(acc->upn);
		acc->impersonation = json_is_true(json_object_get(a, "impersonation"));
		acc->locked = json_is_true(json_object_get(a, "locked"));
		acc->app.client_id = xstrdup(acc->upn);
		acc->app.tenant_id = xstrdup(op->tenant_id);
		acc->app.name = xstrdup(acc->user);
		acc->app.ews_allowed = true;
		if (json_is_array(scope)) { /* New-ManagementScope -RecipientRestrictionFilter */
			size_t n = json_array_size(scope), j;
			json_t *v;
			acc->app.scoped_mailboxes = xcalloc(n + 1, sizeof(char *));
			json_array_foreach(scope, j, v)
			{
				acc->app.scoped_mailboxes[j] = xstrdup(json_string_value(v));
				sim_lower(acc->app.scoped_mailboxes[j]);
			}
		}
	}
	op->autodiscover = json_incref(json_object_get(o, "autodiscover"));
	return 0;
}

void sim_onprem_free(struct sim *s)
{
	struct sim_onprem *op = s->onprem;

	if (!op)
		return;
	for (size_t i = 0; i < op->naccounts; i++) {
		struct sim_onprem_account *a = &op->accounts[i];
		free(a->user);
		free(a->upn);
		free(a->password);
		free(a->app.client_id);
		free(a->app.tenant_id);
		free(a->app.name);
		for (size_t j = 0; a->app.scoped_mailboxes && a->app.scoped_mailboxes[j]; j++)
			free(a->app.scoped_mailboxes[j]);
		free(a->app.scoped_mailboxes);
	}
	free(op->accounts);
	free(op->tenant_id);
	free(op->netbios_domain);
	free(op->dns_domain);
	free(op->server);
	json_decref(op->autodiscover);
	json_decref(op->moving);
	free(op);
	s->onprem = NULL;
}

bool sim_onprem_moving(struct sim *s, const struct sim_user *u)
{
	size_t i;
	json_t *v;

	if (!s->onprem || !s->onprem->moving)
		return false;
	json_array_foreach(s->onprem->moving, i, v)
	{
		if (json_string_value(v) && sim_user_has_address(u, json_string_value(v)))
			return true;
	}
	return false;
}

void sim_onprem_set_build(struct sim *s, const int build[4])
{
	struct sim_onprem *op = s->onprem;
	const int *b = build;

	memmove(op->build, build, sizeof op->build);
	ews_set_server_version(b, b[0] == 15 && b[1] >= 1     ? "V2017_07_11"
	                          : b[0] == 15 && b[2] >= 847 ? "Exchange2013_SP1"
	                          : b[0] == 15                ? "Exchange2013"
	                          : b[0] == 14 && b[1] >= 2   ? "Exchange2010_SP2"
	                          : b[0] == 14 && b[1] == 1   ? "Exchange2010_SP1"
	                                                      : "Exchange2010");
}

int sim_onprem_max_version_rank(struct sim *s)
{
	const int *b = s->onprem->build;
	const char *v = b[0] > 15 || (b[0] == 15 && b[1] >= 1) ? "Exchange2016"
	                : b[0] == 15 && b[2] >= 847            ? "Exchange2013_SP1"
	                : b[0] == 15                           ? "Exchange2013"
	                : b[0] == 14 && b[1] >= 2              ? "Exchange2010_SP2"
	                : b[0] == 14 && b[1] == 1              ? "Exchange2010_SP1"
	                                                       : "Exchange2010";
	return ews_version_rank(v);
}

const char *sim_onprem_tenant(struct sim *s)
{
	return s->onprem ? s->onprem->tenant_id : NULL;
}

/* The account "DOMAIN\user", "user@dns" or "user" (domain: the NetBIOS or DNS domain, or empty). */
static int find_account(const struct sim_onprem *op, const char *domain, const char *user)
{
	const char *at = strchr(user, '@');

	if (domain && *domain && strcasecmp(domain, op->netbios_domain) != 0 &&
	    strcasecmp(domain, op->dns_domain) != 0)
		return -1;
	for (size_t i = 0; i < op->naccounts; i++) {
		if (at ? strcasecmp(user, op->accounts[i].upn) == 0
		       : strcasecmp(user, op->accounts[i].user) == 0)
			return (int)i;
	}
	return -1;
}

/* ---- NTLM ---- */

#define NTLMSSP_NEGOTIATE_UNICODE 0x00000001u
#define NTLM_NEGOTIATE_OEM 0x00000002u
#define NTLMSSP_REQUEST_TARGET 0x00000004u
#define NTLMSSP_NEGOTIATE_NTLM 0x00000200u
#define NTLMSSP_NEGOTIATE_ALWAYS_SIGN 0x00008000u
#define NTLMSSP_TARGET_TYPE_DOMAIN 0x00010000u
#define NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY 0x00080000u
#define NTLMSSP_NEGOTIATE_TARGET_INFO 0x00800000u
#define NTLMSSP_NEGOTIATE_VERSION 0x02000000u
#define NTLMSSP_NEGOTIATE_128 0x20000000u
#define NTLMSSP_NEGOTIATE_56 0x80000000u

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}
static void wr32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A security buffer (len, maxlen, offset) of msg: NULL when it points outside. */
static const unsigned char *field(const unsigned char *msg, size_t len, size_t at, size_t *flen)
{
	size_t l = rd16(msg + at), off = rd32(msg + at + 4);
	if (off > len || l > len - off)
		return NULL;
	*flen = l;
	return msg + off;
}

static size_t av_pair(unsigned char *p, unsigned id, const char *value)
{
	long n = value ? utf16le(value, false, p + 4, 256) : 0;
	wr16(p, id);
	wr16(p + 2, (unsigned)(n < 0 ? 0 : n));
	return 4 + (size_t)(n < 0 ? 0 : n);
}

static char *b64(const unsigned char *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Standard base64 -> bytes (*len); NULL when malformed. */
static unsigned char *unb64(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *out;
	int got;

	if (n == 0 || n % 4 || n > 16384)
		return NULL;
	out = xmalloc(n / 4 * 3 + 1);
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0) {
		free(out);
		return NULL;
	}
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	*len = (size_t)got - pad;
	return out;
}

/* CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2) for a fresh ServerChallenge. */
static char *ntlm_challenge(struct sim *s, struct sim_conn *conn)
{
	struct sim_onprem *op = s->onprem;
	unsigned char msg[1024] = {0}, *info;
	size_t pos = 56, info_len = 0;
	uint32_t flags = NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_REQUEST_TARGET |
	                 NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
	                 NTLMSSP_TARGET_TYPE_DOMAIN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |
	                 NTLMSSP_NEGOTIATE_TARGET_INFO | NTLMSSP_NEGOTIATE_VERSION |
	                 NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_56;
	char dns_computer[300];
	long tn;
	uint64_t filetime = ((uint64_t)sim_now(s) + 11644473600ull) * 10000000ull;

	if (op->legacy_ntlm)
		flags &= ~NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY;
	sim_random_bytes(conn->challenge, 8);
	conn->challenged = true;
	memcpy(msg, "NTLMSSP", 8);
	wr32(msg + 8, 2);
	tn = utf16le(op->netbios_domain, false, msg + pos, 256);
	wr16(msg + 12, (unsigned)tn), wr16(msg + 14, (unsigned)tn), wr32(msg + 16, (uint32_t)pos);
	pos += (size_t)tn;
	wr32(msg + 20, flags);
	memcpy(msg + 24, conn->challenge, 8);
	info = msg + pos;
	snprintf(dns_computer, sizeof dns_computer, "%s.%s", op->server, op->dns_domain);
	info_len += av_pair(info + info_len, 2, op->netbios_domain); /* MsvAvNbDomainName */
	info_len += av_pair(info + info_len, 1, op->server);         /* MsvAvNbComputerName */
	info_len += av_pair(info + info_len, 4, op->dns_domain);     /* MsvAvDnsDomainName */
	info_len += av_pair(info + info_len, 3, dns_computer);       /* MsvAvDnsComputerName */
	wr16(info + info_len, 7), wr16(info + info_len + 2, 8);      /* MsvAvTimestamp */
	for (int i = 0; i < 8; i++)
		info[info_len + 4 + i] = (unsigned char)(filetime >> (8 * i));
	info_len += 12;
	wr16(info + info_len, 0), wr16(info + info_len + 2, 0); /* MsvAvEOL */
	info_len += 4;
	wr16(msg + 40, (unsigned)info_len), wr16(msg + 42, (unsigned)info_len);
	wr32(msg + 44, (uint32_t)pos);
	pos += info_len;
	/* Version (2.2.2.10): Windows Server 2016+ 10.0 build 14393, NTLMSSP_REVISION_W2K3 */
	msg[48] = 10, msg[49] = 0, wr16(msg + 50, 14393), msg[55] = 0x0f;
	sim_count(s, "onprem.ntlm.challenges");
	return b64(msg, pos);
}

enum ntlm_verdict { NTLM_OK, NTLM_BAD, NTLM_V1 };

/* AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3, 3.3.2): the account or NTLM_BAD / NTLM_V1. */
static enum ntlm_verdict ntlm_verify(struct sim *s, struct sim_conn *conn, const unsigned char *msg,
                                     size_t len, int *account)
{
	struct sim_onprem *op = s->onprem;
	const unsigned char *nt, *dom, *usr;
	size_t nt_len, dom_len, usr_len;
	char user[260], domain[260];
	unsigned char buf[600], nthash[16], key[16], proof[16];
	unsigned int outlen = 16;
	long n, m;

	if (len < 64 || !conn->challenged)
		return NTLM_BAD;
	conn->challenged = false; /* one answer per challenge: no replay */
	if (!(nt = field(msg, len, 20, &nt_len)) || !(dom = field(msg, len, 28, &dom_len)) ||
	    !(usr = field(msg, len, 36, &usr_len)))
		return NTLM_BAD;
	if (!(rd32(msg + 60) & NTLMSSP_NEGOTIATE_UNICODE))
		return NTLM_BAD; /* OEM strings: we offered Unicode only */
	if (nt_len == 24)
		return NTLM_V1; /* NTLMv1 (or NTLM2 session response) */
	if (nt_len < 16 + 28 || nt_len > 4096 || nt[16] != 1 || nt[17] != 1)
		return NTLM_BAD; /* anonymous (empty), or not an NTLMv2_CLIENT_CHALLENGE */
	from_utf16le(usr, usr_len, user, sizeof user);
	from_utf16le(dom, dom_len, domain, sizeof domain);
	*account = find_account(op, domain, user);
	if (*account < 0 || op->accounts[*account].locked)
		return NTLM_BAD;
	/* NTOWFv2: HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf(Uppercase(User),
	 * UserDom)))
	 */
	n = utf16le(op->accounts[*account].password, false, buf, sizeof buf);
	if (n < 0)
		return NTLM_BAD;
	sim_md4(buf, (size_t)n, nthash);
	n = utf16le(user, true, buf, sizeof buf);
	m = n < 0 ? -1 : utf16le(domain, false, buf + n, sizeof buf - (size_t)n);
	if (m < 0)
		return NTLM_BAD;
	HMAC(EVP_md5(), nthash, 16, buf, (size_t)(n + m), key, &outlen);
	/* NTProofStr = HMAC_MD5(ResponseKeyNT, ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge,
	 * temp)) */
	unsigned char *data = xmalloc(8 + nt_len - 16);
	memcpy(data, conn->challenge, 8);
	memcpy(data + 8, nt + 16, nt_len - 16);
	HMAC(EVP_md5(), key, 16, data, 8 + nt_len - 16, proof, &outlen);
	free(data);
	return CRYPTO_memcmp(proof, nt, 16) == 0 ? NTLM_OK : NTLM_BAD;
}

/* ---- 401 ---- */

static void unauthorized(struct sim *s, const struct sim_request *req, struct sim_response *resp,
                         const char *ntlm_challenge_b64)
{
	struct sim_onprem *op = s->onprem;
	char basic[300];

	resp->status = 401;
	buf_reset(&resp->body);
	if (ntlm_challenge_b64) {
		char *v = xmalloc(strlen(ntlm_challenge_b64) + 6);
		sprintf(v, "NTLM %s", ntlm_challenge_b64);
		sim_resp_header_add(resp, "WWW-Authenticate", v);
		free(v);
	} else {
		if (op->negotiate)
			sim_resp_header_add(resp, "WWW-Authenticate", "Negotiate");
		if (op->ntlm)
			sim_resp_header_add(resp, "WWW-Authenticate", "NTLM");
		if (op->basic && req->tls) {
			snprintf(basic, sizeof basic, "Basic realm=\"mail.%s\"", op->dns_domain);
			sim_resp_header_add(resp, "WWW-Authenticate", basic);
		}
	}
	sim_resp_header(resp, "Content-Type", "text/html");
	buf_puts(
	    &resp->body,
	    "<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to "
	    "invalid credentials.</title></head><body><h2>401 - Unauthorized: Access is denied "
	    "due to invalid credentials.</h2></body></html>");
	sim_count(s, "onprem.unauthorized");
}

static struct sim_onprem_account *signed_in(struct sim *s, struct sim_conn *conn, int account)
{
	if (conn)
		conn->account = account;
	return &s->onprem->accounts[account];
}

/* Authorization: NTLM <msg> or Negotiate <NTLM msg>. */
static struct sim_onprem_account *ntlm(struct sim *s, const struct sim_request *req,
                                       struct sim_response *resp, const char *token)
{
	size_t len;
	unsigned char *msg = unb64(token, &len);
	struct sim_onprem_account *acc = NULL;
	int account = -1;

	if (!msg || len < 12 || memcmp(msg, "NTLMSSP", 8) != 0 || !req->conn) {
		free(msg);
		unauthorized(s, req, resp, NULL);
		return NULL;
	}
	req->conn->account = -1; /* a new handshake signs the connection out */
	if (rd32(msg + 8) == 1) {
		char *challenge = ntlm_challenge(s, req->conn);
		unauthorized(s, req, resp, challenge);
		free(challenge);
	} else if (rd32(msg + 8) == 3) {
		enum ntlm_verdict v = ntlm_verify(s, req->conn, msg, len, &account);
		if (v == NTLM_OK) {
			sim_count(s, "onprem.ntlm.signed_in");
			acc = signed_in(s, req->conn, account);
		} else {
			sim_count(s,
			          v == NTLM_V1 ? "onprem.ntlm.v1_refused" : "onprem.ntlm.refused");
			unauthorized(s, req, resp, NULL);
		}
	} else {
		unauthorized(s, req, resp, NULL);
	}
	free(msg);
	return acc;
}

static struct sim_onprem_account *basic(struct sim *s, const struct sim_request *req,
                                        struct sim_response *resp, const char *token)
{
	size_t len;
	unsigned char *raw = unb64(token, &len);
	char *text, *colon, *user, *bs;
	int account = -1;

	if (!raw) {
		unauthorized(s, req, resp, NULL);
		return NULL;
	}
	text = xstrndup((const char *)raw, len);
	free(raw);
	colon = strchr(text, ':');
	if (colon) {
		*colon = '\0';
		user = text;
		bs = strchr(user, '\\');
		if (bs) {
			*bs = '\0';
			account = find_account(s->onprem, user, bs + 1);
		} else {
			account = find_account(s->onprem, NULL, user);
		}
		if (account >= 0 && (s->onprem->accounts[account].locked ||
		                     strcmp(colon + 1, s->onprem->accounts[account].password) != 0))
			account = -1;
	}
	memset(text, 0, len);
	free(text);
	if (account < 0) {
		sim_count(s, "onprem.basic.refused");
		unauthorized(s, req, resp, NULL);
		return NULL;
	}
	sim_count(s, "onprem.basic.signed_in");
	return &s->onprem->accounts[account]; /* Basic signs in a request, not a connection */
}

/* ---- Negotiate (SPNEGO, RFC 4559) with Kerberos through GSS-API ---- */

/* Authorization: Negotiate <token> that is not NTLM: accepted with the keytab of $KRB5_KTNAME
 * (the HTTP/host service principal), the client principal "user@REALM" mapped to the account
 * "user" when REALM is the upper-case DNS domain. The connection stays signed in (as NTLM). The
 * final token, if any, goes back in WWW-Authenticate for mutual authentication (RFC 4559 §5). */
static struct sim_onprem_account *negotiate(struct sim *s, const struct sim_request *req,
                                            struct sim_response *resp, const char *token)
{
	struct sim_onprem *op = s->onprem;
	size_t len;
	unsigned char *raw = unb64(token, &len);
	OM_uint32 major, minor, flags = 0;
	gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
	gss_name_t client = GSS_C_NO_NAME;
	gss_buffer_desc in = {0}, out = {0}, name = {0};
	int account = -1;

	if (!raw) {
		unauthorized(s, req, resp, NULL);
		return NULL;
	}
	in.length = len;
	in.value = raw;
	major = gss_accept_sec_context(&minor, &ctx, GSS_C_NO_CREDENTIAL, &in,
	                               GSS_C_NO_CHANNEL_BINDINGS, &client, NULL, &out, &flags, NULL,
	                               NULL);
	free(raw);
	if (major == GSS_S_COMPLETE &&
	    gss_display_name(&minor, client, &name, NULL) == GSS_S_COMPLETE) {
		char principal[300], *at;
		snprintf(principal, sizeof principal, "%.*s", (int)name.length, (char *)name.value);
		at = strrchr(principal, '@');
		if (at && strcasecmp(at + 1, op->dns_domain) == 0) {
			*at = '\0';
			account = find_account(op, NULL, principal);
		}
		gss_release_buffer(&minor, &name);
	}
	if (client != GSS_C_NO_NAME)
		gss_release_name(&minor, &client);
	if (ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
	if (account < 0 || op->accounts[account].locked) {
		gss_release_buffer(&minor, &out);
		sim_count(s, "onprem.negotiate.refused");
		unauthorized(s, req, resp, NULL);
		return NULL;
	}
	if (out.length) {
		char *b = b64(out.value, out.length);
		char *v = xmalloc(strlen(b) + 12);
		sprintf(v, "Negotiate %s", b);
		sim_resp_header_add(resp, "WWW-Authenticate", v);
		free(v);
		free(b);
	}
	gss_release_buffer(&minor, &out);
	sim_count(s, "onprem.negotiate.signed_in");
	return signed_in(s, req->conn, account);
}

struct sim_onprem_account *sim_onprem_authorize(struct sim *s, const struct sim_request *req,
                                                struct sim_response *resp)
{
	struct sim_onprem *op = s->onprem;
	const char *authz = sim_req_header(req, "Authorization");

	if (req->conn)
		req->conn->requests++;
	if (!authz) {
		if (req->conn && req->conn->account >= 0) {
			sim_count(s, "onprem.connection_reused");
			return &op->accounts[req->conn->account];
		}
		unauthorized(s, req, resp, NULL);
		return NULL;
	}
	if (op->ntlm && strncasecmp(authz, "NTLM ", 5) == 0)
		return ntlm(s, req, resp, authz + 5);
	if (op->negotiate && strncasecmp(authz, "Negotiate ", 10) == 0) {
		if (strncmp(authz + 10, "TlRMTVNTUA", 10) == 0) /* base64 of "NTLMSSP" */
			return ntlm(s, req, resp, authz + 10);
		return negotiate(s, req, resp, authz + 10);
	}
	if (op->basic && req->tls && strncasecmp(authz, "Basic ", 6) == 0)
		return basic(s, req, resp, authz + 6);
	unauthorized(s, req, resp, NULL); /* Bearer and anything else: not this server's */
	return NULL;
}
