/* Shared between the auth module's files: verify.c (configuration, the
 * verification flow, headers and metadata), jwt.c (JWS parsing, signature
 * and claims), jwks.c (discovery and key sets), introspect.c (RFC 7662) and
 * tokens.c (static API tokens). */
#pragma once

#include <cJSON.h>
#include <cjose/cjose.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "corral/auth.h"
#include "corral/http_client.h"
#include "corral/state.h"

enum {
        ALG_RS256 = 1u << 0,
        ALG_ES256 = 1u << 1,
        ALG_EDDSA = 1u << 2,
        ALG_ALL = ALG_RS256 | ALG_ES256 | ALG_EDDSA,
};

#define JWKS_MAX_BYTES (256u << 10)
#define JWKS_MAX_KEYS 64
#define METADATA_MAX_BYTES (256u << 10)
#define INTROSPECT_MAX_BYTES (64u << 10)
#define INTROSPECT_CACHE_MAX 1024      /* cached active answers per issuer */
#define INTROSPECT_CACHE_DEFAULT_S 60   /* introspection.cache_s when not set */
#define INTROSPECT_CACHE_LIMIT_S 3600   /* the most introspection.cache_s may say */
#define AUTH_FETCH_TIMEOUT_MS 10000u
#define CLAIM_MAX 256 /* bytes of a user name or scope */
#define SCOPES_MAX 64 /* scopes read from one token */
#define ISSUERS_MAX 16

typedef struct auth_key {
        char *kid;         /* may be NULL */
        unsigned alg;      /* ALG_* this key may verify (from kty/crv, narrowed by "alg") */
        cjose_jwk_t *jwk;  /* RSA and EC keys */
        EVP_PKEY *ed25519; /* OKP Ed25519 keys */
} auth_key;

/* An "active": true introspection answer, reused until `until` (Unix
 * seconds): the earlier of its exp and the configured cache_s from when it
 * was asked (RFC 7662 §4). */
typedef struct introspect_entry {
        unsigned char hash[32]; /* SHA-256 of the token: the token is not kept */
        time_t until;
        cJSON *claims;
} introspect_entry;

typedef struct auth_issuer {
        auth *a;
        char *issuer;
        char *audience;
        char *user_claim;
        char *level_claim; /* may be NULL */
        char **scopes;     /* required, NULL-terminated (may be NULL) */
        unsigned algs;     /* allowed ALG_* */
        char *jwks_uri;    /* configured or discovered; NULL until known */
        bool jwks_configured;
        char *introspection_endpoint, *client_id, *client_secret; /* may be NULL */
        unsigned introspect_cache_s;    /* 0: every token is introspected each time */
        introspect_entry *introspected; /* INTROSPECT_CACHE_MAX slots, allocated on use */
        size_t nintrospected;

        auth_key *keys;
        size_t nkeys;
        bool keys_loaded;         /* a JWKS was read at least once */
        uint64_t last_fetch;      /* uv_now() of the last fetch start, ms */
        http_request *fetch;      /* discovery or JWKS request in flight */
        int fetch_stage;          /* 0: RFC 8414, 1: OIDC, 2: JWKS */
        char *fetch_error;        /* why the last fetch failed, or NULL */
        auth_verify_req *waiters; /* verifications waiting for this fetch */
} auth_issuer;

typedef struct token_entry {
        char *id, *user, *created_at;
        corral_level level;
        unsigned char hash[32];
} token_entry;

/* The api_tokens rows of the state database, as the verifier read them
 * last (src/auth/tokens.c). */
typedef struct token_table {
        token_entry *v;
        size_t n;
        bool loaded;     /* read at least once */
        state_db *db;    /* read-only connection, kept between checks */
        ino_t ino;       /* of the file db has open */
        int64_t version; /* db's PRAGMA data_version when the rows were read */
        char *why;       /* the last read's failure (the rows stay), or NULL */
        time_t warned;   /* when why was logged */
} token_table;

struct auth {
        uv_loop_t *loop;
        http_client *http;
        char *resource;
        char *resource_name;
        unsigned skew_s;
        unsigned min_refresh_s;
        bool static_tokens;
        char *token_db; /* the state database; NULL: no static tokens */
        token_table tokens;
        cJSON *users; /* copy of "users", may be NULL */
        auth_issuer *issuers;
        size_t nissuers;
        auth_verify_req *introspecting; /* linked through next */
};

struct auth_verify_req {
        auth *a;
        auth_issuer *issuer;
        auth_verify_req *next; /* in issuer->waiters or auth->introspecting */
        char *token;
        char *resource;
        char **extra_scopes;
        auth_verify_fn cb;
        void *userdata;
        bool refreshed; /* keys were fetched for this request already */
        http_request *introspect;
};

/* A decoded, not yet verified, compact JWS. */
typedef struct jwt {
        unsigned alg; /* ALG_* or 0 for anything else */
        char alg_name[16];
        char *kid;
        cJSON *header, *claims;
        const char *token;  /* borrowed */
        size_t signing_len; /* bytes of "header.payload" */
} jwt;

/* jwt.c */
/* Splits and decodes token; 0, or -1 with *why (static string). */
/* Whether [s, s+n) is unpadded base64url that cjose can decode without
 * aborting (the alphabet only, and a length that is not 4k+1). */
bool b64url_ok(const char *s, size_t n);
int jwt_decode(const char *token, jwt *ret, const char **why);
void jwt_done(jwt *t);
/* Checks the signature with key: 0 when valid, -1 otherwise. */
int jwt_verify_signature(const jwt *t, const auth_key *key);

/* jwks.c */
void issuer_keys_clear(auth_issuer *is);
/* Starts discovery (when no jwks_uri yet) and a JWKS fetch.  Waiters are
 * resumed with verify_resume() when it ends. */
void issuer_fetch_start(auth_issuer *is);
/* Parses a JWKS document into is->keys (replacing them).  0 or -1 with why. */
int jwks_parse(auth_issuer *is, const char *doc, size_t len, char **why);

/* verify.c */
/* Continues a JWT verification: 1 when finished (callback ran), 0 when
 * parked waiting for the issuer's keys. */
int verify_resume(auth_verify_req *r);
void verify_finish(auth_verify_req *r, int status, const char *error, const char *scope,
                   const char *message, const auth_identity *id);
/* Claims → identity checks shared by JWTs and introspection: iss, aud,
 * exp/nbf, scopes, user, level; calls verify_finish. */
void verify_claims(auth_verify_req *r, auth_issuer *is, const cJSON *claims);
bool url_is_https_or_loopback(const char *url);

/* introspect.c */
/* 0 when the request is in flight, 1 when r was finished at once. */
int introspect_start(auth_verify_req *r, auth_issuer *is);
void introspect_cache_clear(auth_issuer *is);

/* tokens.c */
/* (Re)reads t from the state database at path when another connection
 * committed since, or the file was replaced; a missing file is no tokens.
 * A failed read keeps the rows read last (logged) and returns 0; with none
 * read yet it returns the error. */
int tokens_refresh(const char *path, token_table *t, corral_error *err);
/* Frees the entries and closes the connection. */
void tokens_clear(token_table *t);
/* Constant-time lookup; the entry or NULL. */
const token_entry *tokens_lookup(const token_table *t, const char *token);
