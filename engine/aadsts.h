/* AADSTS error codes of the Microsoft identity platform that people setting up leavesync meet, each
 * with a short name, the likely cause and a one-line fix. Used by the OAuth error messages and by
 * `leavesync doctor`. Source: https://learn.microsoft.com/en-us/entra/identity-platform/
 * reference-error-codes and the observed answers in tests/data/graph. Microsoft warns the numbers
 * may change: use them for messages, never for control flow (oauth.c branches on the OAuth `error`
 * value). */
#ifndef ENGINE_AADSTS_H
#define ENGINE_AADSTS_H

#include <stdbool.h>

struct aadsts_info {
	long code;         /* 7000215 */
	const char *name;  /* "InvalidClientSecret" */
	const char *cause; /* one sentence, no trailing period */
	const char *fix;   /* one sentence, no trailing period */
	bool needs_login;  /* the user must sign in again (revoked, expired, MFA, consent) */
};

/* The entry for code, or NULL when the code is not in the table. */
const struct aadsts_info *aadsts_lookup(long code);

/* Iterates over the table (doctor lists them): entry i, or NULL past the end. */
const struct aadsts_info *aadsts_entry(unsigned long i);

#endif
