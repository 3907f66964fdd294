/* minivmm entry point (placeholder until the core VMM lands). */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "minivmm: not implemented yet\n");
	return 1;
}
