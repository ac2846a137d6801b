#include "genc/core.h"
#include <stdio.h>
int main(void) { printf("genc\n"); return 0; }
