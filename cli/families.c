/* The table of model families the command line knows. A new family adds its entry here. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

extern const cli_family LM_FAMILY;
extern const cli_family CLASSIFIER_FAMILY;
extern const cli_family DIFFUSION_FAMILY;
extern const cli_family FLOW_FAMILY;
extern const cli_family CLIP_FAMILY;
extern const cli_family BLIP_FAMILY;

const cli_family *const FAMILIES[] = {&LM_FAMILY, &CLASSIFIER_FAMILY, &FLOW_FAMILY, &DIFFUSION_FAMILY, &CLIP_FAMILY, &BLIP_FAMILY};
const int N_FAMILIES = (int)(sizeof FAMILIES / sizeof FAMILIES[0]);

const cli_family *family_find(const char *name) {
    for (int i = 0; i < N_FAMILIES; i++)
        if (strcmp(FAMILIES[i]->name, name) == 0) return FAMILIES[i];
    return NULL;
}

const char *family_names(char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < N_FAMILIES && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", FAMILIES[i]->name);
    return buf;
}
