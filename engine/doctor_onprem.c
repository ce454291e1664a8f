/* `leavesync doctor` for Exchange Server on-premises ([ews] auth = ntlm | negotiate | basic): the
 * sign-in settings, then one EWS request impersonating the test mailbox, each failure explained
 * with the Exchange Management Shell commands that fix it. Sources: "Configure impersonation"
 * (https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/
 * how-to-configure-impersonation: New-ManagementScope -RecipientRestrictionFilter,
 * New-ManagementRoleAssignment -Role ApplicationImpersonation -User -CustomRecipientWriteScope),
 * the cmdlet pages under https://learn.microsoft.com/en-us/powershell/module/exchange/, and
 * [MS-NLMP] for NTLM. */
#include "engine/doctor.h"

#include "engine/backend.h"
#include "engine/envs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The account's name as Exchange cmdlets take it: "svc" of "DOMAIN\svc", or the UPN. */
static const char *account_of(const char *username)
{
	const char *bs = username ? strchr(username, '\\') : NULL;
	return bs ? bs + 1 : username ? username : "svc-leavesync";
}

static void explain(struct doctor_report *rep, const char *name, const struct service_config *sc,
                    const char *mailbox, const char *msg)
{
	const char *svc = account_of(sc->username);
	const char *who = sc->username ? sc->username : "the service account";
	char cause[1600], fix[1400];

	if (strstr(msg, "ErrorImpersonateUserDenied") || strstr(msg, "ErrorImpersonationDenied")) {
		snprintf(
		    cause, sizeof cause,
		    "%s may not impersonate %s: it lacks the ApplicationImpersonation role, or "
		    "the mailbox is outside the role assignment's management scope",
		    who, mailbox);
		snprintf(fix, sizeof fix,
		         "in the Exchange Management Shell, for every mailbox: "
		         "New-ManagementRoleAssignment -Name \"leavesync-impersonation\" -Role "
		         "ApplicationImpersonation -User \"%s\"; or only for a group of mailboxes: "
		         "New-ManagementScope -Name \"leavesync-mailboxes\" "
		         "-RecipientRestrictionFilter \"MemberOfGroup -eq 'CN=LeaveSync "
		         "Mailboxes,OU=Groups,DC=contoso,DC=com'\" then "
		         "New-ManagementRoleAssignment -Name \"leavesync-impersonation\" -Role "
		         "ApplicationImpersonation -User \"%s\" -CustomRecipientWriteScope "
		         "\"leavesync-mailboxes\" (and add %s to that group); check with "
		         "Get-ManagementRoleAssignment -Role ApplicationImpersonation "
		         "-GetEffectiveUsers",
		         svc, svc, mailbox);
	} else if (strstr(msg, "ErrorNonExistentMailbox") || strstr(msg, "ErrorInvalidUser")) {
		snprintf(cause, sizeof cause,
		         "Exchange Server has no mailbox %s (ErrorNonExistentMailbox)", mailbox);
		snprintf(fix, sizeof fix,
		         "use the primary SMTP address (Get-Mailbox %s | Format-List "
		         "PrimarySmtpAddress); a mailbox already moved to Exchange Online is "
		         "routed to Graph with [mailbox \"%s\"] backend = graph (docs/onprem.md)",
		         mailbox, mailbox);
	} else if (strstr(msg, "never sends LM or NTLMv1")) {
		snprintf(cause, sizeof cause,
		         "the server's NTLM challenge would need an LM or NTLMv1 answer, which "
		         "leavesync never sends");
		snprintf(
		    fix, sizeof fix,
		    "set the Group Policy \"Network security: LAN Manager authentication level\" "
		    "to \"Send NTLMv2 response only. Refuse LM & NTLM\" on the Exchange servers "
		    "and domain controllers, or use auth = negotiate");
	} else if (strstr(msg, "HTTP 401")) {
		const char *wa = strstr(msg, "WWW-Authenticate: ");
		const char *want = strcmp(sc->auth, "ntlm") == 0        ? "NTLM"
		                   : strcmp(sc->auth, "negotiate") == 0 ? "Negotiate"
		                                                        : "Basic";
		bool offered = wa && strstr(wa, want);
		snprintf(cause, sizeof cause, "Exchange refused the sign-in of %s with %s (%.300s)",
		         who, want, wa ? wa : "no WWW-Authenticate");
		if (offered && strcmp(want, "Negotiate") == 0)
			snprintf(
			    fix, sizeof fix,
			    "leavesync signs in with the Kerberos ticket of its process: check it "
			    "with klist (as the service user), get one with kinit -k -t KEYTAB "
			    "PRINCIPAL, and check that the service principal HTTP/<EWS host> "
			    "exists "
			    "(setspn -L <Exchange computer or its ASA account>)");
		else if (!offered)
			snprintf(
			    fix, sizeof fix,
			    "the EWS virtual directory does not offer %s: pick a method it "
			    "offers for [ews] auth, or enable it: Set-WebServicesVirtualDirectory "
			    "-Identity \"<server>\\EWS (Default Web Site)\" %s $true",
			    want,
			    strcmp(want, "Basic") == 0 ? "-BasicAuthentication"
			                               : "-WindowsAuthentication");
		else
			snprintf(
			    fix, sizeof fix,
			    "the password is wrong, or the account is locked out, disabled or its "
			    "password expired: check with Get-ADUser %s -Properties "
			    "LockedOut,Enabled,PasswordExpired (Unlock-ADAccount %s), then update "
			    "the password file (%s)",
			    svc, svc,
			    sc->password_source ? sc->password_source : "[ews] password_file");
	} else if (strstr(msg, "certificate") || strstr(msg, "TLS")) {
		snprintf(cause, sizeof cause, "%s", msg);
		snprintf(
		    fix, sizeof fix,
		    "an internal CA signs Exchange's certificate: set [tls] ca_file to that CA's "
		    "PEM certificate (docs/onprem.md); verification is never turned off");
	} else {
		snprintf(cause, sizeof cause, "%s", msg);
		snprintf(fix, sizeof fix, "see the message; docs/onprem.md lists the causes");
	}
	doctor_add(rep, DOCTOR_FAIL, name, cause, fix);
}

