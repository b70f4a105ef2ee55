/*-------------------------------------------------------------------------
 *
 * s3.c
 *		S3 requests through one reused libcurl handle.
 *
 * Signing is libcurl's (CURLOPT_AWS_SIGV4, provider aws:amz:<region>:s3);
 * we only hand it the payload's SHA-256 in x-amz-content-sha256, which it
 * signs as given, so the store checks the body against the signature.
 * Query parameters are written in sorted order with strict encoding, as
 * the canonical request wants them, and key bytes outside the unreserved
 * set are percent-encoded once (S3 does not encode twice).
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "s3.h"

struct S3
{
	CURL *curl;
	char *base;		  /* scheme://[bucket.]host[:port] */
	char *path0;	  /* "/bucket" (path style) or "" */
	char *bucket;	  /* for messages */
	char *userpwd;	  /* "access:secret" (secret: never logged) */
	char *token;	  /* session token or NULL (secret) */
	char  sigv4[128]; /* aws:amz:<region>:s3 */
	int	  timeout;	  /* seconds */
};

typedef struct Buffer
{
	uint8_t *data;
	size_t	 len;
	size_t	 cap;
	size_t	 limit; /* refuse growing past this */
	bool	 overflow;
} Buffer;

static _Atomic uint64_t requests;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
	Buffer *b = user;
	size_t	n = size * nmemb;

	if (b->len + n + 1 > b->cap)
	{
		size_t	 cap = b->cap ? b->cap : 4096;
		uint8_t *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (b->limit && cap > b->limit)
		{
			b->overflow = true;
			return 0;
		}
		d = realloc(b->data, cap);
		if (d == NULL)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *user)
{
	char  *etag = user;
	size_t n = size * nmemb;

	if (n > 5 && strncasecmp(ptr, "ETag:", 5) == 0)
	{
		size_t i = 5, j = 0;

		while (i < n && (ptr[i] == ' ' || ptr[i] == '"'))
			i++;
		while (i < n && ptr[i] != '"' && ptr[i] != '\r' && ptr[i] != '\n' &&
			   j < 63)
			etag[j++] = ptr[i++];
		etag[j] = '\0';
	}
	return n;
}

static void
encode(char *out, size_t outlen, const char *s, bool keep_slash)
{
	size_t j = 0;

	for (; *s && j + 4 < outlen; s++)
	{
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
			(keep_slash && c == '/'))
			out[j++] = (char)c;
		else
			j += (size_t)snprintf(out + j, outlen - j, "%%%02X", c);
	}
	out[j] = '\0';
}

