/* The regression driver for the fuzz harnesses: runs LLVMFuzzerTestOneInput
 * once over every file of the directories (or files) named on the command
 * line, so every input a fuzzer ever kept (seeds and crashes alike) is
 * replayed by `make check` without clang.  `make fuzz` links the same
 * harnesses with libFuzzer's own main instead. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, unsigned *count)
{
        FILE *f = fopen(path, "rb");
        struct stat st;
        uint8_t *buf;
        size_t n;

        if (!f || fstat(fileno(f), &st) < 0) {
                perror(path);
                if (f)
                        fclose(f);
                return -1;
        }
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                abort();
        n = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        (void)LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        (*count)++;
        return 0;
}

int main(int argc, char **argv)
{
        unsigned count = 0;
        int status = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        perror(argv[i]);
                        return 66;
                }
                if (!S_ISDIR(st.st_mode)) {
                        status |= run_file(argv[i], &count) < 0;
                        continue;
                }
                struct dirent **list;
                int n = scandir(argv[i], &list, NULL, alphasort);
                if (n < 0) {
                        perror(argv[i]);
                        return 66;
                }
                for (int k = 0; k < n; k++) {
                        char path[4096];
                        if (list[k]->d_name[0] != '.' &&
                            (size_t)snprintf(path, sizeof(path), "%s/%s", argv[i],
                                             list[k]->d_name) < sizeof(path))
                                status |= run_file(path, &count) < 0;
                        free(list[k]);
                }
                free(list);
        }
        printf("%s: %u inputs replayed\n", argv[0], count);
        return status ? 1 : 0;
}
