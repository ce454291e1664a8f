/* Where the C unit tests find their inputs and put their scratch files (include after tap.h).
 *
 *   src_path(out, size, "tests/data/ews/x.xml")  a path in the source tree: under $LS_SRC_DIR (the
 *       Makefile sets it), else under the nearest directory above the test binary that holds
 *       tests/data/README.md (so build/tests/test_x runs from any directory), else relative to the
 *       working directory;
 *   read_src_file("tests/data/...", &len)  the file's bytes, NUL-terminated, caller frees. When it
 *       cannot be read it prints a "not ok" line naming the path and the fix and returns an empty
 *       string (never NULL): the assertions that follow then fail instead of crashing;
 *   trash_dir()  the test's own scratch directory, trash.<test>.<pid> next to the test binary
 *       (build/tests/), made on first use; trash_cleanup(passed) removes it when every test passed
 *       and otherwise says where it was kept. */
#ifndef TESTS_TESTDATA_H
#define TESTS_TESTDATA_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char testdata_src[PATH_MAX];
static char testdata_trash[PATH_MAX];

/* The directory of the running test binary ("" when /proc/self/exe cannot be read). */
static inline const char *exe_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
		dir[n > 0 ? n : 0] = '\0';
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
	}
	return dir;
}

static inline const char *src_dir(void)
{
	if (testdata_src[0])
		return testdata_src;
	const char *env = getenv("LS_SRC_DIR");
	if (env && *env) {
		snprintf(testdata_src, sizeof testdata_src, "%s", env);
		return testdata_src;
	}
	char probe[PATH_MAX + 64];
	snprintf(testdata_src, sizeof testdata_src, "%s", exe_dir());
	for (int up = 0; up < 5 && testdata_src[0]; up++) {
		snprintf(probe, sizeof probe, "%s/tests/data/README.md", testdata_src);
		if (access(probe, R_OK) == 0)
			return testdata_src;
		char *slash = strrchr(testdata_src, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	snprintf(testdata_src, sizeof testdata_src, ".");
	return testdata_src;
}

static inline void src_path(char *out, size_t size, const char *relative)
{
	snprintf(out, size, "%s/%s", src_dir(), relative);
}

static inline char *read_src_file(const char *relative, size_t *len)
{
	char path[PATH_MAX + 256];
	src_path(path, sizeof path, relative);
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0;
	if (f) {
		struct stat st;
		if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
			data = malloc((size_t)st.st_size + 1);
			n = data ? fread(data, 1, (size_t)st.st_size, f) : 0;
			if (data && n != (size_t)st.st_size) {
				free(data);
				data = NULL;
			}
		}
		fclose(f);
	}
	if (!data) {
		ok(0,
		   "test input %s readable (%s); the source tree is $LS_SRC_DIR, or the "
		   "directory above the test binary that holds tests/data/",
		   path, f ? "not a regular file or short read" : strerror(errno));
		data = calloc(1, 1);
		if (!data)
			abort();
		n = 0;
	}
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

static inline const char *trash_dir(void)
{
	if (!testdata_trash[0]) {
		snprintf(testdata_trash, sizeof testdata_trash, "%s/trash.%s.%d", exe_dir(),
		         program_invocation_short_name, (int)getpid());
		if (mkdir(testdata_trash, 0700) != 0 && errno != EEXIST) {
			printf("# cannot create %s: %s\n", testdata_trash, strerror(errno));
			abort();
		}
	}
	return testdata_trash;
}

static inline int trash_remove_one(const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void trash_cleanup(int passed)
{
	if (!testdata_trash[0])
		return;
	if (passed)
		nftw(testdata_trash, trash_remove_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("# scratch files kept in %s\n", testdata_trash);
}

#endif