S3 *
s3_create(const Config *cfg, char *err, size_t errlen)
{
	S3		   *s3 = calloc(1, sizeof(S3));
	const char *ep = cfg->s3_endpoint;
	size_t		n = strlen(ep);
	size_t		len;

	if (s3 == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (n > 0 && ep[n - 1] == '/')
		n--;
	s3->curl = curl_easy_init();
	len = n + strlen(cfg->s3_bucket) + 2;
	s3->base = malloc(len);
	s3->path0 = malloc(strlen(cfg->s3_bucket) + 2);
	s3->bucket = strdup(cfg->s3_bucket);
	s3->userpwd =
		malloc(strlen(cfg->access_key) + strlen(cfg->secret_key) + 2);
	if (s3->curl == NULL || s3->base == NULL || s3->path0 == NULL ||
		s3->bucket == NULL || s3->userpwd == NULL)
	{
		snprintf(err, errlen, "out of memory");
		s3_destroy(s3);
		return NULL;
	}
	if (cfg->s3_url_style == URL_VIRTUAL_HOST)
	{
		const char *host = strstr(ep, "://") + 3;

		snprintf(s3->base, len, "%.*s%s.%.*s", (int)(host - ep), ep,
				 cfg->s3_bucket, (int)(n - (size_t)(host - ep)), host);
		s3->path0[0] = '\0';
	}
	else
	{
		snprintf(s3->base, len, "%.*s", (int)n, ep);
		sprintf(s3->path0, "/%s", cfg->s3_bucket);
	}
	sprintf(s3->userpwd, "%s:%s", cfg->access_key, cfg->secret_key);
	if (cfg->session_token != NULL)
		s3->token = strdup(cfg->session_token);
	snprintf(s3->sigv4, sizeof(s3->sigv4), "aws:amz:%s:s3", cfg->s3_region);
	s3->timeout = cfg->s3_timeout;

	curl_easy_setopt(s3->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s3->curl, CURLOPT_AWS_SIGV4, s3->sigv4);
	curl_easy_setopt(s3->curl, CURLOPT_USERPWD, s3->userpwd);
	curl_easy_setopt(s3->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(s3->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cfg->s3_ca_file != NULL)
		curl_easy_setopt(s3->curl, CURLOPT_CAINFO, cfg->s3_ca_file);
	if (!cfg->s3_verify_tls)
	{
		curl_easy_setopt(s3->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(s3->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return s3;
}

void
s3_destroy(S3 *s3)
{
	if (s3 == NULL)
		return;
	if (s3->curl != NULL)
		curl_easy_cleanup(s3->curl);
	if (s3->userpwd != NULL)
		OPENSSL_cleanse(s3->userpwd, strlen(s3->userpwd));
	if (s3->token != NULL)
		OPENSSL_cleanse(s3->token, strlen(s3->token));
	free(s3->userpwd);
	free(s3->token);
	free(s3->base);
	free(s3->path0);
	free(s3->bucket);
	free(s3);
}

void
s3_set_timeout(S3 *s3, int seconds)
{
	s3->timeout = seconds;
}

uint64_t
s3_requests_total(void)
{
	return atomic_load(&requests);
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
digest(const EVP_MD *md, const void *body, size_t len, unsigned char *out,
	   unsigned int *outlen)
{
	EVP_Digest(body, len, out, outlen, md, NULL);
}

/* Text between <tag> and </tag> (first one) into out. */
static bool
xml_value(const char *xml, size_t len, const char *tag, char *out,
		  size_t outlen)
{
	char		open[64], close[64];
	const char *a, *b;
	const char *end = xml + len;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = memmem(xml, len, open, strlen(open));
	if (a == NULL)
		return false;
	a += strlen(open);
	b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (b == NULL)
		return false;
	snprintf(out, outlen, "%.*s", (int)(b - a), a);
	return true;
}

/*
 * One request.  body/len: the payload (PUT) or NULL; resp collects the
 * response body; etag the ETag header.  Returns the HTTP status, 0 when
 * no answer came (err says why).
 */
static long
request(S3 *s3, const char *method, const char *key, const char *query,
		const void *body, size_t len, struct curl_slist *extra, Buffer *resp,
		char *etag, char *err, size_t errlen)
{
	char			  *url;
	char			  *ekey;
	size_t			   urllen;
	unsigned char	   sha[EVP_MAX_MD_SIZE];
	unsigned int	   shalen;
	char			   shahex[2 * EVP_MAX_MD_SIZE + 1];
	char			   header[256];
	struct curl_slist *headers = extra;
	CURLcode		   rc;
	long			   status = 0;

	ekey = malloc(strlen(key) * 3 + 1);
	urllen = strlen(s3->base) + strlen(s3->path0) + strlen(key) * 3 +
			 (query ? strlen(query) : 0) + 4;
	url = malloc(urllen);
	if (ekey == NULL || url == NULL)
	{
		free(ekey);
		free(url);
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	encode(ekey, strlen(key) * 3 + 1, key, true);
	/* the bucket itself without a trailing '/', as stores canonicalize it */
	snprintf(url, urllen, "%s%s%s%s%s%s", s3->base, s3->path0,
			 ekey[0] || s3->path0[0] == '\0' ? "/" : "", ekey,
			 query ? "?" : "", query ? query : "");

	digest(EVP_sha256(), body ? body : "", body ? len : 0, sha, &shalen);
	hex(sha, shalen, shahex);
	snprintf(header, sizeof(header), "x-amz-content-sha256: %s", shahex);
	headers = curl_slist_append(headers, header);
	if (s3->token != NULL)
	{
		char *t = malloc(strlen(s3->token) + 32);

		if (t != NULL)
		{
			sprintf(t, "x-amz-security-token: %s", s3->token);
			headers = curl_slist_append(headers, t);
			OPENSSL_cleanse(t, strlen(t));
			free(t);
		}
	}
	/*
	 * No "Expect:" to drop 100-continue: libcurl 7.88 would sign the
	 * header it then leaves out, and the store refuses the signature.
	 */

	curl_easy_setopt(s3->curl, CURLOPT_URL, url);
	curl_easy_setopt(s3->curl, CURLOPT_TIMEOUT, (long)s3->timeout);
	curl_easy_setopt(s3->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(s3->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s3->curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(s3->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s3->curl, CURLOPT_HEADERDATA, etag);
	curl_easy_setopt(s3->curl, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(s3->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(s3->curl, CURLOPT_CUSTOMREQUEST, NULL);
	if (strcmp(method, "PUT") == 0)
	{
		curl_easy_setopt(s3->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(s3->curl, CURLOPT_POSTFIELDSIZE_LARGE,
						 (curl_off_t)(body ? len : 0));
		curl_easy_setopt(s3->curl, CURLOPT_CUSTOMREQUEST, "PUT");
	}
	else if (strcmp(method, "DELETE") == 0)
		curl_easy_setopt(s3->curl, CURLOPT_CUSTOMREQUEST, "DELETE");
	else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(s3->curl, CURLOPT_NOBODY, 1L);

	atomic_fetch_add(&requests, 1);
	rc = curl_easy_perform(s3->curl);
	if (rc != CURLE_OK)
		snprintf(err, errlen, "%s %s/%s: %s", method, s3->bucket, key,
				 resp->overflow ? "response too large"
								: curl_easy_strerror(rc));
	else
	{
		curl_easy_getinfo(s3->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status > 299)
		{
			char code[128] = "", msg[512] = "";

			if (resp->data != NULL)
			{
				xml_value((char *)resp->data, resp->len, "Code", code,
						  sizeof(code));
				xml_value((char *)resp->data, resp->len, "Message", msg,
						  sizeof(msg));
			}
			snprintf(err, errlen, "%s %s/%s: HTTP %ld%s%s%s%s", method,
					 s3->bucket, key, status, code[0] ? " " : "", code,
					 msg[0] ? ": " : "", msg);
		}
	}
	curl_easy_setopt(s3->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s3->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(headers);
	free(url);
	free(ekey);
	return status;
}

bool
s3_check_bucket(S3 *s3, char *err, size_t errlen)
{
	Buffer resp = {0};
	char   etag[64] = "";
	long   status;

	resp.limit = 1 << 20;
	status = request(s3, "GET", "", "list-type=2&max-keys=1", NULL, 0, NULL,
					 &resp, etag, err, errlen);
	free(resp.data);
	return status >= 200 && status <= 299;
}

bool
s3_put(S3 *s3, const char *key, const void *body, size_t len,
	   const char *content_type, const S3Meta *meta, size_t nmeta, char *err,
	   size_t errlen)
{
	unsigned char	   md5[EVP_MAX_MD_SIZE];
	unsigned int	   md5len;
	char			   md5hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char	   b64[64];
	char			   header[1024];
	struct curl_slist *headers = NULL;
	Buffer			   resp = {0};
	char			   etag[64] = "";
	long			   status;
	size_t			   i;

	digest(EVP_md5(), body, len, md5, &md5len);
	hex(md5, md5len, md5hex);
	EVP_EncodeBlock(b64, md5, (int)md5len);
	snprintf(header, sizeof(header), "Content-MD5: %s", b64);
	headers = curl_slist_append(headers, header);
	snprintf(header, sizeof(header), "Content-Type: %s", content_type);
	headers = curl_slist_append(headers, header);
	for (i = 0; i < nmeta; i++)
	{
		snprintf(header, sizeof(header), "x-amz-meta-%s: %s", meta[i].name,
				 meta[i].value);
		headers = curl_slist_append(headers, header);
	}
	resp.limit = 1 << 20;
	status = request(s3, "PUT", key, NULL, body, len, headers, &resp, etag,
					 err, errlen);
	free(resp.data);
	if (status < 200 || status > 299)
		return false;
	if (strcasecmp(etag, md5hex) != 0)
	{
		snprintf(err, errlen,
				 "PUT %s/%s: the store answered ETag '%s', not the object's "
				 "MD5 %s",
				 s3->bucket, key, etag, md5hex);
		return false;
	}
	return true;
}

bool
s3_get(S3 *s3, const char *key, uint8_t **body, size_t *len, char *err,
	   size_t errlen)
{
	Buffer resp = {0};
	char   etag[64] = "";
	long   status;

	status =
		request(s3, "GET", key, NULL, NULL, 0, NULL, &resp, etag, err, errlen);
	if (status < 200 || status > 299)
	{
		free(resp.data);
		return false;
	}
	*body = resp.data ? resp.data : calloc(1, 1);
	*len = resp.len;
	return true;
}

bool
s3_delete(S3 *s3, const char *key, char *err, size_t errlen)
{
	Buffer resp = {0};
	char   etag[64] = "";
	long   status;

	resp.limit = 1 << 20;
	status = request(s3, "DELETE", key, NULL, NULL, 0, NULL, &resp, etag, err,
					 errlen);
	free(resp.data);
	return status >= 200 && status <= 299;
}

/* XML entities of key names (&amp; and friends) decoded in place. */
static void
unescape_xml(char *s)
{
	static const struct
	{
		const char *ent;
		char		c;
	} ents[] = {{"&amp;", '&'},
				{"&lt;", '<'},
				{"&gt;", '>'},
				{"&quot;", '"'},
				{"&apos;", '\''}};
	char *r = s, *w = s;

	while (*r)
	{
		size_t i;

		for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
		{
			size_t n = strlen(ents[i].ent);

			if (strncmp(r, ents[i].ent, n) == 0)
			{
				*w++ = ents[i].c;
				r += n;
				break;
			}
		}
		if (i == sizeof(ents) / sizeof(ents[0]))
			*w++ = *r++;
	}
	*w = '\0';
}

bool
s3_parse_list(const char *xml, size_t len, S3List *out, char **next)
{
	const char *p = xml;
	const char *end = xml + len;
	char		truncated[16] = "";
	char		token[1024];

	*next = NULL;
	while (p < end)
	{
		const char *c = memmem(p, (size_t)(end - p), "<Contents>", 10);
		const char *ce;
		char		key[1024];
		char		size[32] = "0";
		S3Object   *objs;

		if (c == NULL)
			break;
		ce = memmem(c, (size_t)(end - c), "</Contents>", 11);
		if (ce == NULL)
			return false;
		if (!xml_value(c, (size_t)(ce - c), "Key", key, sizeof(key)))
			return false;
		xml_value(c, (size_t)(ce - c), "Size", size, sizeof(size));
		unescape_xml(key);
		objs = realloc(out->objects, sizeof(S3Object) * (out->count + 1));
		if (objs == NULL)
			return false;
		out->objects = objs;
		objs[out->count].key = strdup(key);
		if (objs[out->count].key == NULL)
			return false;
		objs[out->count].size = strtoll(size, NULL, 10);
		out->count++;
		p = ce + 11;
	}
	if (xml_value(xml, len, "IsTruncated", truncated, sizeof(truncated)) &&
		strcmp(truncated, "true") == 0)
	{
		if (!xml_value(xml, len, "NextContinuationToken", token,
					   sizeof(token)) ||
			token[0] == '\0')
			return false;
		unescape_xml(token);
		*next = strdup(token);
		if (*next == NULL)
			return false;
	}
	return true;
}

bool
s3_list(S3 *s3, const char *prefix, S3List *out, char *err, size_t errlen)
{
	char *token = NULL;
	bool  ok = true;

	memset(out, 0, sizeof(*out));
	do
	{
		Buffer resp = {0};
		char   etag[64] = "";
		char  *query;
		char  *eprefix = malloc(strlen(prefix) * 3 + 1);
		char  *etoken = malloc((token ? strlen(token) : 0) * 3 + 1);
		long   status;
		size_t qlen;

		if (eprefix == NULL || etoken == NULL)
		{
			free(eprefix);
			free(etoken);
			snprintf(err, errlen, "out of memory");
			ok = false;
			break;
		}
		encode(eprefix, strlen(prefix) * 3 + 1, prefix, false);
		encode(etoken, (token ? strlen(token) : 0) * 3 + 1, token ? token : "",
			   false);
		qlen = strlen(eprefix) + strlen(etoken) + 64;
		query = malloc(qlen);
		if (query == NULL)
		{
			free(eprefix);
			free(etoken);
			ok = false;
			break;
		}
		/* sorted by name, as the canonical request lists them */
		snprintf(query, qlen, "%s%s%slist-type=2&max-keys=1000&prefix=%s",
				 token ? "continuation-token=" : "", token ? etoken : "",
				 token ? "&" : "", eprefix);
		free(eprefix);
		free(etoken);
		free(token);
		token = NULL;
		resp.limit = 64 << 20;
		status = request(s3, "GET", "", query, NULL, 0, NULL, &resp, etag, err,
						 errlen);
		free(query);
		if (status < 200 || status > 299)
			ok = false;
		else if (!s3_parse_list(resp.data ? (char *)resp.data : "", resp.len,
								out, &token))
		{
			snprintf(err, errlen, "list %s/%s: malformed ListObjectsV2 answer",
					 s3->bucket, prefix);
			ok = false;
		}
		free(resp.data);
	} while (ok && token != NULL);
	free(token);
	if (!ok)
		s3_list_free(out);
	return ok;
}

void
s3_list_free(S3List *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		free(list->objects[i].key);
	free(list->objects);
	list->objects = NULL;
	list->count = 0;
}
