/* SPDX-License-Identifier: MIT */
/*
 * AWS credentials as the AWS CLI and SDKs find them, in their order:
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   2. the profile AWS_PROFILE (else "default") of the shared credentials
 *      file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials);
 *   3. the same profile in the config file (AWS_CONFIG_FILE, else
 *      ~/.aws/config; there "[profile NAME]", or "[default]"): its keys,
 *      else its credential_process, run with /bin/sh, whose standard
 *      output is the JSON the AWS CLI documents (Version 1, AccessKeyId,
 *      SecretAccessKey, SessionToken).
 * The region: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else
 * us-east-1. No secret is ever logged: errors name files, profiles and
 * fields only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "remote-private.h"

static char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? strdup(v) : NULL;
}

static char *home_file(const char *var, const char *tail)
{
	const char *v = getenv(var), *home = getenv("HOME");
	char *p = NULL;

	if (v && *v)
		return strdup(v);
	if (home && *home && asprintf(&p, "%s/%s", home, tail) < 0)
		p = NULL;
	return p;
}

static char *trim(char *s)
{
	char *e = s + strlen(s);

	while (*s && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * The value of @key in section @section of INI file @path (malloc'd), or
 * NULL. Lines "key = value"; "#" and ";" start comments.
 */
static char *ini_get(const char *path, const char *section, const char *key)
{
	FILE *f = path ? fopen(path, "re") : NULL;
	char line[4096], *val = NULL;
	bool in = false;

	if (!f)
		return NULL;
	while (!val && fgets(line, sizeof(line), f)) {
		char *s = trim(line);
		if (*s == '#' || *s == ';' || !*s)
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (e) {
				*e = '\0';
				in = strcmp(trim(s + 1), section) == 0;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		if (strcmp(trim(s), key) == 0)
			val = strdup(trim(eq + 1));
	}
	fclose(f);
	return val;
}

/* The string value of "@field" in JSON @text (plain: no escapes in keys or
 * secrets), malloc'd, or NULL. */
static char *json_field(const char *text, const char *field)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\"", field);
	if (!(p = strstr(text, pat)))
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '"' || !(e = strchr(p, '"')))
		return NULL;
	return strndup(p, (size_t)(e - p));
}

/* Runs @cmd; fills @c from its JSON. 0, or -EIO with why in @err. */
static int run_process(const char *cmd, const char *profile,
		       struct aws_creds *c, char *err, size_t errlen)
{
	FILE *p = popen(cmd, "re");
	char *out = NULL;
	size_t len = 0, cap = 0;
	int status;

	if (!p) {
		snprintf(err, errlen, "credential_process of profile %s: "
			 "cannot run it", profile);
		return -EIO;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *n = realloc(out, cap = cap ? cap * 2 : 8192);
			if (!n)
				break;
			out = n;
		}
		size_t got = fread(out + len, 1, 4096, p);
		if (!got)
			break;
		len += got;
	}
	status = pclose(p);
	if (!out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "credential_process of profile %s "
			 "failed (exit status %d)", profile,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		free(out);
		return -EIO;
	}
	out[len] = '\0';
	c->id = json_field(out, "AccessKeyId");
	c->secret = json_field(out, "SecretAccessKey");
	c->token = json_field(out, "SessionToken");
	explicit_bzero(out, len);
	free(out);
	if (!c->id || !c->secret) {
		snprintf(err, errlen, "credential_process of profile %s printed "
			 "no AccessKeyId and SecretAccessKey", profile);
		return -EIO;
	}
	return 0;
}

void aws_creds_free(struct aws_creds *c)
{
	if (c->secret)
		explicit_bzero(c->secret, strlen(c->secret));
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->id);
	free(c->secret);
	free(c->token);
	free(c->region);
	memset(c, 0, sizeof(*c));
}

int aws_creds_find(struct aws_creds *c, char *err, size_t errlen)
{
	char *profile = env("AWS_PROFILE"), section[300];
	char *creds = home_file("AWS_SHARED_CREDENTIALS_FILE",
				".aws/credentials");
	char *config = home_file("AWS_CONFIG_FILE", ".aws/config");
	int r = 0;

	memset(c, 0, sizeof(*c));
	err[0] = '\0';
	if (!profile)
		profile = strdup("default");
	snprintf(section, sizeof(section), "%s%s",
		 strcmp(profile, "default") ? "profile " : "", profile);
	c->id = env("AWS_ACCESS_KEY_ID");
	c->secret = env("AWS_SECRET_ACCESS_KEY");
	if (c->id && c->secret) {
		c->token = env("AWS_SESSION_TOKEN");
	} else {
		free(c->id);
		free(c->secret);
		c->id = ini_get(creds, profile, "aws_access_key_id");
		c->secret = ini_get(creds, profile, "aws_secret_access_key");
		c->token = ini_get(creds, profile, "aws_session_token");
		if (!c->id || !c->secret) {
			free(c->id);
			free(c->secret);
			free(c->token);
			c->token = NULL;
			c->id = ini_get(config, section, "aws_access_key_id");
			c->secret = ini_get(config, section,
					    "aws_secret_access_key");
			c->token = ini_get(config, section, "aws_session_token");
		}
		if (!c->id || !c->secret) {
			char *cmd = ini_get(config, section,
					    "credential_process");
			free(c->id);
			free(c->secret);
			free(c->token);
			c->id = c->secret = c->token = NULL;
			if (cmd)
				r = run_process(cmd, profile, c, err, errlen);
			free(cmd);
		}
	}
	if (!(c->region = env("AWS_REGION")) &&
	    !(c->region = env("AWS_DEFAULT_REGION")) &&
	    !(c->region = ini_get(config, section, "region")))
		c->region = strdup("us-east-1");
	if (r == 0 && (!c->id || !c->secret)) {
		free(c->id);
		free(c->secret);
		c->id = c->secret = NULL;
	}
	free(profile);
	free(creds);
	free(config);
	return r;
}