void doctor_check_onprem(const struct config *cfg, struct doctor_branch *b, const char *mailbox,
                         struct doctor_report *rep)
{
	const struct service_config *sc = b->sc;
	struct backend_envs envs;
	struct be_session *s = NULL;
	struct error err = {{0}};
	char name[400];
	enum be_status st;

	if (strcmp(sc->auth, "negotiate") == 0)
		doctor_add(
		    rep, DOCTOR_WARN, "[ews] sign-in method",
		    "auth = negotiate (Kerberos) has not been tested against a KDC by "
		    "leavesync's tests (docs/onprem.md)",
		    "prefer auth = ntlm where the server offers it, or check with `leavesync "
		    "doctor --mailbox EMAIL` that it works here");
	else if (strcmp(sc->auth, "basic") == 0)
		doctor_add(rep, DOCTOR_WARN, "[ews] sign-in method",
		           "auth = basic sends the service account's password in every request "
		           "(inside TLS)",
		           "prefer auth = ntlm (the password never crosses the network)");
	else
		doctor_add(rep, DOCTOR_OK, "[ews] sign-in method", NULL, NULL);
	if (!mailbox)
		return; /* check_test_mailbox already asked for one */
	snprintf(name, sizeof name, "ews.read_calendar|[ews] read the calendar of %s", mailbox);
	backend_envs_init(&envs, cfg);
	st = ews_backend.session_open(&envs.env[0], &s, &err);
	if (st == BE_OK)
		st = ews_backend.probe_mailbox(s, mailbox, &err);
	if (st == BE_OK)
		doctor_add(rep, DOCTOR_OK, name, NULL, NULL);
	else
		explain(rep, name, sc, mailbox, err.msg);
	if (s)
		ews_backend.session_close(s);
	backend_envs_free(&envs);
	b->stopped = st != BE_OK;
}
