/* Whole-file reads, atomic writes (temp + fsync + rename + fsync dir), mkdir -p. */
#include "genc/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int genc_read_file(const char *path, void **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return genc_set_error("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return genc_set_error("%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) { fclose(fp); return genc_set_error("%s: out of memory (%zu bytes)", path, n); }
    if (n && fread(buf, 1, n, fp) != n) {
        free(buf);
        fclose(fp);
        return genc_set_error("%s: read failed", path);
    }
    fclose(fp);
    buf[n] = 0;
    *data = buf;
    *size = n;
    return GENC_OK;
}

int genc_write_file_atomic(const char *path, const void *data, size_t size) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 32);
    if (!tmp) return genc_set_error("out of memory");
    snprintf(tmp, pl + 32, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        genc_set_error("%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return GENC_ERR;
    }
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            genc_set_error("%s: write failed: %s", path, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return GENC_ERR;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        genc_set_error("%s: sync failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return GENC_ERR;
    }
    if (rename(tmp, path) != 0) {
        genc_set_error("%s: rename failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return GENC_ERR;
    }
    free(tmp);
    /* make the rename itself durable */
    char *dcopy = strdup(path);
    if (dcopy) {
        int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
        free(dcopy);
    }
    return GENC_OK;
}

int genc_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return genc_set_error("bad folder name '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char ch = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return genc_set_error("%s: cannot create folder: %s", buf, strerror(errno));
            buf[i] = ch;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return genc_set_error("%s: exists and is not a folder", path);
    return GENC_OK;
}

double genc_json_float(float f) {
    char b[32];
    for (int digits = 6; digits <= 9; digits++) { /* 9 significant digits always round-trip */
        snprintf(b, sizeof b, "%.*g", digits, f);
        if ((float)strtod(b, NULL) == f) break;
    }
    return strtod(b, NULL);
}
