/* Semantic versions and npm ranges with node-semver's semantics
 * (https://github.com/npm/node-semver#ranges; SemVer 2.0.0 §9–§11 for
 * prerelease ordering): ^, ~, x-ranges, hyphen ranges, ||, comparator sets,
 * "*" and "", and the rule that a prerelease only satisfies a comparator set
 * with a prerelease on the same [major, minor, patch] tuple unless
 * include_prerelease is set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corral/error.h"

#define SEMVER_MAX_LENGTH 256 /* node-semver's MAX_LENGTH */
/* node-semver has no cap on ranges; corral refuses longer ones (bytes). */
#define SEMVER_RANGE_MAX_LENGTH 8192

typedef struct semver {
        uint64_t major, minor, patch; /* each <= 2^53 - 1 (MAX_SAFE_INTEGER) */
        char **pre;                   /* prerelease identifiers, NULL-terminated; NULL = none */
        char *build;                  /* build metadata without '+', or NULL (ignored in order) */
} semver;

/* Parses a version ("1.2.3", "v1.2.3-beta.1+build"; with loose, also "=1.2.3"
 * and surrounding spaces).  0 or -EX_DATAERR. Fields owned; semver_done(). */
int semver_parse(semver *ret, const char *s, bool loose);
void semver_done(semver *v);
/* <0, 0, >0 per SemVer precedence (build ignored). */
int semver_compare(const semver *a, const semver *b);
/* node's SemVer#version: "1.2.3" or "1.2.3-pre.1", without build; owned. */
char *semver_format(const semver *v);

typedef struct semver_range semver_range;

/* Parses a range.  0 or -EX_DATAERR ("invalid version range '…'").  Owned. */
int semver_range_parse(semver_range **ret, const char *s, corral_error *err);
/* Same with node-semver's {loose: true}, which npm itself uses for
 * dependency ranges (npm-package-arg, npm-pick-manifest): "1.2.3beta",
 * "=1.2.3", leading zeros, and comparators that do not parse are dropped
 * from their set instead of failing the range.  Such a range also parses
 * versions loosely in semver_max_satisfying(). */
int semver_range_parse_loose(semver_range **ret, const char *s, corral_error *err);
semver_range *semver_range_free(semver_range *r);
/* node's Range#range under the given includePrerelease option, e.g.
 * ">=1.2.3 <2.0.0-0||>=3.0.0"; owned.  NULL when the range does not parse
 * with that option (node would throw; semver_range_test() is then false). */
char *semver_range_format(const semver_range *r, bool include_prerelease);
bool semver_range_test(const semver_range *r, const semver *v, bool include_prerelease);
/* Convenience: does version string v satisfy range string r?  false on parse errors. */
bool semver_satisfies(const char *v, const char *r, bool include_prerelease);
/* semver.satisfies(v, r, {loose: true, includePrerelease}), as npm calls it. */
bool semver_satisfies_loose(const char *v, const char *r, bool include_prerelease);

/* The highest of n version strings satisfying range (unparsable versions are
 * skipped); NULL when none.  Returns one of the given pointers (borrowed). */
const char *semver_max_satisfying(const char *const *versions, size_t n, const semver_range *range);
