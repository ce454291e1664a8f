/* The AADSTS table: cause and fix for the codes an administrator meets while registering and
 * consenting an app for leavesync. Sources: Microsoft's reference-error-codes page
 * (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes) and the answers
 * people posted in public issues (tests/data/graph/observed-token-error-*.json, see
 * tests/data/README.md). */
#include "engine/aadsts.h"

#include <stddef.h>

#define PORTAL_APP "Entra admin center > App registrations > <app>"

static const struct aadsts_info table[] = {
    /* ---- tenant and authority ---- */
    {90002, "InvalidTenantName",
     "the tenant was not found; often the Tenant ID is mistyped or the app is used against the "
     "wrong cloud",
     "set tenant_id to the Directory (tenant) ID GUID from " PORTAL_APP
     " > Overview, and authority to the login host of the tenant's cloud",
     false},
    {900023, "InvalidTenantIdentifier",
     "the tenant identifier is neither a GUID nor a domain, e.g. an authority with "
     "/oauth2/token appended or an unreplaced placeholder",
     "set tenant_id to the bare tenant GUID and authority to the login host only "
     "(https://login.microsoftonline.com)",
     false},
    {90038, "NationalCloudTenantRedirection",
     "the tenant lives in a national cloud (US Government, China) but the request went to "
     "another cloud",
     "set cloud in [ews]/[graph] to the tenant's cloud (usgov, dod or china: it sets "
     "authority, url and the token audience together)",
     false},
    {50194, "InvalidMultitenantConfig",
     "a single-tenant app was used with the /common or /organizations authority",
     "set tenant_id to the tenant GUID, never common or organizations", false},
    {50059, "MissingTenantRealm", "no tenant was named in the request",
     "set tenant_id to the Directory (tenant) ID GUID", false},
    /* ---- the application and its credentials ---- */
    {700016, "UnauthorizedClient_DoesNotMatchRequest",
     "the Application (client) ID was not found in the tenant the request went to: a typo, "
     "Client ID and Tenant ID swapped, or a multitenant app not consented in this tenant",
     "copy the Application (client) ID and Directory (tenant) ID from " PORTAL_APP
     " > Overview; a multitenant app needs admin consent in this tenant",
     false},
    {7000215, "InvalidClientSecret",
     "invalid client secret; a common cause is pasting the secret's ID (a GUID) instead of its "
     "Value",
     "copy the Value column of the secret in " PORTAL_APP
     " > Certificates & secrets; it is shown only once, create a new one if lost",
     false},
    {7000222, "InvalidClientSecretExpiredKeys", "the app's client secret has expired",
     "add a new secret (or a certificate) in " PORTAL_APP
     " > Certificates & secrets, update client_secret, then delete the expired one",
     false},
    {70002, "InvalidClient", "the client credentials could not be validated",
     "check client_id and the secret or certificate configured for it", false},
    {7000218, "InvalidClientPublicFlowsDisabled",
     "the request carried no client secret or assertion, but the app is a confidential client "
     "(a public-client flow against an app with only a Web redirect URI)",
     "in " PORTAL_APP " > Authentication enable \"Allow public client flows\" (device code, "
     "loopback), or use the Web redirect flow with the client secret",
     false},
    {700025, "InvalidClientPublicClientWithCredential",
     "the app is a public client, so it must not present a client secret or assertion",
     "remove client_secret from [graph] when using device code or loopback sign-in, or register "
     "a Web redirect URI and use --redirect-uri",
     false},
    {700027, "ClientAssertionFailedSignatureValidation",
     "the client assertion's signature did not validate against the app's certificates",
     "upload the certificate (public part, cert_file) to " PORTAL_APP
     " > Certificates & secrets and make sure key_file is its private key",
     false},
    {50012, "AuthenticationFailed",
     "the client assertion or its certificate thumbprint was not accepted",
     "upload cert_file to " PORTAL_APP " > Certificates & secrets; check key_file matches it",
     false},
    {700024, "ClientAssertionNotWithinValidTimeRange",
     "the client assertion's time range is not valid: this machine's clock is wrong",
     "synchronise the system clock (NTP) and try again", false},
    {7000112, "UnauthorizedClientApplicationDisabled", "the application is disabled",
     "enable the app's service principal in Entra admin center > Enterprise applications > "
     "<app> > Properties",
     false},
    {90009, "TokenForItselfMissingIdenticalAppIdentifier",
     "the app requested a token for itself (its own client ID or App ID URI as scope)",
     "use https://graph.microsoft.com/.default or https://outlook.office365.com/.default as "
     "scope",
     false},
    /* ---- scopes, resources, consent ---- */
    {70011, "InvalidScope", "the requested scope is not valid",
     "use {resource}/.default for app-only tokens and offline_access plus Calendars.ReadWrite "
     "for delegated sign-in",
     false},
    {1002012, "InvalidScopeForClientCredentials",
     "client credentials need a scope ending in /.default",
     "use https://graph.microsoft.com/.default (Graph) or "
     "https://outlook.office365.com/.default (EWS)",
     false},
    {500011, "InvalidResourceServicePrincipalNotFound",
     "the resource in the scope does not exist in the tenant: a typo, the wrong cloud, or EWS "
     "in a tenant without Exchange Online",
     "check the service url and cloud; EWS needs Exchange Online licences in the tenant", false},
    {50001, "InvalidResource", "the resource is disabled or does not exist",
     "check the service url and that the tenant has the service", false},
    {65001, "DelegationDoesNotExist",
     "the user or an administrator has not consented to the app's permissions",
     "grant admin consent in " PORTAL_APP
     " > API permissions (Calendars.ReadWrite, offline_access), or run `leavesync auth "
     "login` and accept the consent prompt",
     true},
    {65004, "UserDeclinedConsent", "the user declined to consent to the app",
     "sign in again and accept, or have an administrator grant consent in " PORTAL_APP
     " > API permissions",
     true},
    {65005, "MisconfiguredApplication",
     "the app's required permissions are not configured or the tenant lacks the service",
     "add the permissions in " PORTAL_APP " > API permissions and grant admin consent", false},
    {50105, "EntitlementGrantsNotFound",
     "the user is not assigned to the app and assignment is required",
     "assign the user in Entra admin center > Enterprise applications > <app> > Users and "
     "groups",
     true},
    /* ---- redirect URIs and the authorization code ---- */
    {50011, "InvalidReplyTo",
     "the redirect URI does not match one registered for the app (case, path, scheme, trailing "
     "slash, or Web vs Mobile and desktop platform)",
     "register the exact redirect URI in " PORTAL_APP
     " > Authentication (http://localhost under Mobile and desktop applications for loopback "
     "sign-in)",
     false},
    {900971, "ReplyAddressMissing", "no redirect URI was sent and none is registered",
     "register a redirect URI in " PORTAL_APP " > Authentication", false},
    {54005, "OAuth2AuthCodeAlreadyRedeemed",
     "the authorization code was already redeemed (codes are single use)",
     "run `leavesync auth login` again to get a fresh code", false},
    {50148, "CodeVerifierMismatch",
     "the PKCE code_verifier does not match the code_challenge of the authorization request",
     "run `leavesync auth login` again (the code and the verifier must come from one attempt)",
     false},
    {501481, "InvalidCodeVerifier", "the PKCE code_verifier does not match the code_challenge",
     "run `leavesync auth login` again", false},
    {50147, "InvalidCodeChallenge", "the size of the PKCE code_challenge is not valid",
     "report a bug: leavesync sends a 43-character S256 challenge", false},
    {501491, "InvalidCodeChallengeSize", "the size of the PKCE code_challenge is not valid",
     "report a bug: leavesync sends a 43-character S256 challenge", false},
    /* ---- device code ---- */
    {70016, "AuthorizationPending", "the user has not finished signing in yet",
     "complete the sign-in in the browser", false},
    {70019, "CodeExpired", "the device code expired before the sign-in completed",
     "run `leavesync auth login` again and sign in within the time shown", false},
    {70018, "BadVerificationCode", "the device code was not recognised",
     "run `leavesync auth login` again", false},
    /* ---- the user and their session: a new interactive sign-in is needed ---- */
    {70008, "ExpiredOrRevokedGrant", "the refresh token expired or was revoked",
     "sign in again with `leavesync auth login --mailbox <mailbox>`", true},
    {700082, "ExpiredOrRevokedGrantInactiveToken",
     "the refresh token expired after 90 days without use",
     "sign in again with `leavesync auth login --mailbox <mailbox>`; nightly runs keep it alive",
     true},
    {70000, "InvalidGrant",
     "the grant is not valid: the refresh token was revoked or expired, or a scope was not "
     "granted",
     "sign in again with `leavesync auth login --mailbox <mailbox>`", true},
    {50173, "FreshTokenNeeded",
     "the grant was revoked (a password change or an administrator revoked the sessions)",
     "sign in again with `leavesync auth login --mailbox <mailbox>`", true},
    {70043, "BadTokenDueToSignInFrequency",
     "a Conditional Access sign-in frequency policy expired the session",
     "sign in again with `leavesync auth login --mailbox <mailbox>`", true},
    {700084, "RefreshTokenExpiredSpa", "single-page-app refresh tokens last 24 hours",
     "register the redirect URI as Mobile and desktop or Web, not SPA, and sign in again", true},
    {50076, "UserStrongAuthClientAuthNRequired",
     "multi-factor authentication is now required for this user",
     "sign in again interactively with `leavesync auth login --mailbox <mailbox>`", true},
    {50079, "UserStrongAuthEnrollmentRequired",
     "the user must register for multi-factor authentication",
     "register MFA at https://aka.ms/mfasetup, then run `leavesync auth login`", true},
    {53003, "BlockedByConditionalAccess", "a Conditional Access policy blocked the sign-in",
     "an administrator must allow the app or location in the Conditional Access policy; a "
     "policy that blocks the device code flow (the default of auth login) is common: sign in "
     "with `leavesync auth login --loopback` or `--redirect-uri URI` instead",
     true},
    {50097, "DeviceAuthenticationRequired", "a Conditional Access policy requires a managed device",
     "sign in from a compliant device or exclude the app from the policy", true},
    {50058, "UserInformationNotProvided", "there is no signed-in session to use silently",
     "sign in interactively with `leavesync auth login --mailbox <mailbox>`", true},
    {50126, "InvalidUserNameOrPassword", "the user name or password is wrong",
     "sign in again with the right account and password", true},
    {50020, "UserUnauthorized",
     "the account is not from the app's tenant (a personal or guest account)",
     "sign in with a work account of the configured tenant", true},
    {50034, "UserAccountNotFound", "the account does not exist in the tenant",
     "sign in with an account of the configured tenant", true},
    {50053, "IdsLocked", "the account is locked after too many failed sign-ins",
     "wait, or have an administrator unlock the account, then sign in again", true},
    {50055, "InvalidPasswordExpiredPassword", "the user's password has expired",
     "change the password, then sign in again", true},
    {50057, "UserDisabled", "the user account is disabled",
     "enable the account, or connect the mailbox with another account", true},
    {50133, "SsoArtifactInvalidOrExpired",
     "the session is no longer valid (password changed or expired)",
     "sign in again with `leavesync auth login --mailbox <mailbox>`", true},
    /* ---- malformed requests and loops ---- */
    {9002313, "InvalidRequest",
     "the request is malformed (bad or duplicated parameters, wrong encoding)",
     "check tenant_id, client_id and the secret for stray characters; otherwise report a bug",
     false},
    {900144, "RequiredFieldMissing", "the request lacks a required parameter",
     "check client_id and tenant_id are set; otherwise report a bug", false},
    {90014, "MissingRequiredField", "the request lacks a required field",
     "check client_id and tenant_id are set; otherwise report a bug", false},
    {50196, "LoopDetected", "the same request was repeated too quickly",
     "wait a few minutes; leavesync caches tokens, so report repeated occurrences", false},
};

const struct aadsts_info *aadsts_lookup(long code)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].code == code)
			return &table[i];
	return NULL;
}

const struct aadsts_info *aadsts_entry(unsigned long i)
{
	return i < sizeof table / sizeof table[0] ? &table[i] : NULL;
}
